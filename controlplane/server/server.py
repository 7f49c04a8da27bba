"""Server: one control-plane server — state, Raft, leader loops, and endpoints.

The endpoint methods (register_job, node_register, ...) are what the HTTP
layer calls: they validate, build the replicated message (times and IDs are
chosen here, never in the FSM) and submit it. Leader-only loops run while
this server leads (see leader.py).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from controlplane import __version__, jobspec
from controlplane.errors import NomadError, NotFound, ValidationError
from controlplane.raft.fsm import CapacityChange, FSMListener
from controlplane.raft.messages import (
    AllocClientUpdateMsg,
    EvalUpsert,
    JobDeregister,
    JobRegister,
    MsgType,
    NodeRegister,
    NodeStatus,
    ServerMemberMsg,
    ServiceDelete,
    ServiceUpsert,
)
from controlplane.raft.node import RaftConfig, RaftNode
from controlplane.state import StateStore
from controlplane.structs import (
    AllocClientUpdate,
    Evaluation,
    Job,
    Node,
    ServerMember,
    ServiceRegistration,
)

from .acl_endpoints import ACLEndpoints
from .blocked_evals import BlockedEvals
from .deployment_watcher import DeploymentWatcher
from .drainer import NodeDrainer
from .eval_broker import EvalBroker
from .federation import Federation, FederationConfig, WanServer
from .gc import GarbageCollector
from .heartbeats import Heartbeats, node_update_evals, rfc3339_now
from .keyring import Keyring
from .leader import LeadershipMonitor
from .namespace_endpoints import NamespaceEndpoints
from .periodic import PeriodicDispatcher
from .plan_apply import PlanApplier
from .quota_endpoints import QuotaEndpoints
from .services import consul_warnings, format_warnings, validate_registrations
from .variables import VariableEndpoints
from .worker import Worker

log = logging.getLogger(__name__)


@dataclass
class ServerConfig:
    name: str = "server"
    region: str = "global"
    datacenter: str = "dc1"
    raft: RaftConfig = field(default_factory=RaftConfig)
    num_workers: int = 2
    # Nomad's min_heartbeat_ttl, max_heartbeats_per_second, heartbeat_grace
    min_heartbeat_ttl_s: float = 10.0
    max_heartbeats_per_second: float = 50.0
    heartbeat_grace_s: float = 10.0
    failover_grace_s: float = 30.0
    http_addr: str = ""
    bootstrap_expect: int = 1
    # ACLs enforced on every endpoint (`acl { enabled = true }`, -acl-enabled)
    acl_enabled: bool = False
    # the WAN pool: other regions' servers (federation.py)
    federation: FederationConfig = field(default_factory=FederationConfig)


class Server(FSMListener, ACLEndpoints, NamespaceEndpoints, QuotaEndpoints, VariableEndpoints):
    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.store = StateStore()
        self.broker = EvalBroker(on_failed=self._eval_failed)
        self.blocked = BlockedEvals(self.broker, self._namespace_quota)
        self.raft = RaftNode(self.store, cfg.raft)
        self.raft.fsm.listeners.append(self)
        self.planner = PlanApplier(self.raft, self.store)
        self.heartbeats = Heartbeats(
            self.raft,
            self.store,
            min_ttl_s=cfg.min_heartbeat_ttl_s,
            grace_s=cfg.heartbeat_grace_s,
            failover_grace_s=cfg.failover_grace_s,
            max_per_second=cfg.max_heartbeats_per_second,
        )
        self.deployments = DeploymentWatcher(self.raft, self.store)
        self.gc = GarbageCollector(self.raft, self.store)
        self.drainer = NodeDrainer(self.raft, self.store)
        self.periodic = PeriodicDispatcher(self.raft, self.store)
        self.keyring = Keyring(
            self.raft, self.store, cfg.raft.data_dir, cfg.raft.password, cfg.raft.self_addr
        )
        self.keyring.start()
        self._workers: list[Worker] = []
        self._leadership = LeadershipMonitor(self.raft.is_leader, self._gain, self._lose)
        self._leadership.start()
        self._stopping = threading.Event()
        threading.Thread(target=self._announce, name="announce", daemon=True).start()
        self.federation = Federation(
            WanServer(
                name=cfg.name,
                region=cfg.region,
                http_addr=cfg.http_addr,
                rpc_addr=cfg.raft.self_addr,
                datacenter=cfg.datacenter,
                build=__version__,
            ),
            cfg.federation,
            local_peers=lambda: [m.http_addr for m in self.store.servers() if m.status != "left"],
        )
        self.federation.start()

    # -- lifecycle -------------------------------------------------------
    def _announce(self) -> None:
        """Record this server (its HTTP address above all) in the replicated state,
        so followers can forward leader-only requests to the leader's API."""
        cfg = self.cfg
        member = ServerMember(
            name=cfg.name,
            raft_addr=cfg.raft.self_addr,
            http_addr=cfg.http_addr,
            region=cfg.region,
            datacenter=cfg.datacenter,
            build=__version__,
            bootstrap_expect=cfg.bootstrap_expect,
        )
        current = self.store.server_by_raft_addr(cfg.raft.self_addr)
        if current is not None and current.replace(create_index=0, modify_index=0) == member:
            return
        while not self._stopping.is_set():
            try:
                self.raft.submit(MsgType.SERVER_MEMBER, ServerMemberMsg(member=member), timeout=5)
                return
            except NomadError:
                self._stopping.wait(0.5)

    def leader_http_addr(self) -> str:
        """The leader's HTTP address, "" when there is no leader (or it has not announced)."""
        member = self.store.server_by_raft_addr(self.raft.leader_addr())
        return member.http_addr if member is not None else ""

    def shutdown(self) -> None:
        self._stopping.set()
        self.keyring.stop()
        self.federation.stop()
        self._leadership.stop()
        self.raft.destroy()

    def is_leader(self) -> bool:
        return self._leadership.leader

    def _gain(self) -> None:
        self.broker.set_enabled(True)
        evals = self.store.read(lambda s: list(s.evals("*")))
        self.blocked.set_enabled(True, [e for e in evals if e.status == "blocked"])
        for ev in evals:
            if ev.status == "pending":
                self.broker.enqueue(ev)
        self._workers = [
            Worker(self.raft, self.store, self.broker, self.blocked, self.planner)
            for _ in range(self.cfg.num_workers)
        ]
        for w in self._workers:
            w.start()
        self.heartbeats.start()
        self.deployments.start()
        self.gc.start()
        self.drainer.start()
        self.periodic.start()
        self.keyring.start_leader()

    def _lose(self) -> None:
        self.periodic.stop()
        self.drainer.stop()
        self.gc.stop()
        self.deployments.stop()
        self.heartbeats.stop()
        for w in self._workers:
            w.stop()
        self.broker.set_enabled(False)
        self.blocked.set_enabled(False)
        for w in self._workers:
            w.join()
        self._workers = []

    # -- FSM listener (Raft thread: never block) ---------------------------
    def evals_upserted(self, evals: list[Evaluation]) -> None:
        for ev in evals:
            self.blocked.observe(ev)
            if ev.status == "pending":
                self.broker.enqueue(ev)

    def capacity_changed(self, change: CapacityChange | None = None) -> None:
        if change is None:
            change = CapacityChange(self.store.index)
        self.blocked.unblock(
            change.index,
            capacity=change.capacity,
            namespaces=change.namespaces,
            quotas=change.quotas,
            repointed=change.repointed,
        )

    def _namespace_quota(self, namespace: str) -> str:
        ns = self.store.namespace(namespace)
        return ns.quota if ns is not None else ""

    def _eval_failed(self, ev: Evaluation) -> None:
        log.error("eval %s reached its delivery limit: marking failed", ev.id)
        failed = ev.replace(status="failed", status_description="maximum attempts reached (3)")
        try:
            self.raft.submit(MsgType.EVAL_UPSERT, EvalUpsert(evals=[failed]))
        except Exception:
            log.exception("could not mark eval failed eval_id=%s", ev.id)

    # -- job endpoints ---------------------------------------------------
    async def register_job(
        self,
        job: Job,
        enforce_index: bool = False,
        job_modify_index: int = 0,
        trigger: str = "job-register",
    ) -> dict[str, Any]:
        job = jobspec.canonicalize(job)
        jobspec.validate(job)
        now = time.time_ns()
        ev = None
        # periodic and parameterized parents only launch children (Nomad)
        if job.periodic is None and (job.parameterized_job is None or job.dispatched):
            ev = new_eval(job, trigger, now)
        result = await self.raft.submit_async(
            MsgType.JOB_REGISTER,
            JobRegister(
                job=job,
                eval=ev,
                submit_time=now,
                enforce_index=enforce_index,
                job_modify_index=job_modify_index,
            ),
        )
        return {
            "EvalID": ev.id if ev else "",
            "EvalCreateIndex": result.index if ev else 0,
            "JobModifyIndex": result.data.get("JobModifyIndex", result.index),
            "Warnings": format_warnings(consul_warnings(job)),
            "Index": result.index,
        }

    async def deregister_job(self, namespace: str, job_id: str, purge: bool) -> dict[str, Any]:
        job = self.store.job_by_id(namespace, job_id)
        if job is None:
            return {"EvalID": "", "EvalCreateIndex": 0, "JobModifyIndex": 0, "Index": 0}
        now = time.time_ns()
        ev = new_eval(job, "job-deregister", now)
        result = await self.raft.submit_async(
            MsgType.JOB_DEREGISTER,
            JobDeregister(
                namespace=namespace, job_id=job_id, purge=purge, eval=ev, submit_time=now
            ),
        )
        return {
            "EvalID": ev.id,
            "EvalCreateIndex": result.index,
            "JobModifyIndex": result.index,
            "Index": result.index,
        }

    # -- client (node) endpoints -------------------------------------------
    async def node_register(self, node: Node) -> dict[str, Any]:
        if not node.id:
            raise ValidationError("missing node ID for node registration")
        node = node.replace(status="ready", status_updated_at=int(time.time()))
        evals = [
            e.replace(node_id=node.id)
            for e in node_update_evals(self.store, node.id, "node-update", system_jobs=True)
        ]
        result = await self.raft.submit_async(
            MsgType.NODE_REGISTER, NodeRegister(node=node, now=rfc3339_now(), evals=evals)
        )
        ttl = self.heartbeats.reset(node.id)
        return {"HeartbeatTTL": int(ttl * 1e9), "Index": result.index}

    async def node_heartbeat(self, node_id: str, status: str) -> dict[str, Any]:
        node = self.store.node_by_id(node_id)
        if node is None:
            raise NotFound("node not found")
        index = node.modify_index
        if node.status != status:
            evals = []
            if status == "ready":
                evals = node_update_evals(self.store, node_id, "node-update", system_jobs=True)
            result = await self.raft.submit_async(
                MsgType.NODE_STATUS,
                NodeStatus(
                    node_id=node_id,
                    status=status,
                    at_s=int(time.time()),
                    now=rfc3339_now(),
                    evals=evals,
                ),
            )
            index = result.index
        ttl = self.heartbeats.reset(node_id)
        return {"HeartbeatTTL": int(ttl * 1e9), "Index": index}

    async def update_allocs(self, updates: list[AllocClientUpdate]) -> dict[str, Any]:
        now = time.time_ns()
        evals: list[Evaluation] = []
        seen: set[tuple[str, str]] = set()
        for u in updates:
            alloc = self.store.alloc_by_id(u.id)
            if alloc is None or alloc.job is None or u.client_status != "failed":
                continue
            key = (alloc.namespace, alloc.job_id)
            if alloc.client_status != "failed" and key not in seen:
                seen.add(key)
                evals.append(new_eval(alloc.job, "alloc-failure", now))
        result = await self.raft.submit_async(
            MsgType.ALLOC_CLIENT_UPDATE, AllocClientUpdateMsg(updates=updates, evals=evals)
        )
        return {"Index": result.index}

    # -- service catalog (services.py validates) -----------------------------
    async def update_services(
        self, upserts: list[ServiceRegistration], delete_ids: list[str]
    ) -> dict[str, Any]:
        regs = validate_registrations(self.store, upserts, delete_ids)
        index = self.store.index
        if regs:
            result = await self.raft.submit_async(
                MsgType.SERVICE_UPSERT, ServiceUpsert(services=regs)
            )
            index = result.index
        if delete_ids:
            result = await self.raft.submit_async(
                MsgType.SERVICE_DELETE, ServiceDelete(ids=list(delete_ids))
            )
            index = result.index
        return {"Index": index}

    async def delete_service(self, namespace: str, name: str, reg_id: str) -> dict[str, Any]:
        reg = self.store.service_by_id(reg_id)
        if reg is None or reg.service_name != name or namespace not in ("*", reg.namespace):
            raise NotFound("service registration not found")
        result = await self.raft.submit_async(MsgType.SERVICE_DELETE, ServiceDelete(ids=[reg_id]))
        return {"Index": result.index}


def new_eval(job: Job, trigger: str, now: int) -> Evaluation:
    return Evaluation(
        id=str(uuid.uuid4()),
        namespace=job.namespace,
        priority=job.priority,
        type=job.type,
        triggered_by=trigger,
        job_id=job.id,
        status="pending",
        create_time=now,
        modify_time=now,
    )
