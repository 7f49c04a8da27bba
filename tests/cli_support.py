"""Run the `nomadtui` CLI in-process against a real agent, as a user would
from a shell with NOMAD_ADDR set; output is captured, nothing is faked."""

from __future__ import annotations

import io
from typing import NamedTuple

from nomadtui.cli.context import Runtime
from nomadtui.cli.main import main


class CliResult(NamedTuple):
    code: int
    out: str
    err: str


def run_cli(
    address: str, *argv: str, stdin: str = "", env: dict[str, str] | None = None
) -> CliResult:
    """`nomadtui argv...` with NOMAD_ADDR=address (plus `env`) and `stdin`."""
    out, err = io.StringIO(), io.StringIO()
    runtime = Runtime(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(stdin),
        env={"NOMAD_ADDR": address, **(env or {})},
    )
    code = main(list(argv), runtime)
    return CliResult(code, out.getvalue(), err.getvalue())
