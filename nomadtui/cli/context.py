"""What a command runs with: parsed flags, output streams, an API client, a
clock; and the one-line error convention.

Commands receive a `Context` and return an exit code. They raise
`CommandError` (or let a `NomadError` through) and `main` prints it as one line.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TextIO

import httpx

from controlplane.errors import NomadError
from nomadtui.client import AgentUnreachable, NomadClient, TLSConfig, one_line

from . import format as fmt


class CommandError(NomadError):
    """A failure whose message is the exact line to print (`Error ...`)."""

    def __init__(self, line: str, exit_code: int = 1) -> None:
        super().__init__(line)
        self.exit_code = exit_code


def error_line(err: BaseException) -> str:
    if isinstance(err, CommandError):
        return err.message
    return f"Error: {one_line(str(err))}"


def tls_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> TLSConfig:
    """The global -ca-cert / -client-cert / -client-key / -tls-skip-verify flags,
    then NOMAD_CACERT / NOMAD_CLIENT_CERT / NOMAD_CLIENT_KEY / NOMAD_SKIP_VERIFY."""
    return TLSConfig.resolve(
        ca_cert=getattr(args, "ca_cert", None),
        client_cert=getattr(args, "client_cert", None),
        client_key=getattr(args, "client_key", None),
        skip_verify=True if getattr(args, "tls_skip_verify", False) else None,
        env=env,
    )


@contextmanager
def reporting(what: str) -> Iterator[None]:
    """Prefix API errors with what was being attempted (`Error querying job: ...`).

    An unreachable agent is reported as is: the context adds nothing useful.
    """
    try:
        yield
    except (CommandError, AgentUnreachable):
        raise
    except NomadError as err:
        raise CommandError(f"{what}: {one_line(str(err))}") from err


@dataclass
class Runtime:
    """Process-level collaborators, replaceable in tests."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    env: Mapping[str, str] | None = None
    transport: httpx.BaseTransport | None = None
    now: Callable[[], datetime] = field(default_factory=lambda: lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep

    def binary_stdout(self) -> BinarySink:
        buffer: BinarySink | None = getattr(self.stdout, "buffer", None)
        return buffer if buffer is not None else _TextSink(self.stdout)


class BinarySink(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class _TextSink:
    """Bytes written to a text-only stream (tests' StringIO), decoded leniently."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        self._stream.write(data.decode("utf-8", errors="replace"))
        return len(data)

    def flush(self) -> None:
        self._stream.flush()


class Context:
    def __init__(self, args: argparse.Namespace, runtime: Runtime) -> None:
        self.args = args
        self.runtime = runtime
        self._client: NomadClient | None = None

    @property
    def client(self) -> NomadClient:
        if self._client is None:
            self._client = NomadClient(
                address=getattr(self.args, "address", None),
                token=getattr(self.args, "token", None),
                namespace=getattr(self.args, "namespace", None),
                region=getattr(self.args, "region", None),
                transport=self.runtime.transport,
                env=self.runtime.env,
                tls=tls_from_args(self.args, self.runtime.env),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def read_input(self, path: str, error: str) -> str:
        """The text of file `path`, or of stdin for `-`; a file that cannot be
        read is the one line `<error>: <reason>`."""
        if path == "-":
            return self.runtime.stdin.read()
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError as err:
            raise CommandError(f"{error}: {err.strerror or err}") from err

    @property
    def verbose(self) -> bool:
        return bool(getattr(self.args, "verbose", False))

    @property
    def is_tty(self) -> bool:
        """Whether stdout is a terminal (live redraws, colours)."""
        isatty = getattr(self.runtime.stdout, "isatty", None)
        return bool(isatty and isatty())

    @property
    def color(self) -> bool:
        if getattr(self.args, "no_color", False):
            return False
        return self.is_tty

    def out(self, text: str = "") -> None:
        self.runtime.stdout.write(text + "\n")
        self.runtime.stdout.flush()

    def title(self, text: str) -> None:
        self.out(fmt.title(text, self.color))

    def now(self) -> datetime:
        return self.runtime.now()

    def short(self, value: str) -> str:
        return fmt.short_id(value, self.verbose)

    def ago(self, ns: int | None) -> str:
        return fmt.pretty_time_diff(fmt.from_unix_nano(ns), self.now())

    def stamp(self) -> str:
        return fmt.format_datetime(self.now())
