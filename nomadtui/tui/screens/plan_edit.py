"""Editing a job spec in `$EDITOR` from inside the console.

The terminal is handed to the editor (`App.suspend`) and taken back when it
exits. Headless apps (tests) cannot suspend; there the editor runs without a
terminal, which suits scripted editors (`sed -i ...`). A browser session
(textual-serve) can do neither and says so.
"""

from __future__ import annotations

import os
import shlex
import subprocess

from textual.app import App, SuspendNotSupported

DEFAULT_EDITOR = "vi"
# a scripted editor must not hang a headless console forever
HEADLESS_TIMEOUT_S = 60.0


class EditorError(Exception):
    """The editor could not be started, or the terminal could not be handed over."""


def editor_command(path: str) -> list[str]:
    """`$EDITOR` (with its own arguments) followed by `path`; `vi` if unset."""
    editor = os.environ.get("EDITOR") or DEFAULT_EDITOR
    return [*shlex.split(editor), path]


def run_editor(app: App[object], path: str) -> int:
    """Edit `path`; returns the editor's exit status. Blocks the UI while it runs,
    which is the point: the terminal belongs to the editor meanwhile."""
    command = editor_command(path)
    try:
        try:
            with app.suspend():
                return subprocess.call(command)
        except SuspendNotSupported:
            if not app.is_headless:
                raise EditorError("this terminal cannot be handed to an editor") from None
            return subprocess.call(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                timeout=HEADLESS_TIMEOUT_S,
            )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise EditorError(f"cannot run {command[0]}: {err}") from err
