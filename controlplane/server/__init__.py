"""Server: the endpoints behind the HTTP API and the leader-only loops."""
