"""Benchmark: the console's time to first frame and memory on a big cluster.

Starts an in-process dev agent and fills its state through Raft: N jobs
(canonicalised like the HTTP API does), simulated nodes, and M allocations
placed directly with PlanApply entries — no evaluations, no tasks run (the
simulated nodes have no heartbeat timers, so they stay ready). Then each view
is opened headless (Textual `run_test`) in a child process, so the memory
figure is the console's alone, and timed from App start until its table holds
every row and a frame has been composed. Not a test: run it by hand.

    .venv/bin/python bench/console.py [--jobs 1000] [--allocs-per-job 10] [--nodes 50]

Targets (issue 4): <= 0.5 s with 1,000 jobs, <= 1.5 s with 10,000 allocations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGETS_S = {"jobs": 0.5, "allocs": 1.5}
SIZE = (160, 48)
TIMEOUT_S = 60.0
BATCH = 200  # allocations per PlanApply entry


# -- the cluster (parent process) ---------------------------------------------
def populate(agent: Any, jobs: int, per_job: int, nodes: int) -> None:
    """Write jobs, ready nodes and running allocations straight through Raft."""
    from controlplane import jobspec
    from controlplane.raft.messages import JobRegister, MsgType, NodeRegister, PlanApply
    from controlplane.server.heartbeats import rfc3339_now
    from controlplane.structs import Allocation, Node

    server = agent.server
    now_ns = time.time_ns()
    sim_nodes = [
        Node(id=str(uuid.uuid4()), name=f"sim-{n:03d}", datacenter="dc1", status="ready")
        for n in range(nodes)
    ]
    for node in sim_nodes:
        server.raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=node, now=rfc3339_now()))

    batch: list[Allocation] = []
    for j in range(jobs):
        job = jobspec.job_from_api(
            {
                "ID": f"bench-{j:04d}",
                "Type": "service",
                "TaskGroups": [
                    {
                        "Name": "web",
                        "Count": per_job,
                        "Tasks": [
                            {
                                "Name": "app",
                                "Driver": "raw_exec",
                                "Config": {"command": "/bin/true"},
                            }
                        ],
                    }
                ],
            }
        )
        server.raft.submit(MsgType.JOB_REGISTER, JobRegister(job=job, submit_time=now_ns))
        stored = server.store.job_by_id(job.namespace, job.id)
        eval_id = str(uuid.uuid4())
        for k in range(per_job):
            node = sim_nodes[(j * per_job + k) % len(sim_nodes)]
            batch.append(
                Allocation(
                    id=str(uuid.uuid4()),
                    eval_id=eval_id,
                    name=f"{job.id}.web[{k}]",
                    node_id=node.id,
                    node_name=node.name,
                    job_id=job.id,
                    job=stored,
                    task_group="web",
                    client_status="running",
                    create_time=now_ns,
                    modify_time=now_ns,
                )
            )
            if len(batch) >= BATCH:
                server.raft.submit(MsgType.PLAN_APPLY, PlanApply(allocs=batch))
                batch = []
    if batch:
        server.raft.submit(MsgType.PLAN_APPLY, PlanApply(allocs=batch))


def api_time(address: str, path: str) -> tuple[float, int]:
    """(seconds, items) for one list request: the server's share of the figure."""
    import httpx

    t0 = time.perf_counter()
    resp = httpx.get(f"{address}{path}", timeout=60)
    resp.raise_for_status()
    return time.perf_counter() - t0, len(resp.json())


def run_child(view: str, address: str, expect: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", view, "--address", address, "--expect", str(expect)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S + 30,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{view} measurement failed:\n{out.stderr.strip()}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- the console (child process) -----------------------------------------------
def allocs_app(client: Any) -> Any:
    """`:allocs` when that view exists; else a ResourceTable fed the same way a view is."""
    from textual.app import App, ComposeResult

    from nomadtui.tui.app import ConsoleApp, _screen_class

    if _screen_class("allocs", "AllocsScreen") is not None:
        return type("AllocsFirst", (ConsoleApp,), {"DEFAULT_MODE": "allocs"})(client)

    from datetime import UTC, datetime

    from nomadtui.cli.format import from_unix_nano, pretty_time_diff
    from nomadtui.tui.widgets.resource_table import Column, ResourceTable, Row

    columns = (
        Column("id", "ID", width=8),
        Column("job", "Job"),
        Column("group", "Group"),
        Column("node", "Node", priority=1),
        Column("desired", "Desired", priority=2),
        Column("status", "Status", width=9),
        Column("created", "Created", priority=3),
    )

    class AllocTable(App[None]):
        def compose(self) -> ComposeResult:
            yield ResourceTable(columns, id="table")

        def on_mount(self) -> None:
            self.run_worker(self.load, thread=True)

        def load(self) -> None:
            # as a view's watch: fetch off the UI thread, build rows on it
            data = client.allocations().data
            self.call_from_thread(self.show, data)

        def show(self, data: list[dict[str, Any]]) -> None:
            now = datetime.now(UTC)
            rows: list[Row] = [
                (
                    a["ID"],
                    (
                        a["ID"][:8],
                        a["JobID"],
                        a["TaskGroup"],
                        a["NodeName"],
                        a["DesiredStatus"],
                        a["ClientStatus"],
                        pretty_time_diff(from_unix_nano(a.get("CreateTime")), now),
                    ),
                )
                for a in data
            ]
            self.query_one(ResourceTable).set_rows(rows)

    return AllocTable()


async def measure(view: str, address: str, expect: int) -> dict[str, Any]:
    from textual.widgets import DataTable

    from nomadtui.client import NomadClient
    from nomadtui.tui.app import ConsoleApp

    client = NomadClient(address=address)
    app = ConsoleApp(client) if view == "jobs" else allocs_app(client)
    kind = type(app).__name__
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        started = time.perf_counter() - t0
        while True:
            tables = list(app.screen.query(DataTable))
            if tables and tables[0].row_count >= expect:
                break
            if time.perf_counter() - t0 > TIMEOUT_S:
                rows = tables[0].row_count if tables else 0
                raise SystemExit(f"{view}: only {rows} of {expect} rows after {TIMEOUT_S} s")
            await asyncio.sleep(0.002)
        rows_s = time.perf_counter() - t0
        await pilot.pause()  # the refresh with the rows is composed
        frame_s = time.perf_counter() - t0
        app.exit()
    client.close()
    return {
        "view": view,
        "app": kind,
        "ready_s": started,
        "rows_s": rows_s,
        "frame_s": frame_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak RSS since exec (MiB).

    Not getrusage: on Linux its ru_maxrss carries the parent's peak across
    fork+exec, so a child of the agent process would report the agent's size.
    """
    import psutil

    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return float(psutil.Process().memory_info().rss) / 2**20  # no /proc: at least now


def child_main(view: str, address: str, expect: int) -> None:
    import psutil

    t0 = time.perf_counter()
    import nomadtui.tui.app  # noqa: F401  (imports are timed separately)

    import_s = time.perf_counter() - t0
    result = asyncio.run(measure(view, address, expect))
    result["import_s"] = import_s
    result["rss_end_mb"] = psutil.Process().memory_info().rss / 2**20
    print(json.dumps(result))


# -- report ----------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--allocs-per-job", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="runs per view (median reported)")
    ap.add_argument("--child", choices=("jobs", "allocs"), help=argparse.SUPPRESS)
    ap.add_argument("--address", help=argparse.SUPPRESS)
    ap.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child, args.address, args.expect)
        return

    from controlplane.agent.agent import start_dev_agent

    logging.basicConfig(level=logging.WARNING)
    allocs = args.jobs * args.allocs_per_job
    agent = start_dev_agent()
    try:
        address = f"http://{agent.config.http_addr}"
        t0 = time.perf_counter()
        populate(agent, args.jobs, args.allocs_per_job, args.nodes)
        print(
            f"cluster: {args.jobs} jobs, {allocs} allocations on {args.nodes} simulated "
            f"nodes, written through Raft in {time.perf_counter() - t0:.1f} s"
        )
        for path in ("/v1/jobs", "/v1/allocations"):
            secs, items = api_time(address, path)
            print(f"API {path}: {items} items in {secs * 1000:.0f} ms")
        print(
            f"console at {SIZE[0]}x{SIZE[1]}, headless, {args.repeat} runs per view "
            "(median; time from App start):"
        )
        for view, expect in (("jobs", args.jobs), ("allocs", allocs)):
            runs = [run_child(view, address, expect) for _ in range(args.repeat)]
            frame = statistics.median(r["frame_s"] for r in runs)
            rows = statistics.median(r["rows_s"] for r in runs)
            ready = statistics.median(r["ready_s"] for r in runs)
            rss = max(r["peak_rss_mb"] for r in runs)
            target = TARGETS_S[view]
            verdict = "ok" if frame <= target else "OVER TARGET"
            print(
                f"  {view:6} ({runs[0]['app']}, {expect} rows): first frame {frame:.3f} s "
                f"[run_test ready {ready:.3f} s, rows in table {rows:.3f} s] "
                f"peak RSS {rss:.0f} MiB, imports {runs[0]['import_s']:.2f} s "
                f"— target {target} s: {verdict}"
            )
    finally:
        agent.shutdown()


if __name__ == "__main__":
    main()
