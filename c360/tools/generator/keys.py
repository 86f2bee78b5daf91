"""Collision-free keys and phone numbers that reveal nothing about who owns them.

A serial (unique per chunk and source by construction) is mapped through an
affine permutation modulo a prime, so keys are unique without any global
state, and their order carries no trace of the person order: a matcher cannot
cheat by key proximity.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PERSON_SPAN = 1_000_000  # person and household ids per chunk
RECORD_SPAN = 1 << 23  # identity-record serials per chunk and source
ACTIVITY_SPAN = 1 << 29  # activity-row serials per chunk and table
MAX_CHUNKS = 1000


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def prime_below(n: int) -> int:
    n -= 1
    while not _is_prime(n):
        n -= 1
    return n


class KeySpace:
    """serial -> prefix + zero-padded digits, a bijection on [0, prime)."""

    def __init__(self, prefix: str, digits: int, salt: int, modulus: int | None = None):
        self.prefix = prefix
        self.digits = digits
        self.p = prime_below(modulus or 10**digits)
        limit = (2**63 - 1) // self.p
        self.a = 1 + (salt * 2654435761 + 97) % (limit - 1)
        while np.gcd(self.a, self.p) != 1:
            self.a += 1
        self.b = (salt * 40503 + 12345) % self.p

    def numbers(self, serials: np.ndarray) -> np.ndarray:
        s = np.asarray(serials, dtype=np.int64)
        if (s >= self.p).any() or (s < 0).any():
            raise ValueError(f"serial out of range for {self.prefix} keys")
        return (s * self.a + self.b) % self.p

    def format(self, serials: np.ndarray) -> pa.Array:
        digits = pc.utf8_lpad(
            pc.cast(pa.array(self.numbers(serials)), pa.string()), self.digits, "0"
        )
        if not self.prefix:
            return digits
        return pc.binary_join_element_wise(self.prefix, digits, "")


class PhoneSpace:
    """serial -> a valid-looking NANP number (area code and exchange not N11)."""

    def __init__(self, valid_codes: np.ndarray, salt: int):
        self.codes = np.asarray(valid_codes, dtype=np.int64)
        k = len(self.codes)
        self.space = KeySpace("", 0, salt, modulus=k * k * 10_000)

    def numbers(self, serials: np.ndarray) -> np.ndarray:
        x = self.space.numbers(serials)
        k = len(self.codes)
        line = x % 10_000
        rest = x // 10_000
        exchange = self.codes[rest % k]
        area = self.codes[rest // k]
        return area * 10_000_000 + exchange * 10_000 + line


def device_ids(seed: int, serials: np.ndarray) -> pa.Array:
    """UUID-shaped device ids: two keyed 64-bit mixes of the serial."""
    s = np.asarray(serials, dtype=np.uint64)
    hi = _mix(s ^ np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64))
    lo = _mix(s + np.uint64(0xD1B54A32D192ED03))
    return pa.array(
        [
            f"{h >> 32:08x}-{(h >> 16) & 0xFFFF:04x}-4{h & 0xFFF:03x}-"
            f"{8 | (low >> 62):x}{(low >> 48) & 0xFFF:03x}-{low & 0xFFFFFFFFFFFF:012x}"
            for h, low in zip(hi.tolist(), lo.tolist(), strict=True)
        ],
        pa.string(),
    )


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijection on 64-bit integers."""
    with np.errstate(over="ignore"):
        x = x.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
