"""The landing-zone contract (../shared/CONTRACT.md, section 1) as data.

The generator writes to it, the loader reads by it, and the tests check both
against it, so a drift between code and contract fails a test instead of a
production load.
"""

from __future__ import annotations

from dataclasses import dataclass

# Landing types. Everything not named here is a string.
STRING = "string"
DATE = "date"
TIMESTAMP = "timestamp"
BOOL = "bool"
INT = "int"
DECIMAL = "decimal"

# Every landing row carries these after the contract's own columns.
OP_COLUMN = "_op"
EXTRACTED_AT_COLUMN = "_extracted_at"
OPS = ("U", "D")


@dataclass(frozen=True)
class LandingTable:
    name: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (name, type), key excluded
    kind: str  # identity | activity | privacy
    source: str  # the source system that delivers it

    @property
    def all_columns(self) -> tuple[tuple[str, str], ...]:
        return (
            ((self.key, STRING),)
            + self.columns
            + ((OP_COLUMN, STRING), (EXTRACTED_AT_COLUMN, TIMESTAMP))
        )

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.all_columns]


def _cols(*spec: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in spec:
        name, _, typ = item.partition(":")
        out.append((name, typ or STRING))
    return tuple(out)


TABLES: dict[str, LandingTable] = {
    t.name: t
    for t in (
        LandingTable(
            "ecommerce_customers",
            "customer_account_id",
            _cols(
                "email",
                "first_name",
                "last_name",
                "phone",
                "street_address",
                "city",
                "state",
                "postal_code",
                "country",
                "date_of_birth:date",
                "marketing_opt_in:bool",
                "created_at:timestamp",
                "updated_at:timestamp",
            ),
            "identity",
            "ecommerce",
        ),
        LandingTable(
            "mobile_app_devices",
            "device_id",
            _cols(
                "platform",
                "app_version",
                "profile_email",
                "profile_first_name",
                "push_opt_in:bool",
                "first_seen_at:timestamp",
                "last_seen_at:timestamp",
            ),
            "identity",
            "mobile_app",
        ),
        LandingTable(
            "loyalty_members",
            "loyalty_id",
            _cols(
                "first_name",
                "last_name",
                "email",
                "phone",
                "street_address",
                "city",
                "state",
                "postal_code",
                "date_of_birth:date",
                "tier",
                "points_balance:int",
                "enrolled_at:timestamp",
                "updated_at:timestamp",
            ),
            "identity",
            "loyalty",
        ),
        LandingTable(
            "pos_card_holders",
            "card_number",
            _cols(
                "loyalty_number",
                "first_name",
                "last_name",
                "phone",
                "postal_code",
                "home_store_id",
                "issued_at:timestamp",
            ),
            "identity",
            "pos",
        ),
        LandingTable(
            "crm_contacts",
            "contact_id",
            _cols(
                "phone",
                "email",
                "first_name",
                "last_name",
                "postal_code",
                "created_at:timestamp",
                "updated_at:timestamp",
            ),
            "identity",
            "crm",
        ),
        LandingTable(
            "enrichment_profiles",
            "provider_record_id",
            _cols(
                "email",
                "phone",
                "first_name",
                "last_name",
                "street_address",
                "city",
                "state",
                "postal_code",
                "date_of_birth:date",
                "gender",
                "household_income_band",
                "household_size:int",
                "interests",
                "refreshed_at:timestamp",
            ),
            "identity",
            "enrichment",
        ),
        LandingTable(
            "ecommerce_orders",
            "order_id",
            _cols(
                "customer_account_id",
                "order_ts:timestamp",
                "order_total:decimal",
                "currency",
                "status",
                "ship_postal_code",
            ),
            "activity",
            "ecommerce",
        ),
        LandingTable(
            "mobile_app_events",
            "event_id",
            _cols("device_id", "customer_account_id", "event_type", "event_ts:timestamp"),
            "activity",
            "mobile_app",
        ),
        LandingTable(
            "pos_transactions",
            "transaction_id",
            _cols("card_number", "store_id", "txn_ts:timestamp", "amount:decimal"),
            "activity",
            "pos",
        ),
        LandingTable(
            "crm_tickets",
            "ticket_id",
            _cols(
                "contact_id",
                "opened_at:timestamp",
                "closed_at:timestamp",
                "channel",
                "category",
                "status",
                "csat_score:int",
            ),
            "activity",
            "crm",
        ),
        LandingTable(
            "privacy_requests",
            "request_id",
            _cols(
                "request_type",
                "jurisdiction",
                "subject_email",
                "subject_phone",
                "subject_loyalty_id",
                "subject_customer_id",
                "received_at:timestamp",
            ),
            "privacy",
            "privacy",
        ),
    )
}

IDENTITY_TABLES = [t for t in TABLES.values() if t.kind == "identity"]
ACTIVITY_TABLES = [t for t in TABLES.values() if t.kind == "activity"]

# Which identity table an activity table's foreign keys point at.
ACTIVITY_REFERENCES: dict[str, list[tuple[str, str]]] = {
    "ecommerce_orders": [("customer_account_id", "ecommerce_customers")],
    "mobile_app_events": [
        ("device_id", "mobile_app_devices"),
        ("customer_account_id", "ecommerce_customers"),
    ],
    "pos_transactions": [("card_number", "pos_card_holders")],
    "crm_tickets": [("contact_id", "crm_contacts")],
}

PRIVACY_REQUEST_TYPES = ("erasure", "access", "opt_out_sale", "opt_in_sale")
JURISDICTIONS = ("GDPR", "CCPA")

# Ground truth (generated data only).
PERSON_LINKS_COLUMNS = ("source_table", "source_record_id", "person_id")
