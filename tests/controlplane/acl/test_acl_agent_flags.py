"""`-acl-enabled` and `acl { enabled = true }` reach the agent config."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.agent.cli import build_parser, config_from_args
from controlplane.errors import ValidationError


def test_flag_enables_acls() -> None:
    args = build_parser().parse_args(["-dev", "-acl-enabled"])
    assert config_from_args(args).acl_enabled is True
    assert config_from_args(build_parser().parse_args(["-dev"])).acl_enabled is False


def test_config_file_acl_block(tmp_path: Path) -> None:
    conf = tmp_path / "agent.hcl"
    conf.write_text('acl {\n  enabled = true\n}\nclient { enabled = true\n servers = ["x:1"] }\n')
    cfg = config_from_args(build_parser().parse_args(["-config", str(conf)]))
    assert cfg.acl_enabled is True
    conf.write_text('acl {\n  enabled = "maybe"\n}\n')
    with pytest.raises(ValidationError, match=r"acl\.enabled"):
        config_from_args(build_parser().parse_args(["-config", str(conf)]))
