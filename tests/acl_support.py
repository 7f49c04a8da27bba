"""ACL setup for tests against a real agent with ACLs on: the bootstrap token,
a policy with a client token bound to it, and the header that carries a
token. What the tokens may do is for the tests to assert."""

from __future__ import annotations

from typing import Any

import httpx


def auth(token: dict[str, Any] | str) -> dict[str, str]:
    """The X-Nomad-Token header for a token (its object, or its secret)."""
    secret = token if isinstance(token, str) else token["SecretID"]
    return {"X-Nomad-Token": secret}


def bootstrap(api: httpx.Client) -> dict[str, Any]:
    """The management token from a first `POST /v1/acl/bootstrap`."""
    resp = api.post("/v1/acl/bootstrap")
    assert resp.status_code == 200, resp.text
    token: dict[str, Any] = resp.json()
    return token


def make_token(
    api: httpx.Client, mgmt: dict[str, Any] | str, name: str, rules: str
) -> dict[str, Any]:
    """Policy `name` with `rules`, and a client token `name` bound to it."""
    policy = {"Name": name, "Rules": rules}
    resp = api.put(f"/v1/acl/policy/{name}", headers=auth(mgmt), json=policy)
    assert resp.status_code == 200, resp.text
    resp = api.put(
        "/v1/acl/token",
        headers=auth(mgmt),
        json={"Name": name, "Type": "client", "Policies": [name]},
    )
    assert resp.status_code == 200, resp.text
    token: dict[str, Any] = resp.json()
    return token
