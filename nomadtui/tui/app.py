"""ConsoleApp: the operator console — k9s-style modes, `:` commands, live views.

Each mode (`:jobs`, `:nodes`, `:allocs`, `:deploy`, `:evals`, `:servers`,
`:events`, `:services`, `:quotas`) has its own drill-down stack; `esc` goes back.
Views live in `screens/<name>.py` and are found by name, so a view that is
not built yet shows a placeholder instead of breaking the console. The app
holds the API client, the connection state, the read-only switch and the
token's permissions (access.py resolves them and asks for a token; `:token`
changes it; `:ns NAME` / `n` pick the namespace, `:region NAME` / `:region`
the region); it never talks to the
control plane from the UI thread (screens' watches and workers do).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import tempfile
from collections.abc import Callable
from typing import Any

import httpx
from rich.markup import escape
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from nomadtui.client import NomadClient

from . import watch
from .access import Access
from .config import ConsoleSettings, load_settings, startup_warnings
from .messages import AccessDenied, ConnectionChanged
from .palette import JumpProvider
from .permissions import SUBMIT_JOB, UNKNOWN, Permissions
from .screens.base import ConsoleScreen, ContextBar
from .screens.help import HelpScreen
from .screens.placeholder import PlaceholderScreen
from .widgets.command_bar import CommandBar

# `:command` -> (module under screens/, class, title)
VIEWS: dict[str, tuple[str, str, str]] = {
    "jobs": ("jobs", "JobsScreen", "Jobs"),
    "allocs": ("allocs", "AllocsScreen", "Allocations"),
    "nodes": ("nodes", "NodesScreen", "Nodes"),
    "servers": ("servers", "ServersScreen", "Servers"),
    "deploy": ("deployments", "DeploymentsScreen", "Deployments"),
    "evals": ("evals", "EvalsScreen", "Evaluations"),
    "services": ("services", "ServicesScreen", "Services"),
    "events": ("events", "EventsScreen", "Events"),
    "quotas": ("quotas", "QuotasScreen", "Quotas"),
}
ALIASES = {"job": "jobs", "alloc": "allocs", "node": "nodes", "server": "servers",
           "deployments": "deploy", "deployment": "deploy", "eval": "evals",
           "service": "services", "svc": "services", "event": "events",
           "quota": "quotas", "namespace": "ns", "namespaces": "ns", "regions": "region"}
# shown in the command bar's placeholder and the help, after the views
COMMANDS = ["ns NAME", "region NAME", "token", "q"]

# drill-down screens: kind -> (module, class)
DETAILS: dict[str, tuple[str, str]] = {
    "job": ("job", "JobScreen"),
    "alloc": ("alloc", "AllocScreen"),
    "logs": ("logs", "LogsScreen"),
    "node": ("node", "NodeScreen"),
    "deployment": ("deployment", "DeploymentScreen"),
    "eval": ("eval", "EvalScreen"),
    "service": ("services_detail", "ServiceScreen"),
}


def _screen_class(module: str, name: str) -> type[Screen[Any]] | None:
    try:
        mod = importlib.import_module(f"nomadtui.tui.screens.{module}")
    except ModuleNotFoundError:
        return None
    cls = getattr(mod, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Screen) else None


def _mode_factory(command: str) -> Callable[[], Screen[Any]]:
    module, name, title = VIEWS[command]

    def make() -> Screen[Any]:
        cls = _screen_class(module, name)
        return cls() if cls is not None else PlaceholderScreen(title)

    return make


class ConsoleApp(App[None]):
    TITLE = "nomadtui"
    CSS = """
    .hidden { display: none; }
    """
    MODES = {command: _mode_factory(command) for command in VIEWS}
    COMMANDS = App.COMMANDS | {JumpProvider}
    DEFAULT_MODE = "jobs"
    BINDINGS = [
        Binding("colon", "command_bar", "Command", key_display=":", id="app.command"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="app.refresh"),
        Binding("r", "plan", "Run/Plan", show=False, id="app.plan"),
        Binding("n", "namespaces", "Namespace", show=False, id="app.namespaces"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        client: NomadClient,
        read_only: bool = False,
        settings: ConsoleSettings | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        # clients derived from `client` (`:ns`, `:token`) reuse it (tests inject a fake)
        self._transport = transport
        self.permissions: Permissions = UNKNOWN
        self.access = Access(self)
        self.read_only = read_only
        self.connection_error = ""
        self.settings = settings or ConsoleSettings()
        self.theme = self.settings.theme
        self.set_keymap(self.settings.keymap)

    # -- navigation --------------------------------------------------------
        for warning in startup_warnings(self.settings):
            self.notify(warning, severity="warning", timeout=10)

    def on_mount(self) -> None:
        self.access.resolve_current()

    def action_command_bar(self) -> None:
        # one bar per screen: each mode keeps its own screen stack
        bars = self.screen.query(CommandBar)
        bar = bars.first() if bars else CommandBar([*VIEWS, *COMMANDS])
        if not bars:
            self.screen.mount(bar)
        bar.open()

    def on_command_bar_submitted(self, message: CommandBar.Submitted) -> None:
        self.run_command(message.command)

    def run_command(self, command: str) -> None:
        word, _, arg = command.partition(" ")
        word = ALIASES.get(word, word)
        if word in ("q", "quit"):
            self.exit()
        elif word == "ns":
            if arg.strip():
                self.set_namespace(arg.strip())
            else:
                self.action_namespaces()
        elif word == "region":
            if arg.strip():
                self.set_region(arg.strip())
            else:
                self.action_regions()
        elif word == "token":
            self.access.ask("", force=True)
        elif word in VIEWS:
            self.switch_mode(word)
        else:
            self.notify(f"unknown command :{command}", severity="warning")

    def open_detail(self, kind: str, *args: str) -> None:
        module, name = DETAILS[kind]
        cls = _screen_class(module, name)
        if cls is None:
            self.push_screen(PlaceholderScreen(f"{kind} {' '.join(a[:8] for a in args)}"))
        else:
            self.push_screen(cls(*args))

    def open_job(self, job_id: str, namespace: str = "") -> None:
        # a job ID is unique only within its namespace: `*` lists need it
        if namespace:
            self.open_detail("job", job_id, namespace)
        else:
            self.open_detail("job", job_id)

    def open_alloc(self, alloc_id: str) -> None:
        self.open_detail("alloc", alloc_id)

    def open_logs(self, alloc_id: str, task: str) -> None:
        self.open_detail("logs", alloc_id, task)

    def open_node(self, node_id: str) -> None:
        self.open_detail("node", node_id)

    def open_deployment(self, dep_id: str) -> None:
        self.open_detail("deployment", dep_id)

    def open_eval(self, eval_id: str) -> None:
        self.open_detail("eval", eval_id)

    def open_service(self, name: str, namespace: str = "") -> None:
        self.open_detail("service", name, namespace)

    def action_plan(self) -> None:
        """Pick a job file, see its plan, run it (the plan screen)."""
        self.open_plan()

    def open_plan(self, path: str | None = None, job_id: str | None = None) -> None:
        cls = _screen_class("plan", "PlanScreen")
        if cls is None:
            self.push_screen(PlaceholderScreen("Plan"))
        else:
            self.push_screen(cls(path=path, job_id=job_id))  # type: ignore[call-arg]

    def action_namespaces(self) -> None:
        from .screens.namespaces import NamespacePicker

        def picked(choice: str | None) -> None:
            if choice == NamespacePicker.QUOTAS:
                self.switch_mode("quotas")
            elif choice is not None:
                self.set_namespace(choice)

        self.push_screen(NamespacePicker(self.client), picked)

    def action_regions(self) -> None:
        from .screens.regions import RegionPicker

        def picked(choice: str | None) -> None:
            if choice is not None:
                self.set_region(choice)

        self.push_screen(RegionPicker(self.client), picked)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "namespaces":
            return not isinstance(self.screen, ModalScreen)
        if action != "plan":
            return True
        # --read-only hides every way to change the cluster; a dialog or a plan
        # screen already open keeps `r` for itself
        busy = isinstance(self.screen, ModalScreen) or type(self.screen).__name__ == "PlanScreen"
        if self.read_only or busy:
            return False
        # shown, but disabled, when the token may not submit jobs here
        return None if self.denied_reason(action) else True

    def denied_reason(self, action: str) -> str:
        if action == "plan":
            return self.permissions.denied(SUBMIT_JOB, self.namespace)
        return ""

    async def run_action(
        self,
        action: str | Any,
        default_namespace: Any = None,
        namespaces: Any = None,
    ) -> bool:
        if await super().run_action(action, default_namespace, namespaces):
            return True
        # a key the token may not use says why instead of doing nothing
        reason = self._denied_action(action, default_namespace)
        if reason:
            self.notify(f"Not allowed: {reason}", severity="warning", timeout=4)
            return True
        return False

    def _denied_action(self, action: object, default_namespace: object) -> str:
        if not isinstance(action, str):
            return ""
        name = action.split("(", 1)[0]
        target: object = self if default_namespace is None else default_namespace
        if name.startswith("app."):
            target, name = self, name[4:]
        elif name.startswith("screen."):
            target, name = self.screen, name[7:]
        reason = getattr(target, "denied_reason", None)
        return str(reason(name)) if callable(reason) else ""

    async def action_back(self) -> None:
        handler = getattr(self.screen, "key_escape", None)
        if handler is not None and handler():
            return
        if len(self.screen_stack) > 1 and not isinstance(self.screen, HelpScreen):
            self.pop_screen()

    def action_help(self) -> None:
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for key, active in self.screen.active_bindings.items():
            b = active.binding
            # the screen's and the app's keys, not the widgets' internals
            mine = active.node is self.screen or active.node is self
            if not (mine and b.description) or b.action in seen:
                continue
            reason = "" if active.enabled else self._denied_action(b.action, active.node)
            if active.enabled or reason:
                seen.add(b.action)
                why = f"  [dim]({escape(reason)})[/dim]" if reason else ""
                keys.append((b.key_display or key, b.description + why))
        self.push_screen(HelpScreen(keys, [*VIEWS, *COMMANDS]))

    def action_refresh(self) -> None:
        if isinstance(self.screen, ConsoleScreen):
            self.screen.refresh_data()

    # -- connection, token and namespace --------------------------------
    @property
    def namespace(self) -> str:
        """The namespace the views show (`*` = every namespace the token can see)."""
        return self.client.config.namespace or "default"

    def derive_client(self, **changes: Any) -> NomadClient:
        """A client like the current one with `changes` (token, namespace)."""
        cfg = self.client.config
        values: dict[str, Any] = {
            "address": cfg.address, "token": cfg.token, "namespace": cfg.namespace,
            "region": cfg.region, "timeout": cfg.timeout, "tls": cfg.tls,
        }
        values.update(changes)
        # env={}: every value is explicit (NOMAD_TOKEN must not come back)
        return NomadClient(**values, transport=self._transport, env={})

    def use_client(self, client: NomadClient) -> None:
        """Switch every view to `client` (their watches restart with it)."""
        self.client = client
        for screen in self._all_console_screens():
            screen.restart_watches()
        self.update_context()

    def set_namespace(self, namespace: str) -> None:
        self.use_client(self.derive_client(namespace=namespace or None))
        self.notify(f"namespace {namespace or 'default'}", timeout=2)

    def set_region(self, region: str) -> None:
        """Every view asks `region` from now on (any server forwards there)."""
        self.use_client(self.derive_client(region=region or None))
        # ACL tokens belong to a region: what this one may do there is news
        self.access.resolve_current()
        self.notify(f"region {region}", timeout=2)

    def set_permissions(self, permissions: Permissions) -> None:
        self.permissions = permissions
        self.update_context()
        # keys the token cannot use turn disabled (footer, help)
        self.screen.refresh_bindings()

    def on_access_denied(self, message: AccessDenied) -> None:
        self.access.denied(message.error)

    def _all_console_screens(self) -> list[ConsoleScreen]:
        screens: list[ConsoleScreen] = []
        for stack in self._screen_stacks.values():
            screens.extend(s for s in stack if isinstance(s, ConsoleScreen))
        return screens

    def context_line(self, view: str) -> str:
        cfg = self.client.config
        parts = [f"[b]{view}[/b]", cfg.address, *self.scope_parts()]
        token = self.permissions.describe()
        if token:
            parts.append(escape(token))
        if self.read_only:
            parts.append("[reverse] read-only [/reverse]")
        if self.connection_error:
            parts.append(f"cannot reach {cfg.address}: {self.connection_error} (retrying)")
        return "  ".join(parts)

    def scope_parts(self) -> list[str]:
        """Where the views look: the namespace, then (issue 10) the region."""
        cfg = self.client.config
        parts = [f"ns:{escape(self.namespace)}"]
        if cfg.region:
            parts.append(f"region:{escape(cfg.region)}")
        return parts

    def update_context(self) -> None:
        screen = self.screen
        if not isinstance(screen, ConsoleScreen):
            return
        for bar in screen.query(ContextBar):
            bar.update(self.context_line(screen.context_text()))
            bar.set_class(bool(self.connection_error), "error")

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        changed = message.error != self.connection_error
        self.connection_error = message.error
        if changed:
            self.update_context()

    def connection_ok(self) -> None:
        if self.connection_error:
            self.connection_error = ""
            self.update_context()


def run_console(args: argparse.Namespace) -> int:
    """`nomadtui [--dev] [--read-only] [-address A]`: open the console."""
    # flags > env > config file > defaults; a bad file stops here with one line
    settings = load_settings(args)
    # views read the blocking-query wait when they are imported (lazily, later)
    watch.WAIT_S = settings.refresh_s
    agent = None
    address = settings.address
    if getattr(args, "dev", False):
        from controlplane.agent.agent import start_dev_agent

        # the agent logs to a file: the terminal belongs to the console
        fd, log_path = tempfile.mkstemp(prefix="nomadtui-dev-", suffix=".log")
        os.close(fd)
        logging.basicConfig(filename=log_path, level=logging.INFO)
        agent = start_dev_agent()
        address = f"http://{agent.config.http_addr}"
    from nomadtui.cli.context import tls_from_args

    client = NomadClient(
        address=address,
        token=settings.token,
        namespace=settings.namespace,
        region=settings.region,
        tls=tls_from_args(args),
    )
    try:
        ConsoleApp(client, read_only=getattr(args, "read_only", False), settings=settings).run()
    finally:
        client.close()
        if agent is not None:
            agent.shutdown()
    return 0
