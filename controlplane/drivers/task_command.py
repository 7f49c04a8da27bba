"""What a task runs, as the executor-based drivers read it from the task's
config: the command's absolute path, list options (`args`, `jvm_options`),
the environment, and signal names. Pure parsing and lookups; starts nothing.
"""

from __future__ import annotations

import os
import shutil
import signal

from controlplane.drivers.base import DriverError, TaskConfig


def signal_number(name: str) -> int:
    """`"SIGTERM"`, `"TERM"` or `"15"` -> 15; DriverError for unknown names."""
    text = (name or "SIGTERM").strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError:
        raise DriverError(f"unknown signal {name!r}", recoverable=False) from None


def resolve_command(command: str, cwd: str, env: dict[str, str]) -> str:
    """Absolute path of `command`: relative paths are taken from the task dir,
    bare names are looked up on the task's PATH."""
    if not command:
        raise DriverError("missing command: the task config has no `command`", False)
    if os.sep in command:
        path = command if os.path.isabs(command) else os.path.join(cwd or os.getcwd(), command)
        if not os.path.isfile(path):
            raise DriverError(f'failed to launch command: "{command}": no such file', False)
        if not os.access(path, os.X_OK):
            raise DriverError(f'failed to launch command: "{command}": permission denied', False)
        return path
    found = shutil.which(command, path=env.get("PATH"))
    if found is None:
        raise DriverError(
            f'failed to launch command: "{command}": executable file not found in $PATH', False
        )
    return os.path.abspath(found)


def task_env(cfg: TaskConfig) -> dict[str, str]:
    """The task's environment: cfg.env, plus the client's PATH when it sets none."""
    env = dict(cfg.env)
    env.setdefault("PATH", os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    return env


def string_list(cfg: TaskConfig, key: str) -> list[str]:
    """A list-of-strings config option (`args`, `jvm_options`); [] when unset."""
    value = cfg.config.get(key) or []
    if not isinstance(value, list):
        raise DriverError(f"`{key}` must be a list of strings", recoverable=False)
    return [str(v) for v in value]
