"""The client agent: fingerprints and registers this node, keeps it alive
with heartbeats, watches its allocations with blocking queries and runs them
through AllocRunners, and reports their status back in batches.

Threads (all daemons):
    client-main            register (retry with backoff), then the alloc watch
    client-heartbeat       heartbeat at ~TTL/2; re-registers after failures
    client-alloc-updater   coalesces and sends AllocClientUpdates (alloc_updates.py)
    client-services        syncs service registrations to the catalog (service_sync.py)
    client-checks          schedules every service check (checks.py; probes in a pool)
    task-<alloc>-<task>    one per task (task_runner.py)

`stop()` stops the agent's own loops and leaves tasks running, as a Nomad
client does when it exits. `start()` first restores the allocations found in
the local state (state_db.py): their runners reattach to the tasks through
the drivers and keep reporting, before the servers are even reached.
`shutdown(kill_tasks=True)` also kills every task first (without shutdown
delays) and reports it, for dev agents and tests. The agent talks to
servers only through ServerRPC.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from controlplane.drivers.base import Driver, TaskHandle
from controlplane.structs import Allocation, AllocClientUpdate, Node

from .alloc_runner import AllocRunner
from .alloc_updates import AllocUpdater
from .allocdir import AllocDir
from .checks import CheckScheduler
from .config import ClientConfig
from .fingerprint import fingerprint_node, load_or_create_id, refresh_drivers
from .rpc import ServerRPC
from .service_sync import ServiceSyncer
from .services import ServiceClient
from .state_db import StateDB
from .template.api_source import ServerSource

log = logging.getLogger(__name__)

# an answer faster than this with no new index means the server did not block
_MIN_QUERY_S = 0.01


class ClientAgent:
    def __init__(
        self,
        config: ClientConfig,
        rpc: ServerRPC,
        drivers: Mapping[str, Driver],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.rpc = rpc
        self.drivers = {n: d for n, d in drivers.items() if config.driver_enabled(n)}
        self._clock = clock
        self._node_id = load_or_create_id(config.client_dir / "node-id")
        self.node: Node | None = None
        self.heartbeat_ttl_s = 0.0
        self.state_db = StateDB(config.client_dir / "allocs")
        self._updater = AllocUpdater(rpc, interval_s=config.alloc_update_interval_s)
        self.services = ServiceClient(ServiceSyncer(rpc), CheckScheduler())
        self.templates = ServerSource(rpc)

        self._lock = threading.Lock()
        self._runners: dict[str, AllocRunner] = {}
        self._stop = threading.Event()
        self._registered = threading.Event()
        # the first answer of the alloc watch: restored tasks that could not be
        # reattached wait for it before they start again
        self._servers_contacted = threading.Event()
        self._threads: list[threading.Thread] = []
        self.alloc_index = 0

    # ---- identity and paths ---------------------------------------

    @property
    def node_id(self) -> str:
        return self._node_id

    def alloc_dir(self, alloc_id: str) -> Path:
        return AllocDir(self.config.alloc_root, alloc_id).root

    def task_logs_dir(self, alloc_id: str) -> Path:
        """`<alloc dir>/alloc/logs`: every task's rotated log files."""
        return AllocDir(self.config.alloc_root, alloc_id).logs_dir

    def task_log_path(self, alloc_id: str, task: str, stream: str) -> Path:
        """`<alloc dir>/alloc/logs/<task>.<stdout|stderr>.0`; ValueError for other streams."""
        return AllocDir(self.config.alloc_root, alloc_id).log_path(task, stream)

    def runners(self) -> dict[str, AllocRunner]:
        with self._lock:
            return dict(self._runners)

    def runner(self, alloc_id: str) -> AllocRunner | None:
        with self._lock:
            return self._runners.get(alloc_id)

    # ---- lifecycle ---------------------------------------------------

    def start(self) -> None:
        """Fingerprint, then register and watch in the background (non-blocking)."""
        self.node = fingerprint_node(self.config, self.drivers, clock=self._clock)
        self._updater.start()
        self.services.syncer.start()
        self._restore()
        self._spawn("client-main", self._main)

    def wait_registered(self, timeout: float | None = None) -> bool:
        return self._registered.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the agent's loops; tasks keep running."""
        self._stop.set()
        self._updater.stop(flush_timeout=min(timeout, 2.0))
        self.services.syncer.flush(min(timeout, 2.0))
        self.services.stop()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            # the watch thread may sit in a blocking query; it is a daemon
            t.join(max(0.0, deadline - time.monotonic()))
        close = getattr(self.rpc, "close", None)
        if close is not None:
            close()

    def shutdown(self, kill_tasks: bool = True, timeout: float = 30.0) -> None:
        """Stop the loops; with `kill_tasks`, first kill every task and report it."""
        self._stop.set()
        if kill_tasks:
            runners = list(self.runners().values())
            for r in runners:
                r.kill(destroy=True, skip_shutdown_delay=True)
            deadline = time.monotonic() + timeout
            for r in runners:
                if not r.wait(max(0.0, deadline - time.monotonic())):
                    log.warning("alloc did not stop in time alloc_id=%s", r.id)
        self.stop()

    # ---- threads -------------------------------------------------------

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _register(self) -> bool:
        """Register until the server answers (or the agent stops)."""
        assert self.node is not None
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self.heartbeat_ttl_s = self.rpc.register_node(self.node)
                ttl = self.rpc.heartbeat(self.node_id, "ready")
                if ttl > 0:
                    self.heartbeat_ttl_s = ttl
                log.info("node registered node_id=%s ttl=%.1fs", self.node_id, self.heartbeat_ttl_s)
                return True
            except Exception as exc:
                log.warning("node registration failed node_id=%s: %s", self.node_id, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.config.register_backoff_max_s)
        return False

    def _main(self) -> None:
        if not self._register():
            return
        self._registered.set()
        self._spawn("client-heartbeat", self._heartbeat_loop)
        self._spawn("client-drivers", self._driver_loop)
        self._watch_loop()

    def _driver_loop(self) -> None:
        """Re-fingerprint the drivers; a change of detection or health is
        registered again, so the scheduler stops (or starts) placing work
        that needs them (e.g. the Docker engine went away)."""
        while not self._stop.wait(self.config.driver_refresh_s):
            assert self.node is not None
            try:
                node = refresh_drivers(self.node, self.config, self.drivers, self._clock())
                if node is None:
                    continue
                self.node = node
                log.info("driver health changed node_id=%s: registering again", self.node_id)
                self.rpc.register_node(node)
            except Exception as exc:  # the next round tries again
                log.warning("driver fingerprint failed node_id=%s: %s", self.node_id, exc)

    def _heartbeat_loop(self) -> None:
        failed = False
        while not self._stop.is_set():
            wait = self.config.heartbeat_retry_s if failed else max(self.heartbeat_ttl_s / 2, 0.1)
            if self._stop.wait(wait):
                return
            try:
                if failed:
                    # the server may have lost us (restart, GC): register again
                    assert self.node is not None
                    self.rpc.register_node(self.node)
                self.heartbeat_ttl_s = self.rpc.heartbeat(self.node_id, "ready") or (
                    self.heartbeat_ttl_s
                )
                failed = False
            except Exception as exc:
                log.warning("heartbeat failed node_id=%s: %s", self.node_id, exc)
                failed = True

    def _watch_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                allocs, index = self.rpc.get_allocs(
                    self.node_id, self.alloc_index, self.config.alloc_watch_wait_s
                )
            except Exception as exc:
                log.warning("alloc watch failed node_id=%s: %s", self.node_id, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            if self._stop.is_set():
                return
            unchanged = index == self.alloc_index
            # an index going backwards means a new server state: start over
            self.alloc_index = index if index >= self.alloc_index else 0
            try:
                self.reconcile(allocs)
            except Exception:
                log.exception("alloc reconcile failed node_id=%s", self.node_id)
            self._servers_contacted.set()
            if unchanged and time.monotonic() - began < _MIN_QUERY_S:
                self._stop.wait(0.1)

    # ---- reconciliation -------------------------------------------

    def _restore(self) -> None:
        """Take over the allocations of an earlier client process (same data dir)."""
        for alloc_id, local in self.state_db.allocs().items():
            assert local.alloc is not None
            runner = self._new_runner(local.alloc)
            with self._lock:
                self._runners[alloc_id] = runner
            log.info("restoring alloc alloc_id=%s", alloc_id)
            try:
                runner.run(restored=local)
            except Exception:
                log.exception("restoring alloc failed alloc_id=%s", alloc_id)

    def reconcile(self, allocs: list[Allocation]) -> None:
        """Bring local runners in line with the server's list of our allocations."""
        listed = {a.id for a in allocs}
        to_start: list[AllocRunner] = []
        updated: list[tuple[AllocRunner, Allocation]] = []
        with self._lock:
            for alloc in allocs:
                runner = self._runners.get(alloc.id)
                if runner is None:
                    if alloc.terminal():
                        continue  # never ran here, nothing to do
                    runner = self._new_runner(alloc)
                    self._runners[alloc.id] = runner
                    to_start.append(runner)
                elif (
                    alloc.modify_index != runner.alloc.modify_index
                    or alloc.desired_status != runner.alloc.desired_status
                ):
                    updated.append((runner, alloc))
            gone = [r for aid, r in self._runners.items() if aid not in listed]
        for runner in to_start:
            log.info("starting alloc alloc_id=%s", runner.id)
            self.state_db.put_alloc(runner.alloc)
            runner.run()
        for runner, alloc in updated:
            self.state_db.put_alloc(alloc)
            runner.update(alloc)
        for runner in gone:
            # garbage-collected or moved away by the servers: nothing to restore
            runner.kill(destroy=True)
            self._forget_when_done(runner)

    def _forget_when_done(self, runner: AllocRunner) -> None:
        def forget() -> None:
            runner.wait()
            self.state_db.delete_alloc(runner.id)
            with self._lock:
                if self._runners.get(runner.id) is runner:
                    del self._runners[runner.id]

        threading.Thread(target=forget, name=f"alloc-gc-{runner.id[:8]}", daemon=True).start()

    def _new_runner(self, alloc: Allocation) -> AllocRunner:
        assert self.node is not None
        return AllocRunner(
            alloc=alloc,
            node=self.node,
            drivers=self.drivers,
            alloc_root=self.config.alloc_root,
            on_update=self._alloc_updated,
            on_handle=self._persist_handle,
            clock=self._clock,
            region=self.config.region,
            servers_contacted=self._servers_contacted,
            services=self.services,
            templates=self.templates,
        )

    def _alloc_updated(self, update: AllocClientUpdate) -> None:
        # persisted before it is sent: a restarted client resumes from here
        if update.task_states:
            self.state_db.put_task_states(update.id, update.task_states)
        self._updater.put(update)

    def _persist_handle(self, alloc_id: str, task: str, handle: TaskHandle | None) -> None:
        self.state_db.put_handle(alloc_id, task, handle)
