"""Free ports: never the same one twice from one process, even asked for from several threads at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from gates.ports import free_port


def test_ports_asked_for_together_are_all_different() -> None:
    """Two instances started together (or two environments of one config) never get the same port, although the
    kernel may hand a port just released to the next bind: 200 asked for from 8 threads are 200 ports."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        ports = list(pool.map(lambda _: free_port(), range(200)))
    assert len(set(ports)) == 200
    assert all(1024 <= p <= 65535 for p in ports)
