"""A group falling due between two alerting cycles is dispatched right then, by a real worker."""

import time

from observatory.alerting.models import Alert
from observatory.alerting.tasks import run_alerting
from observatory.delivery.models import Endpoint
from observatory.failover.models import RegionHealth
from observatory.regions.models import Region
from tests.integration.conftest import start_worker, stop_worker


def test_group_wait_ends_between_cycles_and_the_notification_leaves_then(transactional_db, test_database_url,
                                                                           webhook_receiver, tmp_path):
    process, _ = start_worker(test_database_url, tmp_path / "worker.log", ALERT_GROUP_WAIT_SECONDS="3")
    try:
        Endpoint.objects.create(name="oncall", url=webhook_receiver.url, secret=webhook_receiver.secret,
                                events=["alert.*"], format="alertmanager")
        RegionHealth.objects.create(region=Region.objects.create(name="us-east-1"), state="unhealthy",
                                    kinds=["probe"])
        run_alerting.delay()  # one cycle only: nothing else would dispatch before the next one
        deadline = time.monotonic() + 20
        while not webhook_receiver.received() and time.monotonic() < deadline:
            time.sleep(0.1)
        [got] = webhook_receiver.received()
        fired = Alert.objects.get().firing_since.timestamp()
        assert got["verified"] and got["body"]["groupLabels"]["region"] == "us-east-1"
        assert 3 <= got["at"] - fired < 3 + 2.5  # group_wait from the firing, then at most half a second and the send
    finally:
        stop_worker(process)
