"""List-stub projections of full objects, as Nomad's list endpoints return them."""

from __future__ import annotations

from controlplane.state import StateStore
from controlplane.structs import (
    Allocation,
    AllocListStub,
    Job,
    JobListStub,
    Node,
    NodeListStub,
)


def job_stub(store: StateStore, job: Job) -> JobListStub:
    return JobListStub(
        id=job.id,
        parent_id=job.parent_id,
        name=job.name,
        namespace=job.namespace,
        datacenters=job.datacenters,
        node_pool=job.node_pool,
        type=job.type,
        priority=job.priority,
        periodic=job.periodic is not None,
        parameterized_job=job.parameterized_job is not None,
        stop=job.stop,
        status=store.job_status(job),
        status_description=job.status_description,
        job_summary=store.job_summary(job.namespace, job.id),
        create_index=job.create_index,
        modify_index=job.modify_index,
        job_modify_index=job.job_modify_index,
        submit_time=job.submit_time,
    )


def alloc_stub(a: Allocation, resources: bool = False, task_states: bool = True) -> AllocListStub:
    return AllocListStub(
        id=a.id,
        eval_id=a.eval_id,
        name=a.name,
        namespace=a.namespace,
        node_id=a.node_id,
        node_name=a.node_name,
        job_id=a.job_id,
        job_type=a.job.type if a.job else "",
        job_version=a.job.version if a.job else 0,
        task_group=a.task_group,
        allocated_resources=a.allocated_resources if resources else None,
        desired_status=a.desired_status,
        desired_description=a.desired_description,
        client_status=a.client_status,
        client_description=a.client_description,
        desired_transition=a.desired_transition,
        task_states=a.task_states if task_states else None,
        deployment_status=a.deployment_status,
        reschedule_tracker=a.reschedule_tracker,
        followup_eval_id=a.followup_eval_id,
        next_allocation=a.next_allocation,
        create_index=a.create_index,
        modify_index=a.modify_index,
        create_time=a.create_time,
        modify_time=a.modify_time,
    )


def node_stub(n: Node, os_attrs: bool = False) -> NodeListStub:
    address = n.attributes.get("unique.network.ip-address", "")
    return NodeListStub(
        address=address,
        id=n.id,
        attributes={"os.name": n.attributes.get("os.name", "")} if os_attrs else None,
        datacenter=n.datacenter,
        name=n.name,
        node_class=n.node_class,
        node_pool=n.node_pool,
        version=n.attributes.get("nomad.version", ""),
        drain=n.drain,
        scheduling_eligibility=n.scheduling_eligibility,
        status=n.status,
        status_description=n.status_description,
        drivers=n.drivers,
        create_index=n.create_index,
        modify_index=n.modify_index,
    )
