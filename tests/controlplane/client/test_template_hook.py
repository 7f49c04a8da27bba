"""The template hook: files rendered into the task directory before start,
`env = true` templates into the task's environment, paths kept inside the
allocation directory, a missing variable waited for, and re-renders while the
task runs applying change_mode (restart, signal, noop)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.client.allocdir import AllocDir
from controlplane.client.task_hooks import TaskHookContext
from controlplane.client.template import StaticSource
from controlplane.client.template_hook import TemplateHook
from controlplane.drivers.base import TaskHandle
from controlplane.drivers.mock import MockDriver
from controlplane.structs import Allocation, Node, TaskEvent
from tests.waiting import wait_for

NewAlloc = Callable[..., Allocation]


def tmpl(data: str, dest: str, **fields: Any) -> dict[str, Any]:
    return {
        "EmbeddedTmpl": data,
        "DestPath": dest,
        "ChangeMode": "restart",
        "Perms": "0644",
        "LeftDelim": "{{",
        "RightDelim": "}}",
        "Splay": 0,
        **fields,
    }


def redis(*ports: int) -> list[dict[str, Any]]:
    return [
        {"ID": f"r{p}", "ServiceName": "redis", "Address": "10.0.0.1", "Port": p} for p in ports
    ]


class Harness:
    def __init__(self, alloc: Allocation, root: Path, source: StaticSource) -> None:
        self.alloc_dir = AllocDir(root, alloc.id)
        assert alloc.job is not None
        task = alloc.job.task_groups[0].tasks[0]
        self.alloc_dir.build([task.name])
        self.events: list[TaskEvent] = []
        self.restarts: list[TaskEvent] = []
        self.signals: list[tuple[str, TaskEvent]] = []
        self.killing = threading.Event()
        self.ctx = TaskHookContext(
            alloc=alloc,
            task=task,
            node=Node(id="node-1", name="n1", datacenter="dc1"),
            alloc_dir=self.alloc_dir,
            emit=self.events.append,
            killing=self.killing,
            restart=lambda e: self.restarts.append(e) is None,
            signal=lambda s, e: self.signals.append((s, e)) is None,
        )
        self.source = source
        self.hook = TemplateHook(source, poll_s=0.02)

    def path(self, rel: str) -> Path:
        return self.alloc_dir.task_dir(self.ctx.task.name) / rel

    def start(self) -> None:
        self.hook.prestart(self.ctx)
        self.hook.poststart(
            self.ctx, TaskHandle(driver="mock", alloc_id=self.ctx.alloc.id, task_name="server")
        )


@pytest.fixture
def harness(tmp_path: Path, new_alloc: NewAlloc) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*templates: dict[str, Any], source: StaticSource | None = None) -> Harness:
        alloc = new_alloc("node-1", task_fields={"server": {"templates": list(templates)}})
        h = Harness(alloc, tmp_path / "allocs", source or StaticSource())
        made.append(h)
        return h

    yield make
    for h in made:
        h.hook.stop(h.ctx)


def test_prestart_renders_into_the_task_dir_with_perms_and_env(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        tmpl('id={{ env "NOMAD_ALLOC_ID" }} task={{ env "NOMAD_TASK_NAME" }}', "local/id.txt"),
        tmpl('TOKEN=abc\nMODE="x y"\n', "${NOMAD_SECRETS_DIR}/app.env", Envvars=True, Perms="0600"),
        tmpl("shared", "alloc/data/shared.txt"),
        tmpl("up", "../alloc/up.txt", Perms=755),
    )
    h.hook.prestart(h.ctx)

    assert h.path("local/id.txt").read_text() == f"id={h.ctx.alloc.id} task=server"
    secret = h.path("secrets/app.env")
    assert secret.read_text() == 'TOKEN=abc\nMODE="x y"\n'
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (h.alloc_dir.shared_dir / "data/shared.txt").read_text() == "shared"
    assert (h.alloc_dir.shared_dir / "up.txt").stat().st_mode & 0o777 == 0o755
    assert h.ctx.env == {"TOKEN": "abc", "MODE": "x y"}
    assert not h.events


def test_source_file_in_the_task_dir(harness: Callable[..., Harness]) -> None:
    h = harness(tmpl("", "local/out.conf", EmbeddedTmpl=None, SourcePath="local/in.tpl"))
    h.path("local/in.tpl").write_text('name={{ env "NOMAD_JOB_NAME" }}')
    h.hook.prestart(h.ctx)
    assert h.path("local/out.conf").read_text() == "name=example"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"DestPath": "../../../etc/evil"}, "template destination path escapes alloc directory"),
        ({"SourcePath": "/etc/hostname"}, "template source path escapes alloc directory"),
        ({"ChangeMode": "script"}, 'change_mode "script" is not supported'),
        ({"ChangeMode": "signal"}, 'change_mode "signal" needs a change_signal'),
        ({"Perms": "rwx"}, "failed to parse 'rwx' as octal"),
    ],
)
def test_bad_settings_fail_prestart(
    harness: Callable[..., Harness], fields: dict[str, Any], message: str
) -> None:
    h = harness(tmpl("x", "local/x", **fields))
    with pytest.raises(RuntimeError) as info:
        h.hook.prestart(h.ctx)
    assert message in str(info.value)
    assert not str(info.value).startswith("template:")  # the runner adds "template: "


def test_a_planted_symlink_is_not_followed(harness: Callable[..., Harness], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    h = harness(tmpl("x", "local/link/file"))
    os.symlink(outside, h.path("local/link"))
    with pytest.raises(RuntimeError, match="escapes alloc directory"):
        h.hook.prestart(h.ctx)
    assert not (outside / "file").exists()


def test_parse_errors_fail_prestart_naming_template_line_and_column(
    harness: Callable[..., Harness],
) -> None:
    h = harness(tmpl('ok\n{{ key "x" }}', "local/kv.yml"))
    with pytest.raises(RuntimeError) as info:
        h.hook.prestart(h.ctx)
    assert str(info.value) == (
        'local/kv.yml:2:4: function "key" is not supported (Consul KV is not available in nomadtui)'
    )
    assert not h.path("local/kv.yml").exists()


def test_first_render_waits_for_a_missing_variable(harness: Callable[..., Harness]) -> None:
    source = StaticSource()
    h = harness(
        tmpl('{{ with nomadVar "nomad/jobs/example" }}pw={{ .password }}{{ end }}', "secrets/pw"),
        source=source,
    )
    done = threading.Event()
    thread = threading.Thread(target=lambda: (h.hook.prestart(h.ctx), done.set()))
    thread.start()
    wait_for(lambda: h.events, what="Missing event")
    assert h.events[0].type == "Template"
    assert h.events[0].display_message == (
        "Missing: nomad.var.block(nomad/jobs/example@default.global)"
    )
    assert not done.is_set() and not h.path("secrets/pw").exists()

    source.variables[("default", "nomad/jobs/example")] = {"password": "s3cret"}
    assert done.wait(5)
    thread.join(5)
    assert h.path("secrets/pw").read_text() == "pw=s3cret"
    assert len(h.events) == 1  # the same missing set is reported once


def test_a_kill_ends_the_wait_without_rendering(harness: Callable[..., Harness]) -> None:
    h = harness(tmpl('{{ nomadVar "nomad/jobs/none" }}', "local/x"))
    h.killing.set()
    h.hook.prestart(h.ctx)
    assert not h.path("local/x").exists()


def test_change_mode_restart_on_a_new_registration(harness: Callable[..., Harness]) -> None:
    source = StaticSource(services={("default", "redis"): redis(6379)})
    text = '{{ range nomadService "redis" }}{{ .Address }}:{{ .Port }}\n{{ end }}'
    h = harness(tmpl(text, "local/upstreams"), source=source)
    h.start()
    assert h.path("local/upstreams").read_text() == "10.0.0.1:6379\n"

    source.services[("default", "redis")] = redis(6379, 6380)
    wait_for(lambda: h.restarts, what="restart")
    assert h.path("local/upstreams").read_text() == "10.0.0.1:6379\n10.0.0.1:6380\n"
    event = h.restarts[0]
    assert (event.type, event.display_message) == (
        "Restart Signaled",
        "Template with change_mode restart re-rendered",
    )
    assert not h.signals


def test_change_mode_signal_and_env_refresh(harness: Callable[..., Harness]) -> None:
    source = StaticSource(services={("default", "redis"): redis(1)})
    h = harness(
        tmpl(
            '{{ len (nomadService "redis") }}',
            "local/n",
            ChangeMode="signal",
            ChangeSignal="sighup",
        ),
        tmpl('N={{ len (nomadService "redis") }}', "local/env", ChangeMode="noop", Envvars=True),
        source=source,
    )
    h.start()
    assert h.ctx.env == {"N": "1"}
    source.services[("default", "redis")] = redis(1, 2)
    wait_for(lambda: h.signals, what="signal")
    signal, event = h.signals[0]
    assert signal == "SIGHUP"
    assert (event.type, event.display_message) == ("Signaling", "Template re-rendered")
    assert h.ctx.env == {"N": "2"}  # the next start sees it
    assert not h.restarts


def test_change_mode_noop_only_rewrites(harness: Callable[..., Harness]) -> None:
    source = StaticSource(services={("default", "redis"): redis(1)})
    h = harness(
        tmpl('{{ len (nomadService "redis") }}', "local/n", ChangeMode="noop"), source=source
    )
    h.start()
    source.services[("default", "redis")] = redis(1, 2, 3)
    wait_for(lambda: h.path("local/n").read_text() == "3", what="rewrite")
    assert not h.restarts and not h.signals


def test_static_templates_start_no_watcher(harness: Callable[..., Harness]) -> None:
    h = harness(tmpl('{{ env "NOMAD_TASK_NAME" }}', "local/x"))
    h.start()
    assert h.hook._thread is None


def test_failing_rerender_keeps_the_file_and_reports_once(
    harness: Callable[..., Harness],
) -> None:
    source = StaticSource(services={("default", "redis"): redis(1)})
    text = '{{ with index (nomadService "redis") 0 }}{{ .Port }}{{ end }}'
    h = harness(tmpl(text, "local/port"), source=source)
    h.start()
    source.services[("default", "redis")] = []
    wait_for(lambda: h.events, what="failure event")
    assert h.events[0].type == "Template"
    assert h.events[0].display_message.startswith(
        "Template failed: template: local/port:1:9: error calling index: index out of range: 0"
    )
    assert h.path("local/port").read_text() == "1"
    source.services[("default", "redis")] = redis(7)
    wait_for(lambda: h.restarts, what="restart after recovery")
    assert len(h.events) == 1


def test_unsupported_function_fails_the_task_through_the_runner(
    rpc: Any, make_agent: Callable[..., Any], new_alloc: NewAlloc
) -> None:
    agent = make_agent(drivers={"mock": MockDriver()})
    alloc = rpc.push_alloc(
        new_alloc(
            agent.node_id,
            task_fields={"server": {"templates": [tmpl('{{ secret "kv/x" }}', "local/s")]}},
        )
    )
    stored = rpc.wait_status(alloc.id, "failed")
    failure = [e for e in stored.task_states["server"].events if e.type == "Setup Failure"]
    assert failure[0].display_message == (
        'template: local/s:1:4: function "secret" is not supported '
        "(Vault is not available in nomadtui; use nomadVar for secrets)"
    )


def test_restored_task_is_rerendered_at_once_and_restarted_on_change(
    harness: Callable[..., Harness],
) -> None:
    # the earlier client process rendered one backend; two exist by now
    source = StaticSource(services={("default", "redis"): redis(1, 2)})
    h = harness(tmpl('{{ len (nomadService "redis") }}', "local/n"), source=source)
    h.path("local/n").write_text("1")
    h.hook.restore()
    h.hook.poststart(h.ctx, TaskHandle(driver="mock", alloc_id=h.ctx.alloc.id, task_name="server"))
    wait_for(lambda: h.restarts, what="restart after restore")
    assert h.path("local/n").read_text() == "2"


def test_restored_static_template_unchanged_does_nothing(harness: Callable[..., Harness]) -> None:
    h = harness(tmpl("static", "local/s"))
    h.path("local/s").write_text("static")
    h.hook.restore()
    h.hook.poststart(h.ctx, TaskHandle(driver="mock", alloc_id=h.ctx.alloc.id, task_name="server"))
    thread = h.hook._thread
    assert thread is not None
    thread.join(5)
    assert not thread.is_alive()  # nothing it reads can change: the watcher ends
    assert not h.restarts and not h.events
