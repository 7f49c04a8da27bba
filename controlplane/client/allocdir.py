"""On-disk layout of one allocation; creates and removes directories only.

<data_dir>/alloc/<alloc_id>/
    alloc/            shared by every task (NOMAD_ALLOC_DIR)
        logs/         <task>.stdout.0, <task>.stderr.0
        data/
        tmp/
    <task>/           the task's working directory
        local/        NOMAD_TASK_DIR
        secrets/      NOMAD_SECRETS_DIR
        tmp/
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from .logs import log_file_name

SHARED = "alloc"


class AllocDir:
    def __init__(self, alloc_root: Path, alloc_id: str) -> None:
        self.root = Path(alloc_root) / alloc_id

    @property
    def shared_dir(self) -> Path:
        return self.root / SHARED

    @property
    def logs_dir(self) -> Path:
        return self.shared_dir / "logs"

    def task_dir(self, task: str) -> Path:
        return self.root / task

    def local_dir(self, task: str) -> Path:
        return self.task_dir(task) / "local"

    def secrets_dir(self, task: str) -> Path:
        return self.task_dir(task) / "secrets"

    def log_path(self, task: str, stream: str) -> Path:
        return self.logs_dir / log_file_name(task, stream)

    def log_rel_path(self, task: str, stream: str) -> str:
        """Path relative to the alloc dir, as StreamFrame.File shows it."""
        return f"{SHARED}/logs/{log_file_name(task, stream)}"

    def build_shared(self) -> None:
        for sub in ("logs", "data", "tmp"):
            (self.shared_dir / sub).mkdir(parents=True, exist_ok=True)

    def build_task(self, task: str) -> None:
        for sub in ("local", "secrets", "tmp"):
            (self.task_dir(task) / sub).mkdir(parents=True, exist_ok=True)
        self.secrets_dir(task).chmod(0o700)

    def build(self, tasks: Iterable[str]) -> None:
        self.build_shared()
        for task in tasks:
            self.build_task(task)

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
