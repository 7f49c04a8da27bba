"""`node drain` and `node eligibility`: the operator's node actions, and the
drain monitor (Nomad's MonitorDrain messages, one timestamped line each).

PUT /v1/node/:id/drain and /v1/node/:id/eligibility; the monitor follows
GET /v1/node/:id and /v1/node/:id/allocations with blocking queries until
the drain strategy is gone and every watched alloc on the node stopped.
"""

from __future__ import annotations

from typing import Any

from controlplane.errors import NomadError
from nomadtui.client import resolve_node

from . import format as fmt
from .context import CommandError, Context, reporting

DEFAULT_DEADLINE_NS = 3600 * 1_000_000_000  # Nomad's default: one hour
MONITOR_WAIT_S = 1.0  # each blocking query; bounds how late the other stream is read
ALONE_WAIT_S = 30.0  # one stream left: block longer


def _node_arg(ctx: Context) -> str:
    """The node ID or prefix, or this agent's own node with -self."""
    args = ctx.args
    if args.self:
        if args.node:
            raise CommandError("Error: Node ID must be specified if -self isn't being used")
        with reporting("Error determining local node"):
            info = ctx.client.agent_self() or {}
        node_id = str(((info.get("stats") or {}).get("client") or {}).get("node_id") or "")
        if not node_id:
            raise CommandError("Error: Failed to determine node ID: the agent runs no client")
        return node_id
    if not args.node:
        raise CommandError("Error: Node ID must be specified if -self isn't being used")
    return str(args.node)


def _deadline_ns(ctx: Context) -> int:
    args = ctx.args
    if args.disable and (args.deadline or args.force or args.no_deadline or args.ignore_system):
        raise CommandError(
            "Error: -disable can't be combined with flags configuring drain strategy"
        )
    if args.deadline and (args.force or args.no_deadline):
        raise CommandError("Error: -deadline can't be combined with -force or -no-deadline")
    if args.force and args.no_deadline:
        raise CommandError("Error: -force and -no-deadline are mutually exclusive")
    if args.force:
        return -1_000_000_000
    if args.no_deadline:
        return 0
    if not args.deadline:
        return DEFAULT_DEADLINE_NS
    from controlplane.jobspec import parse_duration

    try:
        ns = parse_duration(args.deadline)
    except ValueError as exc:
        raise CommandError(f'Error: Failed to parse deadline "{args.deadline}": {exc}') from None
    if ns <= 0:
        raise CommandError("Error: A positive drain duration must be given")
    return ns


def _confirm(ctx: Context, verb: str, node_id: str) -> int | None:
    """Nomad's prompt for a prefix match: None to go on, else the exit code."""
    ctx.runtime.stdout.write(
        f'Are you sure you want to {verb} drain mode for node "{node_id}"? [y/N] '
    )
    ctx.runtime.stdout.flush()
    answer = ctx.runtime.stdin.readline().strip()
    if answer == "y":
        return None
    if not answer or answer.lower().startswith("n"):
        ctx.out("Canceling drain toggle")
        return 0
    if answer.lower().startswith("y"):
        ctx.out("For confirmation, an exact \u2018y\u2019 is required.")
        return 0
    ctx.out("No confirmation detected. For confirmation, an exact 'y' is required.")
    return 1


def _meta(ctx: Context, node: dict[str, Any]) -> dict[str, str]:
    args = ctx.args
    meta: dict[str, str] = {}
    if args.disable:
        # a cancel keeps what the drain was started with
        meta.update(((node.get("LastDrain") or {}).get("Meta")) or {})
    if args.m:
        meta["message" if args.enable else "cancel_message"] = args.m
    for item in args.meta or []:
        key, _, value = item.partition("=")
        meta[key] = value
    return meta


def run_node_drain(ctx: Context) -> int:
    args = ctx.args
    if args.monitor and (args.enable or args.disable):
        raise CommandError(
            "Error: The -monitor flag cannot be used with the '-enable' or '-disable' flags"
        )
    if (args.enable and args.disable) or not (args.monitor or args.enable or args.disable):
        raise CommandError(
            "Error: Either the '-enable' or '-disable' flag must be set, unless using '-monitor'"
        )
    wanted = _node_arg(ctx)
    deadline = _deadline_ns(ctx)
    client = ctx.client
    with reporting("Error toggling drain mode"):
        node_id = str(resolve_node(client, wanted)["ID"])
        response = client.node(node_id)
    node: dict[str, Any] = response.data or {}
    if args.monitor:
        if not node.get("DrainStrategy"):
            ctx.out("No drain strategy set")
            return 0
        ctx.out(f'{_now(ctx)}: Monitoring node "{node_id}": Ctrl-C to detach monitoring')
        DrainMonitor(ctx, node_id, args.ignore_system).run(response.index or 0)
        return 0
    if node_id != wanted and not args.yes:
        code = _confirm(ctx, "enable" if args.enable else "disable", node_id)
        if code is not None:
            return code
    spec = {"Deadline": deadline, "IgnoreSystemJobs": args.ignore_system} if args.enable else None
    with reporting("Error updating drain specification"):
        result = client.node_drain(
            node_id, spec, mark_eligible=not args.keep_ineligible, meta=_meta(ctx, node)
        )
    if not args.enable:
        ctx.out(f'Node "{node_id}" drain strategy unset')
        return 0
    if args.detach:
        ctx.out(f'Node "{node_id}" drain strategy set')
        return 0
    ctx.out(f"{_now(ctx)}: Ctrl-C to stop monitoring: will not cancel the node drain")
    ctx.out(f'{_now(ctx)}: Node "{node_id}" drain strategy set')
    index = int((result.data or {}).get("Index") or result.index or 0)
    DrainMonitor(ctx, node_id, args.ignore_system, started=True).run(index)
    return 0


def run_node_eligibility(ctx: Context) -> int:
    args = ctx.args
    if args.enable == args.disable:
        raise CommandError("Error: Either the '-enable' or '-disable' flag must be set")
    wanted = _node_arg(ctx)
    client = ctx.client
    with reporting("Error updating scheduling eligibility"):
        node_id = str(resolve_node(client, wanted)["ID"])
        client.node_eligibility(node_id, eligible=args.enable)
    state = "eligible" if args.enable else "ineligible"
    ctx.out(f'Node "{node_id}" scheduling eligibility set: {state} for scheduling')
    return 0


def _now(ctx: Context) -> str:
    return fmt.format_datetime(ctx.now())


class DrainMonitor:
    """Follows a drain until it completed and the node's allocs stopped."""

    def __init__(
        self, ctx: Context, node_id: str, ignore_system: bool, started: bool = False
    ) -> None:
        self.ctx = ctx
        self.node_id = node_id
        self.ignore_system = ignore_system
        self._allocs: dict[str, dict[str, Any]] = {}
        self._strategy: dict[str, Any] | None = None
        # we set the strategy ourselves: a drain already over still "marked all",
        # and allocs marked before our first read were marked by this drain
        self._seen = started
        self._started = started
        self._node_index = 0
        self._alloc_index = 0

    def run(self, index: int) -> None:
        self._node_index = index
        node_open = allocs_open = True
        try:
            while node_open or allocs_open:
                if node_open:
                    node_open = self._node_step(wait=allocs_open)
                    if not node_open and not self._seen:
                        return  # there was no drain to follow
                if allocs_open:
                    allocs_open = self._allocs_step(wait=node_open)
        except NomadError as err:
            self._say(f"Error monitoring node: {err}")
            raise CommandError(f"Error: {err}") from err

    def _say(self, message: str) -> None:
        self.ctx.out(f"{_now(self.ctx)}: {message}")

    def _node_step(self, wait: bool) -> bool:
        """Read the node once; False once its drain strategy is gone."""
        wait_s = MONITOR_WAIT_S if wait else ALONE_WAIT_S
        resp = self.ctx.client.node(self.node_id, index=self._node_index or None, wait=wait_s)
        node: dict[str, Any] = resp.data or {}
        self._node_index = resp.index or self._node_index
        strategy = node.get("DrainStrategy")
        if not strategy:
            if self._seen:
                self._say(f'Node "{self.node_id}" has marked all allocations for migration')
            else:
                self._say(f"No drain strategy set for node {self.node_id}")
            return False
        if node.get("Status") == "down":
            self._say(f'Node "{self.node_id}" down')
        if self._strategy is not None and _strategy_key(strategy) != _strategy_key(self._strategy):
            self._say(f'Node "{self.node_id}" drain updated: {_describe(strategy)}')
        self._strategy = strategy
        self._seen = True
        return True

    def _allocs_step(self, wait: bool) -> bool:
        """Read the node's allocs once; False once none that matter still runs."""
        wait_s = MONITOR_WAIT_S if wait else ALONE_WAIT_S
        resp = self.ctx.client.node_allocations(
            self.node_id, index=self._alloc_index or None, wait=wait_s
        )
        self._alloc_index = resp.index or self._alloc_index
        running = 0
        for alloc in resp.data or []:
            alloc_id = str(alloc.get("ID", ""))
            before = self._allocs.get(alloc_id)
            self._allocs[alloc_id] = alloc
            message = _alloc_change(before, alloc, self._started)
            if message:
                self._say(f'Alloc "{alloc_id}" {message}')
            job_type = (alloc.get("Job") or {}).get("Type")
            if not job_type or (self.ignore_system and job_type == "system"):
                continue
            if alloc.get("ClientStatus") in ("pending", "running"):
                running += 1
        if running == 0:
            self._say(f'All allocations on node "{self.node_id}" have stopped.')
            return False
        return True


def _migrating(alloc: dict[str, Any]) -> bool:
    return bool((alloc.get("DesiredTransition") or {}).get("Migrate"))


def _alloc_change(before: dict[str, Any] | None, alloc: dict[str, Any], started: bool) -> str:
    if before is None:
        live = alloc.get("ClientStatus") in ("pending", "running")
        if started and live and _migrating(alloc):
            return "marked for migration"  # the drainer was faster than our first read
        return ""
    if before.get("ClientStatus") != alloc.get("ClientStatus"):
        return f"status {before.get('ClientStatus')} -> {alloc.get('ClientStatus')}"
    if _migrating(alloc) and not _migrating(before):
        return "marked for migration"
    if (
        _migrating(alloc)
        and before.get("DesiredStatus") != alloc.get("DesiredStatus")
        and alloc.get("DesiredStatus") == "stop"
    ):
        return "draining"
    return ""


def _strategy_key(strategy: dict[str, Any]) -> tuple[Any, ...]:
    return (
        strategy.get("ForceDeadline"),
        strategy.get("Deadline"),
        bool(strategy.get("IgnoreSystemJobs")),
    )


def _describe(strategy: dict[str, Any]) -> str:
    at = strategy.get("ForceDeadline") or "0001-01-01T00:00:00Z"
    if strategy.get("IgnoreSystemJobs"):
        return f"drain ignoring system jobs and deadline at {at}"
    return f"drain with deadline at {at}"
