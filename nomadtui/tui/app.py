"""Console entry point. A placeholder: it reports the agent address it would
connect to. The Textual app will replace the body of `run_console`."""

from __future__ import annotations

import argparse
import sys

from nomadtui.client import ClientConfig


def run_console(args: argparse.Namespace) -> int:
    config = ClientConfig.resolve(
        address=getattr(args, "address", None),
        token=getattr(args, "token", None),
        namespace=getattr(args, "namespace", None),
        region=getattr(args, "region", None),
    )
    sys.stdout.write(
        f"nomadtui console for {config.address}: the console is coming; "
        "use the CLI commands meanwhile (nomadtui -help).\n"
    )
    return 0
