"""The release judged against the one it replaces, in the same gate run (see docs/comparison.md).

    baseline.py   the pair of releases: the new one serving, the one it replaces reachable beside it
    sampling.py   the same requests to both, interleaved; each instance's resident memory
    plots.py      both releases' timings and memory as pictures
    fixtures.py   the molecules' fixtures (a pytest plugin registered by gates.plugin) and their evidence
    page.py       the comparison at the top of the record's index.html

The judges are pure checks: gates.checks.visual and gates.checks.against_baseline.
"""
