"""Phone numbers under their country's numbering plan (libphonenumber's data).

The SQL rules (macros/normalize/normalize_phone.sql) settle the North
American plan themselves; every other number reaches `e164` through the SQL
function `c360_phone_e164(number, region)`, which the engine registers on its
connections (c360.warehouse.register_functions). A Spark engine registers a
UDF of the same name and signature over `e164` (a pandas UDF over
`e164_arrow`'s loop).
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
import pyarrow as pa

SQL_FUNCTION = "c360_phone_e164"


@lru_cache(maxsize=1 << 16)
def e164(number: str | None, region: str | None) -> str | None:
    """`number` in E.164 when its plan allows it, else None.

    `number` is '+<country code><digits>' or a national number of `region`
    (ISO 3166 alpha-2), which then gives its trunk prefix: 020 7946 0958 in GB
    is +442079460958, 030 123456 in DE is +4930123456.

    Allowed means a known country code and a length that country's plan
    dials (libphonenumber's "possible"), as the NANP rules in SQL check the
    plan's shape and not which area codes are assigned. Assignment ("valid")
    would be stricter than the hot path, and goes stale as plans add ranges.
    A number dialable only locally (without its area code) is not allowed: it
    has no E.164 form.
    """
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(parsed) != (
        phonenumbers.ValidationResult.IS_POSSIBLE
    ):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164_arrow(numbers: pa.Array, regions: pa.Array) -> pa.Array:
    """`e164` over Arrow arrays (DuckDB hands a vectorised UDF one chunk)."""
    return pa.array(
        [e164(n, r) for n, r in zip(numbers.to_pylist(), regions.to_pylist(), strict=True)],
        pa.string(),
    )
