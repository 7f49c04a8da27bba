"""A task's `template` blocks made concrete for one client: where each one
reads its text and writes its output (interpolated, inside the allocation
directory), its permissions, change mode and delimiters; and the atomic
write of a rendered file. Never renders.

Paths follow Nomad: `destination` is relative to the task directory
(`local/x`, `secrets/x`, `${NOMAD_TASK_DIR}/x`), `alloc/...` and
`${NOMAD_ALLOC_DIR}/...` name the shared alloc directory, and nothing may
land outside the allocation directory. `source` is read from the task
directory (relative) or an absolute path, which must also lie inside the
allocation directory unless the hook runs unsandboxed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane.structs import Node

from ..allocdir import SHARED, AllocDir
from ..taskenv import interpolate
from .errors import TemplateError

CHANGE_MODES = ("restart", "signal", "noop")


@dataclass(frozen=True)
class TemplateSpec:
    name: str  # the destination as the job wrote it: errors and events name it
    dest: Path
    source: Path | None
    embedded: str
    change_mode: str
    change_signal: str
    env: bool
    perms: int
    splay_s: float
    left: str
    right: str
    missing_key_error: bool
    uid: int | None
    gid: int | None

    def text(self) -> str:
        """The template's text: `data`, or the `source` file read now."""
        if self.source is None:
            return self.embedded
        try:
            return self.source.read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(
                f"failed to read template source {str(self.source)!r}: {exc.strerror}", self.name
            ) from None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _resolve(
    alloc_dir: AllocDir, task: str, raw: str, path_env: Mapping[str, str], node: Node, region: str
) -> Path:
    path = str(interpolate(raw, path_env, node, region))
    root = Path(os.path.normpath(alloc_dir.root))
    p = Path(path)
    if p.is_absolute():
        candidate = (
            p
            if _inside(Path(os.path.normpath(p)), root)
            else (alloc_dir.task_dir(task) / path.lstrip("/"))
        )
    elif p.parts and p.parts[0] == SHARED:
        candidate = alloc_dir.shared_dir.joinpath(*p.parts[1:])
    else:
        candidate = alloc_dir.task_dir(task) / p
    return Path(os.path.normpath(candidate))


def _perms(value: Any, name: str) -> int:
    text = str(value if value not in (None, "") else "0644")
    try:
        perms = int(text, 8)
    except ValueError:
        raise TemplateError(f"failed to parse {text!r} as octal", name) from None
    if not 0 <= perms <= 0o7777:
        raise TemplateError(f"permissions {text!r} out of range", name)
    return perms


def build_specs(
    templates: list[dict[str, Any]],
    alloc_dir: AllocDir,
    task: str,
    path_env: Mapping[str, str],
    node: Node,
    region: str,
    sandbox: bool = True,
) -> list[TemplateSpec]:
    """Every template of the task; TemplateError for a bad path or setting."""
    root = Path(os.path.normpath(alloc_dir.root))
    specs: list[TemplateSpec] = []
    for tmpl in templates:
        raw_dest = str(tmpl.get("DestPath") or "")
        name = raw_dest or f"template {len(specs) + 1}"
        if not raw_dest:
            raise TemplateError("template has no destination", name)
        dest = _resolve(alloc_dir, task, raw_dest, path_env, node, region)
        if not _inside(dest, root) or dest == root:
            raise TemplateError("template destination path escapes alloc directory", name)
        source: Path | None = None
        raw_source = str(tmpl.get("SourcePath") or "")
        if raw_source:
            text = str(interpolate(raw_source, path_env, node, region))
            source = Path(
                os.path.normpath(text if os.path.isabs(text) else alloc_dir.task_dir(task) / text)
            )
            if sandbox and not _inside(source, root):
                raise TemplateError("template source path escapes alloc directory", name)
        elif tmpl.get("EmbeddedTmpl") is None:
            raise TemplateError("template has neither data nor source", name)
        mode = str(tmpl.get("ChangeMode") or "restart")
        if mode not in CHANGE_MODES:
            raise TemplateError(
                f'change_mode "{mode}" is not supported (use restart, signal or noop)', name
            )
        signal = str(tmpl.get("ChangeSignal") or "")
        if mode == "signal" and not signal:
            raise TemplateError('change_mode "signal" needs a change_signal', name)
        uid, gid = tmpl.get("Uid"), tmpl.get("Gid")
        specs.append(
            TemplateSpec(
                name=name,
                dest=dest,
                source=source,
                embedded=str(tmpl.get("EmbeddedTmpl") or ""),
                change_mode=mode,
                change_signal=signal.upper(),
                env=bool(tmpl.get("Envvars")),
                perms=_perms(tmpl.get("Perms"), name),
                splay_s=float(tmpl.get("Splay") or 0) / 1e9,
                left=str(tmpl.get("LeftDelim") or "{{"),
                right=str(tmpl.get("RightDelim") or "}}"),
                missing_key_error=bool(tmpl.get("ErrMissingKey")),
                uid=uid if isinstance(uid, int) and uid >= 0 else None,
                gid=gid if isinstance(gid, int) and gid >= 0 else None,
            )
        )
    return specs


def write_rendered(spec: TemplateSpec, content: str, root: Path) -> None:
    """Atomically replace the destination (never following a symlink the
    task planted out of the allocation directory)."""
    parent = spec.dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    real_root = Path(os.path.realpath(root))
    if not _inside(Path(os.path.realpath(parent)), real_root):
        raise TemplateError("template destination path escapes alloc directory", spec.name)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmpl-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.chmod(tmp, spec.perms)
        if (spec.uid is not None or spec.gid is not None) and os.geteuid() == 0:
            uid = -1 if spec.uid is None else spec.uid
            os.chown(tmp, uid, -1 if spec.gid is None else spec.gid)
        os.replace(tmp, spec.dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_current(spec: TemplateSpec) -> str | None:
    try:
        return spec.dest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
