"""The Go template language as text/template renders it: actions, trimming,
delimiters, comments, control structures, variables, pipelines, literals,
field access and Go's printing (`<no value>`, maps, floats)."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.client.template import RenderContext, Template, TemplateError
from controlplane.client.template.values import NomadService

DATA: dict[str, Any] = {
    "name": "web",
    "port": 8080,
    "ratio": 2.5,
    "big": 1000000.0,
    "on": True,
    "off": False,
    "empty": "",
    "tags": ["b", "a"],
    "none": [],
    "m": {"k": "v", "n": {"deep": 1}},
    "svc": NomadService(Name="api", Address="10.0.0.1", Port=80, Tags=["x"]),
}


def render(text: str, data: Any = DATA, left: str = "{{", right: str = "}}", **ctx: Any) -> str:
    return Template("t.tpl", text, left, right).render(RenderContext(**ctx), data).text


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("plain text, no actions", "plain text, no actions"),
        ("{{ .name }}:{{ .port }}", "web:8080"),
        ("{{.name}}", "web"),
        ("{{ . | len }}", str(len(DATA))),
        ("{{ .m.n.deep }}", "1"),
        ("{{ .svc.Address }}:{{ .svc.Port }}", "10.0.0.1:80"),
        ("{{ $.name }}", "web"),
        ("{{ .ratio }} {{ .big }} {{ 1.0 }} {{ 0.0001 }} {{ 1e-5 }}", "2.5 1e+06 1 0.0001 1e-05"),
        ("{{ .on }} {{ .off }} {{ true }} {{ print nil }}", "true false true <nil>"),
        ("{{ .tags }} {{ .m }}", "[b a] map[k:v n:map[deep:1]]"),
        ("{{ .svc }}", "&{<nil> api <nil> 10.0.0.1 80 <nil> [x] <nil> <nil>}"),
        ('{{ "a\\tb\\u00e9\\x41" }}', "a\tbéA"),
        ("{{ `raw \\n {{ stays` }}", "raw \\n {{ stays"),
        ("{{ 'a' }} {{ 0x1F }} {{ 017 }} {{ 1_000 }} {{ -3 }} {{ +4 }}", "97 31 15 1000 -3 4"),
    ],
)
def test_actions_and_literals(text: str, out: str) -> None:
    assert render(text) == out


def test_missing_map_key_prints_no_value_as_go_does() -> None:
    assert render("[{{ .nope }}] [{{ .m.nope }}] [{{ .nope.deeper }}]") == (
        "[<no value>] [<no value>] [<no value>]"
    )
    assert render('{{ index .m "nope" }}') == "<no value>"
    assert render("{{ .x }}", data=None) == "<no value>"


def test_missing_key_error_option() -> None:
    with pytest.raises(TemplateError, match='map has no entry for key "nope"'):
        render("{{ .m.nope }}", missing_key_error=True)


def test_unknown_struct_field_is_an_error() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{ .svc.Nope }}")
    assert "can't evaluate field Nope in type *dependency.NomadService" in str(info.value)
    with pytest.raises(TemplateError, match="can't evaluate field x in type string"):
        render("{{ .name.x }}")


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("a  {{- .name }}", "aweb"),
        ("{{ .name -}}  \n\t b", "webb"),
        ("a \n {{- .name -}} \n b", "awebb"),
        ("x {{- /* note */ -}} y", "xy"),
        ("x {{/* note\n spanning lines */}} y", "x  y"),
        ("{{-3}}", "-3"),  # a dash without a space is a number
        ("{{ 3 -}} 4", "34"),
        ("{{- if .on }}\n  yes\n{{- end }}", "\n  yes"),
    ],
)
def test_whitespace_trimming_and_comments(text: str, out: str) -> None:
    assert render(text) == out


def test_custom_delimiters_leave_other_braces_alone() -> None:
    text = '[[ .name ]] {{ .port }} [[- "x" -]] ]]'
    assert render(text, left="[[", right="]]") == "web {{ .port }}x]]"
    # the traefik corpus idiom: triple braces around actions, double braces literal
    assert render("{{{ .port }}} `{{ .Name }}`", left="{{{", right="}}}") == "8080 `{{ .Name }}`"


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("{{ if .on }}a{{ end }}", "a"),
        ("{{ if .off }}a{{ else }}b{{ end }}", "b"),
        ("{{ if .off }}a{{ else if .empty }}b{{ else if .port }}c{{ else }}d{{ end }}", "c"),
        ("{{ if and .on .port }}y{{ end }}{{ if or .off .empty }}n{{ end }}", "y"),
        ("{{ and .on .port }} {{ or .off .empty .name }} {{ and .off .x.y }}", "8080 web false"),
        ("{{ if not .none }}empty{{ end }}", "empty"),
        ("{{ with .m.n }}{{ .deep }}{{ end }}", "1"),
        ("{{ with .nope }}x{{ else }}fallback{{ end }}", "fallback"),
        ("{{ with .off }}x{{ else with .name }}{{ . }}{{ end }}", "web"),
        ("{{ range .tags }}<{{ . }}>{{ end }}", "<b><a>"),
        ("{{ range $i, $t := .tags }}{{ $i }}={{ $t }};{{ end }}", "0=b;1=a;"),
        ("{{ range $t := .tags }}{{ $t }}{{ end }}", "ba"),
        ("{{ range $k, $v := .m }}{{ $k }}{{ end }}", "kn"),  # maps in key order
        ("{{ range .none }}x{{ else }}none{{ end }}", "none"),
        ("{{ range .nope }}x{{ else }}nil{{ end }}", "nil"),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        ('{{ range .tags }}{{ if eq . "a" }}{{ break }}{{ end }}{{ . }}{{ end }}', "b"),
        ('{{ range .tags }}{{ if eq . "b" }}{{ continue }}{{ end }}{{ . }}{{ end }}', "a"),
        ("{{ range .tags }}{{ $.name }}{{ end }}", "webweb"),
    ],
)
def test_control_structures(text: str, out: str) -> None:
    assert render(text) == out


def test_variables_scope_and_assignment() -> None:
    assert render("{{ $x := .name }}{{ $x }}") == "web"
    assert render("{{ $x := 1 }}{{ if .on }}{{ $x = 2 }}{{ end }}{{ $x }}") == "2"
    assert render("{{ $x := 1 }}{{ if .on }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}") == "21"
    assert render("{{ if $v := .name }}{{ $v }}{{ else }}{{ $v }}!{{ end }}") == "web"
    assert render("{{ $m := .m }}{{ $m.n.deep }}") == "1"
    with pytest.raises(TemplateError, match='undefined variable "\\$v"'):
        render("{{ if $v := .name }}{{ end }}{{ $v }}")


def test_pipelines_parentheses_and_chains() -> None:
    assert render('{{ .tags | join "," | toUpper }}') == "B,A"
    assert render('{{ printf "%s-%d" .name .port }}') == "web-8080"
    assert render('{{ .name | printf "%s!" }}') == "web!"
    assert render('{{ (index .tags 1) }}{{ (index .m "n").deep }}') == "a1"
    assert render("{{ len (slice .tags 1) }}") == "1"
    assert render("{{ (.svc).Name }}") == "api"


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ('{{ eq .port 8080 }} {{ eq .name "x" "web" }} {{ ne 1 2 }}', "true true true"),
        ('{{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.0 }}', "true true true false"),
        ('{{ len .name }} {{ len .tags }} {{ len "é" }}', "3 2 2"),
        ('{{ index .tags 0 }} {{ index .m "n" "deep" }}', "b 1"),
        ('{{ print 1 2 "a" 3 }}|{{ println "x" 1 }}', "1 2a3|x 1\n"),
        (
            '{{ printf "%5s|%-5s|%05d|%x|%X|%o|%t|%c" "a" "b" 42 255 255 8 true 65 }}',
            "    a|b    |00042|ff|FF|10|true|A",
        ),
        (
            '{{ printf "%.2f %e %g %v %q %%" 3.14159 1000.0 0.5 .tags "q" }}',
            '3.14 1.000000e+03 0.5 [b a] "q" %',
        ),
        ('{{ printf "%d %s" "x" }}', "%!d(string=x) %!s(MISSING)"),
        (
            '{{ html "<a href=\'x\'>&</a>" }} {{ urlquery "a b&c" }}',
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; a+b%26c",
        ),
    ],
)
def test_go_builtin_functions(text: str, out: str) -> None:
    assert render(text) == out


def test_define_template_and_block() -> None:
    text = '{{ define "item" }}<{{ . }}>{{ end }}{{ range .tags }}{{ template "item" . }}{{ end }}'
    assert render(text) == "<b><a>"
    assert render('{{ block "b" .name }}[{{ . }}]{{ end }}') == "[web]"


def test_runtime_errors_name_position_and_function() -> None:
    with pytest.raises(TemplateError) as info:
        render("line one\n  {{ index .tags 5 }}")
    assert str(info.value) == ("template: t.tpl:2:6: error calling index: index out of range: 5")
    with pytest.raises(TemplateError, match="incompatible types for comparison"):
        render('{{ eq .port "8080" }}')
    with pytest.raises(TemplateError, match="wrong number of args for join: want 2 got 1"):
        render('{{ join "," }}')
    with pytest.raises(TemplateError, match="range can't iterate over web"):
        render("{{ range .name }}{{ end }}")
    with pytest.raises(TemplateError, match='no such template "nope"'):
        render('{{ template "nope" }}')


def test_hostile_templates_end_with_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TemplateError, match="nesting deeper than 100"):
        render("{{ " + "(" * 150 + "1" + ")" * 150 + " }}")
    with pytest.raises(TemplateError, match="nesting deeper than 100"):
        render("{{ if 1 }}" * 150 + "{{ end }}" * 150)
    with pytest.raises(TemplateError, match="exceeded maximum template depth"):
        render('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}')
    monkeypatch.setattr("controlplane.client.template.render.MAX_ITERATIONS", 1000)
    with pytest.raises(TemplateError, match="range exceeds 1000 iterations"):
        render("{{ range 10 }}{{ range 1000 }}{{ end }}{{ end }}")
    with pytest.raises(TemplateError, match="loop: more than 1000000 steps"):
        render("{{ range loop 100000000 }}{{ end }}")
