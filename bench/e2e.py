"""Benchmark: end-to-end start of 10 tasks through a dev agent vs starting
them directly, in the same run (issue 8, part 5).

docker: `nomadtui job run -detach` of a job of 10 docker tasks
(`nomadtui-test/busybox:1`, `sleep 600`), timed until all 10 allocations are
reported running, vs 10 `docker run -d` of the same container through the
docker SDK from this process. raw_exec: the same job with raw_exec
`/bin/sleep 600` vs 10 `subprocess.Popen`. Everything is cleaned up at the
end (job purged, agent killed, containers and processes removed) even on
failure. Not a test.

    .venv/bin/python bench/e2e.py [--quick] [--count 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import psutil

IMAGE = "nomadtui-test/busybox:1"
LABEL = "nomadtui-bench-e2e"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_agent(data: str) -> tuple[subprocess.Popen[bytes], str]:
    http, rpc = _port(), _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nomadtui", "serve", "-dev", "-data-dir", data, "-node", "e2e",
         "-http-port", str(http), "-rpc-port", str(rpc), "-log-level", "WARNING"],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(data, "agent.log"), "wb"),  # noqa: SIM115 (the child owns it)
        start_new_session=True,
    )
    addr = f"http://127.0.0.1:{http}"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited with {proc.returncode}")
        try:
            nodes = httpx.get(f"{addr}/v1/nodes", timeout=2).json()
            if any(n["Status"] == "ready" for n in nodes):
                drivers = httpx.get(f"{addr}/v1/node/{nodes[0]['ID']}", timeout=2).json()
                healthy = {k for k, v in (drivers.get("Drivers") or {}).items()
                           if v.get("Healthy")}
                if {"docker", "raw_exec"} <= healthy:
                    return proc, addr
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise TimeoutError("the dev agent's node did not become ready with docker and raw_exec")


def job_file(data: str, job_id: str, driver: str, count: int) -> str:
    config = ({"image": IMAGE, "command": "sleep", "args": ["600"],
                                "labels": {LABEL: "ours"}} if driver == "docker"
              else {"command": "/bin/sleep", "args": ["600"]})
    job = {"Job": {"ID": job_id, "Datacenters": ["*"], "TaskGroups": [{
        "Name": "g", "Count": count,
        "Tasks": [{"Name": "t", "Driver": driver, "Config": config,
                   "Resources": {"CPU": 20, "MemoryMB": 32}}]}]}}
    path = os.path.join(data, f"{job_id}.json")
    with open(path, "w") as f:
        json.dump(job, f)
    return path


def ours(addr: str, path: str, job_id: str, count: int) -> float:
    """`job run -detach`, then a blocking query until `count` allocs run."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nomadtui", "job", "run", "-detach",
                    "-address", addr, path], check=True, stdout=subprocess.DEVNULL)
    index = 0
    end = time.monotonic() + 120
    while time.monotonic() < end:
        r = httpx.get(f"{addr}/v1/job/{job_id}/allocations",
                      params={"index": str(index), "wait": "5s"}, timeout=15)
        index = int(r.headers.get("X-Nomad-Index", "0"))
        allocs = r.json()
        if sum(a["ClientStatus"] == "running" for a in allocs) >= count:
            return time.perf_counter() - t0
        failed = [a for a in allocs if a["ClientStatus"] == "failed"]
        if failed:
            raise RuntimeError(f"{job_id}: allocation failed: {failed[0].get('TaskStates')}")
    raise TimeoutError(f"{job_id}: {count} allocations not running within 120 s")


def stop_job(addr: str, job_id: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.delete(f"{addr}/v1/job/{job_id}", params={"purge": "true"}, timeout=10)


def docker_direct(count: int) -> float:
    import docker  # the SDK the docker driver itself uses

    client = docker.from_env()
    t0 = time.perf_counter()
    for i in range(count):
        client.containers.run(IMAGE, ["sleep", "600"], detach=True, labels={LABEL: str(i)})
    return time.perf_counter() - t0


def docker_cleanup() -> None:
    import docker

    client = docker.from_env()
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        c.remove(force=True)


def raw_direct(count: int, procs: list[subprocess.Popen[bytes]]) -> float:
    t0 = time.perf_counter()
    for _ in range(count):
        procs.append(subprocess.Popen(["/bin/sleep", "600"]))
    return time.perf_counter() - t0


def wait_containers_gone(agent_job_ids: list[str], addr: str) -> None:
    # a purged job's tasks are killed by the client; give it a moment so the
    # agent's own cleanup runs before we SIGKILL it (leftovers removed below)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        try:
            allocs = httpx.get(f"{addr}/v1/allocations", timeout=5).json()
        except httpx.HTTPError:
            return
        live = [a for a in allocs if a["JobID"] in agent_job_ids
                and a["ClientStatus"] in ("pending", "running")]
        if not live:
            return
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="the same (already quick)")
    args = ap.parse_args()
    n = args.count
    data = tempfile.mkdtemp(prefix="bench-e2e-")
    agent: subprocess.Popen[bytes] | None = None
    addr = ""
    procs: list[subprocess.Popen[bytes]] = []
    jobs = ["e2e-docker", "e2e-raw"]
    try:
        agent, addr = start_agent(data)
        docker_path = job_file(data, jobs[0], "docker", n)
        raw_path = job_file(data, jobs[1], "raw_exec", n)

        d_ours = ours(addr, docker_path, jobs[0], n)
        d_direct = docker_direct(n)
        r_ours = ours(addr, raw_path, jobs[1], n)
        r_direct = raw_direct(n, procs)

        print(f"docker,   {n} tasks: job run until running {d_ours:.2f}s, "
              f"docker run -d x{n} {d_direct:.2f}s, ratio {d_ours / d_direct:.2f} (target <= 1.3)")
        print(f"raw_exec, {n} tasks: job run until running {r_ours:.2f}s, "
              f"subprocess.Popen x{n} {r_direct:.3f}s, ratio {r_ours / r_direct:.1f}")
        print(f"RESULT docker_ratio={d_ours / d_direct:.2f} raw_exec_ratio={r_ours / r_direct:.1f} "
              f"docker_ours_s={d_ours:.2f} docker_direct_s={d_direct:.2f} "
              f"raw_exec_ours_s={r_ours:.2f} raw_exec_direct_s={r_direct:.3f}")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        if agent is not None:
            for job_id in jobs:
                stop_job(addr, job_id)
            wait_containers_gone(jobs, addr)
            # its task processes (raw_exec executors run in their own sessions)
            children = psutil.Process(agent.pid).children(recursive=True)
            os.killpg(agent.pid, signal.SIGTERM)
            try:
                agent.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(agent.pid, signal.SIGKILL)
                agent.wait()
            for child in children:
                with contextlib.suppress(psutil.Error):
                    child.kill()
        docker_cleanup()  # ours (labelled through the job) and the direct ones
        subprocess.run(["rm", "-rf", data], check=False)


if __name__ == "__main__":
    main()
