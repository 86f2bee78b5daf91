"""Identity records as each source system holds them: true values in, messy rows out."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c360.contract import TABLES
from c360.tools.generator.config import DAY_S, SOURCE_TABLE
from c360.tools.generator.international import COUNTRIES
from c360.tools.generator.international import COUNTRY_SPELLINGS as ABROAD_SPELLINGS
from c360.tools.generator.keys import (
    PERSON_SPAN,
)
from c360.tools.generator.noise import Renderer
from c360.tools.generator.pools import (
    COUNTRY_SPELLINGS,
    INCOME_BANDS,
    INCOME_WEIGHTS,
    INTERESTS,
    TIER_WEIGHTS,
    TIERS,
)

ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "decimal": pa.decimal128(12, 2),
}


def conform(table: str, t: pa.Table | dict[str, pa.Array]) -> pa.Table:
    """Contract column order and types, filling columns a row kind leaves out with nulls."""
    spec = TABLES[table]
    t = t if isinstance(t, pa.Table) else pa.table(t)
    arrays, names = [], []
    for name, typ in spec.all_columns:
        if name in ("_op", "_extracted_at"):
            continue
        arrays.append(
            t.column(name).cast(ARROW_TYPES[typ])
            if name in t.column_names
            else pa.nulls(t.num_rows, ARROW_TYPES[typ])
        )
        names.append(name)
    return pa.table(arrays, names=names)


def with_op(t: pa.Table, op: str, extracted_us: int) -> pa.Table:
    n = t.num_rows
    t = t.append_column("_op", pa.array([op] * n, pa.string()))
    return t.append_column("_extracted_at", pa.array(np.full(n, extracted_us), pa.timestamp("us")))


class RenderMixin:
    """Renders records of a ChunkSimulator's sources, noise included."""

    def render(self, src: str, idx: np.ndarray, day: int, purpose: str) -> pa.Table:
        """Full row images of records `idx` as their source system holds them today."""
        table = SOURCE_TABLE[src]
        rng = self.rng(day, f"render:{src}:{purpose}")
        recs, p, pools = self.records[src], self.p, self.pools
        keys = recs.keys.take(pa.array(idx))
        who = recs.person[idx]
        present = recs.present[idx]
        r = Renderer(
            table,
            keys,
            day,
            rng,
            self.cfg.noise,
            self.noise_log,
            self.cfg.noise.typo_multiplier[src],
        )
        n = len(idx)
        cols: dict[str, pa.Array] = {TABLES[table].key: keys}
        day_ts = self.start_ts + day * DAY_S

        def ts(seconds):
            return pa.array(np.asarray(seconds, dtype=np.int64) * 1_000_000, pa.timestamp("us"))

        def email_values(slot_alt):
            clean = np.where(slot_alt, p["alt_email"][who], p["email"][who])
            return r.emails(pa.array(clean.tolist(), pa.string()))

        def phone_values(use_landline):
            nat = np.where(
                use_landline & (p["landline"][who] > 0), p["landline"][who], p["mobile"][who]
            )
            cc = np.where(nat == p["mobile"][who], p["cc"][who], 1)
            return r.phones(cc, nat)

        country = p["country"][who]
        abroad = country > 0 if (country > 0).any() else None

        def address_cols():
            c = {}
            c["street_address"] = r.missing(
                r.streets(
                    pools,
                    p["street_no"][who],
                    p["direction"][who],
                    p["street"][who],
                    p["sfx"][who],
                    p["unit"][who],
                    p["unit_letter"][who],
                    country=country if abroad is not None else None,
                ),
                present[:, 2],
                "street_address",
            )
            city = r.case_and_space(
                pa.array(place_values(pools.cities, "cities").tolist(), pa.string()), "city"
            )
            c["city"] = r.missing(city, present[:, 2], "city")
            state = pa.array(place_values(pools.city_states, "city_region").tolist(), pa.string())
            c["state"] = r.missing(
                pc.if_else(pa.array(rng.random(n) < 0.1), pc.utf8_lower(state), state),
                present[:, 2],
                "state",
            )
            c["postal_code"] = r.missing(postal_codes(), present[:, 2], "postal_code")
            return c

        def place_values(us: np.ndarray, abroad_attr: str) -> np.ndarray:
            """A city's name or region: the US pools', or those abroad."""
            if abroad is None:
                return us[p["city"][who]]
            out = np.empty(n, dtype=object)
            out[~abroad] = us[p["city"][who][~abroad]]
            out[abroad] = getattr(pools.intl, abroad_attr)[p["city"][who][abroad]]
            return out

        def postal_codes() -> pa.Array:
            if abroad is None:
                return r.postal_codes(p["zip"][who])
            canonical = np.where(
                abroad, pools.intl.postcodes[np.where(abroad, p["zip"][who], 0)], None
            )
            return r.postal_codes(p["zip"][who], country=country, canonical=canonical)

        def names(nickname_boost=1.0):
            first = r.first_names(
                pools, p["first"][who], p["gender"][who], p["doctor"][who], nickname_boost
            )
            last = r.last_names(pools, p["last"][who], p["suffix"][who])
            first, last = r.swap(first, last)
            return r.missing(first, present[:, 4], "first_name"), r.missing(
                last, present[:, 4], "last_name"
            )

        def dob():
            values = r.dates_of_birth(p["dob"][who])
            return pc.if_else(pa.array(present[:, 3]), values, pa.scalar(None, pa.date32()))

        # Last touched: on day 0 at some point between creation and the
        # extract; on a change day, that day.
        updated = (
            np.maximum(recs.created_ts[idx], day_ts + rng.integers(0, DAY_S // 2, n))
            if day
            else recs.created_ts[idx]
            + rng.integers(0, 300 * DAY_S, n) % np.maximum(1, self.start_ts - recs.created_ts[idx])
        )

        if src == "ecommerce":
            # The second account is the work (or old personal) address.
            cols["email"] = r.missing(email_values(recs.dup[idx]), present[:, 0], "email")
            cols["first_name"], cols["last_name"] = names()
            cols["phone"] = r.missing(phone_values(np.zeros(n, bool)), present[:, 1], "phone")
            cols.update(address_cols())
            spelled = np.array(COUNTRY_SPELLINGS, dtype=object)[
                rng.integers(0, len(COUNTRY_SPELLINGS), n)
            ]
            if abroad is not None:
                spelled = spelled.copy()
                pick = rng.random(n)
                for code in np.unique(country[abroad]):
                    options = ABROAD_SPELLINGS[COUNTRIES[code]]
                    here = country == code
                    spelled[here] = [options[int(x * len(options))] for x in pick[here]]
            cols["country"] = pa.array(spelled.tolist(), pa.string())
            cols["date_of_birth"] = dob()
            cols["marketing_opt_in"] = pa.array(rng.random(n) < 0.55)
            cols["created_at"] = ts(recs.created_ts[idx])
            cols["updated_at"] = ts(updated)
        elif src == "mobile_app":
            bits = recs.extra[idx]
            cols["platform"] = pa.array(np.where(bits & 1, "ios", "android").tolist(), pa.string())
            version = 5 + (bits >> 1) % 3 + day // 60
            cols["app_version"] = pa.array(
                [f"{v}.{(b >> 3) % 10}.{(b >> 7) % 5}" for v, b in zip(version, bits, strict=True)],
                pa.string(),
            )
            logged_in = present[:, 0] & self._has_live_account(who)
            cols["profile_email"] = r.missing(
                email_values(np.zeros(n, bool)), logged_in, "profile_email"
            )
            first = r.first_names(
                pools, p["first"][who], p["gender"][who], p["doctor"][who], nickname_boost=2.0
            )
            cols["profile_first_name"] = r.missing(first, present[:, 4], "profile_first_name")
            cols["push_opt_in"] = pa.array(rng.random(n) < 0.6)
            cols["first_seen_at"] = ts(recs.created_ts[idx])
            cols["last_seen_at"] = ts(np.maximum(updated, recs.created_ts[idx]))
        elif src == "loyalty":
            cols["first_name"], cols["last_name"] = names()
            cols["email"] = r.missing(email_values(rng.random(n) < 0.1), present[:, 0], "email")
            cols["phone"] = r.missing(phone_values(rng.random(n) < 0.5), present[:, 1], "phone")
            address = address_cols()
            for k in ("street_address", "city", "state", "postal_code"):
                cols[k] = address[k]
            cols["date_of_birth"] = dob()
            cols["tier"] = pa.array(
                np.array(TIERS)[rng.choice(len(TIERS), n, p=TIER_WEIGHTS)].tolist(), pa.string()
            )
            cols["points_balance"] = pa.array(rng.gamma(1.2, 900, n).astype(np.int64))
            cols["enrolled_at"] = ts(recs.created_ts[idx])
            cols["updated_at"] = ts(updated)
        elif src == "pos":
            cols["loyalty_number"] = self._typed_loyalty_numbers(who, recs.extra[idx] > 0, r)
            cols["first_name"], cols["last_name"] = names()
            # Tills print capitals.
            upper = pa.array(rng.random(n) < 0.5)
            cols["first_name"] = pc.if_else(
                upper, pc.utf8_upper(cols["first_name"]), cols["first_name"]
            )
            cols["last_name"] = pc.if_else(
                upper, pc.utf8_upper(cols["last_name"]), cols["last_name"]
            )
            cols["phone"] = r.missing(phone_values(rng.random(n) < 0.5), present[:, 1], "phone")
            cols["postal_code"] = r.missing(postal_codes(), present[:, 2], "postal_code")
            cols["home_store_id"] = pa.array(
                [f"S{(z // 10) % 900 + 100:03d}" for z in p["zip"][who]], pa.string()
            )
            cols["issued_at"] = ts(recs.created_ts[idx])
        elif src == "crm":
            cols["phone"] = r.missing(phone_values(rng.random(n) < 0.5), present[:, 1], "phone")
            household = p["hh_email_shared"][who] & (p["hh_email"][who] != None)  # noqa: E711
            clean = np.where(household, p["hh_email"][who], p["email"][who])
            self.noise_log.add(
                table, keys, household & present[:, 0], day, "email", "household_email"
            )
            cols["email"] = r.missing(
                r.emails(pa.array(clean.tolist(), pa.string())), present[:, 0], "email"
            )
            cols["first_name"], cols["last_name"] = names()
            cols["postal_code"] = r.missing(postal_codes(), present[:, 2], "postal_code")
            cols["created_at"] = ts(recs.created_ts[idx])
            cols["updated_at"] = ts(updated)
        elif src == "enrichment":
            cols["email"] = r.missing(email_values(recs.dup[idx]), present[:, 0], "email")
            cols["phone"] = r.missing(phone_values(rng.random(n) < 0.4), present[:, 1], "phone")
            first, last = names()
            # The provider standardizes to capitals.
            cols["first_name"], cols["last_name"] = pc.utf8_upper(first), pc.utf8_upper(last)
            address = address_cols()
            for k in ("street_address", "city", "state", "postal_code"):
                cols[k] = address[k]
            cols["date_of_birth"] = dob()
            cols["gender"] = pa.array(
                np.where(
                    rng.random(n) < 0.9, np.where(p["gender"][who] == 1, "M", "F"), "U"
                ).tolist(),
                pa.string(),
            )
            cols["household_income_band"] = pa.array(
                np.array(INCOME_BANDS)[rng.choice(len(INCOME_BANDS), n, p=INCOME_WEIGHTS)].tolist(),
                pa.string(),
            )
            _, household_of = np.unique(p["hh"], return_inverse=True)
            sizes = np.bincount(household_of)[household_of[who]]
            cols["household_size"] = pa.array(
                np.clip(sizes + rng.integers(0, 3, n), 1, 8).astype(np.int64)
            )
            picks = rng.random((n, len(INTERESTS))) < 0.12
            cols["interests"] = pa.array(
                [";".join(np.array(INTERESTS)[row]) for row in picks], pa.string()
            )
            cols["refreshed_at"] = ts(np.maximum(updated, self.start_ts - 30 * DAY_S))
        return conform(table, cols)

    def _has_live_account(self, who: np.ndarray) -> np.ndarray:
        ec = self.records["ecommerce"]
        return np.isin(who, ec.person[ec.alive])

    def _first_record(self, src: str, live_only: bool = True) -> np.ndarray:
        """Per person (local index): their earliest (live) record in `src`, or -1."""
        recs = self.records[src]
        candidates = np.where(recs.alive)[0] if live_only else np.arange(len(recs))
        out = np.full(len(self.p["pid"]), -1, np.int64)
        people, first = np.unique(recs.person[candidates], return_index=True)
        out[people] = candidates[first]
        return out

    def _household_heads(self) -> np.ndarray:
        """Local indices of the first member of every multi-person household."""
        p = self.p
        return np.where(
            p["multi"] & (p["hh"] == self.chunk * PERSON_SPAN + np.arange(len(p["pid"])))
        )[0]

    def _typed_loyalty_numbers(self, who: np.ndarray, typed: np.ndarray, r: Renderer) -> pa.Array:
        loy = self.records["loyalty"]
        first_card = self._first_record("loyalty")
        out = []
        kinds = r.rng.integers(0, 7, len(who))
        for person, t, k in zip(who.tolist(), typed.tolist(), kinds.tolist(), strict=True):
            if not t or first_card[person] < 0:
                out.append("")
                continue
            key = loy.keys[first_card[person]].as_py()  # L + 10 digits
            digits = key[1:]
            out.append(
                (
                    key,
                    key.lower(),
                    digits,
                    digits.lstrip("0"),
                    f"{key[0]}-{digits[:3]}-{digits[3:6]}-{digits[6:]}",
                    f"{digits[:3]} {digits[3:6]} {digits[6:]}",
                    f" {key} ",
                )[k]
            )
        arr = pa.array(out, pa.string())
        for k, name in enumerate(
            (
                "canonical",
                "lowercase",
                "no_prefix",
                "leading_zeros_dropped",
                "dashes",
                "spaces",
                "padded",
            )
        ):
            r.note(
                typed & (kinds == k) & (np.asarray(pc.not_equal(arr, "").fill_null(False))),
                "loyalty_number",
                f"loyalty_{name}",
            )
        return arr
