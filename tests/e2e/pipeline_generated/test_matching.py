"""Matching on generated data: deterministic edges and their errors, one current
trained model and near-linear blocking, re-training for a new definition, the
suffix guard, and life events that link while look-alikes stay apart."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from c360 import pipeline
from tests.support.landing import deliver
from tests.support.warehouse_files import copy_warehouse
from tests.support.warehouse_files import query as _query


def test_deterministic_edges_are_mostly_right_and_their_errors_are_hard_negatives(
    generated: Path, warehouse
) -> None:
    path, _ = warehouse
    truth = generated / "truth"
    unordered, duplicated = _query(
        path,
        """
        select
            count(*) filter (where not record_key_a < record_key_b),
            count(*) - count(distinct (record_key_a, record_key_b, rule_name))
        from intermediate.int_identity_edges__deterministic
        """,
    )[0]
    assert unordered == 0 and duplicated == 0
    by_rule = {
        rule: (edges, mapped, right, hard_negative)
        for rule, edges, mapped, right, hard_negative in _query(
            path,
            f"""
            with truth_records as (
                select source_table || ':' || source_record_id as record_key, person_id
                from read_parquet('{truth}/person_links.parquet')
                where is_live
            ),
            negatives as (
                select * from read_parquet('{truth}/hard_negatives.parquet')
            ),
            -- Two people the generator made hard to tell apart (one household,
            -- a shared family email or device, Jr./Sr., twins, a common name).
            hard_negative_pairs as (
                select distinct a.person_id as person_a, b.person_id as person_b
                from negatives a
                join negatives b
                    on a.kind = b.kind and a.group_id = b.group_id
                   and a.person_id <> b.person_id
            )
            select
                e.rule_name,
                count(*),
                count(*) filter (where ta.person_id is not null and tb.person_id is not null),
                count(*) filter (where ta.person_id = tb.person_id),
                count(*) filter (where ta.person_id <> tb.person_id
                                 and h.person_a is not null)
            from intermediate.int_identity_edges__deterministic e
            left join truth_records ta on ta.record_key = e.record_key_a
            left join truth_records tb on tb.record_key = e.record_key_b
            left join hard_negative_pairs h
                on h.person_a = ta.person_id and h.person_b = tb.person_id
            group by 1
            """,
        )
    }
    print("\ndeterministic edges (rule: edges, right, wrong, wrong between hard negatives):")
    for rule, (edges, _, right, hard_negative) in sorted(by_rule.items()):
        print(f"  {rule:<16} {edges:>6} {right:>6} {edges - right:>4} {hard_negative:>4}")
    assert set(by_rule) == {"same_email", "same_phone", "same_loyalty_id", "device_account"}
    assert by_rule["same_loyalty_id"][2] == by_rule["same_loyalty_id"][0]
    for rule, (edges, mapped, right, hard_negative) in by_rule.items():
        assert edges > 100, rule
        # Every edge joins two records the truth knows as live.
        assert mapped == edges, rule
        assert right >= 0.995 * edges, rule
        # What a rule gets wrong, it gets wrong between people the generator
        # made hard to tell apart (a shared landline, a family email or
        # tablet): the over-merge guard's job, not noise.
        assert hard_negative >= 0.9 * (edges - right), rule


COMPARISONS = {
    "first_name",
    "last_name",
    "date_of_birth",
    "location",
    "email",
    "phone",
    "name_suffix",
}


def test_one_trained_model_is_current_and_blocking_stays_near_linear(warehouse) -> None:
    import json

    path, first = warehouse
    assert first.trained is not None  # a new warehouse has no model: the first run trains
    models = _query(
        path, "select model_version, is_current, model_json from matching.splink_models"
    )
    current = [(version, text) for version, is_current, text in models if is_current]
    assert len(current) == 1
    version, text = current[0]
    assert version == first.trained.version == first.scoring.model_version
    model = json.loads(text)
    names = [c["output_column_name"] for c in model["comparisons"]]
    assert len(names) == len(set(names))
    assert set(names) >= COMPARISONS
    assert 0 < model["probability_two_random_records_match"] < 1
    for comparison in model["comparisons"]:
        # Trained: m and u estimated for the comparison's levels.
        assert any(
            "m_probability" in level and "u_probability" in level
            for level in comparison["comparison_levels"]
        ), comparison["output_column_name"]

    identity_records = _query(path, "select count(*) from intermediate.int_identity_records")[0][0]
    runs = _query(
        path,
        "select model_version, records, comparisons, records_rescored, is_full "
        "from matching.splink_scoring_runs order by run_date",
    )
    assert runs
    for run_version, records, comparisons, rescored, is_full in runs:
        assert run_version == version
        assert 0 < records <= identity_records
        if is_full:
            assert rescored == records and 0 < comparisons < 30 * records
        else:
            assert comparisons < 30 * rescored + 1
    assert runs[-1][1] == identity_records
    assert (version, first.scoring.records, first.scoring.comparisons) == runs[-1][:3]


def test_no_cluster_holds_two_generational_suffixes_unless_flagged(warehouse) -> None:
    path, _ = warehouse
    records, clustered = _query(
        path,
        """
        select
            (select count(*) from intermediate.int_identity_records),
            (select count(*) from intermediate.int_identity_clusters c
             join intermediate.int_identity_records r on r.record_key = c.record_key)
        """,
    )[0]
    assert clustered == records
    # The data tempts a merge: a father and son share a surname and a phone or address.
    tempting = _query(
        path,
        """
        select count(*)
        from intermediate.int_identity_records a
        join intermediate.int_identity_records b
            on a.last_name_normalized = b.last_name_normalized
           and a.record_key < b.record_key and a.name_suffix <> b.name_suffix
           and (a.phone_token = b.phone_token or a.address_token = b.address_token)
        """,
    )[0][0]
    assert tempting > 0
    mixed = _query(
        path,
        """
        select c.cluster_id, list(distinct r.name_suffix), bool_or(c.is_flagged_for_review)
        from intermediate.int_identity_clusters c
        join intermediate.int_identity_records r on r.record_key = c.record_key
        group by c.cluster_id
        having count(distinct r.name_suffix) > 1
        """,
    )
    assert [row for row in mixed if not row[2]] == []


def test_a_model_trained_for_another_definition_is_retrained(
    warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parameters are frozen between trainings, but a model trained before the
    comparisons in splink_models/identity.py changed no longer fits them."""
    from splink_models import identity, runtime

    path, _ = warehouse
    copy = copy_warehouse(path, tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(copy))
    try:
        old = runtime.current_model(con)
        assert old is not None and old.fits_the_code
        con.execute("update matching.splink_models set definition_version = 'an-older-definition'")
    finally:
        con.close()

    trained, scoring = pipeline.score(copy)

    assert trained is not None
    assert trained.definition_version == identity.definition_version()
    assert scoring.model_version == trained.version
    con = duckdb.connect(str(copy))
    try:
        current = runtime.current_model(con)
        stale = con.execute(
            "select count(*) from matching.splink_models "
            "where is_current and definition_version = 'an-older-definition'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert current is not None and current.fits_the_code
    assert stale == 0


# Life events and look-alikes, delivered on a day after the generated ones,
# to a warehouse whose model was trained on the generated people. Each is
# two records of one made-up person (or of two people, for the look-alikes),
# with names no generated person has.
_LIFE_EVENTS = {
    "ecommerce_customers": [
        # A married surname and a move, with the same email, first name and birth date.
        {
            "customer_account_id": "LE-E1",
            "first_name": "Maren",
            "last_name": "Quistgaard",
            "email": "maren.q@example.org",
            "date_of_birth": "1985-04-12",
            "street_address": "14 Alder Way",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
        },
        # A nickname with a typo, and a typo in the surname: the same birth date and postcode.
        {
            "customer_account_id": "LE-E3",
            "first_name": "Katherine",
            "last_name": "Wojtowicz",
            "email": "k.wojtowicz.90@example.net",
            "date_of_birth": "1990-02-14",
            "street_address": "301 Peachtree St",
            "city": "Atlanta",
            "state": "GA",
            "postal_code": "30301",
        },
        # Twins: one surname, birth date and address, two first names.
        {
            "customer_account_id": "LE-E6",
            "first_name": "Henrietta",
            "last_name": "Oyelaran",
            "email": "henrietta.oyelaran@example.com",
            "date_of_birth": "2001-03-09",
            "street_address": "6 Maple Dr",
            "city": "Boise",
            "state": "ID",
            "postal_code": "83702",
        },
    ],
    "loyalty_members": [
        {
            "loyalty_id": "LE-L1",
            "first_name": "Maren",
            "last_name": "Tollefsrud",
            "email": "maren.q@example.org",
            "date_of_birth": "1985-04-12",
            "street_address": "92 Birch Rd",
            "city": "Peoria",
            "state": "IL",
            "postal_code": "61602",
        },
        # A move with the same name, birth date and phone.
        {
            "loyalty_id": "LE-L2",
            "first_name": "Osric",
            "last_name": "Venhuizen",
            "phone": "(217) 555-0143",
            "date_of_birth": "1971-09-03",
            "street_address": "77 Pine Ave",
            "city": "Champaign",
            "state": "IL",
            "postal_code": "61820",
        },
        # First and last name swapped.
        {
            "loyalty_id": "LE-L4",
            "first_name": "Ingrid",
            "last_name": "Solvang",
            "date_of_birth": "1979-11-30",
            "street_address": "8 Elm Ct",
            "city": "Madison",
            "state": "WI",
            "postal_code": "53703",
        },
        # A father's son: one name, one address and landline, 30 years apart.
        {
            "loyalty_id": "LE-L5",
            "first_name": "Bartholomew",
            "last_name": "Ekwueme Jr.",
            "phone": "918-555-0190",
            "date_of_birth": "1988-06-02",
            "street_address": "31 Cedar Ln",
            "city": "Tulsa",
            "state": "OK",
            "postal_code": "74103",
        },
        {
            "loyalty_id": "LE-L6",
            "first_name": "Philippa",
            "last_name": "Oyelaran",
            "email": "pip.oyelaran@example.com",
            "date_of_birth": "2001-03-09",
            "street_address": "6 Maple Dr",
            "city": "Boise",
            "state": "ID",
            "postal_code": "83702",
        },
        # A household: one address and landline, two people.
        {
            "loyalty_id": "LE-L7",
            "first_name": "Evangeline",
            "last_name": "Fairweather",
            "phone": "518-555-0111",
            "date_of_birth": "1968-07-04",
            "street_address": "2 Spruce St",
            "city": "Albany",
            "state": "NY",
            "postal_code": "12207",
        },
    ],
    "enrichment_profiles": [
        {
            "provider_record_id": "LE-N2",
            "first_name": "Osric",
            "last_name": "Venhuizen",
            "phone": "217-555-0143",
            "date_of_birth": "1971-09-03",
            "street_address": "5 Oak St",
            "city": "Decatur",
            "state": "IL",
            "postal_code": "62521",
        },
        {
            "provider_record_id": "LE-N3",
            "first_name": "Kahty",
            "last_name": "Wojtowcz",
            "date_of_birth": "1990-02-14",
            "street_address": "301 Peachtree Street",
            "city": "Atlanta",
            "state": "GA",
            "postal_code": "30301",
        },
        {
            "provider_record_id": "LE-N4",
            "first_name": "Solvang",
            "last_name": "Ingrid",
            "date_of_birth": "1979-11-30",
            "street_address": "8 Elm Court",
            "city": "Madison",
            "state": "WI",
            "postal_code": "53703",
        },
        {
            "provider_record_id": "LE-N5",
            "first_name": "Bartholomew",
            "last_name": "Ekwueme",
            "phone": "918-555-0190",
            "date_of_birth": "1958-06-02",
            "street_address": "31 Cedar Ln",
            "city": "Tulsa",
            "state": "OK",
            "postal_code": "74103",
        },
        {
            "provider_record_id": "LE-N7",
            "first_name": "Cornelius",
            "last_name": "Fairweather",
            "phone": "518-555-0111",
            "date_of_birth": "1966-01-20",
            "street_address": "2 Spruce St",
            "city": "Albany",
            "state": "NY",
            "postal_code": "12207",
        },
    ],
}


_ONE_PERSON = {
    "married surname and a move, same email": (
        "ecommerce_customers:LE-E1",
        "loyalty_members:LE-L1",
    ),
    "a move, same name, birth date and phone": (
        "loyalty_members:LE-L2",
        "enrichment_profiles:LE-N2",
    ),
    "a nickname and a typo in each name": (
        "ecommerce_customers:LE-E3",
        "enrichment_profiles:LE-N3",
    ),
    "first and last name swapped": ("loyalty_members:LE-L4", "enrichment_profiles:LE-N4"),
}


_TWO_PEOPLE = {
    "father and son": ("loyalty_members:LE-L5", "enrichment_profiles:LE-N5"),
    "twins": ("ecommerce_customers:LE-E6", "loyalty_members:LE-L6"),
    "household members": ("loyalty_members:LE-L7", "enrichment_profiles:LE-N7"),
}


def test_life_events_link_and_look_alikes_stay_apart(
    generated: Path, warehouse, tmp_path: Path
) -> None:
    path, _ = warehouse
    landing = tmp_path / "landing"
    shutil.copytree(generated / "landing", landing)
    last_day = max(p.name for p in (landing / "ecommerce_customers").iterdir())
    day = (dt.date.fromisoformat(last_day.removeprefix("dt=")) + dt.timedelta(days=1)).isoformat()
    deliver(landing, day, _LIFE_EVENTS)
    copy = copy_warehouse(path, tmp_path / "w.duckdb")

    pipeline.run(landing, copy)

    customer = dict(
        _query(
            copy,
            "select source_table || ':' || source_record_id, customer_id "
            "from marts.customer_source_xref where source_record_id like 'LE-%'",
        )
    )
    assert len(customer) == sum(len(rows) for rows in _LIFE_EVENTS.values())
    apart = [case for case, (a, b) in _ONE_PERSON.items() if customer[a] != customer[b]]
    merged = [case for case, (a, b) in _TWO_PEOPLE.items() if customer[a] == customer[b]]
    assert (apart, merged) == ([], [])
