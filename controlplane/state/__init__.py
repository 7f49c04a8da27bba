"""Cluster state: tables of jobs, nodes, evaluations, allocations and deployments.

The FSM (controlplane.raft) is the only writer; everyone else reads views.
"""

from .store import StateSnapshot, StateStore
from .view import StateView

__all__ = ["StateSnapshot", "StateStore", "StateView"]
