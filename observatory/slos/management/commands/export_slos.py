import yaml
from django.core.management.base import BaseCommand

from observatory.config.openslo import to_openslo
from observatory.config.slos import SloSpec
from observatory.slos.models import Slo


class Command(BaseCommand):
    help = "Print every SLO as OpenSLO v1 YAML documents."

    def handle(self, *args, **options):
        documents = []
        for slo in Slo.objects.order_by("name"):
            spec = SloSpec(name=slo.name, objective=slo.objective, kind=slo.kind, service=slo.service,
                           operations=tuple(slo.operations), window_days=slo.window_days, source=slo.source,
                           threshold_ms=slo.threshold_ms, good_metric=slo.good_metric, total_metric=slo.total_metric,
                           min_events=slo.min_events, description=slo.description)
            documents.append(to_openslo(spec))
        self.stdout.write(yaml.safe_dump_all(documents, sort_keys=False), ending="")
