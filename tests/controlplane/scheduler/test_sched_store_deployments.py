"""Deployments against a real StateStore: creation, rolling updates, canaries,
cancellation and plan annotations. The test plays the deployment watcher and
the client (health, promotion, success) between scheduler runs."""

from __future__ import annotations

from sched_harness import group, job, node, task
from store_harness import StoreCluster

from controlplane.structs import Deployment, DesiredUpdates, Job, UpdateStrategy
from controlplane.structs.consts import SEC


def deployed_job(
    count: int = 3,
    *,
    image: str = "busybox:1",
    canary: int = 0,
    max_parallel: int = 1,
    auto_promote: bool = False,
) -> Job:
    update = UpdateStrategy(
        max_parallel=max_parallel,
        canary=canary,
        auto_promote=auto_promote,
        auto_revert=True,
        progress_deadline=600 * SEC,
        health_check="task_states",
    )
    tasks = [task(config={"image": image})]
    return job(groups=[group(count=count, tasks=tasks).replace(update=update)])


def cluster() -> StoreCluster:
    return StoreCluster(*(node(f"n{i}") for i in range(4)))


def healthy(cl: StoreCluster, *, only: set[str] | None = None) -> None:
    """The client reports every live alloc (or `only` these) running and healthy."""
    for a in cl.live():
        if only is None or a.id in only:
            cl.client_update(a.id, "running", healthy=True)


def succeed(cl: StoreCluster) -> Deployment:
    """The watcher marks the latest deployment successful."""
    dep = cl.deployment()
    assert dep is not None
    cl.set_deployment(dep.replace(status="successful"))
    return dep


def promote(cl: StoreCluster) -> None:
    dep = cl.deployment()
    assert dep is not None
    groups = {k: v.replace(promoted=True) for k, v in dep.task_groups.items()}
    cl.set_deployment(dep.replace(task_groups=groups, status_description="Deployment is running"))


def versions(cl: StoreCluster) -> list[tuple[str, int]]:
    return [(a.name, a.job.version) for a in cl.live()]


def test_first_registration_creates_a_deployment_and_places_everything() -> None:
    cl = cluster()
    cl.register(deployed_job(count=3))
    result = cl.run()
    dep = result.plan.deployment
    assert dep is not None
    stored = cl.store.job_by_id("default", "example")
    assert (dep.namespace, dep.job_id, dep.job_version) == ("default", "example", 0)
    assert dep.job_modify_index == dep.job_spec_modify_index == stored.job_modify_index
    assert dep.job_create_index == stored.create_index
    assert (dep.status, dep.status_description) == ("running", "Deployment is running")
    assert dep.create_time == dep.modify_time == cl.now_ns
    state = dep.task_groups["web"]
    assert (state.desired_total, state.desired_canaries, state.auto_revert) == (3, 0, True)
    assert state.progress_deadline == 600 * SEC
    # Initial placements are not limited by max_parallel, but join the deployment.
    assert len(cl.live()) == 3
    assert {a.deployment_id for a in cl.live()} == {dep.id}
    assert all(a.deployment_status is None for a in cl.live())
    assert result.desired_tg_updates == {"web": DesiredUpdates(place=3)}
    assert cl.run(triggered_by="deployment-watcher").plan.is_noop()
    # The store counted the placements against the deployment the plan created.
    assert cl.deployment().task_groups["web"].placed_allocs == 3


def test_no_deployment_without_an_update_strategy_or_for_batch() -> None:
    cl = cluster()
    cl.register(job(count=2))
    assert cl.run().plan.deployment is None
    cl.register(deployed_job().replace(id="b", name="b", type="batch"))
    assert cl.run("b").plan.deployment is None


def test_rolling_update_replaces_one_alloc_per_healthy_step() -> None:
    cl = cluster()
    cl.register(deployed_job(count=3))
    cl.run()
    healthy(cl)
    first = succeed(cl)

    cl.register(deployed_job(count=3, image="busybox:2"))
    result = cl.run()
    dep = result.plan.deployment
    assert dep is not None and dep.id != first.id and dep.job_version == 1
    # The old deployment was already successful: nothing to cancel.
    assert result.plan.deployment_updates == []
    assert result.desired_tg_updates == {"web": DesiredUpdates(ignore=2, destructive_update=1)}

    steps = 1
    while True:
        new = [a for a in cl.live() if a.job.version == 1]
        assert len(new) == steps
        assert len(cl.live()) == 3  # never a hole, never two replaced at once
        assert {a.deployment_id for a in new} == {dep.id}
        # Until the newest is healthy, the deployment-watcher eval does nothing.
        assert cl.run(triggered_by="deployment-watcher").plan.is_noop()
        healthy(cl, only={a.id for a in new})
        if steps == 3:
            break
        result = cl.run(triggered_by="deployment-watcher")
        assert len(result.plan.node_update) == 1
        steps += 1
    assert [v for _, v in versions(cl)] == [1, 1, 1]
    assert cl.run(triggered_by="deployment-watcher").plan.is_noop()


def test_rolling_update_stops_on_an_unhealthy_alloc_and_when_paused() -> None:
    cl = cluster()
    cl.register(deployed_job(count=3, max_parallel=2))
    cl.run()
    healthy(cl)
    succeed(cl)
    cl.register(deployed_job(count=3, max_parallel=2, image="busybox:2"))
    cl.run()
    new = [a for a in cl.live() if a.job.version == 1]
    assert len(new) == 2
    cl.client_update(new[0].id, "running", healthy=False)
    cl.client_update(new[1].id, "running", healthy=True)
    assert cl.run(triggered_by="deployment-watcher").plan.is_noop()

    cl.client_update(new[0].id, "running", healthy=True)
    dep = cl.deployment()
    cl.set_deployment(dep.replace(status="paused"))
    assert cl.run(triggered_by="deployment-watcher").plan.is_noop()
    cl.set_deployment(dep.replace(status="running"))
    assert len(cl.run(triggered_by="deployment-watcher").plan.node_update) == 1
    assert [v for _, v in versions(cl)] == [1, 1, 1]


def test_canary_then_promote_then_roll() -> None:
    cl = cluster()
    cl.register(deployed_job(count=3, canary=1))
    cl.run()
    healthy(cl)
    succeed(cl)
    old = {a.name: a.id for a in cl.live()}

    cl.register(deployed_job(count=3, canary=1, image="busybox:2"))
    result = cl.run()
    dep = result.plan.deployment
    assert dep is not None
    assert dep.status_description == "Deployment is running but requires manual promotion"
    assert dep.task_groups["web"].desired_canaries == 1
    assert result.plan.node_update == {}
    (canary,) = [a for v in result.plan.node_allocation.values() for a in v]
    assert canary.name == "example.web[0]"  # named after the alloc it will replace
    assert canary.deployment_status is not None and canary.deployment_status.canary
    assert canary.deployment_id == dep.id
    assert result.desired_tg_updates == {"web": DesiredUpdates(ignore=3, canary=1)}
    assert len(cl.live()) == 4  # the old allocs keep running next to the canary

    assert cl.deployment().task_groups["web"].placed_canaries == [canary.id]
    # Healthy but not promoted: nothing moves.
    healthy(cl, only={canary.id})
    assert cl.run(triggered_by="deployment-watcher").plan.is_noop()

    promote(cl)
    result = cl.run(triggered_by="deployment-watcher")
    stopped = {a.id: a.desired_description for v in result.plan.node_update.values() for a in v}
    assert stopped == {
        old["example.web[0]"]: "alloc not needed due to job update",
        old["example.web[1]"]: "alloc is being updated due to job update",
    }
    assert cl.store.alloc_by_id(canary.id).desired_status == "run"
    assert versions(cl) == [("example.web[0]", 1), ("example.web[1]", 1), ("example.web[2]", 0)]

    healthy(cl)
    cl.run(triggered_by="deployment-watcher")
    assert versions(cl) == [("example.web[0]", 1), ("example.web[1]", 1), ("example.web[2]", 1)]
    assert canary.id in {a.id for a in cl.live()}


def test_auto_promote_description() -> None:
    cl = cluster()
    cl.register(deployed_job(count=2, canary=1, auto_promote=True))
    cl.run()
    healthy(cl)
    succeed(cl)
    cl.register(deployed_job(count=2, canary=1, auto_promote=True, image="busybox:2"))
    dep = cl.run().plan.deployment
    assert dep is not None
    assert dep.status_description == "Deployment is running pending automatic promotion"


def test_unpromoted_canaries_of_an_outdated_deployment_are_stopped() -> None:
    cl = cluster()
    cl.register(deployed_job(count=2, canary=1))
    cl.run()
    healthy(cl)
    succeed(cl)
    cl.register(deployed_job(count=2, canary=1, image="busybox:2"))
    (canary,) = [a for v in cl.run().plan.node_allocation.values() for a in v]
    cl.register(deployed_job(count=2, canary=1, image="busybox:3"))
    result = cl.run()
    assert cl.store.alloc_by_id(canary.id).desired_status == "stop"
    (update,) = result.plan.deployment_updates
    assert (update.status, update.status_description) == (
        "cancelled",
        "Cancelled due to newer version of job",
    )
    assert len([a for a in cl.live() if a.deployment_status and a.deployment_status.canary]) == 1


def test_newer_version_and_job_stop_cancel_the_active_deployment() -> None:
    cl = cluster()
    cl.register(deployed_job(count=2))
    cl.run()
    first = cl.deployment()
    cl.register(deployed_job(count=2, image="busybox:2"))
    result = cl.run()
    assert result.plan.deployment is not None
    assert [(u.deployment_id, u.status_description) for u in result.plan.deployment_updates] == [
        (first.id, "Cancelled due to newer version of job")
    ]
    assert cl.store.deployment_by_id(first.id).status == "cancelled"

    second = cl.deployment()
    cl.register(deployed_job(count=2, image="busybox:2").replace(stop=True))
    result = cl.run(triggered_by="job-deregister")
    (update,) = result.plan.deployment_updates
    assert (update.deployment_id, update.status, update.status_description) == (
        second.id,
        "cancelled",
        "Cancelled because job is stopped",
    )
    assert cl.live() == []
    assert result.desired_tg_updates == {"web": DesiredUpdates(stop=2)}


def test_count_up_is_placed_at_once_and_in_place_updates_join_the_deployment() -> None:
    cl = cluster()
    cl.register(deployed_job(count=2))
    cl.run()
    healthy(cl)
    succeed(cl)
    cl.register(deployed_job(count=4))
    result = cl.run()
    dep = result.plan.deployment
    assert dep is not None and dep.task_groups["web"].desired_total == 4
    assert result.desired_tg_updates == {"web": DesiredUpdates(place=2, in_place_update=2)}
    assert len(cl.live()) == 4
    assert {a.deployment_id for a in cl.live()} == {dep.id}
    # Updated in place: health is proven again for the new deployment.
    assert [a.deployment_status.healthy if a.deployment_status else None for a in cl.live()] == [
        None
    ] * 4


def test_lost_alloc_after_a_successful_deployment_needs_no_new_deployment() -> None:
    cl = cluster()
    cl.register(deployed_job(count=2))
    cl.run()
    healthy(cl)
    succeed(cl)
    cl.node_down(cl.live()[0].node_id)
    result = cl.run(triggered_by="node-update")
    assert result.plan.deployment is None
    assert len(cl.live()) == 2
