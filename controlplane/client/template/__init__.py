"""Go text/template, as Nomad's `template` blocks use it (the consul-template
functions that make sense without Consul and Vault), rendered offline from a
RenderContext. The task hook that writes rendered files is
controlplane/client/template_hook.py.

    Template(name, text, left, right)   parse; TemplateError names line:column
    Template.render(ctx) -> RenderResult
    RenderContext(env, source, namespace, region, missing_key_error)
    TemplateSource / StaticSource       where nomadService / nomadVar read
    parse_env_file(text)                `env = true` output into variables
"""

from .envfile import parse_env_file
from .errors import TemplateError
from .nomad_functions import UNSUPPORTED
from .render import RenderResult, Template
from .sources import RenderContext, StaticSource, TemplateSource

__all__ = [
    "UNSUPPORTED",
    "RenderContext",
    "RenderResult",
    "StaticSource",
    "Template",
    "TemplateError",
    "TemplateSource",
    "parse_env_file",
]
