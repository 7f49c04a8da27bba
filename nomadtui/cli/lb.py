"""`nomadtui lb`: run the built-in load balancer in the foreground.

Owns flag handling, opening the listeners (so a busy port is one clear error
line) and the event loop with its signal handling; the balancer itself is
`nomadtui.lb`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable

from nomadtui.client import ClientConfig
from nomadtui.lb import ApiTarget, LoadBalancer, listen, sock_addr
from nomadtui.lb.routes import STRATEGIES

from .context import CommandError, Context, tls_from_args

DEFAULT_PROXY_ADDR = "127.0.0.1:9999"
DEFAULT_UI_ADDR = "127.0.0.1:9998"

DESCRIPTION = """\
An HTTP load balancer in the style of Fabio, fed by the native service
catalog. Every service tagged `urlprefix-/path` (or `urlprefix-host/path`,
optionally with ` strip=/path`) gets a route; the longest matching prefix
wins and host routes come before host-less ones. Only instances whose checks
pass receive traffic. The routing table follows the catalog through blocking
queries, so changes apply as soon as the servers commit them.

Finds the API through -address or NOMAD_ADDR. Serves a status page and
GET /api/routes on -ui-addr."""


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run_lb(ctx: Context) -> int:
    args = ctx.args
    if args.strategy not in STRATEGIES:
        raise CommandError(f"Error: unknown -strategy {args.strategy!r} (want rr or random)")
    config = ClientConfig.resolve(
        getattr(args, "address", None),
        getattr(args, "token", None),
        getattr(args, "namespace", None),
        env=ctx.runtime.env,
        tls=tls_from_args(args, ctx.runtime.env),
    )
    socks: list[socket.socket] = []
    try:
        for flag, addr in (("-proxy-addr", args.proxy_addr), ("-ui-addr", args.ui_addr)):
            try:
                socks.append(listen(addr))
            except (OSError, ValueError) as err:
                raise CommandError(f"Error: cannot listen on {flag} {addr}: {err}") from err
        lb = LoadBalancer(
            ApiTarget(config.address, config.token, config.namespace, config.verify()),
            strategy=args.strategy,
            out=ctx.out,
        )
        ctx.out(f"==> nomadtui lb: routes from the catalog at {config.address}")
        ctx.out(f"    Proxy:    http://{sock_addr(socks[0])}")
        ctx.out(f"    UI:       http://{sock_addr(socks[1])}")
        ctx.out(f"    Strategy: {args.strategy}")
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve(lb, socks[0], socks[1]))
    finally:
        for sock in socks:
            sock.close()
    ctx.out("==> nomadtui lb: stopped")
    return 0


async def _serve(lb: LoadBalancer, proxy_sock: socket.socket, ui_sock: socket.socket) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await lb.run(proxy_sock, ui_sock, stop)
