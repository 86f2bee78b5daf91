"""One chunk of people simulated over every day: people, their records, changes.

The pieces: people.py (people, households, hard negatives, which systems hold
whom), render.py (records as the systems hold them, noise included),
activity.py (orders, events, sales, tickets, privacy requests); this module
holds the chunk's state and drives it through the days.

A chunk is self-contained (its households, its keys, its random streams), so
chunks run in any order or in parallel and memory is bounded by the chunk
size, not by the number of customers.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c360.contract import TABLES
from c360.tools.generator.activity import ActivityMixin
from c360.tools.generator.config import DAY_S, SOURCE_TABLE, SOURCES, GeneratorConfig
from c360.tools.generator.international import COUNTRIES, street_line
from c360.tools.generator.keys import (
    ACTIVITY_SPAN,
    MAX_CHUNKS,
    PERSON_SPAN,
    RECORD_SPAN,
    KeySpace,
    PhoneSpace,
)
from c360.tools.generator.noise import NoiseLog, _street_line
from c360.tools.generator.people import PeopleMixin, multi_source_participation
from c360.tools.generator.pools import (
    Pools,
)
from c360.tools.generator.render import RenderMixin, conform, with_op

# Key formats per source: prefix, digits, salt.
KEY_FORMATS = {
    "ecommerce": ("A", 10, 11),
    "loyalty": ("L", 10, 13),
    "pos": ("6035", 12, 17),
    "crm": ("C", 10, 19),
    "enrichment": ("XP", 11, 23),
}
ACTIVITY_KEYS = {
    "ecommerce_orders": ("O", 12, 29),
    "mobile_app_events": ("EV", 12, 31),
    "pos_transactions": ("T", 12, 37),
    "crm_tickets": ("TK", 12, 41),
    "privacy_requests": ("PR", 12, 43),
}


def check_capacity(n_chunks: int) -> None:
    """Fail before writing anything if the key spaces cannot hold this many chunks."""
    if n_chunks > MAX_CHUNKS:
        raise ValueError(f"{n_chunks} chunks exceed the generator's {MAX_CHUNKS}: raise chunk_size")
    for formats, span in ((KEY_FORMATS, RECORD_SPAN), (ACTIVITY_KEYS, ACTIVITY_SPAN)):
        for name, (prefix, digits, _) in formats.items():
            if n_chunks * span > 10**digits:
                raise ValueError(
                    f"{name} keys ({prefix} + {digits} digits) cannot hold {n_chunks} chunks"
                )


@dataclass
class Records:
    """Identity records of one source in one chunk, in creation order."""

    source: str
    person: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    serial: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dup: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    created_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    created_ts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    present: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), bool))
    extra: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per-source flag
    keys: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    rows: pa.Table | None = None  # current row image of each record

    def __len__(self) -> int:
        return len(self.person)


class ChunkSimulator(PeopleMixin, RenderMixin, ActivityMixin):
    """A chunk's state: its people, their records, key spaces and random streams."""

    def __init__(
        self, cfg: GeneratorConfig, pools: Pools, chunk: int, n_chunks: int, n_people: int
    ):
        self.cfg = cfg
        self.pools = pools
        self.chunk = chunk
        self.n_chunks = n_chunks
        self.n_initial = n_people
        self.participation = multi_source_participation(cfg)
        self.key_space = {s: KeySpace(*KEY_FORMATS[s]) for s in KEY_FORMATS}
        self.activity_space = {t: KeySpace(*ACTIVITY_KEYS[t]) for t in ACTIVITY_KEYS}
        self.phone_space = PhoneSpace(pools.valid_npa, salt=cfg.seed + 5)
        self.counters: dict[str, int] = {}
        self.records = {s: Records(s) for s in SOURCES}
        self.noise_log = NoiseLog()
        self.p: dict[str, np.ndarray] = {}
        self.used_emails: set[str] = set()
        self.truth_kinds: list[tuple[np.ndarray, str, np.ndarray]] = []
        self.events: list[dict] = []
        self.open_tickets: list[pa.Table] = []
        self.start_ts = int(
            dt.datetime.combine(cfg.start_date, dt.time()).replace(tzinfo=dt.UTC).timestamp()
        )

    # -- random streams ----------------------------------------------------
    def rng(self, day: int, purpose: str) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, self.chunk, day, zlib.crc32(purpose.encode())])

    def next_serials(self, name: str, n: int, span: int) -> np.ndarray:
        start = self.counters.get(name, 0)
        if start + n >= span:
            raise OverflowError(f"chunk {self.chunk} ran out of {name} serials")
        self.counters[name] = start + n
        return self.chunk * span + start + np.arange(n, dtype=np.int64)


# Columns that a change of each kind re-renders; everything else in an update
# keeps yesterday's value, so a row image only changes where the world did.
CHANGE_GROUPS = {
    "name": {"first_name", "last_name", "profile_first_name"},
    "email": {"email", "profile_email"},
    "phone": {"phone"},
    "address": {"street_address", "city", "state", "postal_code"},
    "meta": {
        "updated_at",
        "last_seen_at",
        "app_version",
        "tier",
        "points_balance",
        "refreshed_at",
        "marketing_opt_in",
        "push_opt_in",
        "household_income_band",
        "interests",
        "household_size",
    },
}


class ChunkRun(ChunkSimulator):
    """Drives a chunk through day 0 and every change day, emitting partitions."""

    def run(self, emit) -> dict[str, pa.Table]:
        people = self.create_people(self.n_initial, 0)
        self.create_records(people, 0)
        self._plant_family_devices()
        for src in SOURCES:
            recs = self.records[src]
            recs.rows = self.render(src, np.arange(len(recs)), 0, "full")
            self._emit(emit, SOURCE_TABLE[src], 0, recs.rows)
        self._activity(0, emit)
        self._privacy_requests(0, emit)
        for day in range(1, self.cfg.days + 1):
            self._step(day, emit)
        return self._truth()

    def _new_keys(self, table: str, n: int) -> pa.Array:
        return self.activity_space[table].format(self.next_serials(table, n, ACTIVITY_SPAN))

    def _emit(self, emit, table: str, day: int, rows, op: str = "U") -> None:
        """Rows in contract order and types, with their _op and _extracted_at."""
        rows = rows if isinstance(rows, pa.Table) else pa.table(rows)
        emit(table, day, with_op(conform(table, rows), op, self._extracted_at(day)))

    def _extracted_at(self, day: int) -> int:
        return (self.start_ts + day * DAY_S + 3 * 3600) * 1_000_000

    def _plant_family_devices(self) -> None:
        rng = self.rng(0, "family_devices")
        apps, p = self.records["mobile_app"], self.p
        heads = self._household_heads()
        first_device = self._first_record("mobile_app", live_only=False)
        heads_with_device = heads[first_device[heads] >= 0]
        chosen = heads_with_device[
            rng.random(len(heads_with_device)) < self.cfg.population.family_device_rate
        ]
        for head in chosen:
            dev = first_device[head]
            apps.extra[dev] |= 1 << 21
            members = np.where(p["hh"] == p["hh"][head])[0]
            self._tag(p["pid"][members], "family_device", np.full(len(members), apps.serial[dev]))
        self.family_members = {
            int(i): np.where(p["hh"] == p["hh"][apps.person[i]])[0]
            for i in np.where(apps.extra & (1 << 21))[0]
        }

    # -- daily changes ---------------------------------------------------------
    def _step(self, day: int, emit) -> None:
        rng = self.rng(day, "changes")
        ch, p = self.cfg.changes, self.p
        dirty: dict[str, dict[int, set[str]]] = {s: {} for s in SOURCES}
        n_people = len(p["pid"])

        def touch(person_idx: np.ndarray, group: str, event: str, propagate: bool = True):
            for src in SOURCES:
                recs = self.records[src]
                hit = np.where(np.isin(recs.person, person_idx) & recs.alive)[0]
                if propagate:
                    hit = hit[rng.random(len(hit)) < ch.propagation[src]]
                for i in hit:
                    dirty[src].setdefault(int(i), set()).update((group, "meta"))
                    self.events.append(
                        dict(
                            person=int(recs.person[i]),
                            day=day,
                            event=event,
                            source_table=SOURCE_TABLE[src],
                            record=int(i),
                            src=src,
                        )
                    )

        # New customers.
        k = int(rng.binomial(self.n_initial, ch.new_customer_rate))
        if k:
            new_people = self.create_people(k, day)
            created = self.create_records(new_people, day)
            for src, idx in created.items():
                for i in idx:
                    dirty[src][int(i)] = {"new"}
            for person in new_people:
                self.events.append(
                    dict(
                        person=int(person),
                        day=day,
                        event="new_customer",
                        source_table=None,
                        record=-1,
                        src=None,
                    )
                )
        existing = np.arange(n_people)

        # Life events.
        female_unmarried = existing[
            (p["gender"][existing] == 0) & (p["last"][existing] == p["birth_last"][existing])
        ]
        married = female_unmarried[rng.random(len(female_unmarried)) < ch.marriage_rate]
        if len(married):
            p["last"][married] = rng.choice(
                len(self.pools.surnames), len(married), p=self.pools.surname_p
            )
            self._log_people(married, day, "marriage")
            touch(married, "name", "marriage")
        movers_hh = np.unique(p["hh"][existing[rng.random(n_people) < ch.move_rate]])
        if len(movers_hh):
            movers = np.where(np.isin(p["hh"], movers_hh))[0]
            self._move(movers, rng, day)
            self._log_people(movers, day, "move")
            touch(movers, "address", "move")
        new_email = existing[rng.random(n_people) < ch.new_email_rate]
        if len(new_email):
            firsts = self.pools.first_names[p["first"][new_email]]
            lasts = self.pools.surnames[p["last"][new_email]]
            doms = rng.choice(
                len(self.pools.personal_domains), len(new_email), p=self.pools.personal_domain_p
            )
            p["alt_email"][new_email] = p["email"][new_email]
            p["email"][new_email] = [
                self._unique_email(
                    self._local_part(f, la, s), self.pools.personal_domains[d], rng, True
                )
                for f, la, s, d in zip(firsts, lasts, rng.random(len(new_email)), doms, strict=True)
            ]
            self._log_people(new_email, day, "new_email")
            touch(new_email, "email", "new_email")
        new_phone = existing[rng.random(n_people) < ch.new_phone_rate]
        if len(new_phone):
            serial = self.next_serials("phone", len(new_phone), PERSON_SPAN)
            p["mobile"][new_phone] = self.phone_space.numbers(4 * serial + 2)
            p["cc"][new_phone] = 1
            self._log_people(new_phone, day, "new_phone")
            touch(new_phone, "phone", "new_phone")

        # Ordinary updates, new records for known people, deletions.
        for src in SOURCES:
            recs = self.records[src]
            live_old = np.where(recs.alive & (recs.created_day < day))[0]
            for i in live_old[rng.random(len(live_old)) < ch.record_update_rate]:
                dirty[src].setdefault(int(i), set()).add("meta")
        joiners = existing[rng.random(n_people) < ch.new_record_rate]
        if len(joiners):
            src_pick = rng.choice(len(SOURCES), len(joiners))
            for j, src in enumerate(SOURCES):
                owners = joiners[src_pick == j]
                if len(owners):
                    dup = np.isin(owners, self.records[src].person)
                    for i in self.add_records(src, owners, dup, day, rng):
                        dirty[src][int(i)] = {"new"}
                        self.events.append(
                            dict(
                                person=int(self.records[src].person[i]),
                                day=day,
                                event="new_record",
                                source_table=SOURCE_TABLE[src],
                                record=int(i),
                                src=src,
                            )
                        )
        for src in SOURCES:
            recs = self.records[src]
            live_old = np.where(recs.alive & (recs.created_day < day))[0]
            gone = live_old[rng.random(len(live_old)) < ch.record_delete_rate]
            if len(gone):
                recs.alive[gone] = False
                for i in gone:
                    dirty[src].pop(int(i), None)
                    self.events.append(
                        dict(
                            person=int(recs.person[i]),
                            day=day,
                            event="record_deleted",
                            source_table=SOURCE_TABLE[src],
                            record=int(i),
                            src=src,
                        )
                    )
                deletes = pa.table({TABLES[SOURCE_TABLE[src]].key: recs.keys.take(pa.array(gone))})
                self._emit(emit, SOURCE_TABLE[src], day, deletes, op="D")

        for src in SOURCES:
            if dirty[src]:
                self._emit_updates(src, day, dirty[src], emit)
        self._activity(day, emit)
        self._privacy_requests(day, emit)

    def _move(self, movers: np.ndarray, rng, day: int) -> None:
        p, pools = self.p, self.pools
        hh_ids, first = np.unique(p["hh"][movers], return_index=True)
        k = len(hh_ids)
        local_move = rng.random(k) < 0.6
        city = np.where(
            local_move, p["city"][movers[first]], rng.choice(len(pools.cities), k, p=pools.city_p)
        )
        # (A household abroad staying local holds an index of a city abroad;
        # its US zip is drawn only to keep the stream and then replaced.)
        us_city = np.minimum(city, len(pools.cities) - 1)
        new = dict(
            city=city,
            zip=pools.city_zip_base[us_city]
            + rng.integers(0, 1 << 30, k) % pools.city_zip_count[us_city],
            street_no=np.exp(rng.uniform(0, np.log(9999), k)).astype(np.int64) + 1,
            direction=np.where(rng.random(k) < 0.15, rng.integers(0, 4, k), -1),
            street=rng.choice(len(pools.streets), k, p=pools.street_p),
            sfx=rng.integers(0, 6, k),
            unit=np.where(rng.random(k) < 0.25, rng.integers(1, 40, k), 0),
            unit_letter=np.where(rng.random(k) < 0.4, rng.integers(1, 7, k), 0),
        )
        abroad = p["country"][movers[first]] > 0
        if abroad.any():
            self._move_within_country(new, p["country"][movers[first]], local_move, day)
        which = np.searchsorted(hh_ids, p["hh"][movers])
        for name, values in new.items():
            p[name][movers] = values[which]

    def _move_within_country(self, new: dict, country, local_move, day: int) -> None:
        """Households abroad move within their country (their own stream:
        the US draws stay those of a run without people abroad)."""
        rng, intl = self.rng(day, "abroad_move"), self.pools.intl
        k = len(country)
        for code in np.unique(country[country > 0]):
            here = country == code
            cities, city_p = intl.city_p[code]
            streets, street_p = intl.street_p[code]
            far = here & ~local_move
            new["city"] = np.where(far, rng.choice(cities, k, p=city_p), new["city"])
            new["street"] = np.where(here, rng.choice(streets, k, p=street_p), new["street"])
        abroad = country > 0
        city = np.where(abroad, new["city"], 0)
        new["zip"] = np.where(
            abroad,
            intl.city_zip_base[city] + rng.integers(0, 1 << 30, k) % intl.city_zip_count[city],
            new["zip"],
        )
        new["street_no"] = np.where(
            abroad, np.exp(rng.uniform(0, np.log(250), k)).astype(np.int64) + 1, new["street_no"]
        )
        for name in ("direction", "sfx", "unit_letter"):
            new[name] = np.where(abroad, -1 if name == "direction" else 0, new[name])

    def _log_people(self, people: np.ndarray, day: int, event: str) -> None:
        for person in people:
            self.events.append(
                dict(
                    person=int(person), day=day, event=event, source_table=None, record=-1, src=None
                )
            )

    def _emit_updates(self, src: str, day: int, dirty: dict[int, set[str]], emit) -> None:
        recs = self.records[src]
        idx = np.array(sorted(dirty), dtype=np.int64)
        fresh = self.render(src, idx, day, "update")
        n_old = len(recs.rows)
        existing = idx < n_old
        # Keep yesterday's value wherever the world did not change. New
        # records (not `existing`) take every fresh value.
        changed = {g: np.array([g in dirty[int(i)] for i in idx]) for g in CHANGE_GROUPS}
        columns = []
        for name in fresh.column_names:
            new_col = fresh.column(name).combine_chunks()
            if existing.any():
                take_new = np.zeros(len(idx), bool)
                for group, group_columns in CHANGE_GROUPS.items():
                    if name in group_columns:
                        take_new |= changed[group]
                old = (
                    recs.rows.column(name)
                    .combine_chunks()
                    .take(pa.array(np.where(existing, idx, 0)))
                )
                new_col = pc.if_else(pa.array(take_new | ~existing), new_col, old)
            columns.append(new_col)
        image = pa.table(columns, names=fresh.column_names)
        self._emit(emit, SOURCE_TABLE[src], day, image)
        old_rows = image.filter(pa.array(existing))
        if existing.any():
            mask = np.zeros(n_old, bool)
            mask[idx[existing]] = True
            recs.rows = pa.table(
                [
                    pc.replace_with_mask(
                        recs.rows.column(c).combine_chunks(),
                        pa.array(mask),
                        old_rows.column(c).combine_chunks(),
                    )
                    for c in recs.rows.column_names
                ],
                names=recs.rows.column_names,
            )
        new_rows = image.filter(pa.array(~existing))
        if new_rows.num_rows:
            recs.rows = pa.concat_tables([recs.rows, new_rows])

    # -- truth -------------------------------------------------------------------
    def _true_places(self) -> dict[str, pa.Array]:
        """Each person's clean address, as their country writes it."""
        p, pools = self.p, self.pools
        # A country of 0 is the US; the others have their own street styles.
        street = [
            street_line(pools.intl, int(c), int(no), int(s), int(u), 0, 0)
            if c
            else _street_line(pools, int(no), int(d), int(s), int(f), int(u), int(ul), 0, 0)
            for c, no, d, s, f, u, ul in zip(
                p["country"],
                p["street_no"],
                p["direction"],
                p["street"],
                p["sfx"],
                p["unit"],
                p["unit_letter"],
                strict=True,
            )
        ]
        abroad = p["country"] > 0
        city = np.where(abroad, 0, p["city"])
        city_abroad = np.where(abroad, p["city"], 0)
        cities = pools.cities[city].copy()
        states = pools.city_states[city].copy()
        postal = np.array([f"{z:05d}" for z in p["zip"]], dtype=object)
        if abroad.any():
            cities[abroad] = pools.intl.cities[city_abroad[abroad]]
            states[abroad] = pools.intl.city_region[city_abroad[abroad]]
            postal[abroad] = pools.intl.postcodes[p["zip"][abroad]]
        return {
            "street_address": pa.array(street, pa.string()),
            "city": pa.array(cities.tolist()),
            "state": pa.array(states.tolist()),
            "postal_code": pa.array(postal.tolist()),
        }

    def _truth(self) -> dict[str, pa.Table]:
        p, pools = self.p, self.pools
        links = []
        for src in SOURCES:
            recs = self.records[src]
            n = len(recs)
            links.append(
                pa.table(
                    {
                        "source_table": pa.array([SOURCE_TABLE[src]] * n, pa.string()),
                        "source_record_id": recs.keys,
                        "person_id": pa.array(p["pid"][recs.person]),
                        "is_duplicate_in_source": pa.array(recs.dup),
                        "created_day": pa.array(recs.created_day),
                        "is_live": pa.array(recs.alive),
                    }
                )
            )
        dates = p["dob"].astype("datetime64[D]")
        places = self._true_places()
        persons = pa.table(
            {
                "person_id": pa.array(p["pid"]),
                "household_id": pa.array(p["hh"]),
                "gender": pa.array(np.where(p["gender"] == 1, "M", "F").tolist()),
                "first_name": pa.array(pools.first_names[p["first"]].tolist()),
                "last_name": pa.array(pools.surnames[p["last"]].tolist()),
                "birth_last_name": pa.array(pools.surnames[p["birth_last"]].tolist()),
                "name_suffix": pa.array(
                    [{1: "Jr.", 2: "Sr.", 3: "III"}.get(int(s)) for s in p["suffix"]], pa.string()
                ),
                "date_of_birth": pa.array(dates, pa.date32()),
                "email": pa.array(p["email"].tolist(), pa.string()),
                "alt_email": pa.array(p["alt_email"].tolist(), pa.string()),
                "phone_e164": pa.array(
                    [f"+{c}{m:010d}" for c, m in zip(p["cc"], p["mobile"], strict=True)]
                ),
                "home_phone_e164": pa.array(
                    [f"+1{m:010d}" if m else None for m in p["landline"]], pa.string()
                ),
                **places,
                "arrival_day": pa.array(p["arrival"]),
            }
        )
        if self.cfg.population.international_share > 0:
            # Only where some may live abroad, so that the default truth keeps its bytes.
            persons = persons.append_column(
                "country", pa.array(np.array(COUNTRIES, dtype=object)[p["country"]].tolist())
            )
        kinds = [
            pa.table(
                {
                    "person_id": pa.array(pids),
                    "kind": pa.array([kind] * len(pids), pa.string()),
                    "group_id": pa.array(group),
                }
            )
            for pids, kind, group in self.truth_kinds
        ]
        hard = (
            pa.concat_tables(kinds)
            if kinds
            else pa.table(
                {
                    "person_id": pa.array([], pa.int64()),
                    "kind": pa.array([], pa.string()),
                    "group_id": pa.array([], pa.int64()),
                }
            )
        )
        ev = self.events
        keys = {src: self.records[src].keys for src in SOURCES}
        events = pa.table(
            {
                "person_id": pa.array([int(p["pid"][e["person"]]) for e in ev], pa.int64()),
                "day": pa.array([e["day"] for e in ev], pa.int16()),
                "event": pa.array([e["event"] for e in ev], pa.string()),
                "source_table": pa.array([e["source_table"] for e in ev], pa.string()),
                "source_record_id": pa.array(
                    [
                        e.get("key") or (keys[e["src"]][e["record"]].as_py() if e["src"] else None)
                        for e in ev
                    ],
                    pa.string(),
                ),
            }
        )
        noise = self.noise_log.table()
        out = {
            "person_links": pa.concat_tables(links),
            "persons": persons,
            "hard_negatives": hard,
            "life_events": events,
        }
        if noise is not None:
            out["record_noise"] = noise.cast(
                pa.schema(
                    [
                        ("source_table", pa.string()),
                        ("source_record_id", pa.string()),
                        ("day", pa.int16()),
                        ("field", pa.string()),
                        ("kind", pa.string()),
                    ]
                )
            )
        return out
