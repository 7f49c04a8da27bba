"""Benchmark: the scheduler and the plan applier's check over a real StateStore.

For each cluster size: N simulated nodes (varied resources, datacenters,
node classes, drivers, a few ineligible) and J service jobs holding M
allocations in all (some with constraints, some with a dynamic port). Each
job gets one register evaluation, processed the way a leader does minus
Raft and HTTP:

    snapshot -> schedule() -> evaluate_plan() (plan applier's re-check)
    -> upsert_allocs + upsert_evals (what the FSM applies for PLAN_APPLY)

The last step is tests/controlplane/scheduler/store_harness.py's
RecordingPlanner. Job registration is not timed. Prints placements/s and
the cost per placement at each size side by side, then one line
`RESULT placements_per_s=<at the largest size> cost_ratio=<largest vs smallest>`.
Not a test: run it by hand.

    .venv/bin/python bench/scheduler.py --quick
    .venv/bin/python bench/scheduler.py --nodes 500,5000 --allocs 100000 --jobs 1000
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/controlplane/scheduler"))

from sched_harness import group, job, node, ports, task
from store_harness import StoreCluster

from controlplane.scheduler import schedule
from controlplane.server.plan_apply import evaluate_plan
from controlplane.structs import Constraint, Job, Node

DATACENTERS = ("dc1", "dc2", "dc3", "dc4")
CLASSES = ("c1", "c2", "c3", "c4")


def make_node(i: int) -> Node:
    return node(
        f"node-{i:05d}",
        dc=DATACENTERS[i % len(DATACENTERS)],
        cpu=(8000, 16000, 32000)[i % 3],
        mem=(16384, 32768, 65536)[(i // 3) % 3],
        disk=200_000,
        # one node in ten has no docker: the driver check filters it
        drivers=("exec",) if i % 10 == 9 else ("docker", "exec"),
        eligibility="ineligible" if i % 50 == 49 else "eligible",
        node_class=CLASSES[(i // 7) % len(CLASSES)],
        meta={"rack": f"r{i % 20}"},
        reserved_cpu=100,
        reserved_mem=256,
    )


def make_job(j: int, count: int) -> Job:
    constraints: list[Constraint] = []
    if j % 3 == 0:
        constraints.append(Constraint(l_target="${attr.kernel.name}", r_target="linux"))
    if j % 5 == 0:
        constraints.append(Constraint(l_target="${node.class}", r_target="c4", operand="!="))
    networks = [ports(dynamic=["http"])] if j % 4 == 0 else None
    return job(
        f"job-{j:04d}",
        datacenters=list(DATACENTERS) if j % 4 else ["dc1", "dc2"],
        constraints=constraints or None,
        groups=[
            group(
                "web",
                count=count,
                tasks=[task(cpu=20 + (j % 4) * 10, mem=16 + (j % 4) * 16, networks=networks)],
                disk=100,
            )
        ],
    )


@dataclass
class Figures:
    nodes: int
    placed: int = 0
    unplaced: int = 0
    rejected_nodes: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.placed / self.seconds if self.seconds else 0.0

    @property
    def cost_us(self) -> float:
        return self.seconds / self.placed * 1e6 if self.placed else float("inf")


def run(n_nodes: int, n_allocs: int, n_jobs: int) -> Figures:
    cluster = StoreCluster(*(make_node(i) for i in range(n_nodes)))
    store = cluster.store
    counts = [n_allocs // n_jobs + (1 if j < n_allocs % n_jobs else 0) for j in range(n_jobs)]
    evals = [cluster.register(make_job(j, c)) for j, c in enumerate(counts)]
    fig = Figures(n_nodes, phases=dict.fromkeys(("snapshot", "schedule", "check", "apply"), 0.0))
    gc.collect()
    clock = time.perf_counter
    start = clock()
    for ev in evals:
        t0 = clock()
        snap = store.snapshot()
        t1 = clock()
        # The worker's seed: each evaluation shuffles the nodes its own way.
        seed = zlib.crc32(ev.id.encode())
        result = schedule(snap, ev, now_ns=cluster.now_ns, seed=seed, new_id=cluster.ids)
        t2 = clock()
        accepted, rejected = store.read(lambda s, plan=result.plan: evaluate_plan(s, plan))
        t3 = clock()
        # Every node is checked; a rejection would be a scheduler bug here
        # (no concurrent writer), so it is counted, not retried.
        cluster.planner.submit(ev, result)
        t4 = clock()
        for phase, seconds in zip(fig.phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            fig.phases[phase] += seconds
        fig.placed += sum(len(a) for a in accepted.values())
        fig.rejected_nodes += len(rejected)
        fig.unplaced += sum(result.queued_allocations.values())
    fig.seconds = clock() - start
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nodes", default="500,5000", help="comma-separated cluster sizes")
    ap.add_argument("--allocs", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=0, help="default: one job per 100 allocs")
    ap.add_argument("--quick", action="store_true", help="500 and 5,000 nodes, 20,000 allocs")
    args = ap.parse_args()
    sizes = [int(n) for n in args.nodes.split(",")]
    n_allocs = 20_000 if args.quick else args.allocs
    if args.quick:
        sizes = [500, 5000]
    n_jobs = args.jobs or max(n_allocs // 100, 1)

    figures = []
    for n in sizes:
        fig = run(n, n_allocs, n_jobs)
        figures.append(fig)
        print(
            f"nodes={n}: {fig.placed} placed, {fig.unplaced} unplaced, "
            f"{fig.rejected_nodes} nodes rejected by the plan check, {fig.seconds:.2f} s",
            flush=True,
        )
    print()
    print(f"{n_allocs} allocations in {n_jobs} service jobs")
    print(f"{'nodes':>22}" + "".join(f"{f.nodes:>12}" for f in figures))
    print(f"{'placements/s':>22}" + "".join(f"{f.rate:>12.0f}" for f in figures))
    print(f"{'us per placement':>22}" + "".join(f"{f.cost_us:>12.1f}" for f in figures))
    for phase in figures[0].phases:
        label = f"  {phase} us/placement"
        print(
            f"{label:>22}"
            + "".join(f"{f.phases[phase] / max(f.placed, 1) * 1e6:>12.1f}" for f in figures)
        )
    ratio = figures[-1].cost_us / figures[0].cost_us
    print(f"RESULT placements_per_s={figures[-1].rate:.0f} cost_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
