"""Benchmark: FSM commits per second through a 3-server Raft group, next to raw
pysyncobj `@replicated` calls of the same payload size, in the same run.

Three processes on loopback each, with the same SyncObjConf (journal and
dump file in a data dir included); the writers live in the process that
became leader, on both sides (from a follower every write is forwarded to
the leader first: which process won the election used to decide the ratio
more than the FSM did, 0.3 to 1.2 between runs of the same code). Our side:
`RaftNode` with the control plane's SyncObjConf and the real FSM +
StateStore, committing JOB_REGISTER entries (a canonical job and its
evaluation), first from `--writers` threads (`submit`, one entry per write,
as raw pysyncobj), then from an event loop with the same number of
concurrent `submit_async` calls (group commit packs what arrives while
entries are in flight). Then PLAN_APPLY entries carrying `--plan-allocs`
allocations each: how many allocations one entry moves.

    .venv/bin/python bench/raft.py [--writes 3000] [--writers 8] [--quick] [--encrypt]

`--encrypt` runs both sides with a Raft encryption key (`serve -encrypt`).

Ends with one line `RESULT ...`. Not a test.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

NODE = r"""
import asyncio, os, sys, threading, time
role, me, others, data = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
password = os.environ.get("BENCH_RAFT_PASSWORD") or None
writes, writers, plan_allocs = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
from bench.raft import job_register, plan_apply
if role == "raw":
    from pysyncobj import SyncObj, replicated
    from controlplane.raft.node import RaftConfig, _sync_conf
    class Store(SyncObj):
        def __init__(self):
            self.n = 0
            conf = _sync_conf(RaftConfig(self_addr=me, peers=others, data_dir=data,
                                         password=password))
            super().__init__(me, others, conf)
        @replicated
        def put(self, payload):
            self.n += 1
            return self.n
    obj = Store()
    ready = lambda: obj._isReady() and obj._getLeader() is not None
    write = lambda payload: obj.put(payload, sync=True, timeout=30)
else:
    from controlplane.raft.messages import MsgType
    from controlplane.raft.node import RaftConfig, RaftNode
    from controlplane.state import StateStore
    node = RaftNode(StateStore(), RaftConfig(self_addr=me, peers=others, data_dir=data,
                                             password=password))
    ready = lambda: node.is_ready() and bool(node.leader_addr())
while not ready():
    time.sleep(0.01)
leader = obj._isLeader() if role == "raw" else node.is_leader()
if writes == 0 or not leader:
    time.sleep(3600)

def threaded(fn, items):
    per = len(items) // writers
    chunks = [items[k * per:(k + 1) * per] for k in range(writers)]
    t0 = time.perf_counter()
    ts = [threading.Thread(target=lambda c=c: [fn(x) for x in c]) for c in chunks]
    [t.start() for t in ts]; [t.join() for t in ts]
    return per * writers / (time.perf_counter() - t0)

if role == "raw":
    msg = job_register(0)[1]
    size = len(msg)
    print("raw", threaded(write, [b"x" * size] * writes), size, flush=True)
    sys.exit(0)

regs = [job_register(i) for i in range(writes * 2)]
print("sync", threaded(lambda m: node.submit(m[0], m[2]), regs[:writes]), len(regs[0][1]),
      flush=True)

async def grouped(items):
    queue = list(items)
    async def worker():
        while queue:
            mt, _, msg = queue.pop()
            await node.submit_async(mt, msg)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(writers)))
    return len(items) / (time.perf_counter() - t0)

print("group", asyncio.run(grouped(regs[writes:])), flush=True)
plans = [plan_apply(i, plan_allocs) for i in range(max(50, writes // 20))]
rate = threaded(lambda m: node.submit(m[0], m[2]), plans)
print("plans", rate, len(plans[0][1]), flush=True)
"""


def job_register(i: int) -> tuple[int, bytes, object]:
    """(type, encoded payload, message) of the registration of job `bench-<i>`."""
    from controlplane import jobspec
    from controlplane.raft.messages import JobRegister, MsgType, encode
    from controlplane.server.server import new_eval

    body = {"ID": f"bench-{i}", "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [
        {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}]}
    job = jobspec.canonicalize(jobspec.job_from_api(body))
    msg = JobRegister(job=job, eval=new_eval(job, "job-register", 1), submit_time=1)
    return int(MsgType.JOB_REGISTER), encode(msg), msg


def plan_apply(i: int, count: int) -> tuple[int, bytes, object]:
    """A PLAN_APPLY entry placing `count` allocations of one job."""
    from controlplane.raft.messages import MsgType, PlanApply, encode
    from controlplane.structs import Allocation

    _, _, reg = job_register(i)
    job = reg.job  # type: ignore[attr-defined]
    # as the plan applier sends them: the job once, allocations without it
    allocs = [
        Allocation(id=f"{i:08d}-{k:04d}-0000-0000-000000000000", job_id=job.id,
                   task_group="g", name=f"{job.id}.g[{k}]", node_id=f"node-{k % 50}",
                   desired_status="run", client_status="pending")
        for k in range(count)
    ]
    msg = PlanApply(allocs=allocs, job=job)
    return int(MsgType.PLAN_APPLY), encode(msg), msg


def _ports(n: int) -> list[str]:
    out = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            out.append(f"127.0.0.1:{s.getsockname()[1]}")
    return out


def _group(role: str, writes: int, writers: int, plan_allocs: int) -> list[str]:
    addrs = _ports(3)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get(
        "PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory() as data:
        procs = []
        for i, me in enumerate(addrs):
            others = ",".join(a for a in addrs if a != me)
            argv = [sys.executable, "-c", NODE, role, me, others, os.path.join(data, f"n{i}"),
                    str(writes), str(writers), str(plan_allocs)]
            procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env,
                                          start_new_session=True))
        try:
            # the leader writes, prints and exits; the followers wait
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                done = next((p for p in procs if p.poll() is not None), None)
                if done is not None:
                    assert done.stdout is not None
                    return done.stdout.read().splitlines()
                time.sleep(0.1)
            raise SystemExit(f"{role}: no result in 900 s")
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writes", type=int, default=3000)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--plan-allocs", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="1,000 writes")
    ap.add_argument("--encrypt", action="store_true", help="encrypt Raft traffic (a shared key)")
    args = ap.parse_args()
    if args.encrypt:
        from controlplane.agent.tls_certs import gossip_key

        os.environ["BENCH_RAFT_PASSWORD"] = gossip_key()
    writes = 1000 if args.quick else args.writes
    ours = {line.split()[0]: line.split()[1:] for line in
            _group("ours", writes, args.writers, args.plan_allocs)}
    raw = _group("raw", writes, args.writers, args.plan_allocs)[-1].split()
    sync_rate, size = float(ours["sync"][0]), int(ours["sync"][1])
    group_rate = float(ours["group"][0])
    plan_rate, plan_size = float(ours["plans"][0]), int(ours["plans"][1])
    raw_rate = float(raw[1])
    print(f"FSM commits (JOB_REGISTER, {size} bytes), {args.writers} writer threads: "
          f"{sync_rate:.0f}/s")
    print(f"  same, {args.writers} concurrent submit_async (group commit): {group_rate:.0f}/s")
    print(f"raw pysyncobj @replicated, {size}-byte payload, same SyncObjConf: {raw_rate:.0f}/s")
    print(f"ratio (threads, one entry per write): {sync_rate / raw_rate:.2f}; "
          f"with group commit: {group_rate / raw_rate:.2f} (target >= 0.8)")
    print(f"PLAN_APPLY entries of {args.plan_allocs} allocations ({plan_size} bytes): "
          f"{plan_rate:.0f}/s = {plan_rate * args.plan_allocs:.0f} allocations/s")
    print(f"RESULT fsm_commits_per_s={sync_rate:.0f} group_commits_per_s={group_rate:.0f} "
          f"raw_per_s={raw_rate:.0f} ratio={sync_rate / raw_rate:.2f} "
          f"group_ratio={group_rate / raw_rate:.2f} allocs_per_plan_entry={args.plan_allocs} "
          f"plan_allocs_per_s={plan_rate * args.plan_allocs:.0f}")


if __name__ == "__main__":
    main()
