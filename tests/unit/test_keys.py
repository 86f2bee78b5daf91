"""Keys are unique by construction and carry no trace of the person order."""

from __future__ import annotations

import numpy as np
import pytest

from c360.tools.generator.keys import KeySpace, PhoneSpace, device_ids, prime_below


def test_prime_below() -> None:
    assert prime_below(100) == 97
    assert prime_below(10**9) == 999_999_937


def test_key_space_is_a_bijection_and_scrambles_order() -> None:
    space = KeySpace("A", 6, salt=3)
    serials = np.arange(0, 200_000)
    keys = space.format(serials).to_pylist()
    assert len(set(keys)) == len(keys)
    assert all(k.startswith("A") and len(k) == 7 for k in keys[:100])
    numbers = space.numbers(serials)
    # Consecutive serials must not give near keys (no proximity leak).
    assert np.median(np.abs(np.diff(numbers))) > 10_000


def test_phone_numbers_are_unique_and_valid_nanp() -> None:
    codes = np.array([x for x in range(200, 1000) if x % 100 != 11])
    phones = PhoneSpace(codes, salt=1).numbers(np.arange(0, 300_000) * 4)
    assert len(np.unique(phones)) == len(phones)
    area, exchange = phones // 10_000_000, (phones // 10_000) % 1000
    assert area.min() >= 200 and exchange.min() >= 200
    assert not np.isin(area % 100, [11]).any()


def test_device_ids_are_unique_uuid_shaped() -> None:
    ids = device_ids(5, np.arange(50_000)).to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 36 and i[14] == "4" for i in ids[:100])


def test_key_spaces_hold_the_largest_supported_run() -> None:
    from c360.tools.generator.keys import MAX_CHUNKS
    from c360.tools.generator.simulate import check_capacity

    check_capacity(MAX_CHUNKS)
    with pytest.raises(ValueError, match="chunks"):
        check_capacity(MAX_CHUNKS + 1)
