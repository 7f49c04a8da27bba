"""Entry point of the `nomadtui` command: the argparse command tree with
Nomad-style single-dash flags, dispatch, and the one-line error policy.

Owns argument parsing only; each command family lives in its own module.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from controlplane.errors import NomadError

from . import (
    acl,
    agent,
    alloc,
    deployment,
    eval,
    job,
    job_dispatch,
    job_periodic,
    job_plan,
    job_scale,
    job_versions,
    lb,
    logs,
    node,
    node_drain,
    operator,
    server,
    service,
    status,
    system,
    tree_security,
    web,
)
from .context import CommandError, Context, Runtime, error_line
from .parsing import Handler, Parser, Tree, bool_flag, flag, global_flags, help_flag

EXIT_INTERRUPTED = 130


def _add_status_args(parser: argparse.ArgumentParser) -> None:
    flag(parser, "verbose", action="store_true", help="full IDs and absolute times")
    flag(parser, "short", action="store_true", help="only the job's key/value summary")
    flag(parser, "evals", action="store_true", help="add the job's evaluations")
    parser.add_argument("job", nargs="?", help="job ID or prefix; omit to list all jobs")


def build_parser() -> argparse.ArgumentParser:
    root = Parser(
        prog="nomadtui",
        add_help=False,
        allow_abbrev=False,
        description="Nomad-style orchestrator console. Without a command, opens the console "
        "(TUI) on the agent at -address.",
    )
    help_flag(root)
    global_flags(root, top=True)
    flag(root, "dev", action="store_true", help="start an embedded dev agent for the console")
    flag(root, "read-only", action="store_true", help="console refuses every write")
    tree = Tree(root)
    subs = root.add_subparsers(dest="command", metavar="<command>", parser_class=Parser)

    p = tree.command(subs, "status", "list jobs, or show one job's status", status.run_status)
    _add_status_args(p)

    jobs = tree.group(
        subs,
        "job",
        "job commands: run, plan, stop, status, scale, history, revert, deployments, init, "
        "validate, inspect, dispatch, periodic",
    )
    p = tree.command(
        jobs,
        "run",
        "submit a job file and monitor its evaluation",
        job.run_job_run,
        "Parse FILE locally, register it and monitor the evaluation.\n"
        "Exit codes: 0 success, 2 placement failures, 1 other errors.",
    )
    flag(p, "detach", action="store_true", help="print the evaluation ID and exit")
    flag(
        p,
        "check-index",
        type=int,
        metavar="N",
        default=None,
        help="register only if the job's modify index is N (0: job must not exist)",
    )
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("file", help="job file (HCL or JSON), '-' for stdin")

    p = tree.command(jobs, "stop", "stop a running job", job.run_job_stop)
    flag(p, "purge", action="store_true", help="remove the job from the system immediately")
    flag(p, "detach", action="store_true", help="print the evaluation ID and exit")
    flag(p, "yes", action="store_true", help="do not ask for confirmation")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("job", help="job ID or prefix")

    p = tree.command(jobs, "status", "list jobs, or show one job's status", status.run_status)
    _add_status_args(p)

    p = tree.command(jobs, "init", "write an example job file", job.run_job_init)
    flag(p, "short", action="store_true", help="a minimal job without comments")
    p.add_argument("file", nargs="?", help=f"output file (default {job.DEFAULT_INIT_FILE})")

    p = tree.command(jobs, "validate", "check a job file locally", job.run_job_validate)
    p.add_argument("file", help="job file (HCL or JSON), '-' for stdin")

    p = tree.command(jobs, "inspect", "print a registered job as JSON", job.run_job_inspect)
    p.add_argument("job", help="job ID or prefix")

    p = tree.command(
        jobs,
        "plan",
        "dry-run a job file: what the scheduler would change",
        job_plan.run_job_plan,
        "Parse FILE locally and ask the scheduler what submitting it would do.\n"
        "Nothing is registered. Exit codes: 0 no allocations created or destroyed,\n"
        "1 allocations would be created or destroyed, 255 error.",
    )
    p.usage_exit_code = 255  # type: ignore[attr-defined]
    bool_flag(p, "diff", True, "show the job diff (default true; -diff=false hides it)")
    flag(p, "verbose", action="store_true", help="full diff, including unchanged fields")
    p.add_argument("file", help="job file (HCL or JSON), '-' for stdin")

    p = tree.command(
        jobs,
        "scale",
        "change a task group's count",
        job_scale.run_job_scale,
        "Set the count of GROUP (optional when the job has one group) and monitor the\n"
        "evaluation and deployment.",
    )
    flag(
        p,
        "check-index",
        type=int,
        metavar="N",
        default=None,
        help="scale only if the job's modify index is N",
    )
    flag(p, "detach", action="store_true", help="print the evaluation ID and exit")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("job", help="job ID or prefix")
    p.add_argument("target", nargs="+", metavar="[GROUP] COUNT", help="task group and count")
    p.usage = "nomadtui job scale [options] JOB [GROUP] COUNT"

    p = tree.command(jobs, "history", "list a job's versions", job_versions.run_job_history)
    p.add_argument("-p", dest="p", action="store_true", help="show the diff of each version")
    flag(p, "full", action="store_true", help="print each version's full job as JSON")
    flag(p, "version", type=int, metavar="N", default=None, help="only version N")
    p.add_argument("job", help="job ID or prefix")

    p = tree.command(
        jobs,
        "revert",
        "register an earlier version of a job again",
        job_versions.run_job_revert,
    )
    flag(p, "detach", action="store_true", help="print the evaluation ID and exit")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("job", help="job ID or prefix")
    p.add_argument("version", help="job version to revert to")

    p = tree.command(
        jobs, "deployments", "list a job's deployments", deployment.run_job_deployments
    )
    flag(p, "latest", action="store_true", help="only the latest deployment, in detail")
    flag(p, "all", action="store_true", help="include deployments of an earlier job with this ID")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("job", help="job ID or prefix")
    job_periodic.add_commands(tree, jobs)
    job_dispatch.add_commands(tree, jobs)

    deps = tree.group(
        subs, "deployment", "deployment commands: list, status, promote, fail, pause, resume"
    )
    p = tree.command(deps, "list", "list deployments", deployment.run_deployment_list)
    flag(p, "verbose", action="store_true", help="full IDs")

    p = tree.command(deps, "status", "show one deployment", deployment.run_deployment_status)
    flag(p, "verbose", action="store_true", help="full IDs, and the deployment's allocations")
    flag(p, "monitor", action="store_true", help="follow the deployment until it ends")
    p.add_argument("deployment", help="deployment ID or prefix")

    p = tree.command(
        deps, "promote", "promote a deployment's canaries", deployment.run_deployment_promote
    )
    p.add_argument(
        "-group",
        "--group",
        dest="group",
        action="append",
        metavar="GROUP",
        help="promote only this task group's canaries (repeatable; default all)",
    )
    flag(p, "detach", action="store_true", help="print the evaluation ID and exit")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("deployment", help="deployment ID or prefix")

    p = tree.command(deps, "pause", "pause a running deployment", deployment.run_deployment_pause)
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("deployment", help="deployment ID or prefix")

    for name, summary, handler in (
        ("fail", "mark a deployment failed (auto-revert applies)", deployment.run_deployment_fail),
        ("resume", "resume a paused deployment", deployment.run_deployment_resume),
    ):
        p = tree.command(deps, name, summary, handler)
        flag(p, "detach", action="store_true", help="do not monitor the evaluation")
        flag(p, "verbose", action="store_true", help="full IDs")
        p.add_argument("deployment", help="deployment ID or prefix")

    nodes = tree.group(subs, "node", "client node commands: status, drain, eligibility")
    p = tree.command(nodes, "status", "list client nodes, or show one node", node.run_node_status)
    flag(p, "verbose", action="store_true", help="full IDs, addresses, attributes")
    flag(p, "short", action="store_true", help="no resource usage, events or stats")
    flag(p, "stats", action="store_true", help="detailed CPU, memory and disk statistics")
    p.add_argument("node", nargs="?", help="node ID or prefix; omit to list all nodes")

    p = tree.command(nodes, "drain", "toggle drain mode on a node", node_drain.run_node_drain)
    flag(p, "enable", action="store_true", help="enable draining")
    flag(p, "disable", action="store_true", help="disable draining")
    flag(p, "deadline", metavar="DURATION", default="", help="force the rest out after this (1h)")
    flag(p, "force", action="store_true", help="force remove allocations immediately")
    flag(p, "no-deadline", action="store_true", help="drain without a deadline")
    flag(p, "ignore-system", action="store_true", help="leave system job allocations running")
    flag(p, "keep-ineligible", action="store_true", help="stay ineligible when disabling")
    flag(p, "detach", action="store_true", help="return at once instead of monitoring")
    flag(p, "monitor", action="store_true", help="only monitor an existing drain")
    flag(p, "self", action="store_true", help="the local agent's node")
    flag(p, "yes", action="store_true", help="do not ask for confirmation")
    flag(p, "m", metavar="MESSAGE", default="", help="message recorded in the drain metadata")
    flag(p, "meta", metavar="KEY=VALUE", action="append", help="drain metadata (repeatable)")
    p.add_argument("node", nargs="?", help="node ID or prefix")

    p = tree.command(
        nodes, "eligibility", "toggle scheduling eligibility", node_drain.run_node_eligibility
    )
    flag(p, "enable", action="store_true", help="mark the node eligible for scheduling")
    flag(p, "disable", action="store_true", help="mark the node ineligible for scheduling")
    flag(p, "self", action="store_true", help="the local agent's node")
    p.add_argument("node", nargs="?", help="node ID or prefix")

    servers = tree.group(subs, "server", "server commands: members, join, force-leave")
    p = tree.command(
        servers, "members", "list servers; the Raft leader is marked", server.run_server_members
    )
    flag(p, "verbose", action="store_true", help="add protocol and tags columns")

    p = tree.command(servers, "join", "join the agent to other servers", server.run_server_join)
    p.add_argument("addresses", nargs="+", metavar="ADDR", help="server address (host:port)")

    p = tree.command(
        servers,
        "force-leave",
        "force a server into the 'left' state",
        server.run_server_force_leave,
    )
    bool_flag(p, "prune", False, "remove the server from the member list entirely")
    p.add_argument("node", metavar="NAME", help="server member name")

    ops = tree.group(
        subs, "operator", "operator commands: raft, snapshot, root keyring, gossip keyring"
    )
    raft = tree.group(ops, "raft", "Raft peer commands: list-peers, remove-peer")
    p = tree.command(
        raft, "list-peers", "show the Raft peer configuration", operator.run_raft_list_peers
    )
    bool_flag(p, "stale", False, "let any server answer (no leader needed)")
    p = tree.command(
        raft, "remove-peer", "remove a server from the Raft peers", operator.run_raft_remove_peer
    )
    flag(p, "peer-address", metavar="ADDR", default=None, help="peer's Raft address (ip:port)")
    flag(p, "peer-id", metavar="ID", default=None, help="peer's Raft ID")
    snaps = tree.group(ops, "snapshot", "state snapshot commands: save, restore")
    p = tree.command(snaps, "save", "save the servers' state to a file", operator.run_snapshot_save)
    bool_flag(p, "stale", False, "let any server answer (no leader needed)")
    p.add_argument(
        "file",
        nargs="?",
        help=f"output file, must not exist (default {operator.DEFAULT_SNAPSHOT_FILE})",
    )
    p = tree.command(
        snaps,
        "restore",
        "replace the servers' state with a snapshot",
        operator.run_snapshot_restore,
    )
    p.add_argument("file", help="snapshot file written by 'operator snapshot save'")

    tree_security.add_keyring_commands(tree, ops)
    tree_security.add_tls_commands(tree, subs)
    acl.register(tree, subs)

    systems = tree.group(subs, "system", "system commands: gc")
    tree.command(systems, "gc", "run a garbage collection now", system.run_system_gc)

    allocs = tree.group(subs, "alloc", "allocation commands: status, logs, restart, signal, stop")
    p = tree.command(allocs, "status", "show one allocation", alloc.run_alloc_status)
    flag(p, "verbose", action="store_true", help="full IDs, absolute times, placement metrics")
    flag(p, "short", action="store_true", help="one line per task instead of details")
    p.add_argument("alloc", help="allocation ID or prefix")

    p = tree.command(allocs, "logs", "print a task's stdout or stderr", logs.run_alloc_logs)
    flag(p, "stdout", action="store_true", help="show stdout (default)")
    flag(p, "stderr", action="store_true", help="show stderr instead of stdout")
    p.add_argument(
        "-f",
        "-follow",
        "--follow",
        dest="follow",
        action="store_true",
        help="keep streaming new output",
    )
    flag(p, "tail", action="store_true", help="start near the end (10 lines unless -n/-c)")
    p.add_argument(
        "-n",
        dest="lines",
        type=int,
        default=None,
        metavar="LINES",
        help="with -tail: number of lines",
    )
    p.add_argument(
        "-c",
        dest="bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="with -tail: number of bytes",
    )
    p.add_argument("-task", "--task", dest="task_flag", metavar="TASK", help="task name")
    flag(p, "job", action="store_true", help="the argument is a job ID: use one of its allocs")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("alloc", help="allocation ID or prefix (a job ID with -job)")
    p.add_argument("task", nargs="?", help="task name (optional if the alloc has one task)")

    p = tree.command(
        allocs, "restart", "restart a running allocation or task", alloc.run_alloc_restart
    )
    flag(p, "all-tasks", action="store_true", help="restart every task, also those that ran")
    p.add_argument("-task", "--task", dest="task_flag", metavar="TASK", help="task name")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("alloc", help="allocation ID or prefix")
    p.add_argument("task", nargs="?", help="task name (default: every running task)")

    p = tree.command(allocs, "signal", "signal a running allocation", alloc.run_alloc_signal)
    p.add_argument(
        "-s", dest="signal", metavar="SIGNAL", default="SIGKILL", help="signal (default SIGKILL)"
    )
    p.add_argument("-task", "--task", dest="task_flag", metavar="TASK", help="task name")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("alloc", help="allocation ID or prefix")
    p.add_argument("task", nargs="?", help="task name (default: every task)")

    p = tree.command(
        allocs, "stop", "stop and reschedule a running allocation", alloc.run_alloc_stop
    )
    flag(p, "detach", action="store_true", help="print the evaluation ID instead of monitoring")
    flag(p, "no-shutdown-delay", action="store_true", help="ignore the tasks' shutdown_delay")
    flag(p, "verbose", action="store_true", help="full IDs")
    p.add_argument("alloc", help="allocation ID or prefix")

    services = tree.group(subs, "service", "native service catalog commands: list, info, delete")
    p = tree.command(services, "list", "list registered services", service.run_service_list)
    flag(p, "json", action="store_true", help="print the registrations as JSON")

    p = tree.command(
        services, "info", "show the instances of one service", service.run_service_info
    )
    flag(p, "verbose", action="store_true", help="full IDs, datacenter and check results")
    flag(p, "json", action="store_true", help="print the registrations as JSON")
    p.add_argument("service", metavar="NAME", help="service name or prefix")

    p = tree.command(
        services, "delete", "remove one service registration", service.run_service_delete
    )
    p.add_argument("service", metavar="NAME", help="service name")
    p.add_argument("id", metavar="ID", help="registration ID")

    tree_security.add_namespace_quota_commands(tree, subs)
    tree_security.add_var_commands(tree, subs)

    evals = tree.group(subs, "eval", "evaluation commands: list, status")
    p = tree.command(evals, "list", "list evaluations", eval.run_eval_list)
    flag(p, "job", metavar="JOB", default=None, help="only evaluations of this job ID")
    flag(p, "status", metavar="STATUS", default=None, help="only evaluations with this status")
    flag(p, "verbose", action="store_true", help="full IDs")

    p = tree.command(evals, "status", "show one evaluation", eval.run_eval_status)
    flag(p, "verbose", action="store_true", help="full IDs and absolute times")
    p.add_argument("eval", help="evaluation ID or prefix")

    p = tree.command(
        subs,
        "web",
        "serve the console in a web browser (textual-serve)",
        web.run_web,
        web.DESCRIPTION,
    )
    flag(
        p,
        "host",
        metavar="HOST",
        default=web.DEFAULT_HOST,
        help=f"address to listen on (default {web.DEFAULT_HOST}: this machine only)",
    )
    flag(
        p,
        "port",
        metavar="PORT",
        type=int,
        default=web.DEFAULT_PORT,
        help=f"port to listen on (default {web.DEFAULT_PORT})",
    )
    flag(
        p,
        "public-url",
        metavar="URL",
        default=None,
        help="URL browsers use to reach it, when behind a proxy (default http://HOST:PORT)",
    )
    flag(
        p,
        "read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="the served console refuses every write",
    )

    p = tree.command(
        subs,
        "lb",
        "run the built-in load balancer (routes from the service catalog)",
        lb.run_lb,
        lb.DESCRIPTION,
    )
    flag(
        p,
        "proxy-addr",
        metavar="ADDR",
        default=lb.DEFAULT_PROXY_ADDR,
        help=f"address of the proxy (default {lb.DEFAULT_PROXY_ADDR})",
    )
    flag(
        p,
        "ui-addr",
        metavar="ADDR",
        default=lb.DEFAULT_UI_ADDR,
        help=f"address of the status page and /api/routes (default {lb.DEFAULT_UI_ADDR})",
    )
    flag(
        p,
        "strategy",
        metavar="rr|random",
        default="rr",
        help="how to pick an instance: rr (round-robin, default) or random",
    )

    tree.command(subs, "version", "print the nomadtui version", agent.run_version)
    for name in ("serve", "agent"):
        subs.add_parser(
            name, help="run a control-plane agent (see 'nomadtui serve -help')", add_help=False
        )
    return root


def _dispatch(argv: list[str], runtime: Runtime) -> int:
    if argv and argv[0] in ("serve", "agent"):
        return agent.run_serve(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command is None:
        return agent.run_console(args)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        args.group_parser.print_help(runtime.stdout)
        return 1
    ctx = Context(args, runtime)
    try:
        return handler(ctx)
    finally:
        ctx.close()


def main(argv: Sequence[str] | None = None, runtime: Runtime | None = None) -> int:
    """Run one command; return its exit code. Never lets a traceback escape."""
    argv = list(sys.argv[1:] if argv is None else argv)
    runtime = runtime or Runtime()
    try:
        return _dispatch(argv, runtime)
    except CommandError as err:
        runtime.stderr.write(error_line(err) + "\n")
        return err.exit_code
    except NomadError as err:
        runtime.stderr.write(error_line(err) + "\n")
        return 1
    except KeyboardInterrupt:
        runtime.stderr.write("\n")
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # -help
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:
        # Reader went away (`| head`): stop quietly, like other CLIs.
        return 1
    except Exception as err:
        if os.environ.get("NOMADTUI_DEBUG"):
            raise
        runtime.stderr.write(f"Error: internal error: {type(err).__name__}: {err}\n")
        return 1
