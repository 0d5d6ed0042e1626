"""Free ports: never the same one twice from one process, even asked for from several threads at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from gates.core.ports import free_port


def test_ports_asked_for_together_are_all_different() -> None:
    """Two instances started together (or two environments of one config) never get the same port, although the
    kernel may hand a port just released to the next bind: 200 asked for from 8 threads are 200 ports."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        ports = list(pool.map(lambda _: free_port(), range(200)))
    assert len(set(ports)) == 200
    assert all(1024 <= p <= 65535 for p in ports)


def test_a_lasting_port_is_free_and_below_the_ephemeral_range() -> None:
    """A port a config binds later comes from below the kernel's ephemeral range (where bind(0) and outgoing
    connections never land meanwhile), free now, and not handed out twice in a row."""
    import socket
    from pathlib import Path

    from gates.core.ports import lasting_port

    ceiling = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [lasting_port() for _ in range(20)]
    assert all(10_000 <= p < ceiling for p in ports) and len(set(ports)) == len(ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))
