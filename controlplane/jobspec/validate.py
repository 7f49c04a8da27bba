"""Job validation: the checks a job must pass before it is stored or planned.

Raises JobSpecError naming the group/task and, when the job came from an HCL
file, the line of the offending block or attribute (via the `hcl` line
index). Expects a canonicalised job; never modifies it.
"""

from __future__ import annotations

from collections.abc import Iterator

from controlplane.errors import JobSpecError
from controlplane.structs import Job, NetworkResource, Port, Service, TaskGroup

from .job_kinds import validate_kinds
from .limits import MAX_GROUP_COUNT, MAX_TASK_GROUPS, MAX_TASKS

JOB_TYPES = frozenset({"service", "batch", "system", "sysbatch"})
MAX_ID_LENGTH = 128
MIN_MEMORY_MB = 10
MIN_CPU = 1

Path = tuple[str, ...]


class _Reporter:
    def __init__(self, filename: str, lines: dict[Path, int] | None) -> None:
        self.filename = filename
        self.lines = lines or {}

    def line(self, *paths: Path) -> int | None:
        """Line of the first path (or nearest recorded ancestor) that the index knows."""
        for path in paths:
            if path in self.lines:
                return self.lines[path]
        for path in paths:
            while path:
                path = path[:-1]
                if path in self.lines:
                    return self.lines[path]
        return self.lines.get(())

    def fail(self, message: str, *paths: Path) -> JobSpecError:
        return JobSpecError(message, self.filename, self.line(*paths))


def _network_scopes(
    group: TaskGroup,
) -> Iterator[tuple[str, list[tuple[Path, NetworkResource]]]]:
    """Port-label scopes: the group's networks, then each task's legacy networks."""
    gpath: Path = (f"group:{group.name}",)
    yield "", [((*gpath, f"network[{i}]"), n) for i, n in enumerate(group.networks or [])]
    for task in group.tasks:
        nets = task.resources.networks if task.resources is not None else None
        yield (
            task.name,
            [
                ((*gpath, f"task:{task.name}", "resources", f"network[{i}]"), n)
                for i, n in enumerate(nets or [])
            ],
        )


def _ports(net: NetworkResource) -> Iterator[tuple[Port, bool]]:
    for port in net.reserved_ports or []:
        yield port, True
    for port in net.dynamic_ports or []:
        yield port, False


def _validate_job_fields(job: Job, r: _Reporter) -> None:
    if not job.id:
        raise r.fail("job ID is required", ())
    if len(job.id) > MAX_ID_LENGTH:
        raise r.fail(f"job ID must be at most {MAX_ID_LENGTH} characters", ())
    if " " in job.id:
        raise r.fail(f'job ID "{job.id}" must not contain spaces', ())
    if "\x00" in job.id:
        raise r.fail("job ID must not contain a null character", ())
    if job.type not in JOB_TYPES:
        allowed = ", ".join(sorted(JOB_TYPES))
        raise r.fail(f'invalid job type "{job.type}" (expected one of {allowed})', ("type",))
    if not 1 <= job.priority <= 100:
        raise r.fail(f"priority must be between 1 and 100 (got {job.priority})", ("priority",))
    if not job.task_groups:
        raise r.fail("job has no task groups", ())
    if len(job.task_groups) > MAX_TASK_GROUPS:
        raise r.fail(
            f"job has {len(job.task_groups)} task groups; at most {MAX_TASK_GROUPS} are allowed",
            (),
        )


def _validate_resources(group: TaskGroup, r: _Reporter) -> None:
    for task in group.tasks:
        res = task.resources
        if res is None:
            continue
        where = f'group "{group.name}" task "{task.name}": resources'
        rpath: Path = (f"group:{group.name}", f"task:{task.name}", "resources")
        fields = {
            "cpu": res.cpu,
            "cores": res.cores,
            "memory": res.memory_mb,
            "memory_max": res.memory_max_mb,
            "disk": res.disk_mb,
            "iops": res.iops,
        }
        for name, value in fields.items():
            if value < 0:
                raise r.fail(f"{where}: {name} must not be negative (got {value})", (*rpath, name))
        if res.cpu and res.cpu < MIN_CPU:
            raise r.fail(f"{where}: cpu must be at least {MIN_CPU} MHz", (*rpath, "cpu"))
        if res.memory_mb and res.memory_mb < MIN_MEMORY_MB:
            raise r.fail(
                f"{where}: memory must be at least {MIN_MEMORY_MB} MB (got {res.memory_mb})",
                (*rpath, "memory"),
            )


def _validate_ports(group: TaskGroup, r: _Reporter) -> dict[str, set[str]]:
    """Check port blocks; return the labels defined per scope ("" = group)."""
    scopes: dict[str, set[str]] = {}
    for scope, networks in _network_scopes(group):
        labels = scopes.setdefault(scope, set())
        for npath, net in networks:
            for port, static in _ports(net):
                _validate_port(group, port, static, labels, (*npath, f"port:{port.label}"), r)
                labels.add(port.label)
    return scopes


def _validate_port(
    group: TaskGroup, port: Port, static: bool, labels: set[str], ppath: Path, r: _Reporter
) -> None:
    if port.label in labels:
        raise r.fail(
            f'group "{group.name}": port label "{port.label}" is defined more than once',
            ppath,
        )
    if static and not 0 < port.value <= 65535:
        raise r.fail(
            f'group "{group.name}": port "{port.label}": static port {port.value} '
            "is out of range (1-65535)",
            (*ppath, "static"),
        )
    if not -1 <= port.to <= 65535:
        raise r.fail(
            f'group "{group.name}": port "{port.label}": to = {port.to} is out of range (-1-65535)',
            (*ppath, "to"),
        )


def _validate_service_ports(group: TaskGroup, scopes: dict[str, set[str]], r: _Reporter) -> None:
    # A service may name a port of the group network or of any task's network.
    labels = set().union(*scopes.values())
    gpath: Path = (f"group:{group.name}",)
    located: list[tuple[Path, str, Service]] = [
        ((*gpath, f"service[{i}]"), f'group "{group.name}"', s)
        for i, s in enumerate(group.services or [])
    ]
    for task in group.tasks:
        located += [
            (
                (*gpath, f"task:{task.name}", f"service[{i}]"),
                f'group "{group.name}" task "{task.name}"',
                s,
            )
            for i, s in enumerate(task.services or [])
        ]
    for spath, where, svc in located:
        label = svc.port_label
        if not label or label.isdigit() or "${" in label or label in labels:
            continue
        raise r.fail(
            f'{where}: service "{svc.name}": port label "{label}" is not defined in any network',
            (*spath, "port"),
        )


def _validate_group(job: Job, group: TaskGroup, r: _Reporter) -> None:
    gpath: Path = (f"group:{group.name}",)
    where = f'group "{group.name}"'
    if group.count < 0:
        raise r.fail(f"{where}: count must be >= 0", (*gpath, "count"))
    if group.count > MAX_GROUP_COUNT:
        # the scheduler materialises one placement per instance
        raise r.fail(
            f"{where}: count must be at most {MAX_GROUP_COUNT} (got {group.count})",
            (*gpath, "count"),
        )
    if len(group.tasks) > MAX_TASKS:
        raise r.fail(
            f"{where}: has {len(group.tasks)} tasks; at most {MAX_TASKS} are allowed", gpath
        )
    if job.type in ("system", "sysbatch") and group.count > 1:
        raise r.fail(
            f"{where}: {job.type} jobs may not have count > 1 (got {group.count})",
            (*gpath, "count"),
        )
    seen: set[str] = set()
    for task in group.tasks:
        tpath = (*gpath, f"task:{task.name}")
        if not task.name:
            raise r.fail(f"{where}: task has no name", gpath)
        if any(c in task.name for c in "/\\\x00") or task.name in (".", ".."):
            # a task's name is its directory in the allocation dir (Nomad's rule,
            # plus the dot names that would climb out of it)
            raise r.fail(
                f"{where}: task name {task.name!r} must not contain slashes or null "
                "characters, nor be '.' or '..'",
                tpath,
            )
        if task.name in seen:
            raise r.fail(f'{where}: task "{task.name}" is defined more than once', tpath)
        seen.add(task.name)
        if not task.driver:
            raise r.fail(f'{where} task "{task.name}": driver is required', tpath)
    _validate_resources(group, r)
    _validate_service_ports(group, _validate_ports(group, r), r)
    update = group.update
    if update is not None and group.count > 1 and update.max_parallel > group.count:
        raise r.fail(
            f"{where}: update max_parallel ({update.max_parallel}) must not exceed "
            f"count ({group.count})",
            (*gpath, "update", "max_parallel"),
            ("update", "max_parallel"),
        )


def validate(job: Job, filename: str = "", lines: dict[Path, int] | None = None) -> None:
    """Raise JobSpecError for the first problem found in a (canonicalised) job."""
    r = _Reporter(filename, lines)
    _validate_job_fields(job, r)
    names: set[str] = set()
    for group in job.task_groups:
        if not group.name:
            raise r.fail("task group has no name", ())
        if group.name in names:
            raise r.fail(
                f'group "{group.name}" is defined more than once', (f"group:{group.name}",)
            )
        names.add(group.name)
        _validate_group(job, group, r)
    validate_kinds(job, r.fail)
