"""The parse tree of a Go template (text/template/parse's node types, kept to
what the renderer needs). Data only; every node knows its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    line: int
    col: int


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)


@dataclass
class TextNode(Node):
    text: str = ""


# ---- arguments -------------------------------------------------------


@dataclass
class DotNode(Node):
    pass


@dataclass
class NilNode(Node):
    pass


@dataclass
class BoolNode(Node):
    value: bool = False


@dataclass
class NumberNode(Node):
    value: int | float = 0
    text: str = ""


@dataclass
class StringNode(Node):
    value: str = ""
    quoted: str = ""


@dataclass
class FieldNode(Node):
    """`.A.B`: fields looked up from dot."""

    idents: list[str] = field(default_factory=list)


@dataclass
class VariableNode(Node):
    """`$x.A.B`: idents[0] is the variable name (with `$`)."""

    idents: list[str] = field(default_factory=list)


@dataclass
class IdentifierNode(Node):
    """A function name."""

    name: str = ""


@dataclass
class ChainNode(Node):
    """`(pipeline).A.B`: fields looked up from a term."""

    node: Node | None = None
    fields: list[str] = field(default_factory=list)


@dataclass
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)


@dataclass
class PipeNode(Node):
    decl: list[str] = field(default_factory=list)
    is_assign: bool = False
    cmds: list[CommandNode] = field(default_factory=list)


# ---- actions -----------------------------------------------------------


@dataclass
class ActionNode(Node):
    pipe: PipeNode | None = None


@dataclass
class BranchNode(Node):
    """if / range / with; `else if` and `else with` nest in else_list."""

    kind: str = "if"
    pipe: PipeNode | None = None
    body: ListNode | None = None
    else_list: ListNode | None = None


@dataclass
class BreakNode(Node):
    pass


@dataclass
class ContinueNode(Node):
    pass


@dataclass
class TemplateNode(Node):
    """`{{ template "name" pipeline }}`."""

    name: str = ""
    pipe: PipeNode | None = None
