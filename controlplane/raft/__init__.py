"""Replication: message types, the FSM that applies them, the pysyncobj node."""
