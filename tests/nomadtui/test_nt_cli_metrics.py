"""Placement failure lines (`alloc_metric_lines`) as Nomad's CLI words them."""

from __future__ import annotations

from nomadtui.cli.metrics import alloc_metric_lines


def test_nothing_evaluated_says_no_nodes_were_eligible() -> None:
    assert alloc_metric_lines({"NodesEvaluated": 0}, prefix="") == [
        "* No nodes were eligible for evaluation"
    ]


def test_a_quota_refusal_is_not_blamed_on_the_nodes() -> None:
    metric = {"NodesEvaluated": 0, "QuotaExhausted": ["cpu exhausted (300 needed > 200 limit)"]}
    assert alloc_metric_lines(metric, prefix="") == [
        '* Quota limit hit "cpu exhausted (300 needed > 200 limit)"'
    ]
