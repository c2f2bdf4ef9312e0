import io

import pytest
from django.core.management import CommandError, call_command

from observatory.slos.models import Slo
from tests.unit.observatory.config.test_openslo import AVAILABILITY


@pytest.mark.django_db
def test_import_then_export_then_reimport_changes_nothing(tmp_path):
    source = tmp_path / "slos.yaml"
    source.write_text(AVAILABILITY)
    out = io.StringIO()
    call_command("import_slos", str(source), stdout=out)
    assert "slo checkout-availability: created" in out.getvalue()
    assert Slo.objects.get(name="orders").good_metric == "orders_ok_total"
    exported = io.StringIO()
    call_command("export_slos", stdout=exported)
    (tmp_path / "exported.yaml").write_text(exported.getvalue())
    again = io.StringIO()
    call_command("import_slos", str(tmp_path / "exported.yaml"), stdout=again)
    assert again.getvalue().count(": unchanged") == 2


@pytest.mark.django_db
def test_bad_file_imports_nothing(tmp_path):
    source = tmp_path / "slos.yaml"
    source.write_text(AVAILABILITY.replace("target: 0.995", "target: 0.5"))
    with pytest.raises(CommandError, match="document 2: objective: the page tier can never fire"):
        call_command("import_slos", str(source), stdout=io.StringIO())
    assert not Slo.objects.exists()
