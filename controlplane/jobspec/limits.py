"""Bounds on hostile job input: text size, nesting depth, and counts that
would blow up the scheduler. Checks only; never parses or changes a job.

Nomad itself has no such limits (a Go decoder does not overflow a stack);
Python's recursive decoders and transforms do, at ~1,000 frames, so every
nesting is refused well before that with a message naming what is too deep.

    MAX_JOB_FILE_BYTES   1 MiB of job file text (HCL or JSON); hand-written
                         jobs are a few KiB, and HCL parses at ~70 KiB/s
    MAX_NESTING_DEPTH    64 levels of objects/arrays (JSON) or of blocks,
                         objects, tuples and calls (HCL); real jobs use < 15
    MAX_HCL_TREE_DEPTH   300 levels of parse tree: python-hcl2's transform
                         takes ~2 frames per level (long `a + a + ...`
                         chains nest too)
    MAX_GROUP_COUNT      10,000 allocations per task group
    MAX_TASK_GROUPS      100 task groups per job
    MAX_TASKS            100 tasks per task group
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import Any

from lark import Tree

from controlplane.errors import JobSpecError

MIB = 1024 * 1024
MAX_JOB_FILE_BYTES = 1 * MIB
MAX_NESTING_DEPTH = 64
MAX_HCL_TREE_DEPTH = 300
MAX_GROUP_COUNT = 10_000
MAX_TASK_GROUPS = 100
MAX_TASKS = 100

_values = dict.values

# parse-tree nodes that open one level of nesting a user would count
_HCL_NESTING = frozenset({"block", "object", "tuple", "function_call", "expr_term_paren"})


def json_depth(value: Any, limit: int = MAX_NESTING_DEPTH) -> int:
    """Nesting depth of decoded JSON (a scalar is 0, `{}` is 1); stops
    counting at `limit + 1`, so a hostile document costs no more than that.
    Iterative, a level at a time: a depth check must not itself overflow
    the stack, and only containers are ever queued (one pass per level over
    all their children, in C where it can: the check runs on every body)."""
    if not isinstance(value, dict | list):
        return 0
    depth = 0
    level: list[Any] = [value]
    while level:
        depth += 1
        if depth > limit:
            return depth
        dicts = [node for node in level if isinstance(node, dict)]
        children: Iterable[Any] = chain.from_iterable(map(_values, dicts))
        if len(dicts) < len(level):
            lists = [node for node in level if not isinstance(node, dict)]
            children = chain(children, chain.from_iterable(lists))
        level = [child for child in children if isinstance(child, dict | list)]
    return depth


def nesting_message(what: str, limit: int = MAX_NESTING_DEPTH) -> str:
    return f"{what} is nested too deeply (more than {limit} levels)"


def check_json_depth(value: Any, filename: str = "", what: str = "job") -> None:
    """JobSpecError when decoded JSON nests deeper than MAX_NESTING_DEPTH."""
    if json_depth(value) > MAX_NESTING_DEPTH:
        raise JobSpecError(nesting_message(what), filename)


def check_text_size(text: str, filename: str = "") -> None:
    """JobSpecError when a job file is larger than MAX_JOB_FILE_BYTES."""
    if len(text) * 4 <= MAX_JOB_FILE_BYTES:  # a character is at most 4 bytes
        return
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_JOB_FILE_BYTES:
        raise JobSpecError(
            f"job file is too large ({size} bytes; the limit is {MAX_JOB_FILE_BYTES} bytes)",
            filename,
        )


def check_hcl_tree(tree: Tree, filename: str = "") -> None:
    """JobSpecError, with the line where it happens, when an HCL parse tree
    nests deeper than a user-visible MAX_NESTING_DEPTH or a raw
    MAX_HCL_TREE_DEPTH (both walked without recursion)."""
    stack: list[tuple[Tree, int, int]] = [(tree, 1, 0)]
    while stack:
        node, depth, nesting = stack.pop()
        if node.data in _HCL_NESTING:
            nesting += 1
        if nesting > MAX_NESTING_DEPTH:
            raise JobSpecError(nesting_message("job"), filename, _line(node))
        if depth > MAX_HCL_TREE_DEPTH:
            raise JobSpecError(
                f"expression is nested too deeply (parse tree deeper than {MAX_HCL_TREE_DEPTH})",
                filename,
                _line(node),
            )
        stack.extend((c, depth + 1, nesting) for c in node.children if isinstance(c, Tree))


def _line(node: Tree) -> int | None:
    line = getattr(node.meta, "line", None) if not node.meta.empty else None
    return int(line) if line else None
