"""Access: the console's token — resolving what it may do, and asking for one.

At start (and after every token change) the token is resolved off the UI
thread (permissions.resolve) and the app's Permissions replaced, so keys the
token cannot use turn disabled. When the agent refuses (a view's 403 or the
token lookup itself) and no token is set, or the token is unknown ("ACL token
not found"), a masked prompt asks for one; a token typed there is checked
before it is used, and a wrong one asks again with the reason. `esc` keeps
the console running without (only `:token` asks again then).

The secret lives only in the API client's config: it is never drawn,
notified or logged here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.errors import PermissionDenied
from nomadtui.client import NomadClient

from .permissions import Permissions, resolve, token_not_found
from .widgets.token_prompt import TokenPrompt

if TYPE_CHECKING:
    from .app import ConsoleApp

NEED_TOKEN = "The agent refused the request: it needs an ACL token."
UNKNOWN_TOKEN = "ACL token not found: check the secret ID and try again."


class Access:
    def __init__(self, app: ConsoleApp) -> None:
        self.app = app
        self.asking = False
        self.declined = False
        self.checking = False

    # -- resolution ----------------------------------------------------------
    def resolve_current(self) -> None:
        """Resolve the app client's token in a thread; refused -> ask."""
        app = self.app
        client = app.client

        def work() -> None:
            try:
                perms = resolve(client)
            except PermissionDenied as exc:
                app.call_from_thread(self._refused, str(exc))
                return
            app.call_from_thread(self._resolved, client, perms)

        app.run_worker(work, thread=True, group="access", exit_on_error=False)

    def _resolved(self, client: NomadClient, perms: Permissions) -> None:
        if client is self.app.client:  # not a stale answer for an older token
            self.app.set_permissions(perms)

    def _refused(self, error: str) -> None:
        if not self.app.client.config.token:
            self.ask(NEED_TOKEN)
        elif token_not_found(error):
            self.ask(UNKNOWN_TOKEN)
        # a known token refused something: the view says so, no prompt

    def denied(self, error: str) -> None:
        """A view's request was refused (403): maybe the token is the problem."""
        if self.declined or self.asking or self.checking:
            return
        self._refused(error)

    # -- asking --------------------------------------------------------------
    def ask(self, problem: str = "", force: bool = False) -> None:
        """Open the token prompt (unless it is open, or was declined and not `force`)."""
        if self.asking or (self.declined and not force):
            return
        self.asking = True
        self.app.push_screen(TokenPrompt(problem), self._answered)

    def _answered(self, secret: str | None) -> None:
        self.asking = False
        if secret is None:
            self.declined = True
            self.app.notify(
                "No token: views the agent refuses stay empty (:token to enter one).",
                severity="warning",
                timeout=6,
            )
            return
        self.declined = False
        self.check(secret)

    def check(self, secret: str) -> None:
        """Try `secret`; use it if the agent knows it, else ask again."""
        app = self.app
        candidate = app.derive_client(token=secret)
        self.checking = True

        def work() -> None:
            try:
                perms = resolve(candidate)
            except PermissionDenied as exc:
                app.call_from_thread(self._rejected, candidate, str(exc))
                return
            app.call_from_thread(self._accepted, candidate, perms)

        app.run_worker(work, thread=True, group="access", exit_on_error=False)

    def _accepted(self, candidate: NomadClient, perms: Permissions) -> None:
        self.checking = False
        self.app.use_client(candidate)
        self.app.set_permissions(perms)
        who = perms.describe() or "token set"
        self.app.notify(f"Using {who}", timeout=3)

    def _rejected(self, candidate: NomadClient, error: str) -> None:
        self.checking = False
        candidate.close()
        self.ask(UNKNOWN_TOKEN if token_not_found(error) else error, force=True)
