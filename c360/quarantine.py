"""The row-level quarantine of the landing zone: rows and values that staging
sets aside or reads as unknown, each with its reason, so that nothing a
source delivered disappears without a trace (docs/faults.md).

The loader keeps every delivered row in raw; these checks run over the rows
of one load (its `_loaded_at`) once all of that load's partitions are in,
since an activity row's identity may arrive in another table of the same
day. Each load is checked once, in one transaction with its record of being
checked, so a crash between loading and checking is made good by the next
run. The reasons:

    invalid_op                 `_op` is neither U nor D: staging ignores the row
    missing_key                the key is null or empty: staging ignores the row
    not_a_<type>               a typed value that does not cast: staging reads it
                               as unknown (null), the record proceeds
    value_too_long             a value longer than MAX_VALUE_LENGTH characters
    conflicting_duplicate_key  two images of a key in one partition with the same
                               extract time and different values: staging keeps
                               one by a deterministic order, this names the others
    delete_of_unknown_key      a delete of a key no upsert ever delivered: a no-op
    unknown_identity_key       an activity row naming an identity record that was
                               never delivered: the activity is kept, with no
                               customer until the record arrives
"""

from __future__ import annotations

import datetime as dt

from c360 import engine, warehouse
from c360.contract import (
    ACTIVITY_REFERENCES,
    BOOL,
    DATE,
    DECIMAL,
    INT,
    OP_COLUMN,
    TABLES,
    TIMESTAMP,
    LandingTable,
)

QUARANTINE = "raw._landing_quarantine"
CHECKED_LOADS = "raw._landing_checked_loads"
MAX_VALUE_LENGTH = 1000

# The types staging casts to (models/staging: safe_cast), by contract type.
_SQL_TYPES = {
    DATE: ("date", "not_a_date"),
    TIMESTAMP: ("timestamp", "not_a_timestamp"),
    BOOL: ("boolean", "not_a_boolean"),
    INT: ("bigint", "not_an_integer"),
    DECIMAL: ("decimal(18, 2)", "not_a_decimal"),
}


def ensure_tables(con: engine.Connection) -> None:
    con.execute(
        f"create table if not exists {QUARANTINE} (table_name varchar not null, dt date not null, "
        "source_file varchar not null, source_record_id varchar, field_name varchar, "
        "reason varchar not null, loaded_at timestamp not null)"
    )
    con.execute(
        f"create table if not exists {CHECKED_LOADS} (loaded_at timestamp not null, "
        "rows_quarantined bigint not null, checked_at timestamp not null)"
    )


def _checks(table: LandingTable) -> list[str]:
    """One select a reason, each giving (source_record_id, field_name, reason,
    dt, source_file) of the load's rows of the table (`_loaded_at = ?`)."""
    raw = f"raw.{table.name}"
    key = f'"{table.key}"'
    this_load = "_loaded_at = ?"

    def rows(record_id: str, field: str, reason: str, where: str, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return (
            f"select {record_id} as source_record_id, {field} as field_name, "
            f"'{reason}' as reason, {prefix}_dt, {prefix}_source_file "
            f"from {raw}{' as ' + alias if alias else ''} where {prefix}{this_load} and ({where})"
        )

    checks = [
        rows(key, "null", "invalid_op", f"coalesce({OP_COLUMN}, '') not in ('U', 'D')"),
        rows(
            key,
            "null",
            "missing_key",
            f"{OP_COLUMN} in ('U', 'D') and coalesce(trim({key}), '') = ''",
        ),
    ]
    for name, typ in table.all_columns:
        quoted = f'"{name}"'
        if typ in _SQL_TYPES:
            sql_type, reason = _SQL_TYPES[typ]
            checks.append(
                rows(
                    key,
                    f"'{name}'",
                    reason,
                    f"{OP_COLUMN} = 'U' and coalesce(trim({quoted}), '') <> '' "
                    f"and try_cast(trim({quoted}) as {sql_type}) is null",
                )
            )
        checks.append(
            rows(key, f"'{name}'", "value_too_long", f"length({quoted}) > {MAX_VALUE_LENGTH}")
        )
    image = ", ".join(f"coalesce(\"{name}\", '\\\\N')" for name, _ in table.columns)
    checks.append(
        f"select r.{key} as source_record_id, null as field_name, "
        "'conflicting_duplicate_key' as reason, r._dt, r._source_file "
        f"from {raw} as r inner join (select {key}, _dt, _extracted_at from {raw} "
        f"where {this_load} and {OP_COLUMN} = 'U' group by {key}, _dt, _extracted_at "
        f"having count(distinct concat_ws('|', {image})) > 1) as tied "
        f"on r.{key} = tied.{key} and r._dt = tied._dt "
        "and coalesce(r._extracted_at, '') = coalesce(tied._extracted_at, '') "
        f"where r.{OP_COLUMN} = 'U'"
    )
    checks.append(
        rows(
            f"d.{key}",
            "null",
            "delete_of_unknown_key",
            f"d.{OP_COLUMN} = 'D' and not exists (select 1 from {raw} as u "
            f"where u.{key} = d.{key} and u.{OP_COLUMN} = 'U')",
            alias="d",
        )
    )
    for column, identity_table in ACTIVITY_REFERENCES.get(table.name, []):
        identity_key = f'"{TABLES[identity_table].key}"'
        checks.append(
            rows(
                f"a.{key}",
                f"'{column}'",
                "unknown_identity_key",
                f"a.{OP_COLUMN} = 'U' and coalesce(trim(a.\"{column}\"), '') <> '' "
                f"and not exists (select 1 from raw.{identity_table} as i "
                f"where i.{identity_key} = trim(a.\"{column}\") and i.{OP_COLUMN} = 'U')",
                alias="a",
            )
        )
    return checks


def _unchecked_loads(con: engine.Connection) -> list[dt.datetime]:
    return [
        row[0]
        for row in con.execute(
            f"select distinct loaded_at from {warehouse.FILE_LOG} as loads "
            f"where not exists (select 1 from {CHECKED_LOADS} as checked "
            "where checked.loaded_at = loads.loaded_at) order by 1"
        ).fetchall()
    ]


def check_loads(con: engine.Connection) -> dict[str, int]:
    """Quarantine what each load not checked yet delivered amiss; the count of
    rows quarantined by reason."""
    ensure_tables(con)
    counts: dict[str, int] = {}
    for loaded_at in _unchecked_loads(con):
        with engine.transaction(con):
            total = 0
            for table in TABLES.values():
                # One statement a table: its checks are one union, not a
                # round trip each (a Spark job each, on Spark).
                checks = " union all ".join(_checks(table))
                params = [loaded_at] * checks.count("_loaded_at = ?")
                total += con.execute(
                    f"insert into {QUARANTINE} select '{table.name}', _dt, _source_file, "
                    f"source_record_id, field_name, reason, ? from ({checks}) as found",
                    [loaded_at, *params],
                ).fetchall()[0][0]
            for reason, n in con.execute(
                f"select reason, count(*) from {QUARANTINE} where loaded_at = ? group by 1",
                [loaded_at],
            ).fetchall():
                counts[reason] = counts.get(reason, 0) + n
            con.execute(
                f"insert into {CHECKED_LOADS} values (?, ?, ?)",
                [loaded_at, total, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
            )
    return counts
