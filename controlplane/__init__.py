"""nomadtui control plane: servers, scheduler, client agents and the HTTP API."""

__version__ = "0.1.0"
