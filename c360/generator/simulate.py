"""One chunk of people simulated over every day: people, their records, changes.

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
from c360.generator.config import SOURCE_TABLE, SOURCES, GeneratorConfig
from c360.generator.keys import (
    ACTIVITY_SPAN,
    MAX_CHUNKS,
    PERSON_SPAN,
    RECORD_SPAN,
    KeySpace,
    PhoneSpace,
    device_ids,
)
from c360.generator.noise import NoiseLog, Renderer, _street_line
from c360.generator.pools import (
    COUNTRY_SPELLINGS,
    INCOME_BANDS,
    INCOME_WEIGHTS,
    INTERESTS,
    INTERNATIONAL_CODES,
    STREET_SUFFIX_WEIGHTS,
    TIER_WEIGHTS,
    TIERS,
    Pools,
)

DAY_S = 86_400
PRESENCE_FIELDS = ("email", "phone", "address", "dob", "name")
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
EVENT_TYPES = np.array(["app_open", "product_view", "search", "add_to_cart", "purchase", "login"])
EVENT_P = np.array([0.3, 0.35, 0.15, 0.1, 0.05, 0.05])
TICKET_CATEGORIES = np.array(
    ["order_status", "returns", "billing", "account", "product", "complaint"]
)
CHANNELS = np.array(["phone", "email", "chat"])
ORDER_STATUS = np.array(["delivered", "shipped", "cancelled", "returned"])


def check_capacity(n_chunks: int) -> None:
    """Fail before writing anything if the key spaces cannot hold this many chunks."""
    if n_chunks > MAX_CHUNKS:
        raise ValueError(f"{n_chunks} chunks exceed the generator's {MAX_CHUNKS}: raise chunk_size")
    for name, (prefix, digits, _) in KEY_FORMATS.items():
        if n_chunks * RECORD_SPAN > 10**digits:
            raise ValueError(
                f"{name} keys ({prefix} + {digits} digits) cannot hold {n_chunks} chunks"
            )
    for name, (prefix, digits, _) in ACTIVITY_KEYS.items():
        if n_chunks * ACTIVITY_SPAN > 10**digits:
            raise ValueError(
                f"{name} keys ({prefix} + {digits} digits) cannot hold {n_chunks} chunks"
            )


def multi_source_participation(cfg: GeneratorConfig) -> dict[str, float]:
    """Per-source participation of multi-source people that meets the coverage targets."""
    cov = cfg.coverage
    s = cov.single_source_share
    mix_total = sum(cov.single_source_mix.values())
    out = {}
    # Families sharing an email are all given a CRM contact (the hard
    # negative); the CRM records they would not otherwise have count against
    # the CRM target.
    family_share = cfg.population.household_share * cfg.population.shared_household_email_rate
    for src in SOURCES:
        dup = cov.duplicate_rate[src]
        single_part = s * cov.single_source_mix.get(src, 0) / mix_total * (1 + dup)
        target = cov.records_per_100[src] / 100
        p = (target - single_part) / ((1 - s) * (1 + dup))
        if src == "crm":
            p = (target - single_part - family_share * (1 - p)) / ((1 - s) * (1 + dup))
        if not 0 <= p <= 1:
            raise ValueError(
                f"coverage knobs are inconsistent for {src}: multi-source participation {p:.2f}"
            )
        out[src] = p
    return out


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


class ChunkSimulator:
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

    # -- people ------------------------------------------------------------
    def create_people(self, n: int, day: int) -> np.ndarray:
        """Create n people (with households on day 0); return their local indices."""
        rng = self.rng(day, "people")
        pools, pop = self.pools, self.cfg.population
        first_local = len(self.p.get("pid", []))
        local = np.arange(first_local, first_local + n)
        pid = self.chunk * PERSON_SPAN + local
        if n and local[-1] >= PERSON_SPAN:
            raise OverflowError("too many people in one chunk")

        # Households: contiguous runs of people; only day-0 people share them.
        hh = local.copy()
        role = np.zeros(n, np.int8)  # 0 head, 1 partner, 2 child
        if day == 0:
            target = int(n * pop.household_share)
            sizes_k = np.array(sorted(pop.household_size_weights))
            sizes_p = np.array([pop.household_size_weights[k] for k in sizes_k], float)
            sizes = rng.choice(sizes_k, size=max(1, target), p=sizes_p / sizes_p.sum())
            sizes = sizes[np.cumsum(sizes) <= target]
            pos = 0
            for size in sizes:
                hh[pos : pos + size] = local[pos]
                role[pos + 1 : pos + size] = 2
                role[pos + 1] = 1 if size == 2 and rng.random() < 0.7 else 2
                if size > 2:
                    role[pos + 1] = 1
                pos += size
        hh_global = self.chunk * PERSON_SPAN + hh
        is_head = hh == local

        gender = (rng.random(n) < 0.5).astype(np.int8)
        # Partners are of the other gender in most couples.
        partner = np.where(role == 1)[0]
        gender[partner] = np.where(
            rng.random(len(partner)) < 0.95, 1 - gender[partner - 1], gender[partner]
        )
        first = np.where(
            gender == 1,
            rng.choice(len(pools.first_names), n, p=pools.first_p_male),
            rng.choice(len(pools.first_names), n, p=pools.first_p_female),
        )
        last = rng.choice(len(pools.surnames), n, p=pools.surname_p)
        head_of = hh - first_local
        head_of = np.where((head_of >= 0) & (head_of < n), head_of, np.arange(n))
        same_surname = (role == 2) | ((role == 1) & (rng.random(n) < pop.couple_same_surname))
        last = np.where(same_surname, last[head_of], last)
        age_days = (rng.triangular(18, 38, 90, n) * 365.25).astype(np.int64)
        today = (self.cfg.start_date - dt.date(1970, 1, 1)).days + day
        dob = today - age_days
        child = role == 2
        dob[child] = dob[head_of[child]] + (rng.integers(20, 40, child.sum()) * 365.25).astype(
            np.int64
        )
        dob = np.minimum(dob, today - 18 * 366)
        suffix = np.where(rng.random(n) < pop.suffix_iii_rate, 3, 0).astype(np.int8)
        doctor = rng.random(n) < pop.title_doctor_rate

        # Address: per household.
        city = rng.choice(len(pools.cities), n, p=pools.city_p)[head_of]
        zip_code = (
            pools.city_zip_base[city] + (rng.integers(0, 1 << 30, n) % pools.city_zip_count[city])
        )[head_of]
        street_no = (np.exp(rng.uniform(0, np.log(9999), n)).astype(np.int64) + 1)[head_of]
        direction = np.where(rng.random(n) < 0.15, rng.integers(0, 4, n), -1)[head_of]
        street = rng.choice(len(pools.streets), n, p=pools.street_p)[head_of]
        sfx_w = np.array(STREET_SUFFIX_WEIGHTS)
        sfx = rng.choice(len(sfx_w), n, p=sfx_w / sfx_w.sum())[head_of]
        has_unit = rng.random(n) < 0.25
        unit = np.where(has_unit, rng.integers(1, 40, n), 0)[head_of]
        unit_letter = np.where(rng.random(n) < 0.4, rng.integers(1, 7, n), 0)[head_of]

        cc = np.where(
            rng.random(n) < pop.international_phone_rate, rng.choice(INTERNATIONAL_CODES, n), 1
        )
        mobile = self.phone_space.numbers(4 * pid)
        multi = (
            np.bincount(hh - hh.min(), minlength=1)[hh - hh.min()] > 1 if n else np.zeros(0, bool)
        )
        landline_hh = rng.random(n) < pop.household_landline_rate
        landline = np.where(
            multi & landline_hh[head_of], self.phone_space.numbers(4 * hh_global + 1), 0
        )

        people = dict(
            pid=pid,
            hh=hh_global,
            role=role,
            gender=gender,
            first=first,
            last=last,
            birth_last=last.copy(),
            dob=dob,
            suffix=suffix,
            doctor=doctor,
            city=city,
            zip=zip_code,
            street_no=street_no,
            direction=direction,
            street=street,
            sfx=sfx,
            unit=unit,
            unit_letter=unit_letter,
            cc=cc,
            mobile=mobile,
            landline=landline,
            arrival=np.full(n, day, np.int16),
            multi=multi,
        )
        if day == 0:
            self._plant_hard_negatives(people, rng, is_head, head_of)
        self._assign_emails(people, rng, day, is_head)
        for k, v in people.items():
            self.p[k] = np.concatenate([self.p[k], v]) if k in self.p else v
        return local

    def _plant_hard_negatives(self, people, rng, is_head, head_of) -> None:
        pop = self.cfg.population
        n = len(people["pid"])
        hh = people["hh"]
        multi = people["multi"]
        # Two-plus households whose first two members become a Jr./Sr. pair or twins.
        heads = np.where(is_head & multi)[0]
        rng.shuffle(heads)
        n_jr = int(round(n * pop.junior_senior_share / 2))
        n_tw = int(round(n * pop.twin_share / 2))
        jr_heads, tw_heads = heads[:n_jr], heads[n_jr : n_jr + n_tw]
        adult_limit = (self.cfg.start_date - dt.date(1970, 1, 1)).days - 18 * 366
        p_male = self.pools.first_p_male
        for h in jr_heads:
            son = h + 1
            people["gender"][[h, son]] = 1
            if self.pools.first_gender[people["first"][h]] != 1:
                people["first"][h] = rng.choice(len(p_male), p=p_male)
            people["first"][son] = people["first"][h]
            people["last"][son] = people["birth_last"][son] = people["last"][h]
            # Both adults: the father is old enough to have an adult son.
            gap = int(rng.integers(20, 36) * 365.25)
            people["dob"][h] = min(people["dob"][h], adult_limit - gap)
            people["dob"][son] = people["dob"][h] + gap
            people["suffix"][h], people["suffix"][son] = 2, 1
            people["role"][son] = 2
        self._tag(
            people["pid"][np.concatenate([jr_heads, jr_heads + 1])],
            "junior_senior",
            hh[np.concatenate([jr_heads, jr_heads + 1])],
        )
        for h in tw_heads:
            # The two youngest members: the couple in a pair, the children otherwise.
            a, b = np.where(hh == hh[h])[0][-2:]
            people["dob"][b] = people["dob"][a]
            people["last"][b] = people["birth_last"][b] = people["last"][a]
            if rng.random() < 0.6:
                people["gender"][b] = people["gender"][a]
            pool_p = (
                self.pools.first_p_male if people["gender"][b] == 1 else self.pools.first_p_female
            )
            people["first"][b] = rng.choice(len(pool_p), p=pool_p)
            self._tag(people["pid"][[a, b]], "twins", hh[[a, b]])
        # Ordinary households are hard negatives too: shared surname, address, phone.
        members = np.where(multi)[0]
        self._tag(people["pid"][members], "household", hh[members])
        # Common names crowded into the largest cities.
        singles = np.where(~multi)[0]
        k = min(len(singles), int(round(n * pop.common_name_city_share)))
        crowd = rng.choice(singles, k, replace=False) if k else singles[:0]
        g = people["gender"][crowd]
        people["first"][crowd] = np.where(
            g == 1,
            rng.choice(self.pools.first_top_male, k),
            rng.choice(self.pools.first_top_female, k),
        )
        people["last"][crowd] = people["birth_last"][crowd] = rng.choice(
            self.pools.surname_rank_top, k
        )
        people["city"][crowd] = rng.integers(0, 5, k)
        people["zip"][crowd] = (
            self.pools.city_zip_base[people["city"][crowd]]
            + rng.integers(0, 1 << 30, k) % self.pools.city_zip_count[people["city"][crowd]]
        )
        group = (
            people["first"][crowd].astype(np.int64) * 10_000_000
            + people["last"][crowd] * 10
            + people["city"][crowd]
        )
        self._tag(people["pid"][crowd], "common_name_city", group)

    def _tag(self, pids: np.ndarray, kind: str, group: np.ndarray) -> None:
        if len(pids):
            self.truth_kinds.append((np.asarray(pids), kind, np.asarray(group, dtype=np.int64)))

    # -- emails ------------------------------------------------------------
    def _unique_email(self, local: str, domain: str, r: np.random.Generator, numbered: bool) -> str:
        """Globally unique without global state: an un-numbered address is
        used only by the chunk that owns its hash; numbers carry the chunk as
        their residue modulo the number of chunks."""
        if not numbered:
            email = f"{local}@{domain}"
            if (
                zlib.crc32(email.encode()) % self.n_chunks == self.chunk
                and email not in self.used_emails
            ):
                self.used_emails.add(email)
                return email
        while True:
            k = int(r.integers(1, max(2, 10_000 // self.n_chunks)))
            email = f"{local}{k * self.n_chunks + self.chunk}@{domain}"
            if email not in self.used_emails:
                self.used_emails.add(email)
                return email

    def _local_part(self, first: str, last: str, style: float) -> str:
        f = _ascii_token(first)
        la = _ascii_token(last)
        if style < 0.35:
            return f"{f}.{la}"
        if style < 0.55:
            return f"{f[0]}{la}"
        if style < 0.7:
            return f"{f}{la}"
        if style < 0.8:
            return f"{f}_{la}"
        if style < 0.9:
            return f"{f}{la[0]}"
        return f"{la}.{f}"

    def _assign_emails(self, people, rng, day, is_head) -> None:
        pools = self.pools
        n = len(people["pid"])
        firsts = pools.first_names[people["first"]]
        lasts = pools.surnames[people["last"]]
        years = (
            people["dob"].astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
        ) % 100
        dom = rng.choice(len(pools.personal_domains), size=(n, 2), p=pools.personal_domain_p)
        styles = rng.random((n, 3))
        work = rng.random(n) < self.cfg.population.work_email_rate
        work_dom = rng.integers(0, len(pools.work_domains), n)
        emails, alts = [], []
        for i in range(n):
            local = self._local_part(firsts[i], lasts[i], styles[i, 0])
            if styles[i, 1] < 0.25:
                local = f"{local}{years[i]:02d}"
            emails.append(
                self._unique_email(
                    local, pools.personal_domains[dom[i, 0]], rng, styles[i, 1] > 0.55
                )
            )
            if work[i]:
                alt_local = self._local_part(firsts[i], lasts[i], styles[i, 2] * 0.55)
                alts.append(
                    self._unique_email(alt_local, pools.work_domains[work_dom[i]], rng, False)
                )
            else:
                alt_local = self._local_part(firsts[i], lasts[i], styles[i, 2])
                alts.append(
                    self._unique_email(alt_local, pools.personal_domains[dom[i, 1]], rng, True)
                )
        hh_email = np.full(n, None, object)
        if day == 0:
            heads = np.where(people["multi"] & is_head)[0]
            shared = heads[rng.random(len(heads)) < self.cfg.population.shared_household_email_rate]
            for h in shared:
                local = (
                    f"{_ascii_token(lasts[h])}{rng.choice(['family', 'household', 'home', 's'])}"
                )
                hh_email[people["hh"] == people["hh"][h]] = self._unique_email(
                    local, pools.personal_domains[dom[h, 1]], rng, rng.random() < 0.5
                )
            people["hh_email_shared"] = np.isin(people["hh"], people["hh"][shared])
            sharing = np.where(people["hh_email_shared"])[0]
            self._tag(people["pid"][sharing], "shared_household_email", people["hh"][sharing])
        else:
            people["hh_email_shared"] = np.zeros(n, bool)
        people["email"] = np.array(emails, dtype=object)
        people["alt_email"] = np.array(alts, dtype=object)
        people["hh_email"] = hh_email

    # -- records -------------------------------------------------------------
    def create_records(self, people_idx: np.ndarray, day: int) -> dict[str, np.ndarray]:
        """Decide which systems hold each new person and create their records."""
        rng = self.rng(day, "participation")
        cov = self.cfg.coverage
        n = len(people_idx)
        single = rng.random(n) < cov.single_source_share
        mix = np.array([cov.single_source_mix.get(s, 0) for s in SOURCES], float)
        single_src = rng.choice(len(SOURCES), n, p=mix / mix.sum())
        counts = np.zeros((n, len(SOURCES)), np.int64)
        for j, src in enumerate(SOURCES):
            member = np.where(single, single_src == j, rng.random(n) < self.participation[src])
            counts[:, j] = member * (1 + (rng.random(n) < cov.duplicate_rate[src]))
        # Multi-source people must be in two systems at least.
        by_reach = np.argsort([-self.participation[src] for src in SOURCES])
        for i in np.where(~single & ((counts > 0).sum(axis=1) < 2))[0]:
            for j in by_reach:
                if (counts[i] > 0).sum() >= 2:
                    break
                counts[i, j] = max(counts[i, j], 1)
        # Families sharing an email call the call centre with it: that is the
        # hard negative, so each member has a CRM contact that gives it.
        shares_email = self.p["hh_email_shared"][people_idx]
        crm = SOURCES.index("crm")
        counts[shares_email, crm] = np.maximum(counts[shares_email, crm], 1)
        created = {}
        for j, src in enumerate(SOURCES):
            owners = np.repeat(people_idx, counts[:, j])
            dup = np.zeros(len(owners), bool)
            if len(owners):
                dup[1:] = owners[1:] == owners[:-1]
            created[src] = self.add_records(src, owners, dup, day, rng)
        contacts = self.records["crm"]
        family = created["crm"][self.p["hh_email_shared"][contacts.person[created["crm"]]]]
        contacts.present[family, 0] = True
        return created

    def add_records(
        self, src: str, owners: np.ndarray, dup: np.ndarray, day: int, rng
    ) -> np.ndarray:
        recs = self.records[src]
        n = len(owners)
        serial = self.next_serials(f"rec:{src}", n, RECORD_SPAN)
        keys = (
            device_ids(self.cfg.seed, serial)
            if src == "mobile_app"
            else self.key_space[src].format(serial)
        )
        pres = self.cfg.coverage.field_presence[src]
        present = np.column_stack([rng.random(n) < pres[f] for f in PRESENCE_FIELDS])
        if day == 0:
            created_ts = self.start_ts - rng.integers(DAY_S, 5 * 365 * DAY_S, n)
        else:
            created_ts = self.start_ts + day * DAY_S + rng.integers(0, DAY_S // 2, n)
        extra = np.zeros(n, np.int64)
        if src == "mobile_app":
            extra = rng.integers(0, 1 << 20, n)  # platform, version, home store: derived bits
        elif src == "pos":
            has_loyalty = np.isin(
                owners, self.records["loyalty"].person[self.records["loyalty"].alive]
            )
            extra = (
                has_loyalty & (rng.random(n) < self.cfg.noise.pos_loyalty_number_typed)
            ).astype(np.int64)
        start = len(recs)
        recs.person = np.concatenate([recs.person, owners])
        recs.serial = np.concatenate([recs.serial, serial])
        recs.dup = np.concatenate([recs.dup, dup])
        recs.alive = np.concatenate([recs.alive, np.ones(n, bool)])
        recs.created_day = np.concatenate([recs.created_day, np.full(n, day, np.int16)])
        recs.created_ts = np.concatenate([recs.created_ts, created_ts])
        recs.present = np.concatenate([recs.present, present])
        recs.extra = np.concatenate([recs.extra, extra])
        recs.keys = pa.concat_arrays([recs.keys, keys])
        return np.arange(start, start + n)

    # -- rendering -----------------------------------------------------------
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
                ),
                present[:, 2],
                "street_address",
            )
            city = r.case_and_space(
                pa.array(pools.cities[p["city"][who]].tolist(), pa.string()), "city"
            )
            c["city"] = r.missing(city, present[:, 2], "city")
            state = pa.array(pools.city_states[p["city"][who]].tolist(), pa.string())
            c["state"] = r.missing(
                pc.if_else(pa.array(rng.random(n) < 0.1), pc.utf8_lower(state), state),
                present[:, 2],
                "state",
            )
            c["postal_code"] = r.missing(
                r.postal_codes(p["zip"][who]), present[:, 2], "postal_code"
            )
            return c

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
            country = np.array(COUNTRY_SPELLINGS, dtype=object)[
                rng.integers(0, len(COUNTRY_SPELLINGS), n)
            ]
            cols["country"] = pa.array(country.tolist(), pa.string())
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
            cols["postal_code"] = r.missing(
                r.postal_codes(p["zip"][who]), present[:, 2], "postal_code"
            )
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
            cols["postal_code"] = r.missing(
                r.postal_codes(p["zip"][who]), present[:, 2], "postal_code"
            )
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
            sizes = np.bincount(np.searchsorted(np.unique(p["hh"]), p["hh"]))[
                np.searchsorted(np.unique(p["hh"]), p["hh"][who])
            ]
            cols["household_size"] = pa.array(
                np.clip(sizes + rng.integers(0, 3, n), 1, 8).astype(np.int64)
            )
            picks = rng.random((n, len(INTERESTS))) < 0.12
            cols["interests"] = pa.array(
                [";".join(np.array(INTERESTS)[row]) for row in picks], pa.string()
            )
            cols["refreshed_at"] = ts(np.maximum(updated, self.start_ts - 30 * DAY_S))
        return _conform(table, cols)

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


def _conform(table: str, cols: dict[str, pa.Array]) -> pa.Table:
    """Order and type the columns as the contract says."""
    spec = TABLES[table]
    arrays, names = [], []
    for name, typ in spec.all_columns:
        if name in ("_op", "_extracted_at"):
            continue
        arrays.append(pa.array(cols[name]).cast(ARROW_TYPES[typ]))
        names.append(name)
    return pa.table(arrays, names=names)


ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "decimal": pa.decimal128(12, 2),
}


def _ascii_token(name: str) -> str:
    from c360.generator.pools import strip_accents

    return "".join(ch for ch in strip_accents(name).lower() if ch.isalnum()) or "x"


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
LIFE_EVENT_GROUPS = {
    "marriage": "name",
    "move": "address",
    "new_email": "email",
    "new_phone": "phone",
}
HISTORY_DAYS = {
    "ecommerce_orders": 730,
    "mobile_app_events": 30,
    "pos_transactions": 365,
    "crm_tickets": 730,
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
        emit(table, day, _with_op(_conform_partial(table, rows), op, self._extracted_at(day)))

    def _extracted_at(self, day: int) -> int:
        return (self.start_ts + day * DAY_S + 3 * 3600) * 1_000_000

    def _plant_family_devices(self) -> None:
        rng = self.rng(0, "family_devices")
        apps, p = self.records["mobile_app"], self.p
        heads = self._household_heads()
        heads_with_device = heads[self._first_record("mobile_app", live_only=False)[heads] >= 0]
        chosen = heads_with_device[
            rng.random(len(heads_with_device)) < self.cfg.population.family_device_rate
        ]
        first_device = self._first_record("mobile_app", live_only=False)
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
            self._move(movers, rng)
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

    def _move(self, movers: np.ndarray, rng) -> None:
        p, pools = self.p, self.pools
        hh_ids, first = np.unique(p["hh"][movers], return_index=True)
        k = len(hh_ids)
        local_move = rng.random(k) < 0.6
        city = np.where(
            local_move, p["city"][movers[first]], rng.choice(len(pools.cities), k, p=pools.city_p)
        )
        new = dict(
            city=city,
            zip=pools.city_zip_base[city]
            + rng.integers(0, 1 << 30, k) % pools.city_zip_count[city],
            street_no=np.exp(rng.uniform(0, np.log(9999), k)).astype(np.int64) + 1,
            direction=np.where(rng.random(k) < 0.15, rng.integers(0, 4, k), -1),
            street=rng.choice(len(pools.streets), k, p=pools.street_p),
            sfx=rng.integers(0, 6, k),
            unit=np.where(rng.random(k) < 0.25, rng.integers(1, 40, k), 0),
            unit_letter=np.where(rng.random(k) < 0.4, rng.integers(1, 7, k), 0),
        )
        which = np.searchsorted(hh_ids, p["hh"][movers])
        for name, values in new.items():
            p[name][movers] = values[which]

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
        # Keep yesterday's value wherever the world did not change.
        columns = []
        for name in fresh.column_names:
            new_col = fresh.column(name).combine_chunks()
            if existing.any():
                groups = [g for g, cols in CHANGE_GROUPS.items() if name in cols]
                take_new = np.array(
                    [
                        ("new" in dirty[int(i)]) or any(g in dirty[int(i)] for g in groups)
                        for i in idx
                    ]
                )
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

    # -- activity ----------------------------------------------------------------
    def _spread(self, src: str, table: str, rate: float, day: int, rng):
        """Activity rows per live record: counts and timestamps (seconds)."""
        recs = self.records[src]
        live = np.where(recs.alive)[0]
        if day == 0:
            window = np.minimum(HISTORY_DAYS[table] * DAY_S, self.start_ts - recs.created_ts[live])
            counts = rng.poisson(rate * np.maximum(window, 0) / DAY_S)
            owners = np.repeat(live, counts)
            start = self.start_ts - np.repeat(window, counts)
            when = start + (rng.random(len(owners)) * np.repeat(window, counts)).astype(np.int64)
        else:
            counts = rng.poisson(rate, len(live))
            owners = np.repeat(live, counts)
            when = self.start_ts + day * DAY_S + rng.integers(0, DAY_S, len(owners))
        when = np.maximum(when, recs.created_ts[owners] + 60)
        order = np.lexsort((when, owners))
        return owners[order], when[order]

    def _activity(self, day: int, emit) -> None:
        rng = self.rng(day, "activity")
        ch, p = self.cfg.changes, self.p
        us = 1_000_000

        owners, when = self._spread(
            "ecommerce", "ecommerce_orders", ch.orders_per_account_day, day, rng
        )
        if len(owners):
            n = len(owners)
            ec = self.records["ecommerce"]
            totals = np.round(rng.lognormal(4.0, 0.8, n), 2)
            status = ORDER_STATUS[rng.choice(4, n, p=[0.85, 0.06, 0.05, 0.04])]
            status = np.where(when > self.start_ts + day * DAY_S - 3 * DAY_S, "placed", status)
            zips = p["zip"][ec.person[owners]]
            zips = np.where(rng.random(n) < 0.1, rng.integers(1001, 99950, n), zips)
            self._emit(
                emit,
                "ecommerce_orders",
                day,
                {
                    "order_id": self._new_keys("ecommerce_orders", n),
                    "customer_account_id": ec.keys.take(pa.array(owners)),
                    "order_ts": pa.array(when * us, pa.timestamp("us")),
                    "order_total": pa.array([f"{t:.2f}" for t in totals]).cast(
                        pa.decimal128(12, 2)
                    ),
                    "currency": pa.array(np.where(rng.random(n) < 0.96, "USD", "CAD").tolist()),
                    "status": pa.array(status.tolist()),
                    "ship_postal_code": pa.array([f"{z:05d}" for z in zips]),
                },
            )

        owners, when = self._spread(
            "mobile_app", "mobile_app_events", ch.events_per_device_day, day, rng
        )
        if len(owners):
            n = len(owners)
            apps, ec = self.records["mobile_app"], self.records["ecommerce"]
            account_of = self._first_record("ecommerce")
            user = apps.person[owners].copy()
            family = (apps.extra[owners] & (1 << 21)) > 0
            for j in np.where(family)[0]:
                members = self.family_members[int(owners[j])]
                user[j] = members[rng.integers(0, len(members))]
            logged_in = (apps.present[owners, 0] | family) & (rng.random(n) < 0.8)
            account = np.where(logged_in, account_of[user], -1)
            account_keys = (
                ec.keys.take(pa.array(np.maximum(account, 0)))
                if len(ec)
                else pa.nulls(n, pa.string())
            )
            account_keys = pc.if_else(
                pa.array(account >= 0), account_keys, pa.scalar(None, pa.string())
            )
            self._emit(
                emit,
                "mobile_app_events",
                day,
                {
                    "event_id": self._new_keys("mobile_app_events", n),
                    "device_id": apps.keys.take(pa.array(owners)),
                    "customer_account_id": account_keys,
                    "event_type": pa.array(
                        EVENT_TYPES[rng.choice(len(EVENT_TYPES), n, p=EVENT_P)].tolist()
                    ),
                    "event_ts": pa.array(when * us, pa.timestamp("us")),
                },
            )

        owners, when = self._spread("pos", "pos_transactions", ch.txns_per_card_day, day, rng)
        pos = self.records["pos"]
        n_card = len(owners)
        n_anon = (
            int(rng.binomial(max(1, n_card), ch.anonymous_pos_share / (1 - ch.anonymous_pos_share)))
            if n_card
            else 0
        )
        if n_card + n_anon:
            n = n_card + n_anon
            cards = pa.concat_arrays(
                [pos.keys.take(pa.array(owners)), pa.array([""] * n_anon, pa.string())]
            )
            anon_when = (when.min() if n_card else self.start_ts) + rng.integers(0, DAY_S, n_anon)
            stores = [f"S{(z // 10) % 900 + 100:03d}" for z in p["zip"][pos.person[owners]]] + [
                f"S{s:03d}" for s in rng.integers(100, 1000, n_anon)
            ]
            self._emit(
                emit,
                "pos_transactions",
                day,
                {
                    "transaction_id": self._new_keys("pos_transactions", n),
                    "card_number": cards,
                    "store_id": pa.array(stores),
                    "txn_ts": pa.array(np.concatenate([when, anon_when]) * us, pa.timestamp("us")),
                    "amount": pa.array(
                        [f"{a:.2f}" for a in np.round(rng.lognormal(3.2, 0.9, n), 2)]
                    ).cast(pa.decimal128(12, 2)),
                },
            )

        owners, when = self._spread("crm", "crm_tickets", ch.tickets_per_contact_day, day, rng)
        tickets = []
        if len(owners):
            n = len(owners)
            crm = self.records["crm"]
            closed_after = rng.exponential(1.5 * DAY_S, n).astype(np.int64)
            closed = when + closed_after
            is_closed = closed < self.start_ts + day * DAY_S + 3 * 3600
            csat = np.where(
                is_closed & (rng.random(n) < 0.4),
                rng.choice([1, 2, 3, 4, 5], n, p=[0.08, 0.07, 0.15, 0.3, 0.4]),
                -1,
            )
            tickets.append(
                pa.table(
                    {
                        "ticket_id": self._new_keys("crm_tickets", n),
                        "contact_id": crm.keys.take(pa.array(owners)),
                        "opened_at": pa.array(when * us, pa.timestamp("us")),
                        "closed_at": pa.array(
                            np.where(is_closed, closed, 0) * us, pa.timestamp("us"), mask=~is_closed
                        ),
                        "channel": pa.array(
                            CHANNELS[rng.choice(3, n, p=[0.6, 0.25, 0.15])].tolist()
                        ),
                        "category": pa.array(
                            TICKET_CATEGORIES[rng.integers(0, len(TICKET_CATEGORIES), n)].tolist()
                        ),
                        "status": pa.array(np.where(is_closed, "closed", "open").tolist()),
                        "csat_score": pa.array(csat, pa.int64(), mask=csat < 0),
                        "_close_at": pa.array(closed),
                    }
                )
            )
        # Tickets opened earlier close today: a full-row upsert of the ticket.
        still_open = []
        for t in self.open_tickets:
            due = np.asarray(t.column("_close_at")) < self.start_ts + day * DAY_S + 3 * 3600
            if due.any():
                closing = t.filter(pa.array(due))
                m = closing.num_rows
                closing = closing.set_column(
                    closing.schema.get_field_index("closed_at"),
                    "closed_at",
                    pa.array(np.asarray(closing.column("_close_at")) * us, pa.timestamp("us")),
                )
                closing = closing.set_column(
                    closing.schema.get_field_index("status"), "status", pa.array(["closed"] * m)
                )
                score = rng.choice([1, 2, 3, 4, 5], m, p=[0.08, 0.07, 0.15, 0.3, 0.4])
                closing = closing.set_column(
                    closing.schema.get_field_index("csat_score"),
                    "csat_score",
                    pa.array(score, pa.int64(), mask=rng.random(m) > 0.4),
                )
                tickets.append(closing)
            if (~due).any():
                still_open.append(t.filter(pa.array(~due)))
        self.open_tickets = still_open
        if tickets:
            all_t = pa.concat_tables(tickets)
            opened_now = all_t.filter(pc.equal(all_t.column("status"), "open"))
            if opened_now.num_rows:
                self.open_tickets.append(opened_now)
            self._emit(emit, "crm_tickets", day, all_t.drop_columns(["_close_at"]))

    def _privacy_requests(self, day: int, emit) -> None:
        rng = self.rng(day, "privacy")
        p = self.p
        n_people = len(p["pid"])
        k = int(rng.binomial(n_people, self.cfg.changes.privacy_request_rate))
        if not k:
            return
        who = rng.choice(n_people, k, replace=False)
        loyalty_of = self._first_record("loyalty")
        kinds = np.array(["erasure", "access", "opt_out_sale", "opt_in_sale"])[
            rng.choice(4, k, p=[0.3, 0.35, 0.28, 0.07])
        ]
        jur = np.where(rng.random(k) < 0.75, "CCPA", "GDPR")
        by = rng.random((k, 3))
        email = [
            e.upper() if r < 0.1 else e for e, r in zip(p["email"][who], by[:, 2], strict=True)
        ]
        loy = self.records["loyalty"]
        loyalty_ids = [
            loy.keys[loyalty_of[w]].as_py() if loyalty_of[w] >= 0 and b < 0.25 else None
            for w, b in zip(who, by[:, 1], strict=True)
        ]
        use_email = (by[:, 0] < 0.75) | np.array([x is None for x in loyalty_ids]) & (
            by[:, 0] >= 0.9
        )
        use_phone = (by[:, 0] >= 0.6) & (by[:, 0] < 0.9)
        phones = [f"+{c}{m:010d}" for c, m in zip(p["cc"][who], p["mobile"][who], strict=True)]
        ids = self._new_keys("privacy_requests", k)
        table = pa.table(
            {
                "request_id": ids,
                "request_type": pa.array(kinds.tolist()),
                "jurisdiction": pa.array(jur.tolist()),
                "subject_email": pa.array(
                    [e if u else None for e, u in zip(email, use_email, strict=True)], pa.string()
                ),
                "subject_phone": pa.array(
                    [ph if u else None for ph, u in zip(phones, use_phone, strict=True)],
                    pa.string(),
                ),
                "subject_loyalty_id": pa.array(loyalty_ids, pa.string()),
                "subject_customer_id": pa.nulls(k, pa.string()),
                "received_at": pa.array(
                    (self.start_ts + day * DAY_S - rng.integers(0, DAY_S, k)) * 1_000_000,
                    pa.timestamp("us"),
                ),
            }
        )
        self._emit(emit, "privacy_requests", day, table)
        for w, kind, rid in zip(who, kinds, ids.to_pylist(), strict=True):
            self.events.append(
                dict(
                    person=int(w),
                    day=day,
                    event=f"privacy_{kind}",
                    source_table="privacy_requests",
                    record=-1,
                    src=None,
                    key=rid,
                )
            )

    # -- truth -------------------------------------------------------------------
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
                "street_address": pa.array(
                    [
                        _street_line(pools, *(int(x) for x in row), 0, 0)
                        for row in zip(
                            p["street_no"],
                            p["direction"],
                            p["street"],
                            p["sfx"],
                            p["unit"],
                            p["unit_letter"],
                            strict=True,
                        )
                    ],
                    pa.string(),
                ),
                "city": pa.array(pools.cities[p["city"]].tolist()),
                "state": pa.array(pools.city_states[p["city"]].tolist()),
                "postal_code": pa.array([f"{z:05d}" for z in p["zip"]]),
                "arrival_day": pa.array(p["arrival"]),
            }
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


def _conform_partial(table: str, t: pa.Table) -> pa.Table:
    """Contract column order and types, filling columns a row kind leaves out with nulls."""
    spec = TABLES[table]
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


def _with_op(t: pa.Table, op: str, extracted_us: int) -> pa.Table:
    n = t.num_rows
    t = t.append_column("_op", pa.array([op] * n, pa.string()))
    return t.append_column("_extracted_at", pa.array(np.full(n, extracted_us), pa.timestamp("us")))
