"""The gate run: the runner of one gate, the pytest plugin, the molecules, and what they drive (browser, probe)."""
