import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from observatory.regions.models import Region, RegionToken
from observatory.regions.tokens import find_region, hash_token


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_add_region_creates_and_later_updates_keep_other_settings():
    assert run("add_region", "us-east-1", "--group", "storefront", "--role", "standby",
               "--probe-url", "https://use1.example.com/healthz").strip() == "region us-east-1: created"
    output = run("add_region", "us-east-1", "--rpo-seconds", "15")
    assert output.strip() == "region us-east-1: updated (rpo_seconds 60 -> 15)"
    region = Region.objects.get(name="us-east-1")
    assert (region.group, region.role, region.rpo_seconds, region.probe_url) == (
        "storefront", "standby", 15, "https://use1.example.com/healthz")


@pytest.mark.django_db
def test_add_region_rejects_bad_values_with_the_field():
    with pytest.raises(CommandError, match="'US_EAST' is not a valid name"):
        run("add_region", "US_EAST")
    with pytest.raises(CommandError, match="probe.timeout_seconds: must be shorter than interval_seconds"):
        run("add_region", "a", "--probe-url", "https://a.test/", "--probe-timeout-seconds", "20")
    assert not Region.objects.exists()


@pytest.mark.django_db
def test_issue_token_prints_only_the_token_and_stores_its_hash():
    region = Region.objects.create(name="eu-west-1")
    output = run("issue_token", "eu-west-1")
    assert output.endswith("\n") and output.count("\n") == 1
    token = output.strip()
    assert token.startswith("obs_") and len(token) > 40
    stored = RegionToken.objects.get(region=region)
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    assert stored.prefix == token[:10]
    assert find_region(token) == region


@pytest.mark.django_db
def test_tokens_are_distinct_and_revocable():
    region = Region.objects.create(name="eu-west-1")
    first, second = run("issue_token", "eu-west-1").strip(), run("issue_token", "eu-west-1").strip()
    assert first != second
    RegionToken.objects.filter(token_hash=hash_token(first)).update(revoked_at=timezone.now())
    assert find_region(first) is None
    assert find_region(second) == region
    assert find_region("obs_" + "x" * 43) is None
    assert find_region("") is None
    assert find_region(second[:-1]) is None


@pytest.mark.django_db
def test_issue_token_for_unknown_region_lists_known_ones():
    Region.objects.create(name="us-east-1")
    with pytest.raises(CommandError, match=r"no region named 'mars-1' \(known regions: us-east-1\)"):
        run("issue_token", "mars-1")


@pytest.mark.django_db
def test_rotation_keeps_old_and_new_tokens_valid_until_the_grace_period_ends():
    region = Region.objects.create(name="eu-west-1")
    other = Region.objects.create(name="us-east-1")
    old, untouched = run("issue_token", "eu-west-1").strip(), run("issue_token", "us-east-1").strip()
    err = io.StringIO()
    out = io.StringIO()
    call_command("issue_token", "eu-west-1", "--rotate", "--grace-seconds", "3600", stdout=out, stderr=err)
    new = out.getvalue().strip()
    assert "1 older token(s) of eu-west-1 stop working at" in err.getvalue()
    assert find_region(old) == region and find_region(new) == region  # both work during the rotation
    ends = RegionToken.objects.get(token_hash=hash_token(old)).revoked_at
    assert 3590 < (ends - timezone.now()).total_seconds() <= 3600
    RegionToken.objects.filter(token_hash=hash_token(old)).update(revoked_at=timezone.now())  # grace over
    assert find_region(old) is None and find_region(new) == region
    assert find_region(untouched) == other  # another region's tokens are left alone
    with pytest.raises(CommandError, match="--grace-seconds must be 0 or more"):
        run("issue_token", "eu-west-1", "--rotate", "--grace-seconds", "-1")
