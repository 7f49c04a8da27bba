"""The console's config file (parsing, precedence, errors), its theme and keymap
applied to a running console (Pilot, no agent: the client points at a closed
port), and `nomadtui web` (help, and a real served session)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from nomadtui.cli.context import Runtime
from nomadtui.cli.main import main
from nomadtui.cli.web import console_command
from nomadtui.client import NomadClient
from nomadtui.tui.app import ConsoleApp
from nomadtui.tui.config import (
    ConfigError,
    ConsoleSettings,
    config_path,
    load_settings,
    read_config,
    resolve_settings,
)
from nomadtui.tui.watch import WAIT_S

NO_AGENT = "http://127.0.0.1:1"


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def flags(**values: str) -> argparse.Namespace:
    return argparse.Namespace(
        **{"address": None, "token": None, "namespace": None, "region": None, **values}
    )


# -- the file ----------------------------------------------------------------
def test_full_file_is_parsed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
address = "http://10.0.0.5:4646"
namespace = "prod"
region = "eu"
theme = "ansi"
refresh = 2

[keymap]
"list.filter" = "f"
app.quit = ["ctrl+q", "Q"]      # unquoted dotted key: a nested table in TOML
"app.help" = "f1, question_mark"
""",
    )
    cfg = read_config(path)
    assert (cfg.address, cfg.namespace, cfg.region) == ("http://10.0.0.5:4646", "prod", "eu")
    assert cfg.theme == "ansi-dark"
    assert cfg.refresh_s == 2.0
    assert cfg.keymap == {
        "list.filter": "f",
        "app.quit": "ctrl+q,Q",
        "app.help": "f1,question_mark",
    }
    assert cfg.warnings == ()


@pytest.mark.parametrize(
    ("name", "theme"),
    [
        ("dark", "textual-dark"),
        ("light", "textual-light"),
        ("ansi", "ansi-dark"),
        ("nord", "nord"),
    ],
)
def test_theme_names_map_to_textual_themes(tmp_path: Path, name: str, theme: str) -> None:
    assert read_config(write(tmp_path, f'theme = "{name}"')).theme == theme


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    file = read_config(
        write(
            tmp_path,
            """
address = "http://file:4646"
token = "file-token"
namespace = "file-ns"
region = "file-region"
""",
        )
    )
    env = {"NOMAD_ADDR": "http://env:4646", "NOMAD_TOKEN": "env-token"}
    got = resolve_settings(flags(address="http://flag:4646"), env, file)
    assert got.address == "http://flag:4646"  # flag beats env and file
    assert got.token == "env-token"  # env beats file
    assert got.namespace == "file-ns"  # file beats default
    assert got.region == "file-region"
    assert got.refresh_s == WAIT_S and got.theme == "textual-dark"  # defaults

    nothing = resolve_settings(flags(), {}, read_config(tmp_path / "absent.toml"))
    assert nothing == ConsoleSettings()


def test_config_path_env_and_xdg(tmp_path: Path) -> None:
    assert config_path({"NOMADTUI_CONFIG": str(tmp_path / "c.toml")}) == (tmp_path / "c.toml", True)
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == (
        tmp_path / "nomadtui" / "config.toml",
        False,
    )
    # the default file may be absent; a file named explicitly must exist
    assert load_settings(flags(), {"XDG_CONFIG_HOME": str(tmp_path)}) == ConsoleSettings()
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(flags(), {"NOMADTUI_CONFIG": str(tmp_path / "missing.toml")})


def test_bad_toml_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, 'address = "http://x:4646"\ntheme = "dark"\nrefresh = = 3\n')
    with pytest.raises(ConfigError) as err:
        read_config(path)
    assert str(err.value).startswith(f"config file {path}:3:11: invalid TOML: ")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('theme = "purple"', "theme 'purple' is not one of: dark, light, ansi"),
        ('refresh = "fast"', "refresh must be a number of seconds from 0.5 to 300, not 'fast'"),
        ("refresh = 0", "refresh must be a number of seconds"),
        ("address = 4646", "address must be a non-empty string"),
        ('keymap = "f"', "keymap must be a table"),
        ('[keymap]\n"list.filter" = 3', "keymap 'list.filter' must be a key"),
        ('[keymap]\n"list.filter" = ""', "keymap 'list.filter' must be a key"),
    ],
)
def test_invalid_values_are_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=f"^config file {path}: ") as err:
        read_config(path)
    assert problem in str(err.value)


def test_odd_but_usable_files_give_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, 'adress = "http://x:4646"\ntoken = "secret"\n', mode=0o644)
    cfg = read_config(path)
    assert cfg.warnings == (
        f"{path}: unknown setting 'adress' (did you mean 'address'?) (ignored)",
        f"{path} holds a token and other users can read it: chmod 600 it, "
        "or use NOMAD_TOKEN instead",
    )
    assert read_config(write(tmp_path, 'token = "secret"\n', mode=0o600)).warnings == ()


def test_bad_config_stops_the_console_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[keymap]\nlist.filter = f\n")
    monkeypatch.setenv("NOMADTUI_CONFIG", str(path))
    stderr = io.StringIO()
    code = main(["-address", NO_AGENT], Runtime(stdout=io.StringIO(), stderr=stderr))
    assert code == 1
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Error: config file {path}:2:15: invalid TOML: ")
    assert "Traceback" not in stderr.getvalue()


# -- applied to the console --------------------------------------------------
async def settle(pilot: Pilot[None], cond: Callable[[], object], tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("console did not reach the expected state")


@pytest.fixture
def client() -> Iterator[NomadClient]:
    c = NomadClient(address=NO_AGENT)
    yield c
    c.close()


def console(client: NomadClient, tmp_path: Path, text: str) -> ConsoleApp:
    settings = load_settings(flags(), {"NOMADTUI_CONFIG": str(write(tmp_path, text))})
    return ConsoleApp(client, settings=settings)


def warnings_shown(app: ConsoleApp) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "warning"]


@pytest.mark.parametrize(
    ("name", "theme", "dark", "ansi"),
    [
        ("light", "textual-light", False, False),
        ("ansi", "ansi-dark", True, True),
    ],
)
async def test_theme_is_applied(
    client: NomadClient, tmp_path: Path, name: str, theme: str, dark: bool, ansi: bool
) -> None:
    app = console(client, tmp_path, f'theme = "{name}"')
    async with app.run_test(size=(80, 24)):
        assert app.theme == theme
        assert app.current_theme.dark is dark
        # the ANSI theme leaves colours to the terminal's palette
        assert app.native_ansi_color is ansi


async def test_keymap_moves_bindings(client: NomadClient, tmp_path: Path) -> None:
    app = console(client, tmp_path, '[keymap]\n"list.filter" = "f"\n"app.quit" = "ctrl+x"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        box = app.screen.query_one("#filter", Input)
        await pilot.press("slash")  # the old key does nothing now
        await pilot.pause()
        assert box.has_class("hidden")
        await pilot.press("f")  # the new one opens the filter
        await settle(pilot, lambda: not box.has_class("hidden") and box.has_focus)
        await pilot.press("escape")
        await settle(pilot, lambda: box.has_class("hidden"))
        await pilot.press("q")  # old quit key: still running
        await pilot.pause()
        assert app.return_code is None
        await pilot.press("ctrl+x")
        await settle(pilot, lambda: app.return_code == 0)
    assert warnings_shown(app) == []


async def test_unknown_keymap_id_is_a_warning(client: NomadClient, tmp_path: Path) -> None:
    app = console(client, tmp_path, '[keymap]\n"list.filtr" = "f"\n"list.sort" = "o"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: warnings_shown(app))
        assert warnings_shown(app) == [
            f"{tmp_path / 'config.toml'}: keymap: unknown binding id 'list.filtr' "
            "(did you mean 'list.filter'?) (ignored)"
        ]
        # the rest of the keymap still applies, and the console keeps working
        app.screen.query_one("#table").focus()
        await pilot.press("o")
        await settle(pilot, lambda: any("sorted by" in n.message for n in app._notifications))


# -- nomadtui web ------------------------------------------------------------
def test_web_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["web", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: nomadtui web" in out
    assert "127.0.0.1:8000" in out and "authenticating reverse proxy" in out


def test_web_session_command_keeps_the_token_off_the_command_line() -> None:
    args = flags(address="http://10.0.0.5:4646", token="s3cret", namespace="prod")
    args.read_only = True
    cmd = console_command(args, python="/py")
    assert cmd == "/py -m nomadtui -address http://10.0.0.5:4646 -namespace prod -read-only"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _session_output(url: str, want: bytes, timeout: float) -> bytes:
    """Open a browser session's websocket and read the console's output until `want`."""
    seen = b""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:  # the server may not be listening yet
            try:
                ws = await http.ws_connect(f"{url}/ws?width=100&height=30")
                break
            except aiohttp.ClientConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        async with ws:
            while want not in seen:
                msg = await ws.receive(timeout=max(deadline - time.monotonic(), 0.1))
                if msg.type == aiohttp.WSMsgType.BINARY:
                    seen += msg.data
                elif msg.type != aiohttp.WSMsgType.TEXT:
                    break
    return seen


async def test_web_serves_the_console(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "NOMADTUI_CONFIG": str(write(tmp_path, 'theme = "light"'))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nomadtui", "web", "-port", str(port), "-address", NO_AGENT],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        out = await _session_output(f"http://127.0.0.1:{port}", b"cannot reach", timeout=30)
        # the session is the console, connected where the web command said
        assert b"cannot reach" in out and NO_AGENT.encode() in out
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert b"Traceback" not in err
