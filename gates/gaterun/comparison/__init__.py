"""The release judged against the one it replaces, in the same gate run (see docs/comparison.md).

    baseline.py   the pair of releases: the new one serving, the one it replaces reachable beside it
    sampling.py   the same requests to both, interleaved
    fixtures.py   the molecules' fixtures (a pytest plugin registered by gates.gaterun.plugin), each
                  instance's resident memory read through the requests, and their evidence
    memory.py     the memory molecule's sides: those process trees, or on Fly each machine's memory
                  from Fly's Prometheus API (gates.monitor.flymemory)

The judges are pure checks (gates.checks.visual, layout, latency, memory; gates.checks.comparison for
a verdict's configured mode); the pictures are gates.monitor.compareplot's; the comparison at the top
of the record's index.html is gates.evidence.comparison.
"""
