"""Console settings: the config file, merged with the environment and flags.

The file is `$NOMADTUI_CONFIG` if set, else `$XDG_CONFIG_HOME/nomadtui/config.toml`
(`~/.config/nomadtui/config.toml`). Precedence is flags > env (NOMAD_ADDR,
NOMAD_TOKEN, NOMAD_NAMESPACE, NOMAD_REGION) > file > defaults:

    address   = "http://10.0.0.5:4646"
    namespace = "prod"
    region    = "eu"
    theme     = "ansi"        # dark | light | ansi | any Textual theme name
    refresh   = 5             # seconds a blocking query waits on the server
    # token   = "..."         # discouraged: prefer NOMAD_TOKEN (it wins)

    [keymap]                  # binding id = key(s), comma-separated or a list
    "list.filter" = "f"
    "app.quit"    = ["ctrl+q", "Q"]

This module reads and validates; app.py applies the result. A file that
cannot be used raises ConfigError, whose message is the one line the CLI
prints; things that are merely odd (unknown settings, an unknown binding id)
become warnings the console shows as notifications.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import pkgutil
import re
import stat
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.errors import ValidationError

from .themes import DEFAULT_THEME, textual_theme, theme_choices
from .watch import WAIT_S

log = logging.getLogger(__name__)

CONFIG_ENV = "NOMADTUI_CONFIG"
CONNECTION = ("address", "token", "namespace", "region")
ENV_NAMES = {name: f"NOMAD_{name.upper()}" for name in CONNECTION}
SETTINGS = (*CONNECTION, "theme", "refresh", "keymap")
REFRESH_RANGE_S = (0.5, 300.0)

_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class ConfigError(ValidationError):
    """A config file the console cannot start with; str() is the line to print."""

    def __init__(
        self, path: Path, problem: str, line: int | None = None, column: int | None = None
    ) -> None:
        where = str(path)
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"config file {where}: {problem}")
        self.path = path
        self.line = line


@dataclass(frozen=True)
class FileConfig:
    """What the config file says; None where it says nothing."""

    path: Path | None = None
    address: str | None = None
    token: str | None = None
    namespace: str | None = None
    region: str | None = None
    theme: str | None = None
    refresh_s: float | None = None
    keymap: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsoleSettings:
    """Everything the console starts with, precedence already applied.

    Connection values stay None when nobody set them, so the API client
    applies its own default address.
    """

    address: str | None = None
    token: str | None = None
    namespace: str | None = None
    region: str | None = None
    theme: str = "textual-dark"
    refresh_s: float = WAIT_S
    keymap: Mapping[str, str] = field(default_factory=dict)
    source: Path | None = None
    warnings: tuple[str, ...] = ()


# -- locating and reading the file -------------------------------------------
def config_path(env: Mapping[str, str] | None = None) -> tuple[Path, bool]:
    """(path, explicit): explicit when named by $NOMADTUI_CONFIG (then it must exist)."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser(), True
    base = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "nomadtui" / "config.toml", False


def read_config(path: Path, explicit: bool = False) -> FileConfig:
    """Parse and validate the file; a missing default file means no settings."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(path, f"no such file (named by ${CONFIG_ENV})") from None
        return FileConfig()
    except OSError as err:
        raise ConfigError(path, err.strerror or str(err)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(path, f"not UTF-8 text (byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        match = _TOML_WHERE.search(message)
        if match is None:
            raise ConfigError(path, f"invalid TOML: {message}") from None
        raise ConfigError(
            path,
            f"invalid TOML: {message[: match.start()]}",
            int(match.group(1)),
            int(match.group(2)),
        ) from None
    return parse_config(data, path, _other_readable(path))


def _other_readable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def parse_config(data: Mapping[str, Any], path: Path, other_readable: bool = False) -> FileConfig:
    """Validate a decoded file: wrong types are errors, unknown names warnings."""
    warnings: list[str] = []
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in SETTINGS:
            hint = _did_you_mean(name, SETTINGS)
            warnings.append(f"{path}: unknown setting {name!r}{hint} (ignored)")
        elif name in CONNECTION:
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(path, f"{name} must be a non-empty string")
            values[name] = value.strip()
    if "theme" in data:
        values["theme"] = _theme(data["theme"], path)
    if "refresh" in data:
        values["refresh_s"] = _refresh(data["refresh"], path)
    keymap = _keymap(data["keymap"], path) if "keymap" in data else {}
    if values.get("token") and other_readable:
        warnings.append(
            f"{path} holds a token and other users can read it: "
            "chmod 600 it, or use NOMAD_TOKEN instead"
        )
    return FileConfig(path=path, keymap=keymap, warnings=tuple(warnings), **values)


def _theme(value: Any, path: Path) -> str:
    theme = textual_theme(value) if isinstance(value, str) else None
    if theme is None:
        choices = ", ".join(theme_choices())
        raise ConfigError(path, f"theme {value!r} is not one of: {choices}")
    return theme


def _refresh(value: Any, path: Path) -> float:
    low, high = REFRESH_RANGE_S
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(
            path, f"refresh must be a number of seconds from {low:g} to {high:g}, not {value!r}"
        )
    return float(value)


def _keymap(value: Any, path: Path) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(path, 'keymap must be a table: [keymap] then "binding.id" = "key"')
    keymap: dict[str, str] = {}
    # an unquoted `list.filter = "f"` is a nested table in TOML: accept it
    for binding_id, keys in _flatten(value):
        if isinstance(keys, str):
            keys = [k for k in keys.split(",")]
        if (
            not isinstance(keys, list)
            or not keys
            or not all(isinstance(k, str) and k.strip() for k in keys)
        ):
            raise ConfigError(
                path,
                f'keymap {binding_id!r} must be a key like "ctrl+f", '
                "comma-separated keys, or a list of keys",
            )
        keymap[binding_id] = ",".join(k.strip() for k in keys)
    return keymap


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- precedence ----------------------------------------------------------------
def resolve_settings(flags: Any, env: Mapping[str, str], file: FileConfig) -> ConsoleSettings:
    """flags (an argparse namespace) > env > file > defaults."""
    connection: dict[str, str | None] = {}
    for name in CONNECTION:
        connection[name] = (
            getattr(flags, name, None) or env.get(ENV_NAMES[name]) or getattr(file, name)
        )
    return ConsoleSettings(
        **connection,
        theme=file.theme or textual_theme(DEFAULT_THEME) or "textual-dark",
        refresh_s=file.refresh_s if file.refresh_s is not None else WAIT_S,
        keymap=dict(file.keymap),
        source=file.path,
        warnings=file.warnings,
    )


def load_settings(flags: Any, env: Mapping[str, str] | None = None) -> ConsoleSettings:
    """Read the config file and apply precedence; raises ConfigError."""
    env = os.environ if env is None else env
    path, explicit = config_path(env)
    return resolve_settings(flags, env, read_config(path, explicit))


# -- keymap checks -------------------------------------------------------------
def known_binding_ids() -> set[str]:
    """Every binding id the console's screens and widgets declare.

    Views are imported lazily by the app, so import them all here first; a
    view that fails to import only costs its ids (and a log line).
    """
    from textual.binding import Binding
    from textual.dom import DOMNode

    from . import screens, widgets

    for package in (screens, widgets):
        for info in pkgutil.iter_modules(package.__path__):
            try:
                importlib.import_module(f"{package.__name__}.{info.name}")
            except Exception:
                log.exception("cannot import %s.%s for keymap checks", package.__name__, info.name)
    ids: set[str] = set()
    pending: list[type] = [DOMNode]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        for binding in vars(cls).get("BINDINGS", ()):
            if isinstance(binding, Binding) and binding.id:
                ids.add(binding.id)
    return ids


def keymap_warnings(settings: ConsoleSettings, known: set[str]) -> list[str]:
    """One line per keymap entry that names no binding (Textual ignores those)."""
    where = settings.source or "config"
    return [
        f"{where}: keymap: unknown binding id {binding_id!r}"
        f"{_did_you_mean(binding_id, known)} (ignored)"
        for binding_id in settings.keymap
        if binding_id not in known
    ]


def startup_warnings(settings: ConsoleSettings) -> list[str]:
    """What the console shows as warnings once it is up."""
    known = known_binding_ids() if settings.keymap else set()
    return [*settings.warnings, *keymap_warnings(settings, known)]
