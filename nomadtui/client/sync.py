"""The synchronous Nomad HTTP API client used by the CLI (and TUI workers).

Owns I/O over httpx and the endpoint convenience methods. Every non-2xx
response becomes a `controlplane.errors` exception; every transport failure
becomes `AgentUnreachable`. It holds no Textual or CLI concerns.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from controlplane.errors import NomadError

from .core import (
    AgentUnreachable,
    ClientConfig,
    Response,
    TLSConfig,
    blocking_params,
    describe_transport_error,
    raise_for_status,
    read_timeout,
    response_meta,
)
from .frames import FrameDecoder, StreamFrame

Params = Mapping[str, Any] | None

# HTTP `Digest` algorithm names (RFC 3230) -> hashlib names.
_DIGEST_ALGORITHMS = {"sha-256": "sha256", "sha-512": "sha512", "md5": "md5"}


class SnapshotDigestMismatch(NomadError):
    """A snapshot whose body does not match its `Digest` header (or an unusable one)."""


class NomadClient:
    """Blocking-query aware client for the `/v1/` API.

    `transport` lets tests inject `httpx.MockTransport`; `env` replaces
    `os.environ` for the NOMAD_* defaults.
    """

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
        region: str | None = None,
        timeout: float = 30.0,
        *,
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] | None = None,
        tls: TLSConfig | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(address, token, namespace, region, timeout, env, tls)
        self._http = httpx.Client(
            base_url=self.config.address,
            headers=self.config.headers(),
            timeout=timeout,
            transport=transport,
            verify=self.config.verify(),
        )

    @property
    def address(self) -> str:
        return self.config.address

    def _unreachable(self, exc: httpx.TransportError) -> AgentUnreachable:
        reason = describe_transport_error(exc)
        # a TLS listener hangs up on a plain-HTTP request, and (TLS 1.3) on a
        # caller without the client certificate it requires, after the handshake
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            if self.address.startswith("http://"):
                reason += "; if the agent serves TLS, use an https:// address"
            elif not self.config.tls.client_cert:
                reason += (
                    "; if the agent requires client certificates, "
                    "set -client-cert and -client-key (NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY)"
                )
        return AgentUnreachable(self.address, reason)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NomadClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- generic verbs -------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: Params = None,
        body: Any = None,
        *,
        timeout: float | None = None,
    ) -> Response:
        try:
            resp = self._http.request(
                method,
                path,
                params=self.config.params(params),
                json=body,
                timeout=timeout if timeout is not None else self.config.timeout,
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        raise_for_status(resp.status_code, resp.text)
        data = resp.json() if resp.content.strip() else None
        return response_meta(data, resp.headers)

    def get(
        self, path: str, params: Params = None, index: int | None = None, wait: float | None = None
    ) -> Response:
        merged = {**(params or {}), **blocking_params(index, wait)}
        return self.request(
            "GET", path, merged, timeout=read_timeout(self.config.timeout, wait, index)
        )

    def put(self, path: str, body: Any = None, params: Params = None) -> Response:
        return self.request("PUT", path, params, body)

    def delete(self, path: str, params: Params = None) -> Response:
        return self.request("DELETE", path, params)

    # -- jobs ----------------------------------------------------------------

    def jobs(self, prefix: str | None = None, **blocking: Any) -> Response:
        return self.get("/v1/jobs", {"prefix": prefix or None}, **blocking)

    def job(self, job_id: str, namespace: str | None = None, **blocking: Any) -> Response:
        return self.get(f"/v1/job/{job_id}", _ns(namespace), **blocking)

    def register_job(
        self,
        job: Mapping[str, Any],
        enforce_index: int | None = None,
        submission: Mapping[str, Any] | None = None,
    ) -> Response:
        body: dict[str, Any] = {"Job": job}
        if enforce_index is not None:
            body["EnforceIndex"] = True
            body["JobModifyIndex"] = enforce_index
        if submission is not None:
            body["Submission"] = submission
        return self.put("/v1/jobs", body)

    def deregister_job(
        self, job_id: str, purge: bool = False, namespace: str | None = None
    ) -> Response:
        return self.delete(f"/v1/job/{job_id}", {"purge": purge, **_ns(namespace)})

    def job_allocations(
        self, job_id: str, all: bool = False, namespace: str | None = None, **blocking: Any
    ) -> Response:
        params = {"all": True if all else None, **_ns(namespace)}
        return self.get(f"/v1/job/{job_id}/allocations", params, **blocking)

    def job_evaluations(
        self, job_id: str, namespace: str | None = None, **blocking: Any
    ) -> Response:
        return self.get(f"/v1/job/{job_id}/evaluations", _ns(namespace), **blocking)

    def job_summary(self, job_id: str, namespace: str | None = None, **blocking: Any) -> Response:
        return self.get(f"/v1/job/{job_id}/summary", _ns(namespace), **blocking)

    def job_deployment(
        self, job_id: str, namespace: str | None = None, **blocking: Any
    ) -> Response:
        return self.get(f"/v1/job/{job_id}/deployment", _ns(namespace), **blocking)

    def parse_job(self, hcl: str, canonicalize: bool = False) -> Any:
        return self.put("/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": canonicalize}).data

    def plan_job(self, job: Mapping[str, Any], diff: bool = True) -> Response:
        """Dry-run scheduling of `job` (nothing is written)."""
        return self.put(f"/v1/job/{job['ID']}/plan", {"Job": job, "Diff": diff})

    def job_versions(
        self, job_id: str, diffs: bool = False, namespace: str | None = None, **blocking: Any
    ) -> Response:
        """`{Versions: [Job newest first], Diffs: [JobDiff] or null}`."""
        params = {"diffs": True if diffs else None, **_ns(namespace)}
        return self.get(f"/v1/job/{job_id}/versions", params, **blocking)

    def job_deployments(
        self, job_id: str, all: bool = False, namespace: str | None = None, **blocking: Any
    ) -> Response:
        params = {"all": True if all else None, **_ns(namespace)}
        return self.get(f"/v1/job/{job_id}/deployments", params, **blocking)

    def job_scale_status(
        self, job_id: str, namespace: str | None = None, **blocking: Any
    ) -> Response:
        return self.get(f"/v1/job/{job_id}/scale", _ns(namespace), **blocking)

    def scale_job(
        self,
        job_id: str,
        group: str,
        count: int,
        message: str = "",
        enforce_index: int | None = None,
        namespace: str | None = None,
    ) -> Response:
        body: dict[str, Any] = {
            "Count": count,
            "Target": {"Job": job_id, "Group": group},
            "Message": message,
        }
        if enforce_index is not None:
            body["EnforceIndex"] = True
            body["JobModifyIndex"] = enforce_index
        return self.put(f"/v1/job/{job_id}/scale", body, _ns(namespace))

    def revert_job(
        self,
        job_id: str,
        version: int,
        enforce_prior_version: int | None = None,
        namespace: str | None = None,
    ) -> Response:
        """Register the spec of `version` again, as a new version."""
        body: dict[str, Any] = {"JobID": job_id, "JobVersion": version}
        if enforce_prior_version is not None:
            body["EnforcePriorVersion"] = enforce_prior_version
        return self.put(f"/v1/job/{job_id}/revert", body, _ns(namespace))

    # -- nodes, allocations, evaluations -------------------------------------

    def nodes(self, prefix: str | None = None, **blocking: Any) -> Response:
        return self.get("/v1/nodes", {"prefix": prefix or None}, **blocking)

    def node(self, node_id: str, **blocking: Any) -> Response:
        return self.get(f"/v1/node/{node_id}", **blocking)

    def node_allocations(self, node_id: str, **blocking: Any) -> Response:
        return self.get(f"/v1/node/{node_id}/allocations", **blocking)

    def node_drain(
        self,
        node_id: str,
        spec: Mapping[str, Any] | None,
        mark_eligible: bool = False,
        meta: Mapping[str, str] | None = None,
    ) -> Response:
        """Start a drain (`spec`: {Deadline ns, IgnoreSystemJobs}) or cancel it (None)."""
        body = {"DrainSpec": spec, "MarkEligible": mark_eligible, "Meta": meta or None}
        return self.put(f"/v1/node/{node_id}/drain", {**body, "NodeID": node_id})

    def node_eligibility(self, node_id: str, eligible: bool) -> Response:
        value = "eligible" if eligible else "ineligible"
        return self.put(
            f"/v1/node/{node_id}/eligibility", {"NodeID": node_id, "Eligibility": value}
        )

    def node_stats(self, node_id: str) -> Response:
        """HostStats of a node, measured by its client (proxied by servers)."""
        return self.get("/v1/client/stats", {"node_id": node_id})

    def allocation_stats(self, alloc_id: str) -> Response:
        """AllocResourceUsage of a running allocation, measured by its client."""
        return self.get(f"/v1/client/allocation/{alloc_id}/stats")

    def allocations(self, prefix: str | None = None, **blocking: Any) -> Response:
        return self.get("/v1/allocations", {"prefix": prefix or None}, **blocking)

    def allocation(self, alloc_id: str, **blocking: Any) -> Response:
        return self.get(f"/v1/allocation/{alloc_id}", **blocking)

    def evaluations(
        self,
        prefix: str | None = None,
        job: str | None = None,
        status: str | None = None,
        **blocking: Any,
    ) -> Response:
        params = {"prefix": prefix or None, "job": job or None, "status": status or None}
        return self.get("/v1/evaluations", params, **blocking)

    def evaluation(self, eval_id: str, **blocking: Any) -> Response:
        return self.get(f"/v1/evaluation/{eval_id}", **blocking)

    def evaluation_allocations(self, eval_id: str, **blocking: Any) -> Response:
        return self.get(f"/v1/evaluation/{eval_id}/allocations", **blocking)

    # -- native service discovery ------------------------------------------

    def services(self, namespace: str | None = None, **blocking: Any) -> Response:
        """`[{Namespace, Services: [{ServiceName, Tags}]}]`."""
        return self.get("/v1/services", _ns(namespace), **blocking)

    def service(
        self,
        name: str,
        namespace: str | None = None,
        choose: str | None = None,
        **blocking: Any,
    ) -> Response:
        """Registrations of one service (`[]` when there are none)."""
        params = {"choose": choose or None, **_ns(namespace)}
        return self.get(f"/v1/service/{name}", params, **blocking)

    def delete_service(self, name: str, reg_id: str, namespace: str | None = None) -> Response:
        return self.delete(f"/v1/service/{name}/{reg_id}", _ns(namespace))

    def job_services(self, job_id: str, namespace: str | None = None, **blocking: Any) -> Response:
        return self.get(f"/v1/job/{job_id}/services", _ns(namespace), **blocking)

    def allocation_services(self, alloc_id: str, **blocking: Any) -> Response:
        return self.get(f"/v1/allocation/{alloc_id}/services", **blocking)

    # -- deployments (the action comes before the ID in write paths) ---------

    def deployments(self, prefix: str | None = None, **blocking: Any) -> Response:
        return self.get("/v1/deployments", {"prefix": prefix or None}, **blocking)

    def deployment(self, deployment_id: str, **blocking: Any) -> Response:
        return self.get(f"/v1/deployment/{deployment_id}", **blocking)

    def deployment_allocations(self, deployment_id: str, **blocking: Any) -> Response:
        return self.get(f"/v1/deployment/allocations/{deployment_id}", **blocking)

    def deployment_promote(self, deployment_id: str, groups: Sequence[str] = ()) -> Response:
        """Promote the canaries of `groups`, or of every group when none are given."""
        body: dict[str, Any] = {"DeploymentID": deployment_id}
        if groups:
            body["Groups"] = list(groups)
        else:
            body["All"] = True
        return self.put(f"/v1/deployment/promote/{deployment_id}", body)

    def deployment_fail(self, deployment_id: str) -> Response:
        return self.put(f"/v1/deployment/fail/{deployment_id}", {"DeploymentID": deployment_id})

    def deployment_pause(self, deployment_id: str, pause: bool = True) -> Response:
        """Pause, or with `pause=False` resume, a running deployment."""
        body = {"DeploymentID": deployment_id, "Pause": pause}
        return self.put(f"/v1/deployment/pause/{deployment_id}", body)

    # -- status and agent ----------------------------------------------------

    def status_leader(self, region: str | None = None) -> str:
        return str(self.get("/v1/status/leader", {"region": region}).data or "")

    def status_peers(self) -> list[str]:
        return list(self.get("/v1/status/peers").data or [])

    def agent_members(self) -> Any:
        return self.get("/v1/agent/members").data

    def agent_self(self) -> Any:
        return self.get("/v1/agent/self").data

    # -- cluster membership, Raft, snapshots, GC (operator commands) ---------

    def agent_join(self, addresses: Sequence[str]) -> tuple[int, str]:
        """Ask the agent to join the servers at `addresses`: `(num_joined, error)`,
        where `error` is the agent's own failure text (`""` when none)."""
        resp = self._send("PUT", "/v1/agent/join", [("address", a) for a in addresses])
        data = resp.json() if resp.content.strip() else {}
        return int(data.get("num_joined") or 0), str(data.get("error") or "")

    def agent_force_leave(self, node: str, prune: bool = False) -> None:
        """Force the server member `node` into the `left` state (`prune`: forget it)."""
        params = {"node": node, "prune": True if prune else None}
        self.request("PUT", "/v1/agent/force-leave", params)

    def raft_configuration(self, stale: bool = False) -> Any:
        """`{Index, Servers: [{ID, Node, Address, Leader, Voter, RaftProtocol}]}`."""
        return self.get("/v1/operator/raft/configuration", {"stale": True if stale else None}).data

    def raft_remove_peer(self, address: str | None = None, peer_id: str | None = None) -> None:
        """Remove one Raft peer, named by exactly one of `address` or `peer_id`."""
        if bool(address) == bool(peer_id):
            raise ValueError("give exactly one of address and peer_id")
        params = {"address": address} if address else {"id": peer_id}
        self.request("DELETE", "/v1/operator/raft/peer", params)

    def snapshot_save(self, stale: bool = False) -> tuple[bytes, str | None]:
        """The server state archive and its `Digest` header (`sha-256=<base64>`).

        The body is checked against the digest when one is sent: a mismatch
        raises `SnapshotDigestMismatch`, so a damaged archive is never returned.
        """
        query = [("stale", "true")] if stale else []
        resp = self._send("GET", "/v1/operator/snapshot", query)
        digest = resp.headers.get("Digest") or None
        if digest is not None:
            self._verify_digest(resp.content, digest)
        return resp.content, digest

    def snapshot_restore(self, data: bytes) -> None:
        """Replace the cluster's state with the archive `data`."""
        self._send("PUT", "/v1/operator/snapshot", content=data)

    def system_gc(self) -> None:
        """Force a garbage collection of terminal jobs, evaluations and allocations."""
        self.request("PUT", "/v1/system/gc")

    def _send(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        content: bytes | None = None,
    ) -> httpx.Response:
        """A raw request: repeated query keys and binary bodies, which the JSON
        `request` cannot carry; the response is checked but not decoded."""
        params = (*self.config.params().items(), *query)
        try:
            resp = self._http.request(
                method, path, params=params, content=content, timeout=self.config.timeout
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        raise_for_status(resp.status_code, resp.text)
        return resp

    @staticmethod
    def _verify_digest(data: bytes, digest: str) -> None:
        """Check `data` against an HTTP `Digest` value `<algo>=<base64>`."""
        algo, sep, expected = digest.partition("=")
        if not sep:
            raise SnapshotDigestMismatch("invalid digest format")
        hasher = _DIGEST_ALGORITHMS.get(algo.strip().lower())
        if hasher is None:
            raise SnapshotDigestMismatch(f'unsupported digest algorithm "{algo}"')
        actual = base64.b64encode(hashlib.new(hasher, data).digest()).decode()
        if not hmac.compare_digest(actual, expected.strip()):
            raise SnapshotDigestMismatch("mismatch checksum")

    # -- logs ----------------------------------------------------------------

    def stream_logs(
        self,
        alloc_id: str,
        task: str,
        type: str = "stdout",
        follow: bool = False,
        origin: str = "start",
        offset: int = 0,
        *,
        heartbeats: bool = False,
    ) -> Iterator[StreamFrame]:
        """Frames of `GET /v1/client/fs/logs/:alloc`, heartbeats dropped unless
        asked for (a follower uses them to learn the backlog has been sent)."""
        params = self.config.params(
            {"task": task, "type": type, "follow": follow, "origin": origin, "offset": offset}
        )
        timeout = httpx.Timeout(self.config.timeout, read=None if follow else self.config.timeout)
        decoder = FrameDecoder()
        try:
            with self._http.stream(
                "GET", f"/v1/client/fs/logs/{alloc_id}", params=params, timeout=timeout
            ) as resp:
                if not 200 <= resp.status_code < 300:
                    resp.read()
                    raise_for_status(resp.status_code, resp.text)
                for chunk in resp.iter_bytes():
                    for frame in decoder.feed(chunk):
                        if heartbeats or not frame.is_heartbeat:
                            yield frame
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc


def _ns(namespace: str | None) -> dict[str, Any]:
    return {"namespace": namespace} if namespace else {}
