"""Job files: HCL (python-hcl2) and JSON job specs -> `Job`; defaults, validation, `job init`.

parse_job(text, filename)      text -> canonicalised, validated Job
parse_job_api(text, filename)  text -> API-shaped dict (POST /v1/jobs/parse, Canonicalize=false)
decode_job(api_dict)           API dict (any key casing) -> Job, not canonicalised
job_from_api(api_dict)         API dict (any key casing) -> canonical Job (server side)
canonicalize(job)              fill Nomad's defaults (idempotent)
validate(job, filename, lines) raise JobSpecError on the first problem
init_template(short)           the text `job init` writes
parse_duration(s)              Go duration string -> int nanoseconds
"""

from .defaults import canonicalize, fill_block_defaults
from .durations import parse_duration
from .hcl import HCLSyntaxError
from .json_input import decode_job
from .parse import job_from_api, parse_job, parse_job_api
from .templates import init_template
from .validate import validate

__all__ = [
    "HCLSyntaxError",
    "canonicalize",
    "decode_job",
    "fill_block_defaults",
    "init_template",
    "job_from_api",
    "parse_duration",
    "parse_job",
    "parse_job_api",
    "validate",
]
