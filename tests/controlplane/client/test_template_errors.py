"""Templates that cannot render fail with Go's messages, naming the template,
line and column; unsupported consul-template functions are refused at parse
time, naming the function and why."""

from __future__ import annotations

import pytest

from controlplane.client.template import UNSUPPORTED, RenderContext, Template, TemplateError


def parse_error(text: str, left: str = "{{", right: str = "}}") -> TemplateError:
    with pytest.raises(TemplateError) as info:
        Template("local/app.conf", text, left, right)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("{{ .a", 1, 1, "unclosed action"),
        ("ok\n\n  {{ if .a }}x", 3, 15, "unexpected EOF in if"),
        ("{{ end }}", 1, 4, "unexpected {{end}}"),
        ("{{ else }}", 1, 4, "unexpected {{else}}"),
        ("{{ if }}{{ end }}", 1, 7, "missing value for if"),
        ("{{ }}", 1, 4, "missing value for command"),
        ("x\n{{ $y }}", 2, 4, 'undefined variable "$y"'),
        ("{{ nope 1 }}", 1, 4, 'function "nope" not defined'),
        ('{{ "abc }}', 1, 4, "unterminated quoted string"),
        ("{{ `abc }}", 1, 4, "unterminated raw quoted string"),
        ("{{ 12ab }}", 1, 4, "bad number syntax: '12ab'"),
        ("{{ /* c */ }}", 1, 4, "unexpected '/' in command"),
        ("{{/* c */ x }}", 1, 10, "comment ends before closing delimiter"),
        ("{{/* c ", 1, 1, "unclosed comment"),
        ("{{ break }}", 1, 4, "{{break}} outside {{range}}"),
        ("{{ (1 }}", 1, 7, "unclosed left paren"),
        ("{{ 1) }}", 1, 5, "unexpected right paren"),
        ("{{ .a | 3 }}", 1, 9, "non executable command in pipeline stage 2"),
        ("{{ if 1 }}{{ else }}{{ else }}{{ end }}", 1, 24, "expected end; found {{else}}"),
        ("{{ $x, $y := .a }}", 1, 6, "too many declarations in command"),
    ],
)
def test_parse_errors_name_line_and_column(text: str, line: int, col: int, message: str) -> None:
    err = parse_error(text)
    assert (err.name, err.line, err.col, err.detail) == ("local/app.conf", line, col, message)
    assert str(err) == f"template: local/app.conf:{line}:{col}: {message}"


@pytest.mark.parametrize(
    ("text", "function", "reason"),
    [
        ('{{ key "service/redis/maxconns" }}', "key", "Consul KV is not available in nomadtui"),
        ('{{ keyOrDefault "a" "b" }}', "keyOrDefault", "Consul KV is not available in nomadtui"),
        ('{{ range service "redis" }}{{ end }}', "service", "Consul is not available"),
        ('{{ with secret "kv/data/x" }}{{ .Data }}{{ end }}', "secret", "Vault is not available"),
        ('{{ with pkiCert "pki/issue/x" }}{{ end }}', "pkiCert", "Vault is not available"),
        ('{{ sockaddr "GetPrivateIP" }}', "sockaddr", "go-sockaddr"),
        ('{{ "a" | sprig_upper }}', "sprig_upper", "Sprig functions"),
    ],
)
def test_unsupported_functions_are_refused_by_name(text: str, function: str, reason: str) -> None:
    err = parse_error("config:\n  " + text)
    assert err.detail.startswith(f'function "{function}" is not supported (')
    assert reason in err.detail
    assert (err.line, err.col) == (2, text.index(function) + 3)


def test_unsupported_function_in_a_branch_never_taken_still_fails() -> None:
    # refused when the template is parsed, before the task starts, not when reached
    err = parse_error('{{ if false }}{{ key "x" }}{{ end }}')
    assert 'function "key" is not supported (Consul KV is not available in nomadtui)' in str(err)


def test_every_refused_function_has_a_reason() -> None:
    assert {"key", "secret", "service", "sockaddr"} <= set(UNSUPPORTED)
    assert all(reason for reason in UNSUPPORTED.values())


def test_custom_delimiters_in_error_positions() -> None:
    err = parse_error("a\n<< nope >>", left="<<", right=">>")
    assert (err.line, err.col, err.detail) == (2, 4, 'function "nope" not defined')


def test_data_functions_without_a_source_fail_clearly() -> None:
    with pytest.raises(TemplateError) as info:
        Template("t", '{{ nomadService "x" }}').render(RenderContext())
    assert "error calling nomadService: nomadService needs the Nomad servers" in str(info.value)
