"""Scoring a clustering against truth: hand-checked cases and a brute-force oracle."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from c360.cli import main
from c360.evaluation import evaluate, format_evaluation, write_evaluation

# (source_table, source_record_id, person_id, is_live)
Link = tuple[str, str, int, bool]
# (source_table, source_record_id, customer_id)
Xref = tuple[str, str, str]
# (person_id, kind, group_id)
Negative = tuple[int, str, int]


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple], select: str) -> None:
    """All rows in one statement, as column lists unnested side by side: executemany
    is slow enough to dominate these tests."""
    if rows:
        columns = [list(c) for c in zip(*rows, strict=True)]
        unnested = ", ".join(f"unnest(?) as c{i}" for i in range(len(columns)))
        con.execute(f"insert into {table} select {select} from (select {unnested})", columns)


def _build(
    tmp_path: Path,
    links: list[Link],
    xref: list[Xref] | None,
    negatives: list[Negative] | None = None,
) -> tuple[Path, Path]:
    """A warehouse file with the xref mart (None: without it) and a truth directory."""
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts")
    if xref is not None:
        # An extra column, as the real mart has more than the three scored.
        con.execute(
            "create table marts.customer_source_xref (source_table varchar, "
            "source_record_id varchar, customer_id varchar, matched_at timestamp)"
        )
        _insert(con, "marts.customer_source_xref", xref, "c0, c1, c2, now()")
    con.close()

    truth = tmp_path / "truth"
    truth.mkdir()
    con = duckdb.connect()
    con.execute(
        "create table links (source_table varchar, source_record_id varchar, person_id bigint, "
        "is_duplicate_in_source boolean, created_day smallint, is_live boolean)"
    )
    _insert(con, "links", links, "c0, c1, c2, false, 0, c3")
    con.execute("create table negatives (person_id bigint, kind varchar, group_id bigint)")
    _insert(con, "negatives", negatives or [], "c0, c1, c2")
    con.execute(f"copy links to '{truth / 'person_links.parquet'}' (format parquet)")
    con.execute(f"copy negatives to '{truth / 'hard_negatives.parquet'}' (format parquet)")
    con.close()
    return warehouse, truth


def _oracle(links: list[Link], xref: list[Xref], negatives: list[Negative]) -> dict:
    """The same metrics by enumerating every record pair: the definition, not the algebra."""
    truth = {(s, r): (p, live) for s, r, p, live in links}
    cluster_of = {(s, r): c for s, r, c in xref}
    live = {k for k, (_, is_live) in truth.items() if is_live}
    scored = sorted(live & cluster_of.keys())
    person = {k: truth[k][0] for k in scored}
    cluster = {k: cluster_of[k] for k in scored}
    records = {
        "scored": len(scored),
        "truth_live": len(live),
        "xref": len(cluster_of),
        "missing_from_xref": len(live - cluster_of.keys()),
        "xref_not_in_truth": len(cluster_of.keys() - truth.keys()),
        "xref_not_live_in_truth": len((cluster_of.keys() & truth.keys()) - live),
        "erased_by_request": 0,
    }

    tp = fp = fn = 0
    pair_counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for a, b in itertools.combinations(scored, 2):
        same_c, same_p = cluster[a] == cluster[b], person[a] == person[b]
        key = tuple(sorted((a[0], b[0])))
        if same_c and same_p:
            tp += 1
            pair_counts[key]["tp"] += 1
        elif same_c:
            fp += 1
            pair_counts[key]["fp"] += 1
        elif same_p:
            fn += 1
            pair_counts[key]["fn"] += 1

    members_c: dict[str, set] = defaultdict(set)
    members_p: dict[int, set] = defaultdict(set)
    for k in scored:
        members_c[cluster[k]].add(k)
        members_p[person[k]].add(k)
    bp = sum(
        len(members_c[cluster[k]] & members_p[person[k]]) / len(members_c[cluster[k]])
        for k in scored
    )
    br = sum(
        len(members_c[cluster[k]] & members_p[person[k]]) / len(members_p[person[k]])
        for k in scored
    )
    persons_in = {c: {person[k] for k in ks} for c, ks in members_c.items()}
    clusters_of = {p: {cluster[k] for k in ks} for p, ks in members_p.items()}
    merged = [c for c, ps in persons_in.items() if len(ps) > 1]
    split = [p for p, cs in clusters_of.items() if len(cs) > 1]

    groups: dict[tuple[str, int], set[int]] = defaultdict(set)
    for p, kind, g in negatives:
        groups[(kind, g)].add(p)
    hard: dict[str, Counter] = defaultdict(Counter)
    for (kind, _), people in groups.items():
        h = hard[kind]
        h["groups"] += 1
        h["people"] += len(people)
        h["person_pairs"] += len(people) * (len(people) - 1) // 2
        bad = [
            (p, q)
            for p, q in itertools.combinations(sorted(people), 2)
            if clusters_of.get(p, set()) & clusters_of.get(q, set())
        ]
        h["falsely_merged_person_pairs"] += len(bad)
        h["groups_falsely_merged"] += bool(bad)

    return {
        "records": records,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "bcubed": (bp / len(scored), br / len(scored)),
        "clusters": {
            "predicted": len(members_c),
            "true_persons": len(members_p),
            "false_merges": {
                "clusters": len(merged),
                "records": sum(len(members_c[c]) for c in merged),
                "persons": len(set().union(*(persons_in[c] for c in merged))),
            },
            "false_splits": {
                "persons": len(split),
                "extra_clusters": sum(len(clusters_of[p]) - 1 for p in split),
                "records": sum(len(members_p[p]) for p in split),
            },
        },
        "by_source_pair": {k: dict(v) for k, v in pair_counts.items()},
        "hard_negatives": {k: dict(v) for k, v in hard.items()},
    }


def _prf(p: float, r: float) -> dict[str, float]:
    return {"precision": p, "recall": r, "f1": 0.0 if p + r == 0 else 2 * p * r / (p + r)}


def test_perfect_clustering_scores_one(tmp_path: Path) -> None:
    links = [("crm", "c1", 1, True), ("ecom", "e1", 1, True), ("ecom", "e2", 2, True)]
    xref = [("crm", "c1", "A"), ("ecom", "e1", "A"), ("ecom", "e2", "B")]
    result = evaluate(*_build(tmp_path, links, xref, [(1, "household", 9), (2, "household", 9)]))
    for metrics in (result["pairwise"], result["bcubed"]):
        assert (metrics["precision"], metrics["recall"], metrics["f1"]) == (1.0, 1.0, 1.0)
    assert (
        result["pairwise"]["tp"] == 1 and result["pairwise"]["fp"] == result["pairwise"]["fn"] == 0
    )
    assert result["clusters"]["false_merges"]["clusters"] == 0
    assert result["clusters"]["false_splits"]["persons"] == 0
    assert result["hard_negatives"]["household"]["falsely_merged_person_pairs"] == 0
    assert all(r["precision"] == r["recall"] == 1.0 for r in result["by_source_pair"])


def test_one_false_merge_and_one_false_split(tmp_path: Path) -> None:
    links = [
        ("crm", "a1", 1, True),
        ("ecom", "a2", 1, True),
        ("ecom", "a3", 1, True),  # split off person 1
        ("crm", "b1", 2, True),
        ("pos", "b2", 2, True),
        ("pos", "c1", 3, True),  # merged into person 2's cluster
    ]
    xref = [
        ("crm", "a1", "C1"),
        ("ecom", "a2", "C1"),
        ("ecom", "a3", "C2"),
        ("crm", "b1", "C3"),
        ("pos", "b2", "C3"),
        ("pos", "c1", "C3"),
    ]
    negatives = [(2, "household", 1), (3, "household", 1), (1, "household", 2), (4, "household", 2)]
    negatives += [(1, "twins", 7), (2, "twins", 7)]
    result = evaluate(*_build(tmp_path, links, xref, negatives))

    assert result["records"] == {
        "scored": 6,
        "truth_live": 6,
        "xref": 6,
        "missing_from_xref": 0,
        "xref_not_in_truth": 0,
        "xref_not_live_in_truth": 0,
        "erased_by_request": 0,
    }
    assert result["pairwise"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "tp": 2,
        "fp": 2,
        "fn": 2,
        "predicted_pairs": 4,
        "true_pairs": 4,
    }
    # a1, a2, a3 are pure (1 each), b1, b2 share 2/3 and c1 1/3: 14/3 over 6; recall mirrors it.
    assert result["bcubed"] == {"precision": 0.777778, "recall": 0.777778, "f1": 0.777778}
    assert result["clusters"] == {
        "predicted": 3,
        "true_persons": 3,
        "false_merges": {"clusters": 1, "records": 3, "persons": 2},
        "false_splits": {"persons": 1, "extra_clusters": 1, "records": 3},
    }
    by_pair = {(r["source_a"], r["source_b"]): r for r in result["by_source_pair"]}
    assert {k: (r["tp"], r["fp"], r["fn"]) for k, r in by_pair.items()} == {
        ("crm", "ecom"): (1, 0, 1),
        ("crm", "pos"): (1, 1, 0),
        ("ecom", "ecom"): (0, 0, 1),
        ("pos", "pos"): (0, 1, 0),
    }
    assert (by_pair[("ecom", "ecom")]["precision"], by_pair[("ecom", "ecom")]["recall"]) == (1, 0)
    assert (by_pair[("pos", "pos")]["precision"], by_pair[("pos", "pos")]["recall"]) == (0, 1)
    assert result["hard_negatives"] == {
        "household": {
            "groups": 2,
            "people": 4,
            "person_pairs": 2,
            "groups_falsely_merged": 1,
            "falsely_merged_person_pairs": 1,
        },
        "twins": {
            "groups": 1,
            "people": 2,
            "person_pairs": 1,
            "groups_falsely_merged": 0,
            "falsely_merged_person_pairs": 0,
        },
    }

    report = format_evaluation(result)
    assert "pairwise  P 0.5000  R 0.5000" in report
    rows = [line.split()[0] for line in report.splitlines() if " ~ " in line]
    # Worst first: both pos~pos (F1 0) and ecom~ecom (F1 0) precede the F1 0.67 pairs.
    assert set(rows[:2]) == {"pos", "ecom"}


def test_non_live_records_are_not_scored(tmp_path: Path) -> None:
    links = [
        ("crm", "a1", 1, True),
        ("ecom", "a2", 1, True),
        ("crm", "b1", 2, True),
        ("ecom", "gone1", 2, False),  # still in the xref, in person 1's cluster
        ("ecom", "gone2", 1, False),  # deleted and forgotten by the pipeline: not counted
        ("pos", "lost", 2, True),  # live but missing from the xref
    ]
    xref = [
        ("crm", "a1", "A"),
        ("ecom", "a2", "A"),
        ("crm", "b1", "B"),
        ("ecom", "gone1", "A"),
        ("app", "ghost", "A"),  # not in truth at all
    ]
    result = evaluate(*_build(tmp_path, links, xref))
    assert result["records"] == {
        "scored": 3,
        "truth_live": 4,
        "xref": 5,
        "missing_from_xref": 1,
        "xref_not_in_truth": 1,
        "xref_not_live_in_truth": 1,
        "erased_by_request": 0,
    }
    assert result["pairwise"]["precision"] == result["pairwise"]["recall"] == 1.0
    assert result["bcubed"]["f1"] == 1.0
    assert result["clusters"]["false_merges"]["clusters"] == 0
    assert result["hard_negatives"] == {}


def test_records_erased_by_a_privacy_request_are_told_apart_from_missing_ones(tmp_path):
    from c360.privacy import suppression_hash

    links = [
        ("crm", "a1", 1, True),
        ("ecom", "a2", 1, True),
        ("pos", "erased", 2, True),  # erased: the xref lacks it, the suppression list has it
        ("pos", "lost", 3, True),  # lost: the xref lacks it, nothing explains why
    ]
    xref = [("crm", "a1", "A"), ("ecom", "a2", "A")]
    warehouse, truth = _build(tmp_path, links, xref)
    con = duckdb.connect(str(warehouse))
    con.execute("create schema privacy")
    con.execute(
        "create table privacy.suppression_list (identifier_kind varchar, identifier_hash varchar)"
    )
    con.execute(
        "insert into privacy.suppression_list values ('source_record', ?), ('email', ?)",
        [suppression_hash("source_record", "pos|erased"), suppression_hash("email", "lost")],
    )
    con.close()

    records = evaluate(warehouse, truth)["records"]

    assert (records["erased_by_request"], records["missing_from_xref"]) == (1, 1)
    assert "1 erased by privacy requests; 1 live missing from xref" in format_evaluation(
        evaluate(warehouse, truth)
    )


def _random_case(seed: int) -> tuple[list[Link], list[Xref], list[Negative]]:
    rng = random.Random(seed)
    sources = ["crm", "ecom", "loyalty", "pos"]
    links: list[Link] = []
    for person in range(70):
        for _ in range(rng.choice([1, 2, 3, 4, 5])):
            # A few dead records, and some people with several in one source.
            live = rng.random() > 0.08
            links.append((rng.choice(sources), f"r{len(links)}", person, live))
    negatives: list[Negative] = []
    people = list(range(70))
    rng.shuffle(people)
    for g, kind in enumerate(["household"] * 8 + ["twins"] * 3 + ["jr_sr"] * 3):
        members = people[g * 3 : g * 3 + rng.choice([2, 3, 4])]
        negatives += [(p, kind, g) for p in members]
    negatives += [(people[0], "common_name", 99), (people[40], "common_name", 99)]

    # Prediction: truth, then merges of whole people (favouring look-alikes)
    # and records split off or moved to another person's cluster.
    cluster = {p: f"K{p}" for p in range(70)}
    for g in rng.sample(range(14), 4):
        members = [p for p, _, group in negatives if group == g]
        for p in rng.sample(members, 2):
            cluster[p] = f"G{g}"
    for _ in range(5):
        a, b = rng.sample(range(70), 2)
        cluster[a] = cluster[b]
    xref: list[Xref] = []
    for i, (s, r, p, live) in enumerate(links):
        roll = rng.random()
        if live and roll < 0.03:
            continue  # missing from the mart
        if not live and roll < 0.5:
            continue  # deleted and dropped
        c = cluster[p]
        if roll > 0.9:
            c = f"S{i}"
        elif roll > 0.85:
            c = cluster[rng.randrange(70)]
        xref.append((s, r, c))
    xref += [("app", f"x{i}", f"K{rng.randrange(70)}") for i in range(3)]
    return links, xref, negatives


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_brute_force(tmp_path: Path, seed: int) -> None:
    links, xref, negatives = _random_case(seed)
    result = evaluate(*_build(tmp_path, links, xref, negatives))
    want = _oracle(links, xref, negatives)

    assert 150 <= want["records"]["scored"] <= 250
    assert want["fp"] and want["fn"] and want["clusters"]["false_merges"]["clusters"]
    assert result["records"] == want["records"]
    pw = result["pairwise"]
    assert (pw["tp"], pw["fp"], pw["fn"]) == (want["tp"], want["fp"], want["fn"])
    assert pw["predicted_pairs"] == want["tp"] + want["fp"]
    assert pw["true_pairs"] == want["tp"] + want["fn"]
    expected = _prf(want["tp"] / (want["tp"] + want["fp"]), want["tp"] / (want["tp"] + want["fn"]))
    assert pw == pytest.approx({**pw, **expected}, abs=1e-6)
    assert result["bcubed"] == pytest.approx(_prf(*want["bcubed"]), abs=1e-6)
    assert result["clusters"] == want["clusters"]

    got_pairs = {(r["source_a"], r["source_b"]): r for r in result["by_source_pair"]}
    assert got_pairs.keys() == want["by_source_pair"].keys()
    for key, counts in want["by_source_pair"].items():
        row = got_pairs[key]
        tp, fp, fn = (counts.get(k, 0) for k in ("tp", "fp", "fn"))
        assert (row["tp"], row["fp"], row["fn"]) == (tp, fp, fn), key
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        assert {k: row[k] for k in ("precision", "recall", "f1")} == pytest.approx(
            _prf(p, r), abs=1e-6
        )
    assert sum(r["tp"] for r in result["by_source_pair"]) == pw["tp"]
    assert sum(r["fp"] for r in result["by_source_pair"]) == pw["fp"]
    assert sum(r["fn"] for r in result["by_source_pair"]) == pw["fn"]

    want_hard = {
        kind: {
            k: h.get(k, 0)
            for k in (
                "groups",
                "people",
                "person_pairs",
                "groups_falsely_merged",
                "falsely_merged_person_pairs",
            )
        }
        for kind, h in want["hard_negatives"].items()
    }
    assert result["hard_negatives"] == want_hard
    assert any(h["falsely_merged_person_pairs"] for h in want_hard.values())
    json.dumps(result)  # plain types only


def test_missing_xref_is_a_clear_error(tmp_path: Path) -> None:
    warehouse, truth = _build(tmp_path, [("crm", "a", 1, True)], None)
    with pytest.raises(ValueError, match="marts.customer_source_xref not found"):
        evaluate(warehouse, truth)
    assert main(["evaluate", "--truth", str(truth), "--warehouse", str(warehouse)]) == 2


def test_missing_truth_file_is_a_clear_error(tmp_path: Path) -> None:
    warehouse, truth = _build(tmp_path, [("crm", "a", 1, True)], [("crm", "a", "A")])
    (truth / "hard_negatives.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="hard_negatives.parquet"):
        evaluate(warehouse, truth)


def test_record_in_two_clusters_is_rejected(tmp_path: Path) -> None:
    links = [("crm", "a", 1, True)]
    warehouse, truth = _build(tmp_path, links, [("crm", "a", "A"), ("crm", "a", "B")])
    with pytest.raises(ValueError, match="more than one customer_id"):
        evaluate(warehouse, truth)


def test_cli_writes_json_next_to_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    links = [("crm", "a", 1, True), ("pos", "b", 1, True), ("pos", "c", 2, True)]
    xref = [("crm", "a", "A"), ("pos", "b", "A"), ("pos", "c", "A")]
    warehouse, truth = _build(tmp_path, links, xref)
    # The warehouse resolves as for `c360 run`: here from $C360_WAREHOUSE.
    monkeypatch.setenv("C360_WAREHOUSE", str(warehouse))
    assert main(["evaluate", "--truth", str(truth)]) == 0
    out = warehouse.parent / "evaluation.json"
    written = json.loads(out.read_text())
    assert written == evaluate(warehouse, truth)
    assert written["pairwise"]["fp"] == 2
    printed = capsys.readouterr().out
    assert "pairwise" in printed and str(out) in printed

    explicit = tmp_path / "reports" / "eval.json"
    argv = [
        "evaluate",
        "--truth",
        str(truth),
        "--warehouse",
        str(warehouse),
        "--out",
        str(explicit),
    ]
    assert main(argv) == 0
    assert json.loads(explicit.read_text()) == written


def test_write_evaluation_round_trips(tmp_path: Path) -> None:
    result = {"pairwise": {"precision": 0.5, "tp": 3}, "by_source_pair": []}
    path = write_evaluation(result, tmp_path / "e.json")
    assert json.loads(path.read_text()) == result


def test_pairs_completeness_counts_true_pairs_an_edge_or_a_rule_reaches(tmp_path: Path) -> None:
    """Of the true pairs among identifiable records, those a deterministic edge
    links or a blocking rule holds; anonymous and deleted records are no pairs."""
    from c360.evaluation import _blocking

    t = "ecommerce_customers"
    links = [
        (t, "a1", 1, True),
        (t, "a2", 1, True),
        (t, "a3", 1, True),
        (t, "b1", 2, True),
        (t, "b2", 2, True),  # anonymous
        (t, "c1", 3, False),  # deleted
        (t, "c2", 3, True),
        (t, "d1", 4, True),
        (t, "d2", 4, True),
        (t, "e1", 5, True),
        (t, "e2", 5, True),  # shares nothing with e1
    ]
    xref = [(t, rid, f"cus_{rid}") for _, rid, _, live in links if live]
    warehouse, truth = _build(tmp_path, links, xref)
    con = duckdb.connect(str(warehouse))
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_identity_records (record_key varchar, "
        "zip varchar, name varchar, is_anonymous boolean)"
    )
    records = [
        ("a1", "1", "x", False),
        ("a2", "1", "x", False),
        ("a3", "2", "y", False),
        ("b1", "3", "w", False),
        ("b2", "3", "w", True),
        ("c2", "4", "v", False),
        ("d1", "5", "z", False),
        ("d2", "6", "z", False),
        ("e1", "7", "s", False),
        ("e2", "8", "t", False),
    ]
    _insert(
        con,
        "intermediate.int_identity_records",
        [(f"{t}:{rid}", *rest) for rid, *rest in records],
        "c0, c1, c2, c3",
    )
    con.execute(
        "create table intermediate.int_identity_edges__deterministic "
        "(record_key_a varchar, record_key_b varchar)"
    )
    con.execute(
        f"insert into intermediate.int_identity_edges__deterministic values ('{t}:a1', '{t}:a3')"
    )
    con.execute("create schema matching")
    con.execute(
        "create table matching.splink_scoring_runs (scored_at timestamp, records bigint, "
        "comparisons bigint, is_full boolean)"
    )
    con.execute(
        "insert into matching.splink_scoring_runs values "
        "('2025-01-01 00:00', 10, 25, true), ('2025-01-02 00:00', 3, 4, false)"
    )
    try:
        result = _blocking(
            con,
            truth / "person_links.parquet",
            ["l.zip = r.zip", "l.name = r.name"],
            shared_value_columns=("zip",),
        )
    finally:
        con.close()
    # Person 1: a1~a2 (both rules), a1~a3 (the edge), a2~a3 (nothing); person 4: d1~d2
    # (name); person 5: e1~e2 (nothing).
    assert result["true_pairs"] == 5
    assert result["pairs_completeness"] == 0.6
    assert result["pairs_missed"] == 2
    assert result["by_deterministic_edges"] == 0.2
    assert result["by_blocking_rules"] == 0.4
    assert [(r["pairs"], r["pairs_no_other_rule_or_edge_reaches"]) for r in result["rules"]] == [
        (1, 0),
        (2, 1),
    ]
    assert result["full_scoring"] == {"records": 10, "comparisons": 25, "per_record": 2.5}
    # a2~a3 is reached by no rule, but a2~a1~a3 chains it; nothing chains e1~e2.
    assert result["reachable_through_other_records"] == 0.8
    # Only a1~a2 share a zip: the name, standing in for a first name here, is no value
    # blocking on values could use.
    assert result["sharing_a_value_beyond_first_name"] == 0.2
