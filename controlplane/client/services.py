"""Service registration of one allocation (Nomad's service and group-service
hooks): builds the catalog entries of the group's and tasks' `service`
blocks, registers a task's services once it runs (group services once every
main task runs), runs their checks, keeps each entry's `health`, restarts
tasks per `check_restart`, and deregisters before a kill waits out its
shutdown_delay, so a load balancer stops sending traffic first.

It never talks to the servers (ServiceSyncer does) and never stops or
starts tasks itself (the alloc runner's restart path does).

    task running  --> register task services, schedule their checks
    all main running -> register group services
    task killing (before shutdown_delay) / exited -> deregister task services
    alloc killing (before group shutdown_delay) / destroy -> deregister all
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from controlplane.drivers.base import Driver, ExitResult, TaskHandle
from controlplane.structs import (
    SEC,
    AllocatedPortMapping,
    Allocation,
    CheckRestart,
    CheckStatus,
    Node,
    Service,
    ServiceCheck,
    ServiceRegistration,
    Task,
    TaskEvent,
    TaskState,
    registration_id,
)
from controlplane.structs.consts import TaskStateValue

from .allocdir import AllocDir
from .checks import (
    CRITICAL,
    PASSING,
    PENDING,
    WARNING,
    CheckScheduler,
    CheckState,
    ScheduledCheck,
    probe_http,
    probe_script,
    probe_tcp,
)
from .health import TaskRole, task_role
from .service_sync import ServiceSyncer
from .task_events import RESTART_SIGNALED
from .task_hooks import TaskHook, TaskHookContext
from .taskenv import TaskDirs, alloc_ports, build_task_env, interpolate
from .wiretime import unix_nanos

log = logging.getLogger(__name__)

_RANK = {"": 0, PASSING: 0, WARNING: 1, PENDING: 2, CRITICAL: 2}
DEREGISTER_WAIT_S = 1.0  # how long a kill waits for the servers to drop its services


class ServiceClient:
    """The agent-wide parts: the catalog syncer and the check scheduler."""

    def __init__(self, syncer: ServiceSyncer, scheduler: CheckScheduler) -> None:
        self.syncer = syncer
        self.scheduler = scheduler

    def stop(self) -> None:
        self.scheduler.stop()
        self.syncer.stop()


def group_has_checks(alloc: Allocation) -> bool:
    """Any service check in the allocation's group (deployment mode `checks`)."""
    group = alloc.job.group(alloc.task_group) if alloc.job is not None else None
    if group is None:
        return False
    services = list(group.services or [])
    for task in group.tasks:
        services.extend(task.services or [])
    return any(c.on_update != "ignore" for s in services for c in s.checks or [])


def worst(statuses: list[str]) -> str:
    """A registration's health: its worst check ("" without checks)."""
    if not statuses:
        return ""
    top = max(statuses, key=lambda s: _RANK.get(s, 2))
    return CRITICAL if top == PENDING else top


def _find_port(ports: list[AllocatedPortMapping], label: str) -> AllocatedPortMapping | None:
    return next((p for p in ports if p.label == label), None)


@dataclass
class Target:
    """Where a service (or check) is reached."""

    address: str
    port: int


def resolve(
    alloc: Allocation,
    node: Node,
    task: Task | None,
    port_label: str,
    address_mode: str,
    driver_ip: str = "",
) -> Target:
    """Nomad's address rules: host mode uses the node's (or the port's host)
    IP and the host port of `port_label`; driver mode (docker) the
    container IP and the `to` port. A numeric label is used as is."""
    host_ip = node.attributes.get("unique.network.ip-address") or "127.0.0.1"
    ports = alloc_ports(alloc, task if task is not None else Task(name=""))
    driver_mode = address_mode == "driver" and bool(driver_ip)
    if not port_label:
        return Target(driver_ip if driver_mode else host_ip, 0)
    if port_label.isdigit():
        return Target(driver_ip if driver_mode else host_ip, int(port_label))
    mapping = _find_port(ports, port_label)
    if mapping is None:
        return Target(driver_ip if driver_mode else host_ip, 0)
    if driver_mode:
        return Target(driver_ip, mapping.to or mapping.value)
    return Target(mapping.host_ip or host_ip, mapping.value)


@dataclass
class _Check:
    spec: ServiceCheck
    key: str
    state: CheckState
    restart: CheckRestart | None
    task: str  # the task a check_restart restarts ("" = every main task)
    armed_at: float  # results before this (grace) do not count towards restarts
    unhealthy: int = 0
    timestamp: int = 0


@dataclass
class _Entry:
    reg: ServiceRegistration
    task: str  # "" for a group service
    checks: list[_Check]


RestartFn = Callable[[str, TaskEvent], bool]


class AllocServices:
    """The services of one allocation. Thread-safe; every method returns quickly."""

    def __init__(
        self,
        client: ServiceClient,
        get_alloc: Callable[[], Allocation],
        node: Node,
        alloc_dir: AllocDir,
        restart_task: RestartFn,
        on_checks: Callable[[], None] | None = None,
        region: str = "global",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._get_alloc = get_alloc
        self._node = node
        self._alloc_dir = alloc_dir
        self._restart_task = restart_task
        self._on_checks = on_checks
        self._region = region
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._group_registered = False
        self._stopping = False
        self._warned_consul = False

    # ---- lifecycle calls from the runners ------------------------------

    def task_started(self, task: Task, handle: TaskHandle, driver: Driver | None) -> None:
        with self._lock:
            if self._stopping:
                return
        entries = self._build(task, list(task.services or []), handle, driver)
        self._register(entries)

    def tasks_changed(
        self,
        states: Mapping[str, TaskState],
        runners: Mapping[str, tuple[Task, TaskHandle | None, Driver | None]],
    ) -> None:
        """Register the group services once every main task runs."""
        alloc = self._get_alloc()
        group = alloc.job.group(alloc.task_group) if alloc.job is not None else None
        if group is None or not group.services:
            return
        watched = [t for t in group.tasks if task_role(t) is TaskRole.WATCHED]
        if not watched or any(
            (st := states.get(t.name)) is None or st.state != TaskStateValue.RUNNING
            for t in watched
        ):
            return
        with self._lock:
            if self._group_registered or self._stopping:
                return
            self._group_registered = True
        self._register(self._build(None, list(group.services), None, None, runners))

    def task_stopping(self, task: str) -> None:
        """The task is being killed or has exited: deregister its services now;
        a kill waits (bounded) until the servers dropped them."""
        ids = self._drop(lambda e: e.task == task and bool(task))
        if ids:
            self._client.syncer.flush(DEREGISTER_WAIT_S)

    def alloc_stopping(self) -> None:
        """The allocation is being stopped: group services go first, before
        the group's shutdown_delay; no more registrations from here on."""
        with self._lock:
            self._stopping = True
        if self._drop(lambda e: not e.task):
            self._client.syncer.flush(DEREGISTER_WAIT_S)

    def destroy(self) -> None:
        with self._lock:
            self._stopping = True
        self._drop(lambda e: True)

    def checks_passing(self) -> bool:
        """Every check that counts for deployments passes (on_update rules)."""
        with self._lock:
            entries = list(self._entries.values())
            group_done = self._group_registered
        alloc = self._get_alloc()
        group = alloc.job.group(alloc.task_group) if alloc.job is not None else None
        if group is not None and group.services and not group_done:
            return False
        for entry in entries:
            for c in entry.checks:
                mode = c.spec.on_update or "require_healthy"
                if mode == "ignore":
                    continue
                ok = (PASSING, WARNING) if mode == "ignore_warnings" else (PASSING,)
                if c.state.status not in ok:
                    return False
        return True

    def registrations(self) -> list[ServiceRegistration]:
        with self._lock:
            return [e.reg for e in self._entries.values()]

    # ---- building ------------------------------------------------------

    def _build(
        self,
        task: Task | None,
        services: list[Service],
        handle: TaskHandle | None,
        driver: Driver | None,
        runners: Mapping[str, tuple[Task, TaskHandle | None, Driver | None]] | None = None,
    ) -> list[_Entry]:
        alloc = self._get_alloc()
        group = alloc.task_group
        env_task = task if task is not None else Task(name="")
        dirs = TaskDirs(
            alloc_dir=str(self._alloc_dir.shared_dir),
            task_dir=str(self._alloc_dir.local_dir(env_task.name)) if task else "",
            secrets_dir="",
        )
        env = build_task_env(alloc, env_task, self._node, dirs, region=self._region)
        job_name = alloc.job.name if alloc.job is not None else alloc.job_id
        entries: list[_Entry] = []
        now = self._clock()
        for svc in services:
            self._warn_consul(svc)
            default = f"{job_name}-{group}-{task.name}" if task else f"{job_name}-{group}"
            name = str(interpolate(svc.name or default, env, self._node, self._region))
            ip = _driver_ip(driver, handle)
            target = resolve(alloc, self._node, task, svc.port_label, svc.address_mode, ip)
            address = svc.address or target.address
            reg = ServiceRegistration(
                id=registration_id(
                    alloc.id, task.name if task else "", group, name, svc.port_label
                ),
                service_name=name,
                namespace=alloc.namespace,
                node_id=alloc.node_id or self._node.id,
                datacenter=self._node.datacenter,
                job_id=alloc.job_id,
                alloc_id=alloc.id,
                tags=[str(interpolate(t, env, self._node, self._region)) for t in svc.tags or []],
                address=address,
                port=target.port,
            )
            checks: list[_Check] = []
            for spec in svc.checks or []:
                cname = str(interpolate(spec.name or f'service: "{name}" check', env, self._node))
                spec = spec.replace(name=cname)
                owner = task.name if task else spec.task_name
                probe = self._probe(
                    spec, svc, task, owner, address, target, handle, driver, runners
                )
                if probe is None:
                    continue
                key = f"{reg.id}/{cname}"
                chk = _Check(
                    spec=spec,
                    key=key,
                    state=CheckState(
                        spec.initial_status,
                        spec.success_before_passing,
                        spec.failures_before_critical,
                    ),
                    restart=spec.check_restart or svc.check_restart,
                    task=owner,
                    armed_at=now,
                )
                chk.armed_at += (chk.restart.grace / SEC) if chk.restart else 0.0
                checks.append(chk)
                self._schedule(reg.id, chk, probe)
            entries.append(_Entry(reg=reg, task=task.name if task else "", checks=checks))
        return entries

    def _probe(
        self,
        spec: ServiceCheck,
        svc: Service,
        task: Task | None,
        owner: str,
        address: str,
        target: Target,
        handle: TaskHandle | None,
        driver: Driver | None,
        runners: Mapping[str, tuple[Task, TaskHandle | None, Driver | None]] | None,
    ) -> Callable[[], tuple[str, str]] | None:
        alloc = self._get_alloc()
        timeout = (spec.timeout / SEC) if spec.timeout else 2.0
        kind = spec.type.lower()
        if kind == "script":
            if task is None and runners is not None and owner in runners:
                _, handle, driver = runners[owner]
            exec_task = getattr(driver, "exec_task", None)
            if exec_task is None or handle is None:
                log.warning(
                    "script check needs a task whose driver can exec alloc_id=%s check=%s",
                    alloc.id,
                    spec.name,
                )
                return None
            argv = [spec.command, *(spec.args or [])]
            h = handle
            return lambda: probe_script(lambda a, t: exec_task(h, a, t), argv, timeout)
        if spec.port_label or spec.address_mode:
            ip = _driver_ip(driver, handle)
            label = spec.port_label or svc.port_label
            target = resolve(alloc, self._node, task, label, spec.address_mode, ip)
        elif svc.address:
            target = Target(address, target.port)
        host, port = target.address, target.port
        if kind == "tcp":
            return lambda: probe_tcp(host, port, timeout)
        if kind == "http":
            return lambda: probe_http(
                host,
                port,
                spec.path,
                timeout,
                method=spec.method,
                headers=spec.header,
                body=spec.body,
                protocol=spec.protocol,
            )
        log.warning(
            "unsupported check type alloc_id=%s check=%s type=%s", alloc.id, spec.name, kind
        )
        return None

    def _warn_consul(self, svc: Service) -> None:
        if (svc.provider or "consul") == "consul" and not self._warned_consul:
            self._warned_consul = True
            log.warning(
                'service provider "consul": no Consul is used; registering in the native '
                "catalog alloc_id=%s",
                self._get_alloc().id,
            )

    # ---- registering ---------------------------------------------------

    def _register(self, entries: list[_Entry]) -> None:
        with self._lock:
            for e in entries:
                e.reg = self._with_health(e)
                old = self._entries.get(e.reg.id)
                if old is not None:
                    for c in old.checks:
                        self._client.scheduler.remove(c.key)
                self._entries[e.reg.id] = e
        for e in entries:
            self._client.syncer.put(e.reg)
        self._checks_changed()

    def _drop(self, match: Callable[[_Entry], bool]) -> list[str]:
        with self._lock:
            gone = [rid for rid, e in self._entries.items() if match(e)]
            for rid in gone:
                for c in self._entries.pop(rid).checks:
                    self._client.scheduler.remove(c.key)
        if gone:
            self._client.syncer.remove(gone)
            self._checks_changed()
        return gone

    def _schedule(self, rid: str, chk: _Check, probe: Callable[[], tuple[str, str]]) -> None:
        interval = (chk.spec.interval / SEC) if chk.spec.interval else 10.0

        def on_result(raw: str, output: str) -> None:
            self._result(rid, chk, raw, output)

        timeout = (chk.spec.timeout / SEC) if chk.spec.timeout else 2.0
        self._client.scheduler.add(ScheduledCheck(chk.key, probe, interval, timeout, on_result))

    def _result(self, rid: str, chk: _Check, raw: str, output: str) -> None:
        restart_event: TaskEvent | None = None
        with self._lock:
            entry = self._entries.get(rid)
            if entry is None or chk not in entry.checks:
                return
            changed = chk.state.record(raw, output)
            if changed:
                chk.timestamp = unix_nanos(time.time())
                entry.reg = self._with_health(entry)
            restart_event = self._restart_due(chk)
            reg = entry.reg
        if changed:
            self._client.syncer.put(reg)
            self._checks_changed()
        if restart_event is not None:
            self._do_restart(chk, restart_event)

    def _restart_due(self, chk: _Check) -> TaskEvent | None:
        """Under _lock: check_restart's count of consecutive unhealthy results."""
        cr = chk.restart
        if cr is None or cr.limit <= 0 or self._clock() < chk.armed_at:
            return None
        status = chk.state.status
        unhealthy = status == CRITICAL or (status == WARNING and not cr.ignore_warnings)
        chk.unhealthy = chk.unhealthy + 1 if unhealthy else 0
        if chk.unhealthy < cr.limit:
            return None
        chk.unhealthy = 0
        chk.armed_at = self._clock() + cr.grace / SEC
        reason = f'healthcheck: check "{chk.spec.name}" unhealthy'
        return TaskEvent(
            type=RESTART_SIGNALED,
            time=unix_nanos(time.time()),
            message=reason,
            display_message=reason,
            restart_reason=reason,
        )

    def _do_restart(self, chk: _Check, event: TaskEvent) -> None:
        log.info(
            "restarting unhealthy task alloc_id=%s task=%s check=%s",
            self._get_alloc().id,
            chk.task or "*",
            chk.spec.name,
        )
        try:
            self._restart_task(chk.task, event)
        except Exception:
            log.exception(
                "check_restart failed alloc_id=%s check=%s", self._get_alloc().id, chk.key
            )

    def _with_health(self, entry: _Entry) -> ServiceRegistration:
        statuses = [c.state.status for c in entry.checks]
        return entry.reg.replace(
            health=worst(statuses),
            checks=[
                CheckStatus(
                    name=c.spec.name,
                    status=c.state.status,
                    output=c.state.output,
                    timestamp=c.timestamp,
                )
                for c in entry.checks
            ],
        )

    def _checks_changed(self) -> None:
        if self._on_checks is not None:
            try:
                self._on_checks()
            except Exception:
                log.exception("check change handler failed alloc_id=%s", self._get_alloc().id)


def _driver_ip(driver: Driver | None, handle: TaskHandle | None) -> str:
    """The task's own IP when its driver has one (docker bridge), else ""."""
    get_ip = getattr(driver, "task_ip", None)
    if get_ip is None or handle is None:
        return ""
    try:
        return str(get_ip(handle) or "")
    except Exception:
        log.debug("driver could not tell the task IP", exc_info=True)
        return ""


class ServiceHook(TaskHook):
    """A task's services follow the task: registered once it runs,
    deregistered before a kill's shutdown_delay and after every exit."""

    name = "services"

    def __init__(self, services: AllocServices, driver: Driver | None) -> None:
        self._services = services
        self._driver = driver

    def poststart(self, ctx: TaskHookContext, handle: TaskHandle) -> None:
        if ctx.task.services:
            self._services.task_started(ctx.task, handle, self._driver)

    def prekill(self, ctx: TaskHookContext) -> None:
        self._services.task_stopping(ctx.task.name)

    def exited(self, ctx: TaskHookContext, result: ExitResult) -> None:
        self._services.task_stopping(ctx.task.name)

    def stop(self, ctx: TaskHookContext) -> None:
        self._services.task_stopping(ctx.task.name)
