"""Client agent: runs on every node, registers it, and runs its allocations.

agent.py          ClientAgent: register, heartbeat, alloc watch, reconcile
alloc_runner.py   AllocRunner: one allocation, its tasks, its client status
task_runner.py    TaskRunner: one task through its driver (lifecycle diagram)
task_hooks.py     TaskHook stages around the driver (task dir today)
restarts.py       RestartTracker: pure restart-policy decisions
health.py         HealthTracker: pure deployment health decisions
taskenv.py        NOMAD_* environment and ${...} interpolation
allocdir.py       on-disk allocation directory layout
alloc_updates.py  AllocUpdater: batched status reports to the servers
logs.py           task log reads, follow, StreamFrame encoding
fingerprint.py    Node fingerprint and persistent node id
state_db.py       persisted task handles for reattach
config.py         ClientConfig
rpc.py            ServerRPC protocol (rpc_http.py: its HTTP implementation)
"""
