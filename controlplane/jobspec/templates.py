"""`job init` templates: the example job file, read from package data.

Owns only the template texts (controlplane/jobspec/templates/*.nomad); writing
files and refusing to overwrite is the CLI's business.
"""

from __future__ import annotations

from importlib import resources

EXAMPLE_FILENAME = "example.nomad"


def init_template(short: bool = False) -> str:
    """The job file `job init` writes: the commented example, or the comment-free `-short` one."""
    name = "example-short.nomad" if short else "example.nomad"
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")
