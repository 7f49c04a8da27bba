"""HCL syntax errors: file, line and column with a short readable reason."""

from __future__ import annotations

import pytest

from controlplane.errors import JobSpecError
from controlplane.jobspec import HCLSyntaxError, parse_job

CASES = [
    (
        "missing-value",
        'job "e" {\n  group "g" {\n    count =\n  }\n}\n',
        "e.nomad:3:12: unexpected end of line: expected a value",
    ),
    (
        "unclosed-block",
        'job "e" {\n  group "g" {\n    count = 1\n  }\n',
        "e.nomad:5:1: unexpected end of file (missing '}' or closing quote?)",
    ),
    (
        "missing-equals",
        'job "e" {\n  datacenters ["dc1"]\n}\n',
        "e.nomad:2:15: unexpected '[': expected '=' after the attribute name",
    ),
    (
        "hcl1-quoted-key",
        'job "e" {\n  task "t" {\n    env {\n      "KEY" = "v"\n    }\n  }\n}\n',
        "e.nomad:4:7: quoted attribute name is HCL1 syntax; use a bare name, or an "
        'attribute map such as env = { "KEY" = "value" }',
    ),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_syntax_error_is_located_and_readable(text: str, message: str) -> None:
    with pytest.raises(HCLSyntaxError) as info:
        parse_job(text, "e.nomad")
    assert str(info.value) == message
    assert isinstance(info.value, JobSpecError)
    assert "Expected one of" not in str(info.value)


def test_syntax_error_fields() -> None:
    with pytest.raises(HCLSyntaxError) as info:
        parse_job('job "e" {\n  a = \n}\n', "e.nomad")
    assert (info.value.file, info.value.line) == ("e.nomad", 2)
    assert info.value.column > 0


def test_heredoc_end_marker_with_trailing_blanks_is_accepted() -> None:
    text = (
        'job "h" {\n  task "t" {\n    driver = "exec"\n    template {\n'
        '      destination = "local/a"\n      data = <<EOH\nkey: value\nEOH   \n'
        "    }\n  }\n}\n"
    )
    job = parse_job(text)
    templates = job.task_groups[0].tasks[0].templates
    assert templates is not None
    assert templates[0]["EmbeddedTmpl"] == "key: value\n"


def test_unterminated_heredoc() -> None:
    text = 'job "h" {\n  task "t" {\n    driver = "exec"\n    env = <<EOH\nA=1\n  }\n}\n'
    with pytest.raises(HCLSyntaxError) as info:
        parse_job(text, "h.nomad")
    assert info.value.line == 4
    assert "unterminated heredoc '<<EOH'" in str(info.value)
