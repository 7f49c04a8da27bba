"""The client agent running real processes through the raw_exec driver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controlplane.client.agent import ClientAgent
from controlplane.client.logs import read_logs
from controlplane.drivers.raw_exec import RawExecDriver
from controlplane.structs import Allocation

NewAlloc = Callable[..., Allocation]
AgentFactory = Callable[..., ClientAgent]


def sh(script: str) -> dict[str, Any]:
    return {"command": "/bin/sh", "args": ["-c", script]}


def test_batch_process_writes_logs_and_completes(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent(drivers={"raw_exec": RawExecDriver()})
    script = 'echo "hello from $NOMAD_TASK_NAME idx=${NOMAD_ALLOC_INDEX}"; echo oops >&2; pwd'
    alloc = rpc.push_alloc(
        new_alloc(
            agent.node_id, job_type="batch", driver="raw_exec", tasks={"work": sh(script)}, index=2
        )
    )

    stored = rpc.wait_status(alloc.id, "complete")

    assert stored.task_states["work"].events[-1].type == "Terminated"
    out = read_logs(agent.task_log_path(alloc.id, "work", "stdout")).decode()
    lines = out.splitlines()
    assert lines[0] == "hello from work idx=2"
    assert lines[1] == str(agent.alloc_dir(alloc.id) / "work")
    assert read_logs(agent.task_log_path(alloc.id, "work", "stderr")) == b"oops\n"


def test_nonzero_exit_fails_alloc(rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc) -> None:
    agent = make_agent(drivers={"raw_exec": RawExecDriver()})
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, job_type="batch", driver="raw_exec", tasks={"t": sh("exit 3")})
    )

    stored = rpc.wait_status(alloc.id, "failed")

    terminated = [e for e in stored.task_states["t"].events if e.type == "Terminated"]
    assert terminated[-1].exit_code == 3
    assert terminated[-1].display_message == "Exit Code: 3"


def test_stopping_a_service_process(
    rpc: Any, make_agent: AgentFactory, new_alloc: NewAlloc
) -> None:
    agent = make_agent(drivers={"raw_exec": RawExecDriver()})
    alloc = rpc.push_alloc(
        new_alloc(agent.node_id, driver="raw_exec", tasks={"svc": sh("exec sleep 30")})
    )
    rpc.wait_status(alloc.id, "running")
    handle = agent.state_db.handles()[alloc.id]["svc"]
    assert handle.state["pid"] > 0

    rpc.stop_alloc(alloc.id)
    stored = rpc.wait_status(alloc.id, "complete")

    evs = stored.task_states["svc"].events
    assert [e.type for e in evs[-3:]] == ["Killing", "Terminated", "Killed"]
    assert evs[-2].signal == 15
