"""Entry points from job-file text: `parse_job_api` (API dict) and `parse_job` (Job).

Chooses HCL or JSON, resolves HCL2 variables, maps to the API shape, then
(for `parse_job`) decodes, canonicalises and validates with line numbers.
Holds no mapping or default rules itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlplane.structs import Job

from . import variables as hclvars
from .defaults import canonicalize, fill_block_defaults
from .hcl import LineIndex, line_index, parse_tree, tree_to_body
from .json_input import (
    Memo,
    decode_job,
    decode_normalized,
    load_json,
    looks_like_json,
    normalize_keys,
    split_json,
)
from .limits import check_hcl_tree, check_json_depth, check_text_size
from .mapping import Context, job_from_body
from .validate import validate


def _job_lines(index: LineIndex) -> LineIndex:
    """Re-root the index at the (first) job block; a bare `task "x"` also answers as group "x"."""
    job_key = next((k[0] for k in index if len(k) == 1 and k[0].startswith("job:")), None)
    if job_key is None:
        return {}
    lines: LineIndex = {}
    for key, line in index.items():
        if key[0] != job_key:
            continue
        rel = key[1:]
        lines.setdefault(rel, line)
        if rel and rel[0].startswith("task:"):
            group = "group:" + rel[0].split(":", 1)[1]
            lines.setdefault((group, *rel), line)
            if len(rel) == 1:
                lines.setdefault((group,), line)
    return lines


def _parse(
    text: str, filename: str, variables: Mapping[str, Any] | None
) -> tuple[dict[str, Any], LineIndex]:
    check_text_size(text, filename)
    if looks_like_json(text):
        kind, data = split_json(load_json(text, filename), filename)
        if kind == "api":
            return normalize_keys(data), {}
        body = hclvars.resolve(data, text, filename, variables)
        return job_from_body(body, Context(filename)), {}
    tree = parse_tree(text, filename)
    check_hcl_tree(tree, filename)
    index = line_index(tree)
    body = hclvars.resolve(tree_to_body(tree), text, filename, variables)
    lines = _job_lines(index)
    return job_from_body(body, Context(filename, lines, top=index)), lines


def parse_job_api(
    text: str, filename: str = "<input>", *, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Job file text (HCL or JSON) -> Nomad API-shaped job dict, not canonicalised.

    `variables` play the part of `-var name=value` flags for HCL2 variables.
    """
    api, _ = _parse(text, filename, variables)
    return api


def job_from_api(api: Mapping[str, Any], filename: str = "", *, depth_checked: bool = False) -> Job:
    """An API-submitted job dict (any key casing) -> canonical Job, not validated.

    What the server should call on `POST /v1/jobs` bodies: unlike decoding and
    then `canonicalize`, it still sees which policy fields were left unset.
    `depth_checked`: the caller already bounded the nesting of a document
    holding `api` (the HTTP layer's read_body), so it is not walked again.
    """
    if not depth_checked:
        check_json_depth(api, filename)
    # keys are normalised before the defaults are merged (which reads them by
    # their wire names) and again after (merged blocks keep what the user
    # wrote): the second pass walks only what the merge made new
    memo: Memo = {}
    filled = fill_block_defaults(normalize_keys(dict(api), Job, memo))
    return canonicalize(decode_normalized(normalize_keys(filled, Job, memo), filename))


def parse_job(
    text: str, filename: str = "<input>", *, variables: Mapping[str, Any] | None = None
) -> Job:
    """Job file text (HCL or JSON) -> canonicalised, validated Job.

    Raises JobSpecError (with file and, for HCL, line) on any problem.
    """
    api, lines = _parse(text, filename, variables)
    job = canonicalize(decode_job(fill_block_defaults(api), filename, lines))
    validate(job, filename, lines)
    return job
