"""What an analyst sees of PII: enough to tell records apart, not enough to
contact or find the person. Applied on the server: an analyst's response
never holds a decoded value."""

from __future__ import annotations

import datetime as dt

STARS = "***"


def mask_email(value: str | None) -> str | None:
    """jane.doe@example.com -> j***@example.com"""
    if not value:
        return value
    local, at, domain = value.partition("@")
    return f"{local[:1]}{STARS}{at}{domain}" if at else STARS


def mask_phone(value: str | None) -> str | None:
    """+14155550134 -> ***0134"""
    if not value:
        return value
    digits = "".join(c for c in value if c.isdigit())
    return STARS + digits[-4:] if len(digits) > 4 else STARS


def mask_name(value: str | None) -> str | None:
    """jane doe -> j*** d***"""
    if not value:
        return value
    return " ".join(part[:1] + STARS for part in value.split())


def mask_address(value: str | None) -> str | None:
    """A street line hides all but the street's kind (12 n main st -> *** st);
    the postal code and city are shown where the golden record shows them."""
    if not value:
        return value
    last = value.split()[-1]
    return f"{STARS} {last}" if len(value.split()) > 1 else STARS


def mask_birth_date(value: dt.date | str | None) -> str | None:
    if not value:
        return None
    return str(value)[:4]


def mask_identifier(value: str | None) -> str | None:
    """A loyalty id or another reusable identifier: its last four."""
    if not value:
        return value
    return STARS + value[-4:] if len(value) > 4 else STARS


MASKS = {
    "email": mask_email,
    "phone": mask_phone,
    "name": mask_name,
    "first_name": mask_name,
    "last_name": mask_name,
    "address": mask_address,
    "street_address": mask_address,
    "date_of_birth": mask_birth_date,
    "loyalty_id": mask_identifier,
}


def mask(kind: str, value):
    return MASKS[kind](value)
