"""People, households, hard negatives, emails, and which systems hold whom."""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pyarrow as pa

from c360.tools.generator.config import DAY_S, SOURCES, GeneratorConfig
from c360.tools.generator.international import CALLING_CODES, COUNTRIES
from c360.tools.generator.keys import (
    PERSON_SPAN,
    RECORD_SPAN,
    device_ids,
)
from c360.tools.generator.pools import (
    INTERNATIONAL_CODES,
    STREET_SUFFIX_WEIGHTS,
    strip_accents,
)

PRESENCE_FIELDS = ("email", "phone", "address", "dob", "name")


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


def _ascii_token(name: str) -> str:
    # Email providers take ASCII letters and digits: ß, ø and the like drop.
    return "".join(ch for ch in strip_accents(name).lower() if ch.isascii() and ch.isalnum()) or "x"


class PeopleMixin:
    """Creates people and their identity records (state lives on ChunkSimulator)."""

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
            country=np.zeros(n, np.int8),  # COUNTRIES index: 0 is the US
        )
        if pop.international_share > 0:
            self._place_abroad(people, day, head_of, same_surname)
        if day == 0:
            self._plant_hard_negatives(people, rng, is_head, head_of)
        self._assign_emails(people, rng, day, is_head)
        for k, v in people.items():
            self.p[k] = np.concatenate([self.p[k], v]) if k in self.p else v
        return local

    def _place_abroad(self, people, day: int, head_of: np.ndarray, same_surname) -> None:
        """Whole households abroad: that country's names, city, region, postal
        code and street. Its own random stream, so that the US people of a
        profile with people abroad are drawn as they would be without."""
        rng = self.rng(day, "abroad")
        pop, intl = self.cfg.population, self.pools.intl
        n = len(people["pid"])
        mix = list(pop.international_mix)
        weights = np.array([pop.international_mix[c] for c in mix], float)
        codes = np.array([COUNTRIES.index(c) for c in mix], np.int8)
        abroad = (rng.random(n) < pop.international_share)[head_of]
        country = np.where(abroad, codes[rng.choice(len(mix), n, p=weights / weights.sum())], 0)
        country = country[head_of].astype(np.int8)
        people["country"] = country
        gender = people["gender"]
        first, last = people["first"].copy(), people["last"].copy()
        city, street = people["city"].copy(), people["street"].copy()
        for code in np.unique(country[country > 0]):
            here = country == code
            female = rng.choice(len(self.pools.first_names), n, p=intl.first_p_female[code])
            male = rng.choice(len(self.pools.first_names), n, p=intl.first_p_male[code])
            first = np.where(here, np.where(gender == 1, male, female), first)
            last = np.where(
                here, rng.choice(len(self.pools.surnames), n, p=intl.surname_p[code]), last
            )
            cities, city_p = intl.city_p[code]
            city = np.where(here, rng.choice(cities, n, p=city_p)[head_of], city)
            streets, street_p = intl.street_p[code]
            street = np.where(here, rng.choice(streets, n, p=street_p)[head_of], street)
        last = np.where(same_surname & abroad, last[head_of], last)
        people["first"], people["last"], people["birth_last"] = first, last, last.copy()
        people["city"], people["street"] = city, street
        people["zip"] = np.where(
            abroad,
            (
                intl.city_zip_base[np.where(abroad, city, 0)]
                + rng.integers(0, 1 << 30, n) % intl.city_zip_count[np.where(abroad, city, 0)]
            )[head_of],
            people["zip"],
        )
        # House numbers abroad are small; the street name carries its kind.
        people["street_no"] = np.where(
            abroad,
            (np.exp(rng.uniform(0, np.log(250), n)).astype(np.int64) + 1)[head_of],
            people["street_no"],
        )
        people["direction"] = np.where(abroad, -1, people["direction"])
        people["sfx"] = np.where(abroad, 0, people["sfx"])
        people["unit_letter"] = np.where(abroad, 0, people["unit_letter"])
        calling = np.array([1] + [CALLING_CODES[c] for c in COUNTRIES[1:]])
        people["cc"] = np.where(abroad, calling[country], people["cc"])

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
        # Common names crowded into the largest (US) cities.
        singles = np.where(~multi & (people["country"] == 0))[0]
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
        their residue modulo the number of chunks. Uniqueness is of the
        mailbox, not the text: Gmail ignores dots, so jo.ann@gmail.com and
        joann@gmail.com cannot belong to two people."""
        if not numbered:
            email = f"{local}@{domain}"
            mailbox = _mailbox(email)
            if (
                zlib.crc32(mailbox.encode()) % self.n_chunks == self.chunk
                and mailbox not in self.used_emails
            ):
                self.used_emails.add(mailbox)
                return email
        while True:
            k = int(r.integers(1, max(2, 10_000 // self.n_chunks)))
            email = f"{local}{k * self.n_chunks + self.chunk}@{domain}"
            mailbox = _mailbox(email)
            if mailbox not in self.used_emails:
                self.used_emails.add(mailbox)
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


def _mailbox(email: str) -> str:
    """The mailbox an address delivers to (what the pipeline's normalize_email computes)."""
    local, _, domain = email.lower().partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return f"{local}@{domain}"
