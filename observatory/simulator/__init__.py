"""A multi-region application simulated for demos, tests and benchmarks (``manage.py simulate``).

world.py is the pure model of what each region does at a time t (traffic, latency, errors,
lag, incidents); push.py sends it with the real OpenTelemetry SDK; probes.py serves each
region's health URL; setup.py prepares a local Observatory for a demo.
"""
