"""The console with ACLs on: asking for a token, and keys the token cannot use.

Against tui_fake_security's SecureCluster (Nomad's 403s and token shapes),
compiled with the server's own ACL model, driven with Pilot.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Input
from tui_fake_cluster import CANARY_ALLOC, JOBS, NODE1, screen_text
from tui_fake_security import (
    MANAGEMENT_SECRET,
    READER_ACCESSOR,
    READER_SECRET,
    SecureCluster,
    bindings,
    secure_console,
    table_keys,
    until,
)

from nomadtui.tui.widgets.token_prompt import TokenPrompt


def _prompting(app: Any) -> bool:
    # drawn, not only pushed
    return isinstance(app.screen, TokenPrompt) and "ACL token (the secret ID" in screen_text(app)


async def _type_token(app: Any, pilot: Any, secret: str) -> None:
    app.screen.query_one(Input).value = secret
    await pilot.press("enter")


def _jobs_loaded(app: Any) -> bool:
    return type(app.screen).__name__ == "JobsScreen" and len(table_keys(app)) == len(JOBS)


async def test_no_token_prompts_and_the_entered_token_loads_the_view() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster) as (app, pilot):
        await until(pilot, lambda: _prompting(app))
        assert "The agent refused the request: it needs an ACL token." in screen_text(app)
        # masked: what is typed is never drawn
        assert app.screen.query_one(Input).password
        await _type_token(app, pilot, READER_SECRET)
        await until(pilot, lambda: _jobs_loaded(app))
        assert app.client.config.token == READER_SECRET
        text = screen_text(app)
        assert f"token:reader ({READER_ACCESSOR[:8]})" in text
        assert READER_SECRET not in text


async def test_wrong_token_says_so_and_asks_again() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token="not-a-real-secret") as (app, pilot):
        await until(pilot, lambda: _prompting(app))
        assert "ACL token not found" in screen_text(app)
        await _type_token(app, pilot, "still-wrong")
        await until(pilot, lambda: _prompting(app) and "still-wrong" in cluster.secrets_seen())
        await pilot.pause(0.1)
        assert _prompting(app)
        assert "ACL token not found" in screen_text(app)
        # the rejected token was never put to use
        assert app.client.config.token == "not-a-real-secret"
        await _type_token(app, pilot, MANAGEMENT_SECRET)
        await until(pilot, lambda: _jobs_loaded(app))
        assert "token:Bootstrap Token" in screen_text(app)


async def test_escape_keeps_running_without_and_token_command_asks_again() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster) as (app, pilot):
        await until(pilot, lambda: _prompting(app))
        await pilot.press("escape")
        await until(pilot, lambda: not _prompting(app))
        # the views keep failing with 403, but nobody is pestered again ...
        await pilot.pause(0.3)
        assert not _prompting(app)
        # ... until asked for
        app.run_command("token")
        await until(pilot, lambda: _prompting(app))
        await _type_token(app, pilot, READER_SECRET)
        await until(pilot, lambda: _jobs_loaded(app))


async def test_read_only_token_disables_changes_with_the_reason() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=READER_SECRET) as (app, pilot):
        await until(pilot, lambda: _jobs_loaded(app) and app.permissions.known)
        # jobs list: run/plan shown, dimmed
        assert bindings(app)["app.plan"] is False

        app.open_job("web")
        await until(
            pilot,
            lambda: (
                type(app.screen).__name__ == "JobScreen"
                and app.screen.job is not None
                and app.screen.deployment is not None
            ),
        )
        await pilot.pause()
        keys = bindings(app)
        for action in ("stop", "scale", "revert", "promote"):
            assert keys[action] is False, action
        # a read action still works: the versions tab
        await pilot.press("4")
        await until(pilot, lambda: app.screen.active_tab == "versions")

        # pressing a disabled key says why and sends nothing
        await pilot.press("ctrl+d")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "JobScreen"
        notes = [n.message for n in app._notifications]
        assert "Not allowed: needs submit-job in namespace default" in notes
        await pilot.press("s")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "JobScreen"
        assert "Not allowed: needs scale-job in namespace default" in [
            n.message for n in app._notifications
        ]
        assert cluster.writes() == []

        # the help lists them with the reason
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.pause(0.2)
        help_text = screen_text(app)
        assert "ctrl+d     Stop  (needs submit-job in namespace default)" in help_text
        assert "s          Scale  (needs scale-job in namespace default)" in help_text
        await pilot.press("escape")

        app.open_alloc(CANARY_ALLOC)
        await until(
            pilot, lambda: type(app.screen).__name__ == "AllocScreen" and bool(app.screen.alloc)
        )
        await pilot.pause()
        keys = bindings(app)
        assert keys["restart(False)"] is False and keys["stop"] is False
        assert keys["logs"] is False
        await pilot.press("l")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "AllocScreen"
        assert "Not allowed: needs read-logs in namespace default" in [
            n.message for n in app._notifications
        ]

        app.open_node(NODE1)
        await until(pilot, lambda: type(app.screen).__name__ == "NodeScreen")
        await pilot.pause()
        assert bindings(app)["drain"] is False
        assert cluster.writes() == []


async def test_management_token_may_do_everything() -> None:
    cluster = SecureCluster()
    async with secure_console(cluster, token=MANAGEMENT_SECRET) as (app, pilot):
        await until(pilot, lambda: _jobs_loaded(app) and app.permissions.known)
        assert bindings(app)["app.plan"] is True
        app.open_job("web")
        await until(
            pilot, lambda: type(app.screen).__name__ == "JobScreen" and app.screen.job is not None
        )
        await pilot.pause()
        keys = bindings(app)
        assert keys["stop"] is True and keys["scale"] is True
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "StopJobScreen")


async def test_acls_disabled_allows_everything_without_a_token() -> None:
    cluster = SecureCluster(acl_enabled=False)
    async with secure_console(cluster) as (app, pilot):
        await until(pilot, lambda: _jobs_loaded(app) and app.permissions.known)
        assert not _prompting(app)
        assert bindings(app)["app.plan"] is True
        assert "token:" not in screen_text(app)
