"""Template hook: renders a task's `template` blocks into its directory
before every start, feeds `env = true` templates into the task's
environment, and re-renders while the task runs, applying change_mode.

    prestart   render every template (a template needing a Nomad variable
               that does not exist yet waits for it, with a "Template"
               event "Missing: nomad.var.block(...)", as Nomad's first render
               blocks); write what changed; merge env templates into ctx.env.
               A parse or render error fails the task's setup, naming the
               template, line and column.
    poststart  start the watcher (once), if a template reads servers' data
               (or the task was restored after a client restart: the watcher
               then renders at once, applying change_mode to what changed).
    watcher    every `poll_s` re-render; a changed output is rewritten, then
               after a random part of the largest splay: change_mode restart
               -> "Restart Signaled" ("Template with change_mode restart
               re-rendered"), signal -> "Signaling" ("Template re-rendered"),
               noop -> nothing. A failing re-render keeps the old file and
               reports a "Template" event once per distinct error.
    stop       stop the watcher.

The hook never talks to the servers itself: data comes from a
TemplateSource (template/api_source.py over the client's RPC).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from controlplane.drivers.base import TaskHandle
from controlplane.structs import TaskEvent

from .task_config import IMAGE_ISOLATION_DIRS
from .task_events import RESTART_SIGNALED, SIGNALING
from .task_hooks import TaskHook, TaskHookContext
from .taskenv import TaskDirs, build_task_env
from .template import RenderContext, Template, TemplateError, TemplateSource, parse_env_file
from .template.specs import TemplateSpec, build_specs, read_current, write_rendered
from .wiretime import unix_nanos

log = logging.getLogger(__name__)

TEMPLATE_EVENT = "Template"
RESTART_MESSAGE = "Template with change_mode restart re-rendered"
SIGNAL_MESSAGE = "Template re-rendered"
POLL_S = 2.0


class TemplateHook(TaskHook):
    name = "template"

    def __init__(
        self,
        source: TemplateSource | None,
        region: str = "global",
        poll_s: float | None = None,
        sandbox: bool = True,
        clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._source = source
        self._region = region
        self.poll_s = POLL_S if poll_s is None else poll_s
        self._sandbox = sandbox
        self._clock = clock or time.time
        self._rand = rand
        self._stop = threading.Event()
        self._lock = threading.Lock()  # files, _last and env: prestart vs watcher
        self._thread: threading.Thread | None = None
        self._parsed: dict[tuple[str, str], Template] = {}
        self._last: dict[Path, str] = {}
        self._env_keys: set[str] = set()
        self._dynamic = False
        self._restored = False
        self._last_error = ""
        self._last_missing: tuple[str, ...] = ()

    # ---- lifecycle stages ------------------------------------------------

    def prestart(self, ctx: TaskHookContext) -> None:
        try:
            self._first_render(ctx)
        except TemplateError as exc:
            # the runner prefixes the hook's name ("template: ..."): say it once
            raise RuntimeError(str(exc).removeprefix("template: ")) from None

    def _first_render(self, ctx: TaskHookContext) -> None:
        specs = self._specs(ctx)
        while True:
            outputs, missing = self._render_all(ctx, specs)
            if not missing:
                break
            self._report_missing(ctx, missing)
            if ctx.killing is not None and ctx.killing.wait(self.poll_s):
                return  # the runner sees the kill; nothing starts
            if ctx.killing is None and self._stop.wait(self.poll_s):
                return
        with self._lock:  # the watcher may be writing too
            for spec, content in outputs:
                if read_current(spec) != content:
                    write_rendered(spec, content, ctx.alloc_dir.root)
                self._last[spec.dest] = content
            self._apply_env(ctx, outputs)

    def restore(self) -> None:
        self._restored = True

    def poststart(self, ctx: TaskHookContext, handle: TaskHandle) -> None:
        if self._thread is not None or self._stop.is_set():
            return
        # a task taken over after a client restart was rendered by the earlier
        # process: the watcher renders at once and acts on what changed since
        restored = self._restored and not self._last
        if not (self._dynamic or restored):
            return
        self._thread = threading.Thread(
            target=self._watch,
            args=(ctx, restored),
            name=f"template-{ctx.alloc.id[:8]}-{ctx.task.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self, ctx: TaskHookContext) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # ---- rendering ----------------------------------------------------------

    def _task_env(self, ctx: TaskHookContext, host_paths: bool) -> dict[str, str]:
        """The task's environment; with host paths for resolving destinations
        (a container's /local is the task's local/ on the client)."""
        ad, task = ctx.alloc_dir, ctx.task
        dirs = None if host_paths else IMAGE_ISOLATION_DIRS.get(task.driver)
        dirs = dirs or TaskDirs(
            alloc_dir=str(ad.shared_dir),
            task_dir=str(ad.local_dir(task.name)),
            secrets_dir=str(ad.secrets_dir(task.name)),
        )
        return build_task_env(ctx.alloc, task, ctx.node, dirs, region=self._region)

    def _specs(self, ctx: TaskHookContext) -> list[TemplateSpec]:
        return build_specs(
            list(ctx.task.templates or []),
            ctx.alloc_dir,
            ctx.task.name,
            self._task_env(ctx, host_paths=True),
            ctx.node,
            self._region,
            sandbox=self._sandbox,
        )

    def _template(self, spec: TemplateSpec) -> Template:
        text = spec.text()
        key = (spec.name, text)
        tmpl = self._parsed.get(key)
        if tmpl is None:
            tmpl = Template(spec.name, text, spec.left, spec.right)
            self._parsed = {k: v for k, v in self._parsed.items() if k[0] != spec.name}
            self._parsed[key] = tmpl
        return tmpl

    def _render_all(
        self, ctx: TaskHookContext, specs: list[TemplateSpec]
    ) -> tuple[list[tuple[TemplateSpec, str]], list[str]]:
        env = self._task_env(ctx, host_paths=False)
        outputs: list[tuple[TemplateSpec, str]] = []
        missing: list[str] = []
        for spec in specs:
            rctx = RenderContext(
                env=env,
                source=self._source,
                namespace=ctx.alloc.namespace or "default",
                region=env.get("NOMAD_REGION", self._region),
                missing_key_error=spec.missing_key_error,
            )
            result = self._template(spec).render(rctx)
            if result.deps:
                self._dynamic = True
            missing.extend(m for m in result.missing if m not in missing)
            outputs.append((spec, result.text))
        return outputs, missing

    def _apply_env(self, ctx: TaskHookContext, outputs: list[tuple[TemplateSpec, str]]) -> None:
        merged: dict[str, str] = {}
        for spec, content in outputs:
            if spec.env:
                merged.update(parse_env_file(content, spec.name))
        # rebound, not mutated: the runner may be reading it on its thread
        kept = {k: v for k, v in ctx.env.items() if k not in self._env_keys}
        ctx.env = {**kept, **merged}
        self._env_keys = set(merged)

    def _event(self, type_: str, message: str, **fields: object) -> TaskEvent:
        return TaskEvent(
            type=type_,
            time=unix_nanos(self._clock()),
            message=message,
            display_message=message,
            **fields,  # type: ignore[arg-type]
        )

    def _report_missing(self, ctx: TaskHookContext, missing: list[str]) -> None:
        shown = tuple(sorted(missing))
        if shown == self._last_missing:
            return
        self._last_missing = shown
        listed = list(shown[:3]) + ([f"and {len(shown) - 3} more"] if len(shown) > 3 else [])
        ctx.emit(self._event(TEMPLATE_EVENT, "Missing: " + ", ".join(listed)))

    # ---- the watcher ----------------------------------------------------------

    def _watch(self, ctx: TaskHookContext, immediate: bool = False) -> None:
        while immediate or not self._stop.wait(self.poll_s):
            immediate = False
            try:
                self._change(ctx, self._rerender(ctx))
            except TemplateError as exc:
                if str(exc) != self._last_error:
                    self._last_error = str(exc)
                    ctx.emit(self._event(TEMPLATE_EVENT, f"Template failed: {exc}"))
            except Exception:
                log.exception(
                    "template re-render failed alloc_id=%s task=%s", ctx.alloc.id, ctx.task.name
                )
            else:
                if not self._dynamic:
                    return  # rendered, and nothing the templates read can change

    def _rerender(self, ctx: TaskHookContext) -> list[TemplateSpec]:
        """Render and rewrite what changed; the changed templates whose
        change_mode asks for an action."""
        specs = self._specs(ctx)
        outputs, missing = self._render_all(ctx, specs)
        if missing:
            return []  # a variable went away: keep what the task has
        self._last_error = ""
        changed: list[TemplateSpec] = []
        with self._lock:
            for spec, content in outputs:
                last = self._last.get(spec.dest)
                if last is None:
                    last = read_current(spec)
                if content != last:
                    write_rendered(spec, content, ctx.alloc_dir.root)
                    changed.append(spec)
                self._last[spec.dest] = content
            if any(s.env for s in changed):
                self._apply_env(ctx, outputs)  # the next start sees the new values
        if not changed:
            return []
        log.info(
            "templates re-rendered alloc_id=%s task=%s files=%s",
            ctx.alloc.id,
            ctx.task.name,
            ",".join(s.name for s in changed),
        )
        return [s for s in changed if s.change_mode != "noop"]

    def _change(self, ctx: TaskHookContext, changed: list[TemplateSpec]) -> None:
        if not changed:
            return
        splay_s = max(s.splay_s for s in changed)
        if splay_s > 0 and self._stop.wait(self._rand() * splay_s):
            return
        if any(s.change_mode == "restart" for s in changed):
            if ctx.restart is not None:
                ctx.restart(self._event(RESTART_SIGNALED, RESTART_MESSAGE))
            return
        for signal in sorted({s.change_signal for s in changed}):
            if ctx.signal is None:
                break
            try:
                ctx.signal(
                    signal, self._event(SIGNALING, SIGNAL_MESSAGE, details={"signal": signal})
                )
            except Exception as exc:
                msg = f"Template failed to send signals [{signal}]: {exc}"
                ctx.emit(self._event(TEMPLATE_EVENT, msg))
