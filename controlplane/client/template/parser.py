"""Parser for Go templates: tokens (lexer.py) into a tree (nodes.py), with
Go's parse-time checks (undefined variables, unknown functions, misplaced
`{{end}}`/`{{else}}`/`{{break}}`). Unsupported consul-template functions
are refused here, before anything renders, naming the function and where it
is used. Never evaluates anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import TemplateError
from .lexer import Tok, Token, lex
from .nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TemplateNode,
    TextNode,
    VariableNode,
)

_OPERAND_START = {
    Tok.BOOL,
    Tok.CHAR,
    Tok.DOT,
    Tok.FIELD,
    Tok.IDENT,
    Tok.NUMBER,
    Tok.NIL,
    Tok.RAW_STRING,
    Tok.STRING,
    Tok.VARIABLE,
    Tok.LPAREN,
}
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}
_OCTAL_INT = re.compile(r"[+-]?0[0-7_]+")
MAX_NESTING = 100


def go_unquote(quoted: str) -> str:
    """strconv.Unquote for "...", `...` and '...' literals."""
    if quoted.startswith("`"):
        return quoted[1:-1].replace("\r", "")
    body = quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1 : i + 2]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc and esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def parse_number(tok: Token) -> int | float:
    text = tok.value
    if tok.typ is Tok.CHAR:
        value = go_unquote(text)
        if len(value) != 1:
            raise ValueError(f"malformed character constant: {text}")
        return ord(value)
    if text.endswith("i"):
        raise ValueError("complex numbers are not supported")
    lower = text.lower()
    is_hex = lower.lstrip("+-").startswith("0x")
    if (is_hex and "p" not in lower) or not any(c in lower for c in ".ep"):
        if _OCTAL_INT.fullmatch(text):
            return int(text.replace("_", ""), 8)
        return int(text, 0)
    if is_hex:
        return float.fromhex(text.replace("_", ""))
    return float(text)


class Parser:
    def __init__(
        self,
        name: str,
        text: str,
        is_function: Callable[[str], bool],
        refusal: Callable[[str], str | None],
        left: str = "{{",
        right: str = "}}",
    ) -> None:
        """`is_function(name)`: a function templates may call; `refusal(name)`:
        why a known but unsupported function is refused (None if it is not)."""
        self.name = name
        self.tokens = lex(name, text, left, right)
        self.i = 0
        self.is_function = is_function
        self.refusal = refusal
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.nesting = 0  # controls and parentheses: deep nesting is refused
        self.defines: dict[str, ListNode] = {}

    # ---- token helpers -------------------------------------------------

    def error(self, msg: str, tok: Token | None = None) -> TemplateError:
        tok = tok or self.tokens[min(self.i, len(self.tokens) - 1)]
        return TemplateError(msg, self.name, tok.line, tok.col)

    def next(self) -> Token:
        tok = self.tokens[self.i]
        if tok.typ is not Tok.EOF:
            self.i += 1
        return tok

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next_non_space(self) -> Token:
        tok = self.next()
        while tok.typ is Tok.SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> Token:
        save = self.i
        tok = self.next_non_space()
        self.i = save
        return tok

    def expect(self, typ: Tok, context: str) -> Token:
        tok = self.next_non_space()
        if tok.typ is not typ:
            raise self.error(f"unexpected {tok.describe()} in {context}", tok)
        return tok

    # ---- structure -----------------------------------------------------

    def parse(self) -> tuple[ListNode, dict[str, ListNode]]:
        root = ListNode(1, 1)
        while True:
            tok = self.peek()
            if tok.typ is Tok.EOF:
                return root, self.defines
            if tok.typ is Tok.LEFT and self._peek_keyword("define"):
                self._define()
                continue
            node, term = self._text_or_action()
            if term is not None:
                raise self.error(f"unexpected {{{{{term.value}}}}}", term)
            if node is not None:
                root.nodes.append(node)

    def _peek_keyword(self, word: str) -> bool:
        save = self.i
        self.next()
        tok = self.next_non_space()
        self.i = save
        return tok.typ is Tok.KEYWORD and tok.value == word

    def _text_or_action(self) -> tuple[Node | None, Token | None]:
        """One node, or the `end`/`else` keyword token that ends a list."""
        tok = self.next()
        if tok.typ is Tok.TEXT:
            return TextNode(tok.line, tok.col, tok.value), None
        if tok.typ is Tok.LEFT:
            return self._action(tok)
        raise self.error(f"unexpected {tok.describe()} in input", tok)

    def _item_list(self, context: str) -> tuple[ListNode, Token]:
        first = self.peek()
        out = ListNode(first.line, first.col)
        while True:
            if self.peek().typ is Tok.EOF:
                raise self.error(f"unexpected EOF in {context}")
            node, term = self._text_or_action()
            if term is not None:
                return out, term
            if node is not None:
                out.nodes.append(node)

    def _action(self, left: Token) -> tuple[Node | None, Token | None]:
        tok = self.peek_non_space()
        if tok.typ is Tok.KEYWORD:
            self.next_non_space()
            word = tok.value
            if word in ("end", "else"):
                return None, tok
            if word in ("if", "range", "with"):
                return self._control(word, tok), None
            if word in ("break", "continue"):
                if not self.range_depth:
                    raise self.error(f"{{{{{word}}}}} outside {{{{range}}}}", tok)
                self.expect(Tok.RIGHT, word)
                cls = BreakNode if word == "break" else ContinueNode
                return cls(tok.line, tok.col), None
            if word == "template":
                return self._template(tok), None
            if word == "block":
                return self._block(tok), None
            raise self.error(f"unexpected {{{{{word}}}}}", tok)
        pipe = self._pipeline("command", Tok.RIGHT)
        return ActionNode(left.line, left.col, pipe), None

    def _nest(self, tok: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"nesting deeper than {MAX_NESTING}", tok)

    def _control(self, kind: str, tok: Token) -> BranchNode:
        self._nest(tok)
        mark = len(self.vars)
        pipe = self._pipeline(kind, Tok.RIGHT)
        if kind == "range":
            self.range_depth += 1
        body, term = self._item_list(kind)
        if kind == "range":
            self.range_depth -= 1
        else_list: ListNode | None = None
        if term.value == "else":
            nxt = self.peek_non_space()
            if kind in ("if", "with") and nxt.typ is Tok.KEYWORD and nxt.value == kind:
                # `{{else if}}` / `{{else with}}`: a nested control sharing our {{end}}
                self.next_non_space()
                else_list = ListNode(nxt.line, nxt.col, [self._control(kind, nxt)])
            else:
                self.expect(Tok.RIGHT, "else")
                else_list, term = self._item_list(kind)
                if term.value != "end":
                    raise self.error("expected end; found {{else}}", term)
                self.expect(Tok.RIGHT, "end")
        else:
            self.expect(Tok.RIGHT, "end")
        del self.vars[mark:]
        self.nesting -= 1
        return BranchNode(tok.line, tok.col, kind, pipe, body, else_list)

    def _template_name(self, context: str) -> str:
        tok = self.next_non_space()
        if tok.typ not in (Tok.STRING, Tok.RAW_STRING):
            raise self.error(f"unexpected {tok.describe()} in {context}", tok)
        try:
            return go_unquote(tok.value)
        except ValueError as exc:
            raise self.error(str(exc), tok) from None

    def _template(self, tok: Token) -> TemplateNode:
        name = self._template_name("template clause")
        pipe = None
        if self.peek_non_space().typ is not Tok.RIGHT:
            pipe = self._pipeline("template clause", Tok.RIGHT)
        else:
            self.next_non_space()
        return TemplateNode(tok.line, tok.col, name, pipe)

    def _define(self) -> None:
        self.next()  # left delim
        tok = self.next_non_space()  # define
        name = self._template_name("define clause")
        self.expect(Tok.RIGHT, "define clause")
        self._define_body(name, tok)

    def _define_body(self, name: str, tok: Token) -> None:
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        body, term = self._item_list("define")
        if term.value != "end":
            raise self.error("unexpected {{else}}", term)
        self.expect(Tok.RIGHT, "end")
        self.vars, self.range_depth = saved_vars, saved_depth
        self.defines[name] = body

    def _block(self, tok: Token) -> TemplateNode:
        name = self._template_name("block clause")
        pipe = self._pipeline("block clause", Tok.RIGHT)
        self._define_body(name, tok)
        return TemplateNode(tok.line, tok.col, name, pipe)

    # ---- pipelines -------------------------------------------------------

    def _pipeline(self, context: str, end: Tok) -> PipeNode:
        start = self.peek_non_space()
        pipe = PipeNode(start.line, start.col)
        if start.typ is Tok.VARIABLE:
            self._declarations(pipe, context)
        while True:
            tok = self.peek_non_space()
            if tok.typ is end:
                self.next_non_space()
                break
            if tok.typ in _OPERAND_START:
                pipe.cmds.append(self._command())
                continue
            raise self.error(f"unexpected {tok.describe()} in {context}", tok)
        if not pipe.cmds:
            raise self.error(f"missing value for {context}", start)
        for n, cmd in enumerate(pipe.cmds[1:], start=1):
            if isinstance(cmd.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.error(f"non executable command in pipeline stage {n + 1}", self._at(cmd))
        return pipe

    def _at(self, node: Node) -> Token:
        return Token(Tok.EOF, "", node.line, node.col)

    def _declarations(self, pipe: PipeNode, context: str) -> None:
        save = self.i
        first = self.next_non_space()
        op = self.next_non_space()
        names = [first.value]
        if op.typ is Tok.COMMA:
            if context != "range":
                raise self.error(f"too many declarations in {context}", op)
            second = self.next_non_space()
            if second.typ is not Tok.VARIABLE:
                raise self.error("range can only initialize variables", second)
            names.append(second.value)
            op = self.next_non_space()
            if op.typ not in (Tok.DECLARE, Tok.ASSIGN):
                raise self.error(f"unexpected {op.describe()} in range declaration", op)
        if op.typ not in (Tok.DECLARE, Tok.ASSIGN):
            self.i = save
            return
        pipe.is_assign = op.typ is Tok.ASSIGN
        for var in names:
            if pipe.is_assign and var not in self.vars:
                raise self.error(f"undefined variable {var!r}".replace("'", '"'), first)
        pipe.decl = names
        self.vars.extend(names)

    def _command(self) -> CommandNode:
        start = self.peek_non_space()
        cmd = CommandNode(start.line, start.col)
        while True:
            self.peek_non_space()
            operand = self._operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ is Tok.SPACE:
                continue
            if tok.typ in (Tok.RIGHT, Tok.RPAREN):
                self.i -= 1
            elif tok.typ is not Tok.PIPE:
                raise self.error(f"unexpected {tok.describe()} in operand", tok)
            break
        if not cmd.args:
            raise self.error("empty command", start)
        return cmd

    def _operand(self) -> Node | None:
        node = self._term()
        if node is None or self.peek().typ is not Tok.FIELD:
            return node
        fields: list[str] = []
        while self.peek().typ is Tok.FIELD:
            fields.append(self.next().value[1:])
        if isinstance(node, FieldNode):
            return FieldNode(node.line, node.col, node.idents + fields)
        if isinstance(node, VariableNode):
            return VariableNode(node.line, node.col, node.idents + fields)
        if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
            raise self.error("unexpected . after term", self._at(node))
        return ChainNode(node.line, node.col, node, fields)

    def _term(self) -> Node | None:
        tok = self.next_non_space()
        typ = tok.typ
        if typ is Tok.IDENT:
            self._check_function(tok)
            return IdentifierNode(tok.line, tok.col, tok.value)
        if typ is Tok.DOT:
            return DotNode(tok.line, tok.col)
        if typ is Tok.NIL:
            return NilNode(tok.line, tok.col)
        if typ is Tok.VARIABLE:
            if tok.value not in self.vars:
                raise self.error(f'undefined variable "{tok.value}"', tok)
            return VariableNode(tok.line, tok.col, [tok.value])
        if typ is Tok.FIELD:
            return FieldNode(tok.line, tok.col, [tok.value[1:]])
        if typ is Tok.BOOL:
            return BoolNode(tok.line, tok.col, tok.value == "true")
        if typ in (Tok.NUMBER, Tok.CHAR):
            try:
                return NumberNode(tok.line, tok.col, parse_number(tok), tok.value)
            except ValueError:
                raise self.error(f"illegal number syntax: {tok.value!r}", tok) from None
        if typ is Tok.LPAREN:
            self._nest(tok)
            pipe = self._pipeline("parenthesized pipeline", Tok.RPAREN)
            self.nesting -= 1
            return pipe
        if typ in (Tok.STRING, Tok.RAW_STRING):
            try:
                return StringNode(tok.line, tok.col, go_unquote(tok.value), tok.value)
            except ValueError:
                raise self.error(f"invalid syntax in string {tok.value}", tok) from None
        self.i -= 1
        return None

    def _check_function(self, tok: Token) -> None:
        name = tok.value
        reason = self.refusal(name)
        if reason is not None:
            raise self.error(f'function "{name}" is not supported ({reason})', tok)
        if not self.is_function(name):
            raise self.error(f'function "{name}" not defined', tok)
