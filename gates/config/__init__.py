"""The release config: ``gates.toml`` (or ``[tool.gates]`` in pyproject.toml).

Parsed into frozen dataclasses, one module per section (its dataclass, its parsing, its checks), so adding
a key touches one file. One generic reader (``reader``) turns TOML tables into them, so every error names
the file, the key and what was expected, and a misspelt key is an error rather than a silently ignored
setting; ``loader`` finds the file and checks what spans sections. Secrets are never in the file: it names
the environment variables that hold them.
"""

from gates.config.app import AppConfig
from gates.config.browser import VIDEO_MODES, AllowedNoise, BrowserConfig
from gates.config.ci import CIConfig
from gates.config.comparison import ComparisonConfig
from gates.config.database import DatabaseConfig
from gates.config.drill import DrillConfig
from gates.config.environments import ADMIN_URL_FIELDS, STRATEGIES, Environment
from gates.config.flags import FLAG_SOURCES, FlagsConfig
from gates.config.gate import GateConfig
from gates.config.loader import CONFIG_ENV, ENV_SELECT, MAX_TIMEOUT, STATE_ENV, find_config, load, parse, read_toml
from gates.config.local import LocalConfig
from gates.config.model import SECTIONS, Config
from gates.config.monitor import MONITOR_SOURCES, MonitorConfig
from gates.config.notify import NotifyConfig
from gates.config.probe import ProbeConfig
from gates.config.reader import MAX_WAIT, read_section
from gates.config.record import RecordConfig
from gates.config.tools import ToolsConfig
from gates.core.errors import ConfigError, UsageError

__all__ = [
    "ADMIN_URL_FIELDS", "CONFIG_ENV", "ENV_SELECT", "FLAG_SOURCES", "MAX_TIMEOUT", "MAX_WAIT", "MONITOR_SOURCES",
    "SECTIONS", "STATE_ENV", "STRATEGIES", "VIDEO_MODES", "AllowedNoise", "AppConfig", "BrowserConfig", "CIConfig",
    "ComparisonConfig", "Config", "ConfigError", "DatabaseConfig", "DrillConfig", "Environment", "FlagsConfig",
    "GateConfig", "LocalConfig", "MonitorConfig", "NotifyConfig", "ProbeConfig", "RecordConfig", "ToolsConfig",
    "UsageError", "find_config", "load", "parse", "read_section", "read_toml",
]  # fmt: skip
