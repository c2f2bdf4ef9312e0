"""Latency histogram bucket bounds shared by the span rollups and latency SLOs."""

# Upper bounds (ms) of the latency buckets; one more bucket counts everything slower.
LATENCY_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
