"""Messy-PII renderers: clean values in, values as source systems hold them out.

Each function takes a batch (numpy/pyarrow arrays), a numpy Generator and the
rates, applies every noise kind to a random subset, and records what it did in
a NoiseLog so that tests and evaluation can check rates against the data.
Dense transforms are pyarrow compute kernels; sparse ones (a typo in 2% of
values) are Python over the affected subset only.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c360.tools.generator.international import postcode_noise, street_line
from c360.tools.generator.pools import (
    DIRECTIONS,
    PLACEHOLDER_EMAILS,
    PLACEHOLDER_NAMES,
    PLACEHOLDER_PHONES,
    STREET_SUFFIXES,
    strip_accents,
)

EPOCH = dt.date(1970, 1, 1)
_KEYBOARD_NEIGHBOURS = {
    "a": "qsz",
    "b": "vgn",
    "c": "xdv",
    "d": "sfe",
    "e": "wrd",
    "f": "dgr",
    "g": "fht",
    "h": "gjy",
    "i": "uok",
    "j": "hku",
    "k": "jli",
    "l": "kop",
    "m": "nj",
    "n": "bmh",
    "o": "ipl",
    "p": "ol",
    "q": "wa",
    "r": "etf",
    "s": "adw",
    "t": "ryg",
    "u": "yij",
    "v": "cbf",
    "w": "qes",
    "x": "zcs",
    "y": "tuh",
    "z": "xa",
}
SUFFIX_TEXT = {1: "Jr.", 2: "Sr.", 3: "III"}


class NoiseLog:
    """(source_table, source_record_id, day, field, kind) for every noise applied."""

    def __init__(self) -> None:
        self._parts: list[pa.Table] = []

    def add(self, table: str, keys: pa.Array, mask: np.ndarray, day: int, field: str, kind: str):
        if not mask.any():
            return
        hit = keys.filter(pa.array(mask))
        n = len(hit)
        self._parts.append(
            pa.table(
                {
                    "source_table": pa.array([table] * n, pa.string()).dictionary_encode(),
                    "source_record_id": hit,
                    "day": pa.array(np.full(n, day, np.int16)),
                    "field": pa.array([field] * n, pa.string()).dictionary_encode(),
                    "kind": pa.array([kind] * n, pa.string()).dictionary_encode(),
                }
            )
        )

    def table(self) -> pa.Table | None:
        if not self._parts:
            return None
        return pa.concat_tables([t.combine_chunks() for t in self._parts]).combine_chunks()


class Renderer:
    """Noise for one batch of one source table on one day."""

    def __init__(self, table, keys, day, rng, noise_cfg, log, typo_mult=1.0):
        self.table = table
        self.keys = keys
        self.day = day
        self.rng = rng
        self.cfg = noise_cfg
        self.log = log
        self.typo_mult = typo_mult
        self.n = len(keys)

    def mask(self, rate: float, eligible: np.ndarray | None = None) -> np.ndarray:
        m = self.rng.random(self.n) < rate
        return m & eligible if eligible is not None else m

    def note(self, mask, field, kind):
        self.log.add(self.table, self.keys, mask, self.day, field, kind)

    def sparse(self, arr: pa.Array, mask: np.ndarray, fn) -> pa.Array:
        if not mask.any():
            return arr
        values = arr.filter(pa.array(mask)).to_pylist()
        draws = self.rng.random((len(values), 3))
        new = [fn(v, r) for v, r in zip(values, draws, strict=True)]
        return pc.replace_with_mask(arr, pa.array(mask), pa.array(new, pa.string()))

    # -- generic ----------------------------------------------------------
    def case_and_space(self, arr: pa.Array, field: str) -> pa.Array:
        style = self.rng.random(self.n)
        changed = style < self.cfg.case_style
        upper = style < self.cfg.case_style * 0.5
        lower = changed & ~upper & (style < self.cfg.case_style * 0.9)
        mixed = changed & ~upper & ~lower
        arr = pc.if_else(pa.array(upper), pc.utf8_upper(arr), arr)
        arr = pc.if_else(pa.array(lower), pc.utf8_lower(arr), arr)
        arr = self.sparse(arr, mixed, lambda v, r: v.swapcase() if v else v)
        self.note(changed, field, "case")
        ws = self.mask(self.cfg.whitespace)
        kind = self.rng.integers(0, 3, self.n)
        lead = ws & (kind == 0)
        trail = ws & (kind == 1)
        double = ws & (kind == 2)
        arr = pc.if_else(pa.array(lead), pc.binary_join_element_wise(" ", arr, ""), arr)
        arr = pc.if_else(pa.array(trail), pc.binary_join_element_wise(arr, "  ", ""), arr)
        arr = self.sparse(
            arr, double, lambda v, r: (v.replace(" ", "  ", 1) if " " in v else v + " ") if v else v
        )
        self.note(ws, field, "whitespace")
        return arr

    def typos(self, arr: pa.Array, field: str) -> pa.Array:
        m = self.mask(self.cfg.typo * self.typo_mult)
        self.note(m, field, "typo")
        return self.sparse(arr, m, _typo)

    def placeholder(self, arr: pa.Array, field: str, choices: list[str]) -> pa.Array:
        m = self.mask(self.cfg.placeholder)
        self.note(m, field, "placeholder")
        return self.sparse(arr, m, lambda v, r: choices[int(r[0] * len(choices))])

    def missing(self, arr: pa.Array, present: np.ndarray, field: str) -> pa.Array:
        """Absent values arrive as '' or as null, as real extracts mix both."""
        absent = ~present
        empty = absent & (self.rng.random(self.n) < self.cfg.missing_as_empty)
        self.note(empty, field, "empty_string")
        self.note(absent & ~empty, field, "null")
        arr = pc.if_else(pa.array(empty), pa.scalar("", pa.string()), arr)
        return pc.if_else(pa.array(absent & ~empty), pa.scalar(None, pa.string()), arr)

    # -- names ------------------------------------------------------------
    def first_names(self, pools, first_idx, gender, doctor, nickname_boost=1.0) -> pa.Array:
        arr = pools.first_pa.take(pa.array(first_idx))
        has_nick = pools.has_nickname[first_idx]
        m = self.mask(self.cfg.nickname * self.typo_mult * nickname_boost, has_nick)
        if m.any():
            idx = first_idx[m]
            draws = self.rng.random(len(idx))
            nick = [
                pools.nicknames[i][int(r * len(pools.nicknames[i]))]
                for i, r in zip(idx, draws, strict=True)
            ]
            arr = pc.replace_with_mask(arr, pa.array(m), pa.array(nick, pa.string()))
        self.note(m, "first_name", "nickname")
        arr = self._accents(arr, "first_name")
        arr = self.typos(arr, "first_name")
        t = self.mask(self.cfg.title)
        if t.any():
            titles = np.where(
                doctor[t],
                "Dr.",
                np.where(
                    gender[t] == 1, "Mr.", np.where(self.rng.random(t.sum()) < 0.5, "Mrs.", "Ms.")
                ),
            )
            dot = self.rng.random(t.sum()) < 0.3
            titles = np.where(dot, np.char.replace(titles.astype(str), ".", ""), titles)
            sub = arr.filter(pa.array(t))
            arr = pc.replace_with_mask(
                arr, pa.array(t), pc.binary_join_element_wise(pa.array(titles.tolist()), sub, " ")
            )
        self.note(t, "first_name", "title")
        arr = self.placeholder(arr, "first_name", PLACEHOLDER_NAMES)
        return self.case_and_space(arr, "first_name")

    def last_names(self, pools, last_idx, suffix, suffix_shown=0.7) -> pa.Array:
        arr = pools.surname_pa.take(pa.array(last_idx))
        show = self.mask(suffix_shown, suffix > 0)
        if show.any():
            styles = [" {}", " {}", ", {}", " {}"]
            texts = [
                styles[int(r * 4)].format(SUFFIX_TEXT[s].rstrip(".") if r > 0.5 else SUFFIX_TEXT[s])
                for s, r in zip(suffix[show], self.rng.random(show.sum()), strict=True)
            ]
            sub = arr.filter(pa.array(show))
            arr = pc.replace_with_mask(
                arr, pa.array(show), pc.binary_join_element_wise(sub, pa.array(texts), "")
            )
        self.note(show, "last_name", "suffix")
        arr = self._accents(arr, "last_name")
        arr = self.typos(arr, "last_name")
        arr = self.placeholder(arr, "last_name", PLACEHOLDER_NAMES)
        return self.case_and_space(arr, "last_name")

    def swap(self, first: pa.Array, last: pa.Array) -> tuple[pa.Array, pa.Array]:
        m = pa.array(self.mask(self.cfg.first_last_swap))
        self.note(np.asarray(m), "first_name", "first_last_swap")
        return pc.if_else(m, last, first), pc.if_else(m, first, last)

    def _accents(self, arr: pa.Array, field: str) -> pa.Array:
        non_ascii = ~np.asarray(pc.string_is_ascii(arr).fill_null(True))
        m = self.mask(self.cfg.accent_strip, non_ascii)
        self.note(m, field, "accent_strip")
        arr = self.sparse(arr, m, lambda v, r: strip_accents(v))
        if self.cfg.ascii_fold:
            # What accent stripping leaves (ß, ø, æ, ł) or spells otherwise (ü -> ue).
            still = ~np.asarray(pc.string_is_ascii(arr).fill_null(True))
            f = self.mask(self.cfg.ascii_fold, still)
            self.note(f, field, "ascii_fold")
            arr = self.sparse(arr, f, lambda v, r: ascii_fold(v))
        return arr

    # -- email ------------------------------------------------------------
    def emails(self, clean: pa.Array, field: str = "email") -> pa.Array:
        is_gmail = np.asarray(pc.ends_with(clean, "@gmail.com").fill_null(False))
        dots = self.mask(self.cfg.gmail_dots, is_gmail)
        plus = self.mask(self.cfg.gmail_plus_tag, is_gmail)
        gm = self.mask(self.cfg.googlemail, is_gmail)
        arr = self.sparse(clean, dots, _gmail_dots)
        arr = self.sparse(arr, plus, _plus_tag)
        arr = pc.if_else(
            pa.array(gm), pc.replace_substring(arr, "@gmail.com", "@googlemail.com"), arr
        )
        self.note(dots, field, "gmail_dots")
        self.note(plus, field, "gmail_plus_tag")
        self.note(gm, field, "googlemail")
        arr = self.placeholder(arr, field, PLACEHOLDER_EMAILS)
        # Email case noise is mostly a capitalized first letter from phones'
        # keyboards, or all caps from agents.
        cap = self.mask(self.cfg.case_style * 0.5)
        arr = pc.if_else(pa.array(cap), pc.utf8_capitalize(arr), arr)
        up = self.mask(self.cfg.case_style * 0.2) & ~cap
        arr = pc.if_else(pa.array(up), pc.utf8_upper(arr), arr)
        self.note(cap | up, field, "case")
        ws = self.mask(self.cfg.whitespace)
        arr = pc.if_else(pa.array(ws), pc.binary_join_element_wise(" ", arr, " ", ""), arr)
        self.note(ws, field, "whitespace")
        return arr

    # -- phone ------------------------------------------------------------
    def phones(self, cc: np.ndarray, national: np.ndarray, field: str = "phone") -> pa.Array:
        names = list(self.cfg.phone_formats)
        p = np.array([self.cfg.phone_formats[k] for k in names])
        fmt = self.rng.choice(len(names), self.n, p=p / p.sum())
        out = [
            _format_phone(int(c), int(nat), names[f])
            for c, nat, f in zip(cc, national, fmt, strict=True)
        ]
        arr = pa.array(out, pa.string())
        for i, name in enumerate(names):
            self.note((fmt == i) & (cc == 1), field, f"phone_{name}")
        self.note(cc != 1, field, "phone_international")
        return self.placeholder(arr, field, PLACEHOLDER_PHONES)

    # -- address ----------------------------------------------------------
    def streets(
        self, pools, no, direction, street, sfx, unit, unit_letter, country=None
    ) -> pa.Array:
        style = self.rng.random(self.n)
        abbrev = style < self.cfg.address_abbreviation
        # 0 full words, 1 "St", 2 "St.", 3 USPS capitals "ST"
        mode = np.where(
            abbrev, 1 + (style * 3 / max(self.cfg.address_abbreviation, 1e-9)).astype(int) % 3, 0
        )
        unit_fmt = self.rng.integers(0, 6, self.n)
        out = [
            _street_line(pools, int(a), int(b), int(c), int(d), int(e), int(f), int(g), int(h))
            for a, b, c, d, e, f, g, h in zip(
                no, direction, street, sfx, unit, unit_letter, mode, unit_fmt, strict=True
            )
        ]
        if country is not None:
            # Lines abroad are written the country's way, with the same draws.
            for i in np.where(country > 0)[0]:
                out[i] = street_line(
                    pools.intl,
                    int(country[i]),
                    int(no[i]),
                    int(street[i]),
                    int(unit[i]),
                    int(mode[i]),
                    int(unit_fmt[i]),
                )
        self.note(mode > 0, "street_address", "address_abbreviation")
        self.note((unit > 0) & (unit_fmt > 0), "street_address", "unit_format")
        arr = pa.array(out, pa.string())
        ws = self.mask(self.cfg.whitespace)
        self.note(ws, "street_address", "whitespace")
        return self.sparse(arr, ws, lambda v, r: v.replace(" ", "  ", 1) if r[0] < 0.5 else v + " ")

    def postal_codes(
        self,
        zips: np.ndarray,
        field: str = "postal_code",
        country: np.ndarray | None = None,
        canonical: np.ndarray | None = None,
    ) -> pa.Array:
        """US ZIPs from `zips`; abroad (`country` > 0) the `canonical` code."""
        r = self.rng.random(self.n)
        us = np.ones(self.n, bool) if country is None else country == 0
        plus4 = (r < 0.08) & us
        dropped = (r >= 0.08) & (r < 0.11) & (zips < 10000) & us
        four = self.rng.integers(1, 9999, self.n)
        out = [
            (f"{z:05d}-{f:04d}" if p else (str(z) if d else f"{z:05d}"))
            for z, p, d, f in zip(zips, plus4, dropped, four, strict=True)
        ]
        self.note(plus4, field, "zip_plus4")
        self.note(dropped, field, "zip_leading_zero_dropped")
        if country is not None:
            kinds = np.full(self.n, None, dtype=object)
            for i in np.where(~us)[0]:
                out[i], kinds[i] = postcode_noise(canonical[i], int(country[i]), float(r[i]))
            for kind in {k for k in kinds if k}:
                self.note(kinds == kind, field, kind)
        return pa.array(out, pa.string())

    def dates_of_birth(self, dob_days: np.ndarray) -> pa.Array:
        dates = dob_days.astype("datetime64[D]")
        y = dates.astype("datetime64[Y]").astype(int) + 1970
        m = dates.astype("datetime64[M]").astype(int) % 12 + 1
        d = (dates - dates.astype("datetime64[M]")).astype(int) + 1
        swappable = (d <= 12) & (d != m)
        swap = self.mask(self.cfg.dob_day_month_swap, swappable)
        typo = self.mask(self.cfg.dob_typo) & ~swap
        delta = self.rng.choice(np.array([-10, -1, 1, 10]), self.n)
        y2 = np.where(typo & (self.rng.random(self.n) < 0.6), y + delta, y)
        # A day typo always moves the day (28 and beyond step back, so it stays valid).
        d2 = np.where(typo & (y2 == y), np.where(d < 28, d + 1, d - 1), d)
        m_out = np.where(swap, d, m)
        d_out = np.where(swap, m, d2)
        d_out = np.where((m_out == 2) & (d_out > 28), 28, d_out)  # a year typo on 29 February
        place = self.mask(self.cfg.placeholder)
        self.note(swap, "date_of_birth", "dob_day_month_swap")
        self.note(typo, "date_of_birth", "dob_typo")
        self.note(place, "date_of_birth", "placeholder")
        out = np.array(
            [f"{a:04d}-{b:02d}-{c:02d}" for a, b, c in zip(y2, m_out, d_out, strict=True)],
            dtype="datetime64[D]",
        )
        out = np.where(place, np.datetime64("1900-01-01"), out)
        if self.cfg.dob_year_only or self.cfg.dob_year_month:
            # What the source was told, padded to a date: a year alone
            # arrives as YYYY-01-01, a year and month as YYYY-MM-01.
            kind = self.rng.random(self.n)
            year_only = (kind < self.cfg.dob_year_only) & ~place
            year_month = (
                (kind >= self.cfg.dob_year_only)
                & (kind < self.cfg.dob_year_only + self.cfg.dob_year_month)
                & ~place
            )
            out = np.where(year_only, out.astype("datetime64[Y]").astype("datetime64[D]"), out)
            out = np.where(year_month, out.astype("datetime64[M]").astype("datetime64[D]"), out)
            self.note(year_only, "date_of_birth", "dob_year_only")
            self.note(year_month, "date_of_birth", "dob_year_month")
        return pa.array(out, pa.date32())


_FOLD = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "Ae",
        "ł": "l",
        "Ł": "L",
        "œ": "oe",
        "Œ": "Oe",
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "Ä": "Ae",
        "Ö": "Oe",
        "Ü": "Ue",
    }
)


def ascii_fold(value: str | None) -> str | None:
    """A name as an ASCII-only system spells it: Müller -> Mueller, Groß ->
    Gross, Søren -> Soren, Łukasz -> Lukasz, Zoë -> Zoe."""
    if not value:
        return value
    return strip_accents(value.translate(_FOLD))


def _typo(value: str | None, r) -> str | None:
    if not value or len(value) < 3:
        return value
    i = 1 + int(r[1] * (len(value) - 2))
    kind = int(r[0] * 4)
    if kind == 0:
        return (
            value[:i] + value[i + 1] + value[i] + value[i + 2 :]
            if i + 1 < len(value)
            else value[:-2] + value[-1] + value[-2]
        )
    if kind == 1:
        return value[:i] + value[i + 1 :]
    if kind == 2:
        return value[:i] + value[i] + value[i:]
    near = _KEYBOARD_NEIGHBOURS.get(value[i].lower())
    if not near:
        return value[:i] + value[i + 1 :]
    c = near[int(r[2] * len(near))]
    return value[:i] + (c.upper() if value[i].isupper() else c) + value[i + 1 :]


def _gmail_dots(value: str, r) -> str:
    local, _, domain = value.partition("@")
    plain = local.replace(".", "")
    if len(plain) < 3:
        return value
    cut = 1 + int(r[1] * (len(plain) - 1))
    # One extra dot, or the j.o.h.n.s.m.i.t.h trick.
    local = plain[:cut] + "." + plain[cut:] if r[0] < 0.5 else ".".join(plain)
    return f"{local}@{domain}"


_TAGS = ["shop", "deals", "promo", "orders", "news", "spam", "x", "2024"]


def _plus_tag(value: str, r) -> str:
    local, _, domain = value.partition("@")
    return f"{local}+{_TAGS[int(r[0] * len(_TAGS))]}@{domain}"


def _format_phone(cc: int, nat: int, fmt: str) -> str:
    s = f"{nat:010d}"
    if cc != 1:
        # International numbers arrive as dialled: +44 ..., 0044..., or bare.
        return (f"+{cc} {s[:3]} {s[3:6]} {s[6:]}", f"00{cc}{s}", f"+{cc}{s}")[nat % 3]
    a, b, c = s[:3], s[3:6], s[6:]
    if fmt == "paren":
        return f"({a}) {b}-{c}"
    if fmt == "dots":
        return f"{a}.{b}.{c}"
    if fmt == "dashes":
        return f"{a}-{b}-{c}"
    if fmt == "plain10":
        return s
    if fmt == "plus1_spaces":
        return f"+1 {a} {b} {c}"
    if fmt == "one_dashes":
        return f"1-{a}-{b}-{c}"
    return f"+1{s}"


_UNIT_FORMATS = ["Apt {}", "Apt. {}", "#{}", "Unit {}", "Apartment {}", "Ste {}"]


def _street_line(pools, no, direction, street, sfx, unit, unit_letter, mode, unit_fmt) -> str:
    parts = [str(no)]
    if direction >= 0:
        full, short = DIRECTIONS[direction]
        parts.append(full if mode == 0 else short + ("." if mode == 2 else ""))
    parts.append(pools.streets[street])
    full, short = STREET_SUFFIXES[sfx]
    parts.append(full if mode == 0 else short + ("." if mode == 2 and short != full else ""))
    line = " ".join(parts)
    if unit > 0:
        label = f"{unit}{chr(64 + unit_letter) if unit_letter > 0 else ''}"
        fmt = _UNIT_FORMATS[unit_fmt]
        sep = ", " if unit_fmt % 2 else " "
        line = f"{line}{sep}{fmt.format(label)}"
    return line.upper() if mode == 3 else line
