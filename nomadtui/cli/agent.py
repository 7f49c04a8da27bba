"""`serve` / `agent` (run a control-plane agent), `version`, and the bare
`nomadtui` console entry. Each imports its implementation lazily so the CLI
works when those parts are absent."""

from __future__ import annotations

import argparse
import importlib

import nomadtui

from .context import CommandError, Context


def run_serve(argv: list[str]) -> int:
    """Hand the remaining arguments to the agent's own flag parser."""
    try:
        module = importlib.import_module("controlplane.agent.cli")
    except ImportError as err:
        raise CommandError(f"Error: the agent is not available in this build ({err})") from err
    return int(module.serve_main(argv))


def run_version(ctx: Context) -> int:
    ctx.out(f"nomadtui v{nomadtui.__version__}")
    return 0


def run_console(args: argparse.Namespace) -> int:
    from nomadtui.tui.app import run_console as console

    return console(args)
