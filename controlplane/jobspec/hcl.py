"""HCL text -> plain Python body dict, plus a line index of blocks and attributes.

Owns the python-hcl2 calls: syntax errors become located JobSpecErrors with
a short message, and the lark tree is walked once to record where each
block/attribute starts. It does not know what a job is.

Line-index keys are tuples of path segments relative to the file's top level:
a labelled block is `"type:label"`, an unlabelled block `"type[i]"` (the
i-th such block in its parent; the first one is also recorded as `"type"`),
an attribute is its name. Example: `("job", "group:cache", "count")`.
"""

from __future__ import annotations

import re
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from controlplane.errors import JobSpecError

LineIndex = dict[tuple[str, ...], int]

_OPTIONS = SerializationOptions(
    strip_string_quotes=True,
    explicit_blocks=False,
    with_comments=False,
    preserve_heredocs=True,  # decoded by `_heredocs`: python-hcl2 drops the final newline
    preserve_scientific_notation=False,
)


class HCLSyntaxError(JobSpecError):
    """A job file that is not valid HCL; renders `file:line:column: message`."""

    def __init__(self, message: str, file: str, line: int, column: int) -> None:
        super().__init__(message, file, line)
        self.column = column
        where = f"{file}:{line}:{column}" if file else f"line {line}, column {column}"
        self.message = f"{where}: {message}"
        self.args = (self.message,)


# A heredoc opener `<<EOT` / `<<-EOT` at the end of a line.
_HEREDOC_OPEN = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_-]*)\s*$")


def normalize_heredoc_terminators(text: str) -> str:
    """Drop trailing blanks after heredoc end markers.

    HCL (Go) trims whitespace around a candidate end marker line, so `EOH  `
    closes a heredoc there; python-hcl2 does not. Only marker lines change,
    so line and column numbers elsewhere stay valid.
    """
    lines = text.split("\n")
    marker: str | None = None
    changed = False
    for i, line in enumerate(lines):
        if marker is None:
            m = _HEREDOC_OPEN.search(line)
            if m is not None:
                marker = m.group(1)
            continue
        if line.strip() == marker:
            if line != line.rstrip():
                lines[i] = line.rstrip()
                changed = True
            marker = None
    return "\n".join(lines) if changed else text


def _token_text(tok: Any) -> str:
    """The offending token as shown to a user: its first line, quoted and shortened."""
    value = str(getattr(tok, "value", tok))
    first = value.split("\n", 1)[0]
    if not first.strip():
        return "end of line"
    if len(first) > 30:
        first = first[:27] + "..."
    return repr(first)


def _syntax_message(err: LarkError) -> str:
    """A one-line reason for a lark error, in HCL terms rather than grammar terms."""
    if isinstance(err, UnexpectedEOF):
        return "unexpected end of file (missing '}' or closing quote?)"
    if isinstance(err, UnexpectedToken):
        tok = err.token
        expected = set(err.expected or ())
        if tok.type == "$END":
            return "unexpected end of file (missing '}' or closing quote?)"
        text = _token_text(tok)
        if text.startswith("'<<"):
            return f"unterminated heredoc {text}: its end marker must be alone on a line"
        if tok.type == "DBLQUOTE" and "NAME" in expected and "RBRACE" in expected:
            return (
                "quoted attribute name is HCL1 syntax; use a bare name, or an "
                'attribute map such as env = { "KEY" = "value" }'
            )
        if tok.type == "NAME" and expected == {"RBRACE"}:
            return f"invalid expression near {text} (names cannot start with a digit)"
        if "EQ" in expected or "COLON" in expected:
            return f"unexpected {text}: expected '=' after the attribute name"
        if expected & {"INT_LITERAL", "DBLQUOTE", "LSQB", "LBRACE"}:
            return f"unexpected {text}: expected a value"
        return f"unexpected {text}"
    if isinstance(err, UnexpectedCharacters):
        char = err.char if hasattr(err, "char") else "?"
        return f"unexpected character {char!r}"
    return "invalid HCL"


def parse_tree(text: str, filename: str) -> Tree:
    """Parse HCL text to a lark tree, raising HCLSyntaxError with line and column."""
    try:
        return hcl2.parses_to_tree(normalize_heredoc_terminators(text))
    except LarkError as err:
        line = int(getattr(err, "line", 0) or 0)
        column = int(getattr(err, "column", 0) or 0)
        if line <= 0:  # end of input: point at the last line
            line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
            column = max(1, column)
        raise HCLSyntaxError(_syntax_message(err), filename, line, column) from None


_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\n(.*?)[ \t]*\2[ \t]*", re.DOTALL)


def _heredoc_text(value: str) -> str:
    """Heredoc value as HCL defines it: every content line keeps its newline;
    `<<-` strips the smallest indentation of the non-blank lines."""
    m = _HEREDOC.fullmatch(value)
    if m is None:
        return value
    content = m.group(3)
    if m.group(1):
        lines = content.split("\n")
        indents = [len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()]
        cut = min(indents, default=0)
        content = "\n".join(x[cut:] for x in lines)
    return content


def _heredocs(value: Any) -> Any:
    if isinstance(value, str):
        return _heredoc_text(value) if value.startswith("<<") else value
    if isinstance(value, list):
        return [_heredocs(v) for v in value]
    if isinstance(value, dict):
        return {k: _heredocs(v) for k, v in value.items()}
    return value


def tree_to_body(tree: Tree) -> dict[str, Any]:
    """The plain body dict python-hcl2 makes of a parsed tree (blocks as lists)."""
    body: dict[str, Any] = _heredocs(
        hcl2.serialize(hcl2.transform(tree), serialization_options=_OPTIONS)
    )
    return body


def block_bodies(value: Any) -> list[dict[str, Any]]:
    """Bodies of an unlabelled block in a body dict: one dict, or a list of
    them (HCL JSON allows both); anything else holds none."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _label(node: Any) -> str:
    if isinstance(node, Token):
        return str(node.value)
    parts: list[str] = []
    for child in node.children:
        if isinstance(child, Token):
            if child.type not in ("DBLQUOTE",):
                parts.append(str(child.value))
        else:
            parts.append(_label(child))
    return "".join(parts)


def _walk(body: Tree, prefix: tuple[str, ...], index: LineIndex) -> None:
    seen: dict[str, int] = {}
    for node in body.children:
        if not isinstance(node, Tree):
            continue
        if node.data == "attribute":
            name = _label(node.children[0])
            index.setdefault((*prefix, name), node.meta.line)
        elif node.data == "block":
            kind = _label(node.children[0])
            labels = [
                _label(c)
                for c in node.children[1:]
                if isinstance(c, Tree) and c.data in ("string", "identifier")
            ]
            inner = next(
                (c for c in node.children if isinstance(c, Tree) and c.data == "body"), None
            )
            keys: list[str] = []
            if labels:
                keys.append(f"{kind}:{':'.join(labels)}")
            else:
                i = seen.get(kind, 0)
                seen[kind] = i + 1
                keys.append(f"{kind}[{i}]")
                if i == 0:
                    keys.append(kind)
            for key in keys:
                index.setdefault((*prefix, key), node.meta.line)
                if inner is not None:
                    _walk(inner, (*prefix, key), index)


def line_index(tree: Tree) -> LineIndex:
    """Map every block/attribute path in the tree to its first line."""
    index: LineIndex = {}
    body = next((c for c in tree.children if isinstance(c, Tree) and c.data == "body"), None)
    if body is not None:
        _walk(body, (), index)
    return index
