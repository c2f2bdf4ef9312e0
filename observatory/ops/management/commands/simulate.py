"""Push a simulated multi-region application's telemetry to an Observatory (real OTel SDK)."""

from __future__ import annotations

import re
import time

import requests
from django.core.management.base import BaseCommand, CommandError

from observatory.config.schema import ConfigError
from observatory.simulator import setup
from observatory.simulator.probes import ProbeServer
from observatory.simulator.push import RegionSender, backfill
from observatory.simulator.world import KINDS, World, parse_incident

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def names(text: str, what: str) -> tuple[str, ...]:
    found = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in found if not NAME_RE.match(n)]
    if not found or bad or len(set(found)) != len(found):
        raise CommandError(f"--{what}: expected distinct comma-separated names like a,b-2, got {text!r}")
    return found


class Command(BaseCommand):
    help = ("Simulate an application in several regions and push its metrics and traces to URL with the "
            "OpenTelemetry SDK, serving each region's health URL; incidents: " + ", ".join(KINDS))

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the Observatory to push to")
        parser.add_argument("--regions", default="us-east-1,eu-west-1,ap-south-1",
                            help="comma-separated; the first is the primary")
        parser.add_argument("--services", default="checkout,catalog,accounts,shipping")
        parser.add_argument("--rate", type=float, default=2.0, help="requests/s per service and region")
        parser.add_argument("--duration", type=float, default=0, help="seconds to run (default: until Ctrl-C)")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between pushes")
        parser.add_argument("--history", type=int, default=0, help="minutes of history to back-fill first")
        parser.add_argument("--incident", action="append", default=[], metavar="KIND:REGION@SECONDS[+DURATION]",
                            help="e.g. outage:us-east-1@600+300, latency:eu-west-1@300, global@900+120")
        parser.add_argument("--setup", action="store_true",
                            help="configure this Observatory's database for the simulation and issue tokens")
        parser.add_argument("--token", action="append", default=[], metavar="REGION=TOKEN",
                            help="a region's ingest token (without --setup)")
        parser.add_argument("--probe-host", default="127.0.0.1")
        parser.add_argument("--probe-port", type=int, default=0, help="port for the health URLs (default: any)")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options):
        regions = names(options["regions"], "regions")
        services = names(options["services"], "services")
        for key in ("rate", "interval"):
            if options[key] <= 0:
                raise CommandError(f"--{key} must be positive, got {options[key]}")
        try:
            incidents = tuple(parse_incident(text, regions) for text in options["incident"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        world = World(regions, services, rate=options["rate"], incidents=incidents)
        wall_start = time.time()
        probes = ProbeServer(world, wall_start, options["probe_host"], options["probe_port"]).start()
        try:
            self._wait_for(options["url"])
            tokens = self._tokens(options, regions, services, probes)
            history = -60.0 * options["history"]
            senders = [RegionSender(world, r, options["url"], tokens[r], wall_start, history, options["seed"] + i)
                       for i, r in enumerate(regions)]
            self._say(f"simulating {', '.join(regions)} x {', '.join(services)} at {options['rate']:g} req/s; "
                      f"health URLs {probes.base_url}/<region>/healthz")
            if options["history"]:
                started = time.monotonic()
                spans = backfill(senders, options["history"])
                self._say(f"back-filled {options['history']} minutes of history ({spans} spans) "
                          f"in {time.monotonic() - started:.0f} s")
            # Incident times count from the start of the live phase, after the back-fill.
            world = world.shifted(time.time() - wall_start)
            probes.world = world
            for sender in senders:
                sender.world = world
            self._run(world, senders, options)
        except KeyboardInterrupt:
            pass
        finally:
            probes.stop()
        self._say("simulation stopped")

    def _wait_for(self, url: str, timeout: float = 120.0) -> None:
        """Wait until the Observatory answers at all (it may still be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(url.rstrip("/") + "/healthz", timeout=2)
                return
            except requests.RequestException as exc:
                if time.monotonic() > deadline:
                    raise CommandError(f"{url} did not answer within {timeout:.0f} s: {exc}") from None
                time.sleep(1)

    def _tokens(self, options, regions, services, probes) -> dict[str, str]:
        if options["setup"]:
            try:
                tokens = setup.prepare(regions, services, probes.url)
            except ConfigError as exc:
                raise CommandError(f"could not configure the simulation: {exc}") from None
            self._say(f"configured regions {', '.join(regions)} (group {setup.GROUP}), SLOs and tokens")
            return tokens
        given = dict(t.split("=", 1) for t in options["token"] if "=" in t)
        missing = [r for r in regions if r not in given]
        if missing:
            raise CommandError(f"no --token for {', '.join(missing)} (give REGION=TOKEN, or --setup to create them)")
        return given

    def _run(self, world: World, senders: list[RegionSender], options) -> None:
        started = time.time() - senders[0].wall_start
        t, announced = started, set()
        while not options["duration"] or t - started < options["duration"]:
            time.sleep(max(0.0, senders[0].wall_start + t + options["interval"] - time.time()))
            now = time.time() - senders[0].wall_start
            for incident in world.incidents:
                for edge, at in (("starts", incident.start), ("ends", incident.start + incident.duration)):
                    if at <= now and (incident, edge) not in announced:
                        announced.add((incident, edge))
                        self._say(f"t={now - started:.0f}s: {incident.kind} in {incident.region or 'every region'} "
                                  f"{edge}")
            for sender in senders:
                sender.send_requests(t, now)
            for sender in senders:
                sender.flush()
                if world.up(sender.region, now):
                    sender.send_metrics([sender.signal_metrics(now)])
            t = now
        for sender in senders:
            sender.shutdown()

    def _say(self, text: str) -> None:
        self.stdout.write(f"simulate: {text}")
        self.stdout.flush()
