"""This repository's own runs: load the gates plugin from the checkout when it is not installed.

An installed gates registers the plugin through its ``pytest11`` entry point;
registering it twice would be an error, so only load it here when that entry
point is absent (a checkout used without ``pip install -e``).
"""

from importlib.metadata import entry_points

pytest_plugins = [] if any(ep.name == "gates" for ep in entry_points(group="pytest11")) else ["gates.plugin"]
