"""What a search box's text may be, normalized as the pipeline normalizes
what the sources deliver (macros/normalize/*.sql), so that the vault's
normalized columns find it. tests/app/test_search_normalization.py holds
these to the macros' own unit-test rows."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from c360 import phones
from c360.contract import TABLES

# macros/normalize/normalize_email.sql, email_issue
_EMAIL = re.compile(r"^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
_PLACEHOLDER_LOCAL = {"test", "none", "noemail", "na", "n/a", "x", "xx", "noreply", "unknown"}
_PLACEHOLDER_LOCAL |= {"null"}
_PLACEHOLDER_DOMAINS = {"test.com", "none.com", "na.com", "x.com", "example.com"}
# macros/normalize/normalize_phone.sql, nanp_regions
_NANP = {
    *("US", "CA", "PR", "VI", "GU", "AS", "MP", "UM", "AG", "AI", "BB", "BM", "BS"),
    *("DM", "DO", "GD", "JM", "KN", "KY", "LC", "MS", "SX", "TC", "TT", "VC", "VG"),
}
CUSTOMER_ID_PREFIX = "cus_"


@functools.cache
def project_vars(project_dir: Path) -> dict:
    """The dbt vars the normalization macros read (declared once, in dbt_project.yml)."""
    return yaml.safe_load((project_dir / "dbt_project.yml").read_text())["vars"]


def normalize_email(text: str | None) -> str | None:
    value = (text or "").strip().lower()
    if not value or not _EMAIL.match(value):
        return None
    local, _, domain = value.partition("@")
    if local in _PLACEHOLDER_LOCAL or domain in _PLACEHOLDER_DOMAINS:
        return None
    if domain in ("gmail.com", "googlemail.com"):
        return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return value


def normalize_phone(text: str | None, region: str = "US") -> str | None:
    """E.164, or None when it is not a number of its plan (phone_issue)."""
    trimmed = (text or "").strip()
    digits = re.sub(r"[^0-9]", "", trimmed)
    if not trimmed or not digits:
        return None
    if trimmed.startswith("+") or digits.startswith("00"):
        international = (
            digits[2:] if digits.startswith("00") and not trimmed.startswith("+") else digits
        )
        if international.startswith("1"):
            candidate = "+" + international
        else:
            candidate = phones.e164("+" + international, region)
    elif region in _NANP:
        candidate = None
        if len(digits) == 10:
            candidate = "+1" + digits
        elif len(digits) == 11 and digits.startswith("1"):
            candidate = "+" + digits
    else:
        candidate = phones.e164(digits, region)
    if not candidate or not re.match(r"^[+][1-9][0-9]{7,14}$", candidate):
        return None
    if candidate.startswith("+1") and not re.match(r"^[+]1[2-9][0-9]{2}[2-9][0-9]{6}$", candidate):
        return None
    rest = candidate[2:]
    if rest.replace(rest[0], "") == "":
        return None  # one digit repeated: a placeholder
    return candidate


def normalize_loyalty_number(text: str | None, prefix: str = "L", width: int = 10) -> str | None:
    value = (text or "").upper()
    digits = re.sub(r"[^0-9]", "", value)
    if 1 <= len(digits) <= width and re.match(f"^{re.escape(prefix)}?[-0-9 ]+$", value.strip()):
        return prefix + digits.rjust(width, "0")
    return None


@dataclass(frozen=True)
class SearchTerms:
    """Every reading of the text that could name a customer: the search tries
    them all and lists whom any of them finds."""

    text: str
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    loyalty_id: str | None = None
    source_table: str | None = None
    source_record_id: str | None = None


def parse(text: str, project_dir: Path) -> SearchTerms:
    text = (text or "").strip()
    if not text:
        return SearchTerms(text)
    if text.lower().startswith(CUSTOMER_ID_PREFIX):
        return SearchTerms(text, customer_id=text.lower())
    if "@" in text:
        return SearchTerms(text, email=normalize_email(text))
    config = project_vars(project_dir)
    table, sep, key = text.partition(":")
    if sep and table.strip().lower() in TABLES:
        return SearchTerms(text, source_table=table.strip().lower(), source_record_id=key.strip())
    return SearchTerms(
        text,
        phone=normalize_phone(text, config["default_phone_region"]),
        loyalty_id=normalize_loyalty_number(
            text, config["loyalty_id_prefix"], int(config["loyalty_id_digits"])
        ),
        source_record_id=text,
    )
