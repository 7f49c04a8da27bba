"""Template: a parsed Go template and its renderer (text/template's exec:
pipelines, variables and their scopes, if/with/range/else, break/continue,
`template`/`define`, field access on maps and structs, `<no value>` for a
missing map key). Functions come from builtins.py, functions.py and
nomad_functions.py; data only through the RenderContext. Never writes files.

    tmpl = Template("local/app.conf", text)             # parse (TemplateError)
    result = tmpl.render(RenderContext(env=..., source=...))
    result.text, result.missing, result.deps
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .builtins import BUILTINS
from .errors import TemplateError
from .functions import HELPERS
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
from .nomad_functions import CONTEXT_FUNCS, is_unsupported
from .parser import Parser
from .sources import RenderContext
from .values import GoStruct, go_type, has_method, is_true, print_value, sorted_keys

MAX_OUTPUT = 16 * 1024 * 1024  # a runaway loop fails instead of filling the disk
MAX_DEPTH = 50  # nested {{ template }} calls
MAX_ITERATIONS = 10_000_000  # range steps in one render: hostile templates end


@dataclass(frozen=True)
class Func:
    fn: Callable[..., Any]
    needs_ctx: bool
    min_args: int
    max_args: int | None  # None: variadic


def _func(fn: Callable[..., Any], needs_ctx: bool) -> Func:
    params = list(inspect.signature(fn).parameters.values())
    if needs_ctx:
        params = params[1:]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
    fixed = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in fixed if p.default is p.empty]
    return Func(fn, needs_ctx, len(required), None if variadic else len(fixed))


FUNCS: dict[str, Func] = {
    **{name: _func(fn, False) for name, fn in {**BUILTINS, **HELPERS}.items()},
    **{name: _func(fn, True) for name, fn in CONTEXT_FUNCS.items()},
}
# `and` / `or` short-circuit: the renderer evaluates them itself
KNOWN = frozenset(FUNCS) | {"and", "or"}


_NO_FINAL = object()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass
class RenderResult:
    text: str
    deps: set[str] = field(default_factory=set)
    # data the template needs that does not exist yet (Nomad would wait for it)
    missing: list[str] = field(default_factory=list)


class Template:
    def __init__(self, name: str, text: str, left: str = "{{", right: str = "}}") -> None:
        self.name = name
        self.root, self.defines = Parser(
            name, text, KNOWN.__contains__, is_unsupported, left or "{{", right or "}}"
        ).parse()

    def render(self, ctx: RenderContext | None = None, data: Any = None) -> RenderResult:
        ctx = ctx or RenderContext()
        state = _State(self, ctx)
        state.vars = [("$", data)]
        try:
            state.walk(data, self.root)
        except RecursionError:
            raise TemplateError("template nesting too deep", self.name) from None
        return RenderResult("".join(state.out), set(ctx.deps), list(ctx.missing))


class _State:
    def __init__(self, tmpl: Template, ctx: RenderContext) -> None:
        self.tmpl = tmpl
        self.ctx = ctx
        self.out: list[str] = []
        self.size = 0
        self.vars: list[tuple[str, Any]] = []
        self.depth = 0
        self.steps = 0

    def error(self, node: Node, msg: str) -> TemplateError:
        return TemplateError(msg, self.tmpl.name, node.line, node.col)

    def write(self, node: Node, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise self.error(node, f"output exceeds {MAX_OUTPUT // (1024 * 1024)} MiB")
        self.out.append(text)

    # ---- variables -----------------------------------------------------

    def var(self, node: Node, name: str) -> Any:
        for vname, value in reversed(self.vars):
            if vname == name:
                return value
        raise self.error(node, f"undefined variable: {name}")

    def set_var(self, node: Node, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise self.error(node, f"undefined variable: {name}")

    # ---- statements ------------------------------------------------------

    def walk(self, dot: Any, node: Node) -> None:
        if isinstance(node, TextNode):
            self.write(node, node.text)
        elif isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, ActionNode):
            assert node.pipe is not None
            value = self.pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.write(node, print_value(value))
        elif isinstance(node, BranchNode):
            if node.kind == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_with(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        else:  # pragma: no cover - the parser makes no other nodes
            raise self.error(node, f"unknown node {type(node).__name__}")

    def walk_if_with(self, dot: Any, node: BranchNode) -> None:
        mark = len(self.vars)
        assert node.pipe is not None and node.body is not None
        value = self.pipeline(dot, node.pipe)
        if is_true(value):
            self.walk(value if node.kind == "with" else dot, node.body)
        elif node.else_list is not None:
            self.walk(dot, node.else_list)
        del self.vars[mark:]

    def walk_range(self, dot: Any, node: BranchNode) -> None:
        mark = len(self.vars)
        assert node.pipe is not None and node.body is not None
        value = self.pipeline(dot, node.pipe)
        items: Iterable[tuple[Any, Any]]
        if value is None:
            items = ()
        elif isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted_keys(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = ((i, i) for i in range(value))
        else:
            raise self.error(node, f"range can't iterate over {print_value(value)}")
        decl = node.pipe.decl
        ran = False
        for key, elem in items:
            ran = True
            self.steps += 1
            if self.steps > MAX_ITERATIONS:
                raise self.error(node, f"range exceeds {MAX_ITERATIONS} iterations")
            inner = len(self.vars)
            if decl:
                if node.pipe.is_assign:
                    self.set_var(node, decl[-1], elem)
                    if len(decl) > 1:
                        self.set_var(node, decl[0], key)
                else:
                    # the pipeline pushed the declared variables: overwrite them
                    self.vars[mark + len(decl) - 1] = (decl[-1], elem)
                    if len(decl) > 1:
                        self.vars[mark] = (decl[0], key)
            try:
                self.walk(elem, node.body)
            except _Continue:
                pass
            except _Break:
                del self.vars[inner:]
                break
            del self.vars[inner:]
        if not ran and node.else_list is not None:
            self.walk(dot, node.else_list)
        del self.vars[mark:]

    def walk_template(self, dot: Any, node: TemplateNode) -> None:
        body = self.tmpl.defines.get(node.name)
        if body is None:
            raise self.error(node, f'no such template "{node.name}"')
        value = self.pipeline(dot, node.pipe) if node.pipe is not None else None
        if self.depth >= MAX_DEPTH:
            raise self.error(node, "exceeded maximum template depth")
        saved = self.vars
        self.vars = [("$", value)]
        self.depth += 1
        try:
            self.walk(value, body)
        finally:
            self.depth -= 1
            self.vars = saved

    # ---- expressions -----------------------------------------------------

    def pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(pipe, name, value)
            else:
                self.vars.append((name, value))
        return value

    def command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            return self.field_chain(dot, dot, first, first.idents, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.call(dot, first, cmd.args, final)
        if isinstance(first, VariableNode):
            return self.variable(dot, first, cmd.args, final)
        self.not_a_function(first, cmd.args, final)
        if isinstance(first, PipeNode):
            return self.pipeline(dot, first)
        if isinstance(first, NilNode):
            raise self.error(first, "nil is not a command")
        return self.arg(dot, first)

    def not_a_function(self, node: Node, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            raise self.error(node, "can't give argument to non-function")

    def arg(self, dot: Any, node: Node) -> Any:
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, NilNode):
            return None
        if isinstance(node, FieldNode):
            return self.field_chain(dot, dot, node, node.idents, [node], _NO_FINAL)
        if isinstance(node, VariableNode):
            return self.variable(dot, node, [node], _NO_FINAL)
        if isinstance(node, PipeNode):
            return self.pipeline(dot, node)
        if isinstance(node, IdentifierNode):
            return self.call(dot, node, [node], _NO_FINAL)
        if isinstance(node, ChainNode):
            return self.chain(dot, node, [node], _NO_FINAL)
        if isinstance(node, (BoolNode, NumberNode, StringNode)):
            return node.value
        raise self.error(node, f"can't handle {type(node).__name__} as an argument")

    def variable(self, dot: Any, node: VariableNode, args: list[Node], final: Any) -> Any:
        value = self.var(node, node.idents[0])
        if len(node.idents) == 1:
            self.not_a_function(node, args, final)
            return value
        return self.field_chain(dot, value, node, node.idents[1:], args, final)

    def chain(self, dot: Any, node: ChainNode, args: list[Node], final: Any) -> Any:
        assert node.node is not None
        if isinstance(node.node, NilNode):
            raise self.error(node, "indirection through explicit nil")
        receiver = self.arg(dot, node.node)
        return self.field_chain(dot, receiver, node, node.fields, args, final)

    def field_chain(
        self, dot: Any, receiver: Any, node: Node, idents: list[str], args: list[Node], final: Any
    ) -> Any:
        for name in idents[:-1]:
            receiver = self.field(dot, name, node, [node], _NO_FINAL, receiver)
        return self.field(dot, idents[-1], node, args, final, receiver)

    def field(
        self, dot: Any, name: str, node: Node, args: list[Node], final: Any, receiver: Any
    ) -> Any:
        if receiver is None:
            if self.ctx.missing_key_error:
                raise self.error(node, f'nil data; no entry for key "{name}"')
            return None
        has_args = len(args) > 1 or final is not _NO_FINAL
        if has_method(receiver, name):
            argv = [self.arg(dot, a) for a in args[1:]]
            if final is not _NO_FINAL:
                argv.append(final)
            return self.invoke(node, name, getattr(receiver, name), argv)
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.error(node, f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.ctx.missing_key_error:
                raise self.error(node, f'map has no entry for key "{name}"')
            return None
        if isinstance(receiver, GoStruct) and name in receiver._fields:
            if has_args:
                raise self.error(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(receiver, name)
        raise self.error(node, f"can't evaluate field {name} in type {go_type(receiver)}")

    def call(self, dot: Any, node: IdentifierNode, args: list[Node], final: Any) -> Any:
        name = node.name
        if name in ("and", "or"):
            return self.and_or(dot, node, args[1:], final)
        spec = FUNCS[name]
        argv = [self.arg(dot, a) for a in args[1:]]
        if final is not _NO_FINAL:
            argv.append(final)
        got = len(argv)
        if spec.max_args is None and got < spec.min_args:
            raise self.error(
                node, f"wrong number of args for {name}: want at least {spec.min_args} got {got}"
            )
        if spec.max_args is not None and not spec.min_args <= got <= spec.max_args:
            want = spec.max_args if spec.min_args == spec.max_args else spec.min_args
            raise self.error(node, f"wrong number of args for {name}: want {want} got {got}")
        if spec.needs_ctx:
            argv.insert(0, self.ctx)
        return self.invoke(node, name, spec.fn, argv)

    def invoke(self, node: Node, name: str, fn: Callable[..., Any], argv: list[Any]) -> Any:
        try:
            return fn(*argv)
        except (TemplateError, _Break, _Continue):
            raise
        except Exception as exc:
            raise self.error(node, f"error calling {name}: {exc}") from None

    def and_or(self, dot: Any, node: IdentifierNode, args: list[Node], final: Any) -> Any:
        if not args and final is _NO_FINAL:
            raise self.error(node, f"wrong number of args for {node.name}: want at least 1 got 0")
        want = node.name == "or"
        value: Any = None
        for a in args:
            value = self.arg(dot, a)
            if is_true(value) == want:
                return value
        return final if final is not _NO_FINAL else value
