"""nomadtui: a Nomad-style console and CLI that talk to a control plane over HTTP.

This package never imports control-plane internals (server, state, scheduler,
client); it shares only `controlplane.structs`, `controlplane.errors` and
`controlplane.jobspec`.
"""

__version__ = "0.1.0"
