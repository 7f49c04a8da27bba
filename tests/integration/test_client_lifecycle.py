"""Task lifecycle on a real in-process dev agent with real raw_exec processes:
the restart policy and its task events, kill_signal / kill_timeout, batch
exit codes, lifecycle hooks ordering the tasks of an allocation, the
`alloc restart | signal | stop` CLI commands end to end, and task logs (tail,
stderr, rotated files) through the API and `alloc logs`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane import jobspec
from controlplane.agent.agent import Agent
from controlplane.drivers.logrotate import RotatingLog, log_indexes
from controlplane.structs import to_builtins
from tests.cli_support import CliResult, run_cli
from tests.waiting import wait_for

SEC = 1_000_000_000
MIB = 1024 * 1024


def _task(name: str, script: str, extra: str = "") -> str:
    return f"""
    task "{name}" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{script}"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
      {extra}
    }}"""


def _register(api: httpx.Client, job_id: str, body: str, job_type: str = "service") -> None:
    text = f"""
job "{job_id}" {{
  datacenters = ["dc1"]
  type        = "{job_type}"
  group "g" {{
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    {body}
  }}
}}
"""
    job = to_builtins(jobspec.parse_job(text, f"{job_id}.nomad"))
    resp = api.put("/v1/jobs", json={"Job": job})
    assert resp.status_code == 200, resp.text


def _alloc(api: httpx.Client, job_id: str, status: str | None = None) -> dict[str, Any] | None:
    """The job's only allocation (full), once it has `status` if given."""
    allocs = api.get(f"/v1/job/{job_id}/allocations").json()
    if len(allocs) != 1 or (status and allocs[0]["ClientStatus"] != status):
        return None
    full: dict[str, Any] = api.get(f"/v1/allocation/{allocs[0]['ID']}").json()
    return full


def _settled(api: httpx.Client, job_id: str, status: str) -> dict[str, Any]:
    """The allocation once it has `status` and every task is dead."""

    def done() -> dict[str, Any] | None:
        a = _alloc(api, job_id, status)
        states = (a or {}).get("TaskStates") or {}
        return a if states and all(t["State"] == "dead" for t in states.values()) else None

    found: dict[str, Any] = wait_for(done, timeout=30, what=f"{job_id} {status}")
    return found


def _types(state: dict[str, Any]) -> list[str]:
    return [e["Type"] for e in state["Events"]]


def _at(state: dict[str, Any], event_type: str) -> int:
    return int(next(e["Time"] for e in state["Events"] if e["Type"] == event_type))


def _purge(api: httpx.Client, job_id: str) -> None:
    api.delete(f"/v1/job/{job_id}", params={"purge": "true"})


def _cli(agent: Agent, *argv: str) -> CliResult:
    return run_cli(f"http://{agent.config.http_addr}", *argv)


# ---- restart policy and exit codes ------------------------------------------


def test_failing_task_restarts_twice_then_fails(api: httpx.Client) -> None:
    restart = 'restart {\n attempts = 2\n interval = "1m"\n delay = "100ms"\n mode = "fail"\n }'
    try:
        _register(api, "restarts", restart + _task("t", "echo run; exit 1"), "batch")
        alloc = _settled(api, "restarts", "failed")
        state = alloc["TaskStates"]["t"]

        assert state["Restarts"] == 2 and state["Failed"] is True
        assert state["StartedAt"] and state["FinishedAt"] and state["LastRestart"]
        # Received fell off: a task keeps its last 10 events, as Nomad
        assert _types(state) == [
            "Task Setup",
            "Started",
            "Terminated",
            "Restarting",
            "Started",
            "Terminated",
            "Restarting",
            "Started",
            "Terminated",
            "Not Restarting",
        ]
        events = state["Events"]
        assert all(e["ExitCode"] == 1 for e in events if e["Type"] == "Terminated")
        assert events[2]["DisplayMessage"] == "Exit Code: 1"
        restarting = events[3]
        assert restarting["RestartReason"] == "Restart within policy"
        assert SEC // 10 <= restarting["StartDelay"] <= SEC // 10 * 5 // 4
        assert restarting["DisplayMessage"].startswith("Task restarting in 1")
        assert events[-1]["FailsTask"] is True
        assert events[-1]["DisplayMessage"] == (
            'Exceeded allowed attempts 2 in interval 1m0s and mode is "fail"'
        )
        times = [e["Time"] for e in events]
        assert times == sorted(times)
        logs = api.get(
            f"/v1/client/fs/logs/{alloc['ID']}",
            params={"task": "t", "type": "stdout", "plain": "true"},
        )
        assert logs.text == "run\n" * 3
    finally:
        _purge(api, "restarts")


def test_batch_exit_zero_completes_and_nonzero_fails(api: httpx.Client) -> None:
    try:
        _register(api, "exit-ok", _task("t", "exit 0"), "batch")
        _register(
            api,
            "exit-bad",
            'restart {\n attempts = 0\n mode = "fail"\n }' + _task("t", "exit 7"),
            "batch",
        )
        ok = _settled(api, "exit-ok", "complete")["TaskStates"]["t"]
        bad = _settled(api, "exit-bad", "failed")["TaskStates"]["t"]
        assert not ok["Failed"] and _types(ok)[-1] == "Terminated"
        assert bad["Failed"] and _types(bad)[-2:] == ["Terminated", "Not Restarting"]
        assert bad["Events"][-2]["ExitCode"] == 7
    finally:
        _purge(api, "exit-ok")
        _purge(api, "exit-bad")


# ---- kill_signal and kill_timeout ---------------------------------------------


def _stop_job_when_ready(api: httpx.Client, job_id: str, marker: str) -> dict[str, Any]:
    def ready() -> bool:
        a = _alloc(api, job_id, "running")
        if a is None:
            return False
        logs = api.get(
            f"/v1/client/fs/logs/{a['ID']}",
            params={"task": "t", "type": "stdout", "plain": "true"},
        )
        return marker in logs.text

    wait_for(ready, timeout=30, what=f"{job_id} ready")
    assert api.delete(f"/v1/job/{job_id}").status_code == 200
    return _settled(api, job_id, "complete")


def test_kill_signal_reaches_a_task_that_traps_it(api: httpx.Client) -> None:
    script = "trap 'echo got-int; exit 0' INT; echo ready; while :; do sleep 0.1; done"
    try:
        _register(api, "sigint", _task("t", script, 'kill_signal = "SIGINT"\nkill_timeout = "20s"'))
        alloc = _stop_job_when_ready(api, "sigint", "ready")
        state = alloc["TaskStates"]["t"]

        assert _types(state)[-3:] == ["Killing", "Terminated", "Killed"]
        killing, terminated = state["Events"][-3], state["Events"][-2]
        assert killing["KillTimeout"] == 20 * SEC
        assert terminated["ExitCode"] == 0 and terminated["Signal"] == 0
        # it exited on the signal, long before the kill timeout
        assert terminated["Time"] - killing["Time"] < 10 * SEC
        logs = api.get(
            f"/v1/client/fs/logs/{alloc['ID']}",
            params={"task": "t", "type": "stdout", "plain": "true"},
        )
        assert logs.text.endswith("got-int\n")
    finally:
        _purge(api, "sigint")


def test_task_ignoring_its_kill_signal_is_killed_after_kill_timeout(api: httpx.Client) -> None:
    script = "trap '' TERM; echo ready; while :; do sleep 0.1; done"
    try:
        _register(api, "stubborn", _task("t", script, 'kill_timeout = "1s"'))
        state = _stop_job_when_ready(api, "stubborn", "ready")["TaskStates"]["t"]

        assert _types(state)[-3:] == ["Killing", "Terminated", "Killed"]
        killing, terminated = state["Events"][-3], state["Events"][-2]
        assert killing["DisplayMessage"] == "Sent interrupt. Waiting 1s before force killing"
        assert terminated["Signal"] == 9
        assert terminated["Time"] - killing["Time"] >= SEC
        assert not state["Failed"]
    finally:
        _purge(api, "stubborn")


# ---- lifecycle hooks ------------------------------------------------------------


def test_lifecycle_hooks_order_the_tasks(api: httpx.Client, dev_agent: Agent) -> None:
    log = "$NOMAD_ALLOC_DIR/order"
    body = "".join(
        [
            _task(
                "init",
                f"sleep 0.3; echo init >> {log}",
                'lifecycle {\n hook = "prestart"\n }',
            ),
            _task(
                "proxy",
                f"trap 'echo proxy-stop >> {log}; exit 0' TERM; echo proxy-start >> {log};"
                " while :; do sleep 0.1; done",
                'lifecycle {\n hook = "prestart"\n sidecar = true\n }',
            ),
            _task("main", f"echo main >> {log}; sleep 0.5; echo main-end >> {log}"),
            _task("post", f"echo post >> {log}", 'lifecycle {\n hook = "poststart"\n }'),
            _task("cleanup", f"echo cleanup >> {log}", 'lifecycle {\n hook = "poststop"\n }'),
        ]
    )
    try:
        _register(api, "hooks", body, "batch")
        alloc = _settled(api, "hooks", "complete")
        states = alloc["TaskStates"]
        assert dev_agent.client is not None
        order_file = Path(dev_agent.client.alloc_dir(alloc["ID"])) / "alloc" / "order"
        lines = order_file.read_text().split()

        # prestart tasks before main (the sidecar keeps running), poststart
        # after main started, the sidecar killed once main ended, then poststop
        assert sorted(lines[:2]) == ["init", "proxy-start"]
        assert sorted(lines[2:4]) == ["main", "post"]
        assert lines[4:] == ["main-end", "proxy-stop", "cleanup"]
        assert _at(states["main"], "Started") >= _at(states["init"], "Terminated")
        assert _at(states["main"], "Started") >= _at(states["proxy"], "Started")
        assert _at(states["post"], "Started") >= _at(states["main"], "Started")
        assert _types(states["proxy"])[-4:] == [
            "Main Tasks Dead",
            "Killing",
            "Terminated",
            "Killed",
        ]
        assert _at(states["cleanup"], "Started") >= _at(states["proxy"], "Killed")
        assert not any(s["Failed"] for s in states.values())
    finally:
        _purge(api, "hooks")


# ---- alloc restart | signal | stop through the CLI -------------------------------


def test_alloc_restart_signal_and_stop_through_the_cli(api: httpx.Client, dev_agent: Agent) -> None:
    script = "trap 'echo got-hup' HUP; echo started; while :; do sleep 0.1; done"
    try:
        # 30 s shutdown delays (group and task) that `-no-shutdown-delay` skips
        delay = 'shutdown_delay = "30s"\n'
        _register(api, "actions", delay + _task("t", script, delay))
        alloc = wait_for(lambda: _alloc(api, "actions", "running"), timeout=30, what="running")
        alloc_id = alloc["ID"]

        def stdout() -> str:
            code, out, err = _cli(dev_agent, "alloc", "logs", alloc_id[:8], "t")
            assert code == 0, err
            return out

        wait_for(lambda: "started" in stdout(), what="the task started")

        assert _cli(dev_agent, "alloc", "signal", "-s", "SIGHUP", alloc_id[:8], "t") == (0, "", "")
        wait_for(lambda: "got-hup" in stdout(), what="the task to handle SIGHUP")

        assert _cli(dev_agent, "alloc", "restart", alloc_id[:8]) == (0, "", "")
        wait_for(lambda: stdout().count("started") == 2, what="the task to run again")
        def restarted() -> dict[str, Any] | None:
            # the client reports "pending" (restarting) and "running" separately
            a = _alloc(api, "actions")
            t = a["TaskStates"]["t"] if a else None
            return t if t and t["Restarts"] == 1 and t["State"] == "running" else None

        state = wait_for(restarted, what="the restart reported")
        assert "Restart Signaled" in _types(state)

        code, out, err = _cli(
            dev_agent, "alloc", "stop", "-detach", "-no-shutdown-delay", alloc_id[:8]
        )
        assert code == 0, err
        assert api.get(f"/v1/evaluation/{out.strip()}").json()["TriggeredBy"] == "alloc-stop"

        def replaced() -> dict[str, Any] | None:
            allocs = api.get("/v1/job/actions/allocations").json()
            old = next((a for a in allocs if a["ID"] == alloc_id), None)
            new = [a for a in allocs if a["ID"] != alloc_id and a["ClientStatus"] == "running"]
            if old and old["ClientStatus"] == "complete" and new:
                return old
            return None

        old = wait_for(replaced, timeout=30, what="the allocation replaced")
        assert old["DesiredStatus"] == "stop"
        full = api.get(f"/v1/allocation/{alloc_id}").json()
        events = full["TaskStates"]["t"]["Events"]
        assert [e["Type"] for e in events[-4:]] == [
            "Killing",
            "Skipping shutdown delay",
            "Terminated",
            "Killed",
        ]
        assert events[-1]["Time"] - events[-4]["Time"] < 10 * SEC
    finally:
        _purge(api, "actions")


# ---- logs through the API and `alloc logs` ----------------------------------------


def _lines(first: int, last: int) -> bytes:
    return b"".join(b"line %07d\n" % i for i in range(first, last + 1))


def test_alloc_logs_tail_and_stderr_through_the_api(api: httpx.Client, dev_agent: Agent) -> None:
    script = "i=1; while [ $i -le 50 ]; do echo line $i; i=$((i+1)); done; echo oops >&2"
    try:
        _register(api, "logs", _task("t", script), "batch")
        alloc_id = _settled(api, "logs", "complete")["ID"][:8]

        def cli(*flags: str) -> str:
            code, out, err = _cli(dev_agent, "alloc", "logs", *flags, alloc_id)
            assert code == 0, err
            return out

        assert cli() == "".join(f"line {i}\n" for i in range(1, 51))
        assert cli("-tail", "-n", "3") == "line 48\nline 49\nline 50\n"
        assert cli("-tail") == "".join(f"line {i}\n" for i in range(41, 51))
        assert cli("-tail", "-c", "12") == " 49\nline 50\n"
        assert cli("-stderr") == "oops\n"
        assert cli("-stderr", "-tail", "-n", "1") == "oops\n"
    finally:
        _purge(api, "logs")


def test_logs_read_across_rotated_files(api: httpx.Client, dev_agent: Agent) -> None:
    """The files a rotating writer leaves (`.0` pruned, `.1` .. `.3`) read as
    one stream, through the API and `alloc logs`, offsets counting across files."""
    try:
        _register(api, "rotated", _task("t", "exec sleep 600"))
        alloc = wait_for(lambda: _alloc(api, "rotated", "running"), timeout=30, what="running")
        assert dev_agent.client is not None
        logs_dir = dev_agent.client.task_logs_dir(alloc["ID"])
        # 3.5 MiB through the driver's writer: .0 .. .3, at most 3 files kept
        data = _lines(1, 3 * 1024 * 1024 // 13 + 50_000)
        writer = RotatingLog(str(logs_dir / "t.stdout.0"), max_files=3, max_file_size_mb=1)
        with writer:
            writer.write(data)
        assert log_indexes(str(logs_dir), "t.stdout") == [1, 2, 3]
        kept = b"".join((logs_dir / f"t.stdout.{i}").read_bytes() for i in (1, 2, 3))
        assert data.endswith(kept) and len(kept) < len(data)

        params = {"task": "t", "type": "stdout", "plain": "true"}
        url = f"/v1/client/fs/logs/{alloc['ID']}"
        assert api.get(url, params=params).content == kept
        from_start = api.get(url, params={**params, "origin": "start", "offset": 1024 * 1024 + 5})
        assert from_start.content == kept[1024 * 1024 + 5 :]
        # 20 bytes before the end of .3 reach back into .2
        tail_size = (logs_dir / "t.stdout.3").stat().st_size + 20
        assert (
            api.get(url, params={**params, "origin": "end", "offset": tail_size}).content
            == (kept[-tail_size:])
        )
        framed = api.get(
            url, params={"task": "t", "type": "stdout", "origin": "end", "offset": tail_size}
        )
        files = {f["File"] for f in _decode_frames(framed.content)}
        assert files == {"alloc/logs/t.stdout.2", "alloc/logs/t.stdout.3"}

        code, out, err = _cli(dev_agent, "alloc", "logs", "-tail", "-n", "2", alloc["ID"][:8])
        assert (code, err) == (0, "")
        assert out.encode() == b"".join(kept.splitlines(keepends=True)[-2:])

        # a follower at the end moves on to the files written after it started
        more = _lines(900_001, 1_020_000)  # ~1.5 MiB more: the rest of .3, then .4 ...
        seen, files = bytearray(), set()
        follow = {"task": "t", "type": "stdout", "follow": "true", "origin": "end", "offset": 1}
        with api.stream("GET", url, params=follow) as resp:
            frames = _frame_stream(resp.iter_text())
            assert base64.b64decode(next(frames)["Data"]) == kept[-1:]
            assert next(frames) == {}  # idle heartbeat: the reader is in place
            with RotatingLog(str(logs_dir / "t.stdout.0"), max_files=3, max_file_size_mb=1) as w:
                w.write(more)
            for frame in frames:
                if frame:
                    seen += base64.b64decode(frame["Data"])
                    files.add(frame["File"])
                if len(seen) >= len(more):
                    break
        assert bytes(seen) == more
        newest = log_indexes(str(logs_dir), "t.stdout")[-1]
        assert newest >= 4
        assert files == {f"alloc/logs/t.stdout.{i}" for i in range(3, newest + 1)}
    finally:
        _purge(api, "rotated")


def _frame_stream(chunks: Iterator[str]) -> Iterator[dict[str, Any]]:
    """StreamFrames (heartbeats as `{}`) decoded from a concatenated JSON stream."""
    decoder, buf = json.JSONDecoder(), ""
    for chunk in chunks:
        buf += chunk
        while buf:
            try:
                obj, end = decoder.raw_decode(buf)
            except json.JSONDecodeError:
                break
            buf = buf[end:]
            yield obj


def _decode_frames(raw: bytes) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    text, out, pos = raw.decode(), [], 0
    while pos < len(text):
        obj, pos = decoder.raw_decode(text, pos)
        if obj:
            out.append(obj)
    return out


@pytest.mark.docker
def test_logs_block_rotates_a_docker_tasks_output(
    api: httpx.Client, dev_agent: Agent, docker_image: str
) -> None:
    """`logs { max_files, max_file_size }` reaches the driver: 3 MB of output
    leave `.1` and `.2` (1 MiB each at most, `.0` pruned), read as one stream."""
    line = "x" * 99
    script = f"i=0; while [ $i -lt 30000 ]; do echo {line}; i=$((i+1)); done"
    task = f"""
    task "t" {{
      driver = "docker"
      config {{
        image   = "{docker_image}"
        command = "sh"
        args    = ["-c", "{script}"]
      }}
      logs {{
        max_files     = 2
        max_file_size = 1
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}"""
    try:
        _register(
            api, "docker-logs", 'restart {\n attempts = 0\n mode = "fail"\n }' + task, "batch"
        )
        alloc = _settled(api, "docker-logs", "complete")
        assert dev_agent.client is not None
        logs_dir = dev_agent.client.task_logs_dir(alloc["ID"])

        def rotated() -> list[int]:
            found = log_indexes(str(logs_dir), "t.stdout")
            size = sum((logs_dir / f"t.stdout.{i}").stat().st_size for i in found)
            # the driver copies the container's output after it exits
            return found if found and found[-1] == 2 and size >= 30000 * 100 - 2 * MIB else []

        assert wait_for(rotated, what="the output rotated") == [1, 2]
        assert (logs_dir / "t.stdout.1").stat().st_size == MIB
        kept = b"".join((logs_dir / f"t.stdout.{i}").read_bytes() for i in (1, 2))
        assert kept.endswith((line + "\n").encode()) and set(kept) == set(b"x\n")
        params = {"task": "t", "type": "stdout", "plain": "true"}
        url = f"/v1/client/fs/logs/{alloc['ID']}"
        assert api.get(url, params=params).content == kept
        tail = api.get(url, params={**params, "origin": "end", "offset": 250}).content
        assert tail == kept[-250:]
    finally:
        _purge(api, "docker-logs")
