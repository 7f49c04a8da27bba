"""`nomadtui web`: the console in a browser, served by textual-serve.

Each browser session runs its own `nomadtui` console in a subprocess, with
the connection flags given here. Owns building that command and starting
the server; it never talks to the control plane itself.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys
from typing import Any

from .context import CommandError, Context

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

DESCRIPTION = """\
Serve the console in a web browser (through textual-serve). Every browser
session runs its own console with the connection flags given here, and the
config file applies as it does in a terminal.

Listens on 127.0.0.1:8000 by default. textual-serve has no authentication:
whoever reaches the port gets a console with this command's token. To offer
it beyond this machine, keep -host on localhost and put it behind an
authenticating reverse proxy (TLS and a login), passing the proxy's URL as
-public-url."""


def console_command(args: Any, python: str = sys.executable) -> str:
    """The shell command textual-serve runs per session: `nomadtui` with our flags.

    The token is not on the command line (textual-serve prints the command,
    and `ps` shows it): sessions inherit it as NOMAD_TOKEN.
    """
    argv = [python, "-m", "nomadtui"]
    for name in ("address", "namespace", "region", "ca-cert", "client-cert", "client-key"):
        value = getattr(args, name.replace("-", "_"), None)
        if value:
            argv += [f"-{name}", value]
    if getattr(args, "tls_skip_verify", False):
        argv.append("-tls-skip-verify")
    if getattr(args, "read_only", False):
        argv.append("-read-only")
    return shlex.join(argv)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_web(ctx: Context) -> int:
    args = ctx.args
    try:
        from textual_serve.server import Server
    except ImportError as err:
        raise CommandError(
            f"Error: nomadtui web needs textual-serve (pip install textual-serve): {err}"
        ) from err
    from nomadtui.tui.config import load_settings

    # a bad config file fails here, once, not in every browser session
    load_settings(args)
    if getattr(args, "token", None):
        os.environ["NOMAD_TOKEN"] = args.token
    host: str = args.host
    if not _is_loopback(host):
        ctx.runtime.stderr.write(
            f"Warning: serving on {host} without authentication; anyone who reaches "
            f"port {args.port} gets the console (put it behind an authenticating proxy)\n"
        )
    server = Server(
        console_command(args),
        host=host,
        port=args.port,
        title="nomadtui",
        public_url=args.public_url,
    )
    server.serve()
    return 0
