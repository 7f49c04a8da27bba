"""HTTP API (Starlette): Nomad's /v1 routes, thin over the server and client."""
