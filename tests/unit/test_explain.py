"""The graph logic of `c360 explain` (c360/explain.py) on toy evidence."""

from __future__ import annotations

import pytest

from c360 import explain


def edge(a: str, b: str, strength: float | None, **extra) -> explain.Edge:
    return explain.Edge(
        a, b, strength, ["rule"], is_edge=strength is not None, is_edge_cut=False, **extra
    )


def test_the_spanning_tree_takes_the_strongest_edges_and_names_unreached_records() -> None:
    edges = [edge("a", "b", 0.5), edge("a", "c", 0.9), edge("b", "c", 0.99), edge("c", "d", 0.7)]
    tree, unreached = explain.strongest_spanning_tree(["a", "b", "c", "d", "e"], edges)
    assert {(e.record_key_a, e.record_key_b) for e in tree} == {("b", "c"), ("a", "c"), ("c", "d")}
    # Listed outward from the first record: each edge reaches a new record.
    assert (tree[0].record_key_a, tree[0].record_key_b) == ("a", "c")
    assert unreached == ["e"]


def test_the_widest_path_prefers_a_longer_path_of_stronger_edges() -> None:
    edges = [edge("a", "d", 0.3), edge("a", "b", 0.9), edge("b", "c", 0.8), edge("c", "d", 0.95)]
    path = explain.widest_path("a", "d", edges)
    assert [(e.record_key_a, e.record_key_b) for e in path] == [("a", "b"), ("b", "c"), ("c", "d")]
    assert min(e.strength for e in path) == 0.8
    assert explain.widest_path("a", "z", edges) == []


def test_a_row_becomes_an_edge_with_its_prior_and_vetoes() -> None:
    row = {
        "record_key_a": "t:1",
        "record_key_b": "t:2",
        "is_edge": False,
        "is_edge_cut": False,
        "edge_confidence": None,
        "match_weight": 2.5,
        "match_probability": 0.85,
        "match_band": "review",
        "auto_link_threshold": 0.99,
        "contradicted_by": "first_name_conflict,household_lookalike",
        "comparison_weights": "first_name=-5.5;last_name=8.0;email=0.0",
        "override_type": "cannot_link",
        "override_decided_at": "2025-01-03 09:00:00",
    }
    e = explain.edge_from_row(row)
    assert e.comparison_weights == {"first_name": -5.5, "last_name": 8.0, "email": 0.0}
    assert e.prior == pytest.approx(2.5 - 2.5)
    assert e.evidence == ["splink_model"]
    vetoes = e.vetoes()
    assert any("cannot-link" in v and "2025-01-03" in v for v in vetoes)
    assert any("first_name_conflict" in v for v in vetoes)
    # The review band is not named again when a contradiction explains it.
    assert not any("review band" in v for v in vetoes)
    assert "review band" in " ".join(
        explain.edge_from_row(row | {"contradicted_by": None, "override_type": None}).vetoes()
    )
