"""The benchmark: how fast a gate decides, how finely the probe sees, how fast a rollback serves.

Run by ``make bench`` (``python -m gates.bench``); speed lives here, never in timed tests.
"""
