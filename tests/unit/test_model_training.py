"""Training on narrow and young deployments: every deployment gets a model.

Real Splink on a real DuckDB file, fed the columns the model reads as
int_identity_records holds them, without the dbt build before it: what is
tested here is training and scoring, for inputs the generator does not make.
"""

from __future__ import annotations

import datetime as dt
import logging
import random

import duckdb
import pytest

from splink_models import identity, runtime


def _name_pools(seed: int) -> tuple[list[str], list[str]]:
    """Realistic name frequencies from Faker: a few common names, a long tail."""
    from faker import Faker

    fake = Faker(["en_US", "de_DE"])
    fake.seed_instance(seed)
    first = [fake.first_name().lower() for _ in range(3000)]
    last = [fake.last_name().lower() for _ in range(3000)]
    return first, last


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _names_and_birth_dates(people: int, seed: int = 3) -> list[dict]:
    """Two records a person, names and birth dates only; one record in five
    with a typo in a name, one in ten without its birth date."""
    rng = random.Random(seed)
    first_names, last_names = _name_pools(seed)
    rows = []
    for person in range(people):
        first, last = rng.choice(first_names), rng.choice(last_names)
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 60))
        for copy in range(2):
            f, s = first, last
            if copy and rng.random() < 0.2:
                f, s = (_typo(f, rng), s) if rng.random() < 0.5 else (f, _typo(s, rng))
            rows.append(
                {
                    "record_key": f"src{copy}:{person}",
                    "person": person,
                    "first_name_normalized": f,
                    "first_name_canonical": f,
                    "last_name_normalized": s,
                    "date_of_birth_normalized": None if rng.random() < 0.1 else born,
                    "name_block_key": f"{f} {s}",
                    "unordered_name_key": " ".join(sorted((f, s))),
                }
            )
    return rows


def _warehouse(path, rows: list[dict]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema intermediate")
    types = {"date_of_birth_normalized": "date"}
    columns = ", ".join(f"{c} {types.get(c, 'varchar')}" for c in identity.INPUT_COLUMNS)
    con.execute(f"create table intermediate.int_identity_records ({columns})")
    present = [c for c in rows[0] if c in identity.INPUT_COLUMNS]
    values = [[row[c] for row in rows] for c in present]
    unnested = ", ".join(f"unnest(?) as {c}" for c in present)
    con.execute(
        f"insert into intermediate.int_identity_records by name select {unnested}",
        values,
    )
    return con


def test_a_names_and_birth_dates_deployment_trains_and_links(tmp_path, caplog) -> None:
    rows = _names_and_birth_dates(1500)
    con = _warehouse(tmp_path / "w.duckdb", rows)
    try:
        with caplog.at_level(logging.WARNING):
            model = runtime.train(con, u_max_pairs=2e6)
        # Splink's per-session "could not train" warnings are expected, and
        # summarised in the model's notes instead.
        assert not [r for r in caplog.records if r.name.startswith("splink")]
        notes = "\n".join(model.notes)
        assert "m estimated by EM" in notes
        assert "from the defaults" in notes and "location" in notes and "email" in notes
        # The birth date is estimated by a session that does not block on it.
        dob = next(
            c for c in model.model["comparisons"] if c["output_column_name"] == "date_of_birth"
        )
        exact = next(
            level
            for level in dob["comparison_levels"]
            if level.get("label_for_charts", "").startswith("Exact")
        )
        assert exact["m_probability"] != identity.DEFAULT_M["date_of_birth"][0]

        runtime.score(con, model)
        person = {row["record_key"]: row["person"] for row in rows}
        linked = con.execute(
            "select record_key_a, record_key_b from matching.splink_match_pairs "
            "where match_probability >= 0.99"
        ).fetchall()
    finally:
        con.close()
    true_links = [pair for pair in linked if person[pair[0]] == person[pair[1]]]
    born = {row["record_key"] for row in rows if row["date_of_birth_normalized"]}
    # A person whose two records both give the birth date is linked; a name
    # alone, however exact, is not enough at this threshold.
    both_born = {p for p in person.values() if {f"src0:{p}", f"src1:{p}"} <= born}
    assert len(true_links) >= 0.95 * len(both_born)
    assert len(true_links) >= 0.995 * len(linked)


def test_too_few_pairs_for_any_session_still_gives_a_model(tmp_path) -> None:
    con = _warehouse(tmp_path / "w.duckdb", _names_and_birth_dates(20))
    try:
        model = runtime.train(con, u_max_pairs=1e4)
        assert any("every m from the documented defaults" in note for note in model.notes)
        assert runtime.current_model(con).notes == model.notes
        assert runtime.score(con, model).pairs_kept > 0
    finally:
        con.close()


def test_every_level_has_a_documented_default() -> None:
    levels = {
        comparison.output_column_name: [
            level for level in comparison.comparison_levels if not level.is_null_level
        ]
        for comparison in (c.get_comparison("duckdb") for c in identity.comparisons())
    }
    assert {name: len(non_null) for name, non_null in levels.items()} == {
        name: len(defaults) for name, defaults in identity.DEFAULT_M.items()
    }
    assert set(identity.COMPARISON_COLUMNS) == set(levels)


def test_the_prior_follows_the_recall_the_model_implies_for_its_rules(tmp_path) -> None:
    """Birth dates on 30% of records and no emails: the name-and-birth-date
    rule can fire on at most 9% of matches, not the assumed 70%."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        con.execute(
            f"create temp table {runtime._INPUT_TABLE} as select "
            "'n' || i as first_name_canonical, 'l' || i as last_name_normalized, "
            "case when i % 10 < 3 then date '1980-01-01' end as date_of_birth_normalized, "
            "null::varchar as email_block_key from range(1000) as t(i)"
        )
        model = {
            "probability_two_random_records_match": 1e-4,
            "comparisons": [
                {"output_column_name": name, "comparison_levels": levels}
                for name, levels in {
                    "email": [{"m_probability": 1.0}, {"m_probability": 0.0}],
                    "first_name": [{"m_probability": 0.8}, {}, {"m_probability": 0.2}],
                    "last_name": [{"m_probability": 1.0}],
                    "date_of_birth": [{"m_probability": 1.0}],
                }.items()
            ],
        }
        notes = runtime._implied_prior(con, model, records=1000, assumed_recall=0.7)
    finally:
        con.close()
    # Exact or nickname-equal first names (0.8 + 0.2), exact surnames and
    # birth dates, all held on both records (1 x 1 x 0.3^2): recall 0.09.
    assert model["probability_two_random_records_match"] == pytest.approx(1e-4 * 0.7 / 0.09)
    assert "catch 9.0% of matches" in notes[0]


def test_a_full_scoring_gives_every_kept_pair_the_score_it_was_kept_with(tmp_path) -> None:
    """Newcomers triple a first name's records after its pairs were scored:
    the pairs kept stand, and scoring every pair again changes none of them
    (the model's term frequencies are counted once, at its first scoring)."""
    rows = _names_and_birth_dates(600)
    con = _warehouse(tmp_path / "w.duckdb", rows)
    try:
        model = runtime.train(con, u_max_pairs=1e6)
        assert runtime.score(con, model).is_full
        ((name, holders),) = con.execute(
            "select first_name_normalized, count(*) from intermediate.int_identity_records "
            "group by 1 order by 2 desc, 1 limit 1"
        ).fetchall()
        con.execute(
            "insert into intermediate.int_identity_records "
            "(record_key, first_name_normalized, first_name_canonical, last_name_normalized, "
            "name_block_key, unordered_name_key) "
            "select 'new:' || i, ?, ?, 'newcomer' || i, ? || ' newcomer' || i, "
            "? || ' newcomer' || i from range(?) as t(i)",
            [name, name, name, name, 2 * holders],
        )
        assert not runtime.score(con, model).is_full
        pairs = "select * from matching.splink_match_pairs order by all"
        kept = con.execute(pairs).fetchall()
        assert any(name in (a, b) for a, b in _first_names(con, kept)), "no pair holds the name"
        assert runtime.score(con, model, full=True).is_full
        assert con.execute(pairs).fetchall() == kept
        # Counts of values two records or more held, by digest: no value,
        # and nothing of a value one record held.
        stored = con.execute(
            "select column_name, value_digest, value_records from matching.splink_term_frequencies"
        ).fetchall()
        assert {column for column, _, _ in stored} == {
            "first_name_normalized",
            "last_name_normalized",
            "postal_code_normalized",
        }
        assert all(records > 1 for _, digest, records in stored if digest is not None)
        assert not [row for row in stored if name in row]
    finally:
        con.close()


def _first_names(con, pairs) -> list[tuple[str, str]]:
    names = dict(
        con.execute(
            "select record_key, first_name_normalized from intermediate.int_identity_records"
        ).fetchall()
    )
    return [(names[pair[0]], names[pair[1]]) for pair in pairs]
