"""consul-template's functions as Nomad provides them: env, nomadService(s),
nomadVar/nomadVarList/nomadVarExists over a fake source, and the helpers
(strings, encodings, parsing, JSON, math); plus the `env = true` format."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.client.template import (
    RenderContext,
    StaticSource,
    Template,
    TemplateError,
    parse_env_file,
)


def reg(id_: str, name: str, address: str, port: int, tags: list[str] | None = None) -> dict:
    return {
        "ID": id_,
        "ServiceName": name,
        "Namespace": "default",
        "NodeID": "node-1",
        "Datacenter": "dc1",
        "JobID": "job",
        "AllocID": "alloc-" + id_,
        "Address": address,
        "Port": port,
        "Tags": tags or [],
    }


def source() -> StaticSource:
    return StaticSource(
        services={
            ("default", "redis"): [
                reg("r1", "redis", "10.0.0.1", 6379, ["primary", "v7"]),
                reg("r2", "redis", "10.0.0.2", 6380, ["replica"]),
            ],
            ("other", "redis"): [reg("o1", "redis", "10.9.9.9", 1)],
        },
        variables={
            ("default", "nomad/jobs/app"): {"user": "bob", "password": "s3cret"},
            ("default", "nomad/jobs/app/extra"): {"k": "v"},
            ("other", "nomad/jobs/app"): {"user": "eve"},
        },
    )


def render(text: str, **ctx: Any) -> str:
    ctx.setdefault("source", source())
    ctx.setdefault("env", {"NOMAD_ALLOC_ID": "a1b2", "EMPTY": ""})
    return Template("t", text).render(RenderContext(**ctx)).text


def test_env_reads_only_the_task_environment() -> None:
    assert render('{{ env "NOMAD_ALLOC_ID" }}|{{ env "HOME" }}|{{ env "EMPTY" }}') == "a1b2||"
    assert render('{{ envOrDefault "EMPTY" "d" }} {{ envOrDefault "NOMAD_ALLOC_ID" "d" }}') == (
        "d a1b2"
    )
    with pytest.raises(TemplateError, match="mustEnv: environment variable not set: HOME"):
        render('{{ mustEnv "HOME" }}')


def test_nomad_service_lists_registrations_as_structs() -> None:
    text = (
        '{{ range nomadService "redis" }}{{ .Name }} {{ .Address }}:{{ .Port }} {{ .Tags }}\n'
        "{{ end }}"
    )
    assert render(text) == "redis 10.0.0.1:6379 [primary v7]\nredis 10.0.0.2:6380 [replica]\n"
    assert render('{{ range nomadService "primary.redis" }}{{ .ID }}{{ end }}') == "r1"
    assert render('{{ range nomadService "redis?ns=other" }}{{ .Address }}{{ end }}') == "10.9.9.9"
    assert render('{{ range nomadService "nope" }}x{{ else }}none{{ end }}') == "none"
    assert render('{{ with index (nomadService "redis") 0 }}{{ .AllocID }}{{ end }}') == "alloc-r1"
    assert render('{{ range $i, $s := nomadService "redis" }}{{ $i }}{{ $s.JobID }}{{ end }}') == (
        "0job1job"
    )


def test_nomad_service_in_another_namespace_by_context() -> None:
    assert render('{{ range nomadService "redis" }}{{ .ID }}{{ end }}', namespace="other") == "o1"


def test_nomad_service_rejects_malformed_queries() -> None:
    with pytest.raises(TemplateError, match=r"nomad\.service: invalid format"):
        render('{{ nomadService "bad name!" }}')


def test_nomad_services_lists_names_and_tags() -> None:
    text = "{{ range nomadServices }}{{ .Name }}={{ .Tags }}{{ end }}"
    assert render(text) == "redis=[primary replica v7]"


def test_nomad_var_items_by_key_and_in_range() -> None:
    assert render('{{ with nomadVar "nomad/jobs/app" }}{{ .user }}:{{ .password }}{{ end }}') == (
        "bob:s3cret"
    )
    text = '{{ range $k, $v := nomadVar "nomad/jobs/app" }}{{ $k }}={{ $v }};{{ end }}'
    assert render(text) == "password=s3cret;user=bob;"
    assert render('{{ (nomadVar "nomad/jobs/app").user.Value }}') == "bob"
    assert render('{{ (nomadVar "nomad/jobs/app").Keys }}') == "[password user]"
    assert render('{{ with nomadVar "nomad/jobs/app" }}{{ .nope }}{{ end }}') == "<no value>"
    assert render('{{ with nomadVar "nomad/jobs/app@other" }}{{ .user }}{{ end }}') == "eve"
    assert render('{{ with nomadVar "nomad/jobs/app" }}{{ .user | toUpper }}{{ end }}') == "BOB"
    assert render('{{ nomadVar "nomad/jobs/app" | toJSON }}') == (
        '{"password":"s3cret","user":"bob"}'
    )


def test_missing_nomad_var_is_recorded_not_fatal() -> None:
    result = Template("t", '{{ with nomadVar "nomad/jobs/none" }}x{{ end }}').render(
        RenderContext(source=source())
    )
    assert result.text == ""
    assert result.missing == ["nomad.var.block(nomad/jobs/none@default.global)"]
    assert result.deps == {"nomad.var.block(nomad/jobs/none@default.global)"}


def test_nomad_var_list_and_exists() -> None:
    assert render('{{ range nomadVarList "nomad/jobs/app" }}{{ . }} {{ end }}') == (
        "nomad/jobs/app nomad/jobs/app/extra "
    )
    assert render("{{ len nomadVarList }}") == "2"
    assert render('{{ nomadVarExists "nomad/jobs/app" }} {{ nomadVarExists "x" }}') == (
        "true false"
    )


def test_data_functions_record_dependencies() -> None:
    result = Template("t", '{{ env "X" }}{{ nomadService "redis" }}').render(
        RenderContext(source=source())
    )
    assert result.deps == {"nomad.service(redis)"}


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ('{{ "a, b,c" | split "," | join "|" }}', "a| b|c"),
        ('{{ split "," "" | len }}', "0"),
        (
            '{{ "Hello" | toUpper }} {{ "Hello" | toLower }} {{ "hello world" | toTitle }}',
            "HELLO hello Hello World",
        ),
        ('{{ "  pad \\n" | trimSpace }}|', "pad|"),
        ('{{ "a-b-c" | replaceAll "-" "+" }}', "a+b+c"),
        ('{{ "hello" | trimPrefix "he" }} {{ "hello" | trimSuffix "lo" }}', "llo hel"),
        ('{{ "aGVsbG8=" | base64Decode }} {{ "hello" | base64Encode }}', "hello aGVsbG8="),
        ('{{ "a?b" | base64URLEncode | base64URLDecode }}', "a?b"),
        ('{{ if "abc" | contains "b" }}y{{ end }}{{ if contains "z" "abc" }}n{{ end }}', "y"),
        ('{{ $t := split "," "a,b" }}{{ if in $t "b" }}in{{ end }}', "in"),
        (
            '{{ parseInt "42" | add 1 }} {{ parseBool "true" }} {{ parseFloat "1.5" }}',
            "43 true 1.5",
        ),
        ('{{ (parseJSON "{\\"a\\": [1, 2.5]}").a }}', "[1 2.5]"),
        (
            '{{ parseJSON "{\\"b\\":1,\\"a\\":\\"<x>\\"}" | toJSON }}',
            '{"a":"\\u003cx\\u003e","b":1}',
        ),
        ('{{ parseJSON "{\\"a\\":[1]}" | toJSONPretty }}', '{\n  "a": [\n    1\n  ]\n}'),
        (
            '{{ "abc" | sha256Hex }}',
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        ('{{ "abc" | md5sum }}', "900150983cd24fb0d6963f7d28e17f72"),
        ("{{ subtract 2 5 }} {{ multiply 3 4 }} {{ divide 2 7 }} {{ modulo 3 7 }}", "3 12 3 1"),
        ("{{ minimum 2 5 }} {{ maximum 2 5 }} {{ divide 2 5.0 }}", "2 5 2.5"),
        (
            '{{ regexMatch "^v[0-9]+$" "v12" }} {{ regexReplaceAll "(a)(b)" "$2$1" "xab" }}',
            "true xba",
        ),
        ('{{ indent 2 "a\\nb" }}', "  a\n  b"),
        ("{{ range loop 2 4 }}{{ . }}{{ end }}", "23"),
        (
            '{{ range $t, $s := nomadService "redis" | byTag }}{{ $t }} {{ end }}',
            "primary replica v7 ",
        ),
    ],
)
def test_helper_functions(text: str, out: str) -> None:
    assert render(text) == out


def test_helper_errors_are_named() -> None:
    with pytest.raises(TemplateError, match="error calling base64Decode: base64Decode"):
        render('{{ "%%%" | base64Decode }}')
    with pytest.raises(TemplateError, match=r'error calling parseInt: .*parsing "x"'):
        render('{{ parseInt "x" }}')
    with pytest.raises(TemplateError, match="expected string; got int"):
        render("{{ 5 | toUpper }}")


def test_timestamp_formats() -> None:
    assert render("{{ timestamp }}").endswith("Z")
    assert render('{{ timestamp "unix" }}').isdigit()
    assert len(render('{{ timestamp "2006-01-02" }}')) == 10


def test_env_file_format() -> None:
    text = (
        "# comment\n"
        "\n"
        "A=1\n"
        "  B = spaced value   # trailing comment\n"
        'export C="quoted \\"x\\"\\n#not comment"\n'
        "D='single $x \\n'\n"
        "E=\n"
    )
    assert parse_env_file(text) == {
        "A": "1",
        "B": "spaced value",
        "C": 'quoted "x"\n#not comment',
        "D": "single $x \\n",
        "E": "",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NOEQUALS", 'missing "="'),
        ("=v", "empty key"),
        ("1A=v", "key must be"),
        ('A="open', 'unmatched "'),
        ("A='open", "unmatched '"),
        ('A="\\q"', "invalid escape sequence: q"),
    ],
)
def test_env_file_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_env_file("OK=1\n" + text, "local/env")
    assert info.value.line == 2
    assert message in str(info.value)
    assert str(info.value).startswith("template: local/env:2: ")
