"""The argparse conventions of the `nomadtui` command tree: Nomad-style
single-dash flags (`-name`, `--name`, `-name=value`), Go-style booleans,
the global flags every command takes, and one-line usage errors.

Owns how flags and subcommands are declared; main.py declares which.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .context import CommandError, Context

Handler = Callable[[Context], int]


class Parser(argparse.ArgumentParser):
    """Usage errors become one `Error ...` line and exit code 1 (not argparse's 2,
    which `job run` uses for placement failures)."""

    usage_exit_code = 1

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"Error: {message} (see '{self.prog} -help')", self.usage_exit_code)

    def _get_option_tuples(self, option_string: str) -> list[Any]:
        # Python 3.11 still prefix-matches single-dash flags with allow_abbrev
        # off, so the root would read a subcommand's `-n` as `-namespace`.
        if self.allow_abbrev:
            return super()._get_option_tuples(option_string)
        return []


def flag(parser: Any, name: str, **kwargs: Any) -> None:
    """A Nomad-style flag: `-name` and `--name` both work, `-name=value` too."""
    parser.add_argument(f"-{name}", f"--{name}", dest=name.replace("-", "_"), **kwargs)


def bool_flag(parser: Any, name: str, default: bool, help: str) -> None:
    """A Go-style boolean flag: `-name`, `-name=true` and `-name=false` (argparse
    alone would either reject `=false` or swallow the next argument)."""
    dest = name.replace("-", "_")
    parser.add_argument(
        f"-{name}",
        f"--{name}",
        dest=dest,
        action="store_const",
        const=True,
        default=default,
        help=help,
    )
    for text, value in (("true", True), ("false", False)):
        parser.add_argument(
            f"-{name}={text}",
            f"--{name}={text}",
            dest=dest,
            action="store_const",
            const=value,
            help=argparse.SUPPRESS,
        )


def help_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-h", "-help", "--help", action="help", help="show this help and exit")


def global_flags(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # On subcommands the defaults are SUPPRESS so a subparser never overwrites
    # a value given before the command name.
    default: Any = None if top else argparse.SUPPRESS
    flag_default: Any = False if top else argparse.SUPPRESS
    group = parser.add_argument_group("global options")
    flag(
        group,
        "address",
        metavar="ADDR",
        default=default,
        help="HTTP address of the agent (env NOMAD_ADDR, default http://127.0.0.1:4646)",
    )
    flag(group, "token", metavar="TOKEN", default=default, help="ACL secret ID (env NOMAD_TOKEN)")
    flag(
        group,
        "namespace",
        metavar="NS",
        default=default,
        help="target namespace, '*' for all on list commands (env NOMAD_NAMESPACE)",
    )
    flag(
        group, "region", metavar="REGION", default=default, help="target region (env NOMAD_REGION)"
    )
    flag(
        group, "no-color", action="store_true", default=flag_default, help="disable colored output"
    )
    flag(
        group,
        "ca-cert",
        metavar="FILE",
        default=default,
        help="CA certificate verifying the agent's TLS certificate (env NOMAD_CACERT)",
    )
    flag(
        group,
        "client-cert",
        metavar="FILE",
        default=default,
        help="client certificate for agents requiring one (env NOMAD_CLIENT_CERT)",
    )
    flag(
        group,
        "client-key",
        metavar="FILE",
        default=default,
        help="key of -client-cert (env NOMAD_CLIENT_KEY)",
    )
    flag(
        group,
        "tls-skip-verify",
        action="store_true",
        default=flag_default,
        help="do not verify the agent's TLS certificate (env NOMAD_SKIP_VERIFY); insecure",
    )


class Tree:
    """Builds subcommands that share the global flags and help conventions."""

    def __init__(self, root: argparse.ArgumentParser) -> None:
        self.common = Parser(add_help=False, allow_abbrev=False)
        global_flags(self.common, top=False)
        self.root = root

    def group(self, subs: Any, name: str, help: str, aliases: Sequence[str] = ()) -> Any:
        parser = subs.add_parser(
            name,
            help=help,
            description=help,
            add_help=False,
            allow_abbrev=False,
            aliases=list(aliases),
        )
        help_flag(parser)
        parser.set_defaults(handler=None, group_parser=parser)
        return parser.add_subparsers(title="subcommands", metavar="<command>", parser_class=Parser)

    def command(
        self, subs: Any, name: str, help: str, handler: Handler, description: str | None = None
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subs.add_parser(
            name,
            help=help,
            description=description or help,
            parents=[self.common],
            add_help=False,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        help_flag(parser)
        parser.set_defaults(handler=handler)
        return parser
