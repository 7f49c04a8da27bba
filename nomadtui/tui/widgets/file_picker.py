"""FilePicker: choose a job file by typing a path (with completion) or from a tree.

The path input completes directories and job files (`tab` or `→` accepts);
the tree starts at a directory and lists only sub-directories and job files
(`.nomad`, `.hcl`, `.json`, `.job`). Either way the picker posts `Picked`
with the path; it never reads the file itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import DirectoryTree, Input, Static

from ..screens.plan_spec import is_job_file


def path_completions(value: str) -> list[str]:
    """Directories (ending in `/`) and job files that complete `value`, sorted."""
    expanded = os.path.expanduser(value)
    directory, prefix = os.path.split(expanded)
    try:
        entries = sorted(os.scandir(directory or "."), key=lambda e: e.name)
    except OSError:
        return []
    out: list[str] = []
    for entry in entries:
        if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir or is_job_file(entry.name):
            # keep what the user typed (`~`, relative) and add the rest
            out.append(value + entry.name[len(prefix) :] + ("/" if is_dir else ""))
    return out


class PathSuggester(Suggester):
    """Inline completion for paths (case-sensitive, never cached: the disk changes)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        matches = path_completions(value)
        return matches[0] if matches else None


class PathInput(Input):
    BINDINGS = [
        Binding("tab", "complete", "Complete", id="picker.complete"),
        Binding("down", "browse", "Browse", show=False, id="picker.browse"),
    ]

    def action_browse(self) -> None:
        self.screen.query_one(JobFileTree).focus()

    def action_complete(self) -> None:
        matches = path_completions(self.value) if self.value else []
        if not matches:
            self.screen.focus_next()
            return
        # character-wise on purpose: complete as far as all candidates agree
        common = os.path.commonprefix(matches)  # noqa: RUF071
        if len(matches) == 1:
            self.value = matches[0]
        elif len(common) > len(self.value):
            self.value = common
        self.cursor_position = len(self.value)


class JobFileTree(DirectoryTree):
    """A directory tree showing only sub-directories and job files."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        out = []
        for path in paths:
            if path.name.startswith("."):
                continue
            try:
                if path.is_dir() or is_job_file(path.name):
                    out.append(path)
            except OSError:
                continue
        return out


class FilePicker(Vertical):
    """Path input over a job-file tree."""

    DEFAULT_CSS = """
    FilePicker { height: 1fr; }
    FilePicker > #picker-path { margin: 0 0 1 0; }
    FilePicker > JobFileTree { height: 1fr; border: round $primary-background; }
    FilePicker > #picker-hint { height: 1; color: $text-muted; }
    """

    class Picked(Message):
        """A job file was chosen (typed or selected in the tree)."""

        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    def __init__(self, start: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.start = start or os.getcwd()

    def compose(self) -> ComposeResult:
        yield PathInput(
            placeholder="path to a job file (tab completes)",
            id="picker-path",
            suggester=PathSuggester(),
        )
        yield JobFileTree(self.start, id="picker-tree")
        yield Static("enter open · tab complete · ↓ browse the tree · esc cancel", id="picker-hint")

    def on_mount(self) -> None:
        self.query_one(PathInput).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = os.path.expanduser(event.value.strip())
        if not value:
            return
        if os.path.isdir(value):
            # a directory: browse it
            self.query_one(JobFileTree).path = value
            self.query_one(JobFileTree).focus()
            return
        self.post_message(self.Picked(value))

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.post_message(self.Picked(str(event.path)))
