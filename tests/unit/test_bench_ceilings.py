"""The recall ceiling of `python -m c360.tools.bench_ceilings`, on a warehouse small
enough to count by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb

from c360.tools.bench_ceilings import recall_ceiling

T = "ecommerce_customers"

# record, person, customer, postcode, email
RECORDS = [
    ("a1", 1, "c1", None, None),
    ("a2", 1, "c1", None, None),
    ("a3", 1, "c2", None, None),  # shares only a name with a1 and a2: compared, missed
    ("b1", 2, "c3", "10001", None),
    ("b2", 2, "c4", "10001", None),  # a postcode only, never compared: missed
    ("e1", 3, "c5", None, "tok"),
    ("e2", 3, "c6", None, "tok"),  # an email, never compared: missed, within reach
    ("d1", 4, "c7", None, None),  # a namesake of person 1, compared with a1
]
SCORED = [("a1", "a3", 0.9), ("a1", "d1", 0.95), ("b1", "e1", 0.1)]


def test_the_ceiling_leaves_out_what_shares_no_evidence(tmp_path: Path) -> None:
    truth = tmp_path / "person_links.parquet"
    con = duckdb.connect()
    con.execute(
        "copy (select ? as source_table, unnest(?) as source_record_id, "
        "unnest(?) as person_id, true as is_live) to ?",
        [T, [r[0] for r in RECORDS], [r[1] for r in RECORDS], str(truth)],
    )
    con.execute("create schema intermediate")
    con.execute("create schema marts")
    con.execute("create schema matching")
    con.execute(
        "create table intermediate.int_identity_records as select "
        f"'{T}:' || unnest(?) as record_key, false as is_anonymous, "
        "cast(null as date) as date_of_birth_normalized, unnest(?) as postal_code_normalized, "
        "unnest(?) as email_token, cast(null as varchar) as phone_token, "
        "cast(null as varchar) as address_token, cast(null as varchar) as loyalty_id",
        [[r[0] for r in RECORDS], [r[3] for r in RECORDS], [r[4] for r in RECORDS]],
    )
    con.execute(
        f"create table marts.customer_source_xref as select '{T}' as source_table, "
        "unnest(?) as source_record_id, unnest(?) as customer_id",
        [[r[0] for r in RECORDS], [r[2] for r in RECORDS]],
    )
    con.execute(
        f"create table matching.splink_match_pairs as select '{T}:' || unnest(?) as record_key_a, "
        f"'{T}:' || unnest(?) as record_key_b, unnest(?) as match_probability",
        [[s[0] for s in SCORED], [s[1] for s in SCORED], [s[2] for s in SCORED]],
    )
    figures = recall_ceiling(con, truth)
    # True pairs: 3 of person 1, 1 each of persons 2 and 3; all but a1~a2 missed.
    assert figures["identifiable_true_pairs"] == 5
    assert figures["missed"] == 4
    assert figures["missed_never_compared_sharing_at_most_a_postcode"] == 1
    assert figures["missed_compared_sharing_nothing_beyond_names"] == 2
    # c1~c2 is one person (2 record pairs), c1~c7 a namesake (2 record pairs).
    assert figures["names_only_customer_pairs_one_person"] == 1
    assert figures["names_only_customer_pairs_two_people"] == 1
    assert figures["names_only_record_pairs_true"] == 2
    assert figures["names_only_record_pairs_false"] == 2
    assert figures["recall_ceiling"] == 0.4
