"""What matching sees: every live record once, typed loyalty numbers resolved,
and tokens that are keyed HMACs the vault maps back to the values."""

from __future__ import annotations

from pathlib import Path

from tests.support.warehouse_files import query as _query


def test_typed_pos_loyalty_numbers_resolve_to_the_members_own_id(generated: Path, warehouse):
    path, _ = warehouse
    links = f"read_parquet('{generated}/truth/person_links.parquet')"
    typed, resolved, same_person = _query(
        path,
        f"""
        select count(*), count(m.source_record_id),
               count(*) filter (where m.source_record_id is not null
                                and card_owner.person_id = member.person_id)
        from intermediate.int_identity_records r
        join staging.stg_pos__card_holders p on p.card_number = r.source_record_id
        left join intermediate.int_identity_records m
            on m.source_table = 'loyalty_members' and m.source_record_id = r.loyalty_id
        left join {links} card_owner on card_owner.source_record_id = r.source_record_id
        left join {links} member on member.source_record_id = r.loyalty_id
        where r.source_table = 'pos_card_holders' and p.loyalty_number <> ''
        """,
    )[0]
    assert typed > 20
    # A card can outlive the membership it was linked to (deleted since).
    assert resolved >= 0.95 * typed
    assert same_person == resolved


def test_identity_records_hold_every_live_record_once(generated: Path, warehouse) -> None:
    path, _ = warehouse
    links = f"read_parquet('{generated}/truth/person_links.parquet')"
    live, records, missing = _query(
        path,
        f"""
        select
            (select count(*) from {links} where is_live),
            (select count(*) from intermediate.int_identity_records),
            (select count(*) from {links} l where l.is_live and not exists (
                select 1 from intermediate.int_identity_records r
                where r.source_table = l.source_table
                  and r.source_record_id = l.source_record_id))
        """,
    )[0]
    assert records == live and missing == 0


# What each token type is the HMAC of, as vault_identity_pii holds the values.
TOKENIZED = {
    "email": ("email_token", "p.email_normalized"),
    "phone": ("phone_token", "p.phone_e164"),
    "address": ("address_token", "p.street_address_normalized || '|' || p.postal_code_normalized"),
}


RAW_IDENTIFIERS = ("email_normalized", "phone_e164", "street_address_normalized", "house_number")


def test_identity_tokens_are_keyed_hmacs_and_the_vault_maps_them_back(warehouse) -> None:
    from c360.tokenization import token

    path, _ = warehouse
    columns = {
        name
        for (name,) in _query(
            path,
            "select column_name from information_schema.columns "
            "where table_schema = 'intermediate' and table_name = 'int_identity_records'",
        )
    }
    # Matching sees tokens: the direct identifiers stay in the vault.
    assert {"record_key", "email_token", "phone_token", "address_token"} <= columns
    assert columns.isdisjoint(RAW_IDENTIFIERS)
    for pii_type, (token_column, value) in TOKENIZED.items():
        rows = _query(
            path,
            f"""
            select {value}, r.{token_column}, p.{token_column}, v.pii_value
            from intermediate.int_identity_records r
            join vault.vault_identity_pii p
                on p.source_table = r.source_table and p.source_record_id = r.source_record_id
            join vault.vault_pii_tokens v
                on v.pii_type = '{pii_type}' and v.token = r.{token_column}
            using sample 200 rows (reservoir, 7)
            """,
        )
        assert len(rows) == 200, pii_type
        for raw, matching_token, vault_token, vault_value in rows:
            assert matching_token == vault_token == token(pii_type, raw), pii_type
            assert vault_value == raw, pii_type
    shared = _query(
        path,
        """
        select count(*) from (
            select email_token from intermediate.int_identity_records
            where email_token is not null
            group by email_token having count(distinct source_table) > 1
        )
        """,
    )[0][0]
    assert shared > 100  # the same address in several systems: one token
