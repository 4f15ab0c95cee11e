"""The one table of settings: name, default, environment variable, help.

Settings are resolved once (at ``init()``) into a frozen :class:`Settings` object
and passed down; nothing else reads the environment. ``docs/settings.md`` is
checked against this table by a contract test.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runwatch.errors import RunwatchWarning, UsageError

MODES = ("online", "offline", "disabled")


def _default_dir() -> str:
    return str(Path.home() / ".runwatch")


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def _parse_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number of seconds.") from None
    if not value > 0:
        raise UsageError(f"{name}={raw!r} must be greater than 0.")
    return value


def _parse_seconds_or_off(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number of seconds (0 turns it off).") from None
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"{name}={raw!r} must be 0 (off) or a number of seconds above 0.")
    return value


def _parse_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a whole number.") from None
    if value <= 0:
        raise UsageError(f"{name}={raw!r} must be greater than 0.")
    return value


def _parse_mode(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value in ("dryrun",):
        value = "offline"
    if value not in MODES:
        raise UsageError(f"{name}={raw!r} is not a mode; use one of {', '.join(MODES)}.")
    return value


def _parse_str(name: str, raw: str) -> str:
    return raw


CONSOLE_MODES = ("auto", "redirect", "wrap", "off")


def _parse_console(name: str, raw: str) -> str:
    value = raw.strip().lower()
    value = {"wrap_raw": "wrap", "wrap_emu": "wrap", "0": "off", "false": "off"}.get(value, value)
    if value not in CONSOLE_MODES:
        raise UsageError(f"{name}={raw!r} is not a console mode; use one of "
                         f"{', '.join(CONSOLE_MODES)}.")
    return value


def _parse_webhook(name: str, raw: str) -> str | None:
    """An http:// or https:// URL with a host; empty turns the webhook off."""
    from urllib.parse import urlsplit

    value = raw.strip()
    if not value:
        return None
    try:
        parts = urlsplit(value)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        ok = False
    if not ok or any(c.isspace() for c in value):
        raise UsageError(f"{name}={raw!r} is not an http:// or https:// URL "
                         "(an empty value turns the alert webhook off).")
    return value


def _parse_server_url(name: str, raw: str) -> str | None:
    value = raw.strip().rstrip("/")
    if not value:
        return None
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest or any(c.isspace() for c in value):
        raise UsageError(f"{name}={raw!r} is not an http:// or https:// URL of a runwatch "
                         "server (for example http://trainbox:8080).")
    return value


def login_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where `runwatch login` keeps the server URL and key (readable by the user only)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "runwatch" / "login.json"


def _saved_login(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    import json

    path = login_file(env)
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return _ignored(path, exc)
    url = saved.get("url") if isinstance(saved, dict) else None
    key = saved.get("api_key") if isinstance(saved, dict) else None
    try:
        url = _parse_server_url(str(path), url) if isinstance(url, str) else None
    except UsageError as exc:
        return _ignored(path, exc)
    return url, key if isinstance(key, str) and key else None


def _ignored(path: Path, exc: Exception) -> tuple[None, None]:
    # A broken login file must not stop training: runs stay local, and say why.
    import warnings

    warnings.warn(f"runwatch: ignoring the saved login {str(path)!r} ({exc}); runs log "
                  "locally. Run `runwatch login URL` again, or delete the file.",
                  RunwatchWarning, stacklevel=3)
    return None, None


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    env: str
    parse: Callable[[str, str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("dir", None, "RUNWATCH_DIR", _parse_str,
            "Folder of the embedded store (runwatch.db) and its blobs. Default: ~/.runwatch."),
    Setting("mode", "online", "RUNWATCH_MODE", _parse_mode,
            "online (write to the store, or to the server at RUNWATCH_URL), offline (write a spool "
            "file for `runwatch sync`) or disabled (every call a no-op)."),
    Setting("url", None, "RUNWATCH_URL", _parse_server_url,
            "A runwatch server (http(s)://host:port) to send runs to instead of the local store. "
            "Default: the URL saved by `runwatch login`, else none."),
    Setting("api_key", None, "RUNWATCH_API_KEY", _parse_str,
            "API key for the server at RUNWATCH_URL. Default: the key saved by `runwatch login`."),
    Setting("strict", False, "RUNWATCH_STRICT", _parse_bool,
            "Turn runwatch's warnings (bad values, background failures) into exceptions. For tests."),
    Setting("silent", False, "RUNWATCH_SILENT", _parse_bool,
            "Print nothing at init and finish (warnings still go through the warnings module)."),
    Setting("flush_interval", 0.5, "RUNWATCH_FLUSH_INTERVAL", _parse_float,
            "Seconds between writer flushes; data is committed at least this often (at most 1 s)."),
    Setting("queue_limit", 20_000, "RUNWATCH_QUEUE_LIMIT", _parse_int,
            "Logged rows buffered before log() waits for the writer to catch up."),
    Setting("memory_limit_mb", 16, "RUNWATCH_MEMORY_LIMIT_MB", _parse_int,
            "Encoded batches kept in memory while the store is slow; beyond this they spill to disk."),
    Setting("heartbeat_interval", 10.0, "RUNWATCH_HEARTBEAT_INTERVAL", _parse_float,
            "Seconds between heartbeats of a running run."),
    Setting("heartbeat_timeout", 120.0, "RUNWATCH_HEARTBEAT_TIMEOUT", _parse_float,
            "A running run on another host whose heartbeat is older than this reads as crashed."),
    Setting("finish_timeout", 60.0, "RUNWATCH_FINISH_TIMEOUT", _parse_float,
            "Longest finish() waits for the store; what is left stays in the spill file, never lost."),
    Setting("system_interval", 10.0, "RUNWATCH_SYSTEM_INTERVAL", _parse_seconds_or_off,
            "Seconds between system metric samples (CPU, memory, disk, network, GPUs); 0 turns "
            "them off."),
    Setting("capture_git", True, "RUNWATCH_CAPTURE_GIT", _parse_bool,
            "Record the git remote, commit, branch and a diff of uncommitted changes (capped at "
            "1 MB) of the working directory, in the background after init."),
    Setting("capture_packages", False, "RUNWATCH_CAPTURE_PACKAGES", _parse_bool,
            "Also record the installed Python packages (name==version) with the run's metadata."),
    Setting("console", "auto", "RUNWATCH_CONSOLE", _parse_console,
            "Capture stdout and stderr: redirect (file descriptors, child processes too), wrap "
            "(Python's sys.stdout/sys.stderr only), auto (redirect where possible) or off."),
    Setting("console_max_mb", 100, "RUNWATCH_CONSOLE_MAX_MB", _parse_int,
            "Console text stored per run (MB); past it a marker line, then only the last 1,000 "
            "lines at the end of the run. The terminal always shows everything."),
    Setting("alert_webhook", None, "RUNWATCH_ALERT_WEBHOOK", _parse_webhook,
            "http(s) URL each alert is POSTed to as Slack-compatible JSON after it is stored, "
            "retried in the background; never in offline mode. Empty: off."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclasses.dataclass(frozen=True)
class Settings:
    dir: str
    mode: str = "online"
    strict: bool = False
    silent: bool = False
    flush_interval: float = 0.5
    queue_limit: int = 20_000
    memory_limit_mb: int = 16
    heartbeat_interval: float = 10.0
    heartbeat_timeout: float = 120.0
    finish_timeout: float = 60.0
    system_interval: float = 10.0
    capture_git: bool = True
    capture_packages: bool = False
    console: str = "auto"
    console_max_mb: int = 100
    alert_webhook: str | None = None
    url: str | None = None
    api_key: str | None = None

    @property
    def db_path(self) -> Path:
        return Path(self.dir) / "runwatch.db"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @property
    def spill_dir(self) -> Path:
        return Path(self.dir) / "spill"


def resolve(overrides: Mapping[str, Any] | None = None,
            environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from (in rising priority) defaults, the environment, explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env)
        if raw is not None and raw != "":
            values[setting.name] = setting.parse(setting.env, raw)
        else:
            values[setting.name] = setting.default
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in _BY_NAME:
            raise UsageError(f"Unknown setting {name!r}; known settings: {', '.join(_BY_NAME)}.")
        if name == "mode":
            value = _parse_mode("mode", str(value))
        elif name == "system_interval":
            value = _parse_seconds_or_off(name, str(value))
        elif name == "console":
            value = _parse_console(name, str(value))
        elif name == "console_max_mb":
            value = _parse_int(name, str(value))
        elif name == "url":
            value = _parse_server_url(name, str(value))
        elif name == "alert_webhook":
            if not isinstance(value, str):
                raise UsageError(f"alert_webhook={value!r} is not an http:// or https:// URL.")
            value = _parse_webhook(name, value)
        values[name] = value
    if not values["dir"]:
        values["dir"] = _default_dir()
    # An explicit RUNWATCH_URL, even empty, says where to log: the saved login is not used.
    if values["url"] is None and values["api_key"] is None and "RUNWATCH_URL" not in env:
        values["url"], values["api_key"] = _saved_login(env)
    values["dir"] = str(Path(values["dir"]).expanduser())
    values["flush_interval"] = min(float(values["flush_interval"]), 1.0)
    return Settings(**values)
