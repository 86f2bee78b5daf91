"""The pure string functions behind the messy PII, tested directly."""

from __future__ import annotations

import numpy as np
import pytest

from c360.tools.generator.noise import _format_phone, _gmail_dots, _plus_tag, _street_line, _typo
from c360.tools.generator.pools import build_pools, has_accent, strip_accents


@pytest.fixture(scope="module")
def pools():
    return build_pools(0, n_cities=20, n_tail_surnames=100)


@pytest.mark.parametrize(
    "fmt,expected",
    [
        ("paren", "(555) 123-4567"),
        ("dots", "555.123.4567"),
        ("dashes", "555-123-4567"),
        ("plain10", "5551234567"),
        ("plus1_spaces", "+1 555 123 4567"),
        ("one_dashes", "1-555-123-4567"),
        ("e164", "+15551234567"),
    ],
)
def test_us_phone_formats(fmt: str, expected: str) -> None:
    assert _format_phone(1, 5551234567, fmt) == expected


def test_international_phones_keep_their_country_code() -> None:
    forms = {_format_phone(44, 2079460958 + k, "paren") for k in range(3)}
    assert all(f.startswith(("+44", "0044")) for f in forms)
    assert len({f[:3] for f in forms}) >= 2


def test_typos_change_one_letter_and_keep_short_values() -> None:
    rng = np.random.default_rng(0)
    for _ in range(500):
        draws = rng.random(3)
        out = _typo("Elizabeth", draws)
        assert out != "Elizabeth" or draws[0] * 4 >= 3  # a missing keyboard neighbour drops
        assert abs(len(out) - len("Elizabeth")) <= 1
        assert out[0] == "E"
    assert _typo("Al", [0.1, 0.5, 0.5]) == "Al"
    assert _typo(None, [0.1, 0.5, 0.5]) is None


def test_gmail_dots_and_tags_fold_back() -> None:
    dotted = _gmail_dots("johnsmith@gmail.com", [0.2, 0.5, 0.0])
    spread = _gmail_dots("johnsmith@gmail.com", [0.9, 0.5, 0.0])
    assert dotted.count(".") == 2 and spread == "j.o.h.n.s.m.i.t.h@gmail.com"
    assert _plus_tag("john.smith@gmail.com", [0.0, 0, 0]) == "john.smith+shop@gmail.com"
    for value in (dotted, spread):
        local, domain = value.split("@")
        assert local.replace(".", "") + "@" + domain == "johnsmith@gmail.com"


def test_street_lines_in_every_style(pools) -> None:
    main = list(pools.streets).index("Main")
    full = _street_line(pools, 12, 0, main, 0, 4, 2, 0, 0)
    short = _street_line(pools, 12, 0, main, 0, 4, 2, 1, 1)
    dotted = _street_line(pools, 12, 0, main, 0, 4, 2, 2, 2)
    usps = _street_line(pools, 12, 0, main, 0, 4, 2, 3, 3)
    assert full == "12 North Main Street Apt 4B"
    assert short == "12 N Main St, Apt. 4B"
    assert dotted == "12 N. Main St. #4B"
    assert usps == "12 N MAIN ST, UNIT 4B"
    assert _street_line(pools, 7, -1, main, 1, 0, 0, 0, 0) == "7 Main Avenue"


def test_accents() -> None:
    assert has_accent("José") and not has_accent("Jose")
    assert strip_accents("Núñez") == "Nunez"
