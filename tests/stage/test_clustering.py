"""Clustering on toy graphs, by the project's own SQL.

A hand-built DuckDB warehouse holds what clustering reads: a few identity
records, the edges the deterministic rules and the model found between them,
and the stewards' overrides (the seed's table). `dbt build` then builds
int_steward_overrides, int_identity_edges and int_identity_clusters with their
data tests, as a daily run does: connected components
(macros/matching/connected_components.sql), the over-merge guard
(guarded_clusters.sql), the cannot-link cut (cannot_link_cut.sql) and, on a
second day, incremental re-clustering (incremental_clusters.sql).

Every toy graph sits in the one warehouse (they share no record, so they are
independent components, as in a real run); two builds in all.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from c360 import warehouse
from c360.dbt import run_dbt
from tests.support.warehouse_files import query

DAY1 = dt.date(2025, 1, 1)
DAY2 = DAY1 + dt.timedelta(days=1)
TABLE = "crm_contacts"
# The rules' confidences (seeds/match_rules.csv); a model link weighs
# model_edge_confidence_scale (0.8) x its probability, below every rule.
SAME_EMAIL, DEVICE, SAME_PHONE = 0.99, 0.90, 0.85


def key(record: str) -> str:
    return f"{TABLE}:{record}"


# (record, record, rule, confidence): deterministic edges.
RULE_EDGES = [
    # A chain: a-b, b-c, c-d.
    ("chain-a", "chain-b", "same_email", SAME_EMAIL),
    ("chain-b", "chain-c", "same_phone", SAME_PHONE),
    ("chain-c", "chain-d", "device_account", DEVICE),
    # A star: one hub, five spokes.
    *[("star-hub", f"star-{n}", "same_email", SAME_EMAIL) for n in range(1, 6)],
    # Two components (and a record linked to nothing).
    ("two-x1", "two-x2", "same_email", SAME_EMAIL),
    ("two-x2", "two-x3", "same_phone", SAME_PHONE),
    ("two-y1", "two-y2", "same_email", SAME_EMAIL),
    # Two dense groups, each all linked by email ...
    *[
        (f"{group}{a}", f"{group}{b}", "same_email", SAME_EMAIL)
        for group in ("bridge-l", "bridge-r", "nocut-l", "nocut-r")
        for a, b in [(1, 2), (1, 3), (2, 3)]
    ],
    # A father and a son, each with two records, who share a landline.
    ("suffix-sr1", "suffix-sr2", "same_email", SAME_EMAIL),
    ("suffix-jr1", "suffix-jr2", "same_email", SAME_EMAIL),
    ("suffix-sr2", "suffix-jr1", "same_phone", SAME_PHONE),
]
# ... joined by one weak edge, a model link (record, record, match probability).
MODEL_EDGES = [("bridge-l3", "bridge-r1", 0.99), ("nocut-l3", "nocut-r1", 0.99)]
# A steward: bridge-l1 and bridge-r2 are not one person. The same graph
# without the cannot-link (nocut-*) is the control.
CANNOT_LINKS = [("bridge-l1", "bridge-r2")]
SUFFIXES = {"suffix-sr1": "sr", "suffix-sr2": "sr", "suffix-jr1": "jr", "suffix-jr2": "jr"}
RECORDS = sorted(
    {r for a, b, *_ in RULE_EDGES + MODEL_EDGES for r in (a, b)} | {"two-z"} | set(SUFFIXES)
)

# What clustering reads, as the upstream models build it (the columns it uses).
SCHEMA = [
    "create schema intermediate",
    "create schema seeds",
    """create table intermediate.int_identity_records (
        record_key varchar, source_table varchar, source_record_id varchar,
        first_name_normalized varchar, first_name_canonical varchar,
        last_name_normalized varchar, name_suffix_inferred varchar,
        date_of_birth_normalized date, email_token varchar, phone_token varchar,
        loyalty_id varchar)""",
    """create table intermediate.int_identity_edges__deterministic (
        record_key_a varchar, record_key_b varchar, rule_name varchar, confidence double)""",
    """create table intermediate.int_identity_edges__probabilistic (
        record_key_a varchar, record_key_b varchar, match_probability double,
        match_band varchar)""",
    """create table intermediate.int_first_name_equivalents (
        first_name_a varchar, first_name_b varchar)""",
    """create table seeds.steward_overrides (
        override_type varchar, source_table_a varchar, source_record_id_a varchar,
        source_table_b varchar, source_record_id_b varchar, reason varchar,
        decided_by varchar, decided_on date)""",
]


def _ordered(a: str, b: str) -> tuple[str, str]:
    """Edges name the smaller record key first."""
    return (key(a), key(b)) if key(a) < key(b) else (key(b), key(a))


def _build(path: Path, run_date: dt.date) -> dict[str, tuple]:
    """One day's build of the clustering models; each record's
    (cluster_id, cluster_size, component_id, is_flagged_for_review, reclustered_on)."""
    built = run_dbt(
        [
            *("build", "--exclude-resource-type", "unit_test", "--quiet", "--select"),
            *("int_steward_overrides", "int_identity_edges", "int_identity_clusters"),
            *("--vars", f"{{run_date: '{run_date.isoformat()}'}}"),
        ],
        warehouse=path,
    )
    # The models' data tests ran too, and passed (a failure raises DbtError).
    assert sum(str(r.node.resource_type) == "test" for r in built) >= 8
    return {
        record_key.removeprefix(f"{TABLE}:"): rest
        for record_key, *rest in query(
            path,
            "select record_key, cluster_id, cluster_size, component_id, is_flagged_for_review, "
            "reclustered_on from intermediate.int_identity_clusters",
        )
    }


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict[dt.date, dict[str, tuple]]:
    """Day 1: every toy graph clustered. Day 2: one new edge joins the two
    components of `two-*`; nothing else changes."""
    path = tmp_path_factory.mktemp("clustering") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        for statement in SCHEMA:
            con.execute(statement)
        warehouse.ensure_stewardship_tables(con)
        con.executemany(
            "insert into intermediate.int_identity_records "
            "(record_key, source_table, source_record_id, name_suffix_inferred) "
            "values (?, ?, ?, ?)",
            [(key(r), TABLE, r, SUFFIXES.get(r)) for r in RECORDS],
        )
        con.executemany(
            "insert into intermediate.int_identity_edges__deterministic values (?, ?, ?, ?)",
            [(*_ordered(a, b), rule, confidence) for a, b, rule, confidence in RULE_EDGES],
        )
        con.executemany(
            "insert into intermediate.int_identity_edges__probabilistic "
            "values (?, ?, ?, 'auto_link')",
            [(*_ordered(a, b), probability) for a, b, probability in MODEL_EDGES],
        )
        con.executemany(
            "insert into seeds.steward_overrides values "
            "('cannot_link', ?, ?, ?, ?, 'not one person', 'steward@example.com', ?)",
            [(TABLE, a, TABLE, b, DAY1) for a, b in CANNOT_LINKS],
        )
    finally:
        con.close()
    first = _build(path, DAY1)
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "insert into intermediate.int_identity_edges__deterministic values (?, ?, ?, ?)",
            [*_ordered("two-x3", "two-y1"), "same_phone", SAME_PHONE],
        )
    finally:
        con.close()
    return {DAY1: first, DAY2: _build(path, DAY2)}


def _clusters(labels: dict[str, tuple], prefix: str) -> set[frozenset[str]]:
    """The graph's records (those named with `prefix`) grouped by cluster."""
    groups: dict[str, set[str]] = {}
    for record, (cluster_id, *_) in labels.items():
        if record.startswith(prefix):
            groups.setdefault(cluster_id, set()).add(record)
    return {frozenset(group) for group in groups.values()}


def test_every_record_is_clustered_once_and_named_after_its_smallest_record(days) -> None:
    labels = days[DAY1]
    assert sorted(labels) == RECORDS
    for record, (cluster_id, size, _, flagged, reclustered_on) in labels.items():
        members = [r for r, (c, *_) in labels.items() if c == cluster_id]
        assert cluster_id == min(key(r) for r in members), record
        assert size == len(members), record
        assert not flagged and reclustered_on == DAY1, record


def test_a_chain_is_one_cluster(days) -> None:
    assert _clusters(days[DAY1], "chain-") == {
        frozenset({"chain-a", "chain-b", "chain-c", "chain-d"})
    }


def test_a_star_is_one_cluster(days) -> None:
    assert _clusters(days[DAY1], "star-") == {
        frozenset({"star-hub", "star-1", "star-2", "star-3", "star-4", "star-5"})
    }


def test_two_components_are_two_clusters_and_a_lone_record_its_own(days) -> None:
    assert _clusters(days[DAY1], "two-") == {
        frozenset({"two-x1", "two-x2", "two-x3"}),
        frozenset({"two-y1", "two-y2"}),
        frozenset({"two-z"}),
    }


def test_a_cannot_link_cuts_the_weak_bridge_and_keeps_each_group_whole(days) -> None:
    labels = days[DAY1]
    left = frozenset({"bridge-l1", "bridge-l2", "bridge-l3"})
    right = frozenset({"bridge-r1", "bridge-r2", "bridge-r3"})
    assert _clusters(labels, "bridge-") == {left, right}
    # One component before the cut, resolved: no steward needs to look again.
    assert len({labels[r][2] for r in left | right}) == 1
    assert not any(labels[r][3] for r in left | right)
    # Without the cannot-link, the same graph is one customer.
    assert _clusters(labels, "nocut-") == {
        frozenset({f"nocut-{side}{n}" for side in "lr" for n in (1, 2, 3)})
    }


def test_the_guard_cuts_the_shared_landline_of_a_father_and_son(days) -> None:
    """Jr. and Sr. in one component cannot be one person: the guard cuts the
    component's weakest edge (the landline), and each keeps his records."""
    labels = days[DAY1]
    assert _clusters(labels, "suffix-") == {
        frozenset({"suffix-sr1", "suffix-sr2"}),
        frozenset({"suffix-jr1", "suffix-jr2"}),
    }
    assert not any(labels[r][3] for r in SUFFIXES)


def test_a_new_edge_reclusters_only_the_component_it_touches(days) -> None:
    first, second = days[DAY1], days[DAY2]
    joined = {"two-x1", "two-x2", "two-x3", "two-y1", "two-y2"}
    assert _clusters(second, "two-") == {frozenset(joined), frozenset({"two-z"})}
    assert {second[r][0] for r in joined} == {key("two-x1")}
    # The two components it joined were clustered again on day 2 ...
    assert {second[r][4] for r in joined} == {DAY2}
    # ... every other record kept its day-1 row as it was.
    untouched = set(first) - joined
    assert {r: second[r] for r in untouched} == {r: first[r] for r in untouched}
