"""Nomad-style command line over the HTTP API client (`nomadtui.cli.main:main`)."""
