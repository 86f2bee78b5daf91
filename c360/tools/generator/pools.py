"""Value pools, built once per seed with Faker and then sampled vectorized.

Faker is slow per row (tens of microseconds); a 1M-person run needs tens of
millions of values. So Faker only builds pools (names with their real-world
frequencies, streets, cities, domains) and numpy samples indices into them.
"""

from __future__ import annotations

import csv
import importlib
import unicodedata
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pyarrow as pa
from faker import Faker

from c360.tools.generator.international import International, build_international, extend_names

# Share of the name mass held by each name family. en_US carries US census
# frequencies (a heavy head: Smith, Johnson, ...); the other locales and the
# synthetic tail give the long tail that term-frequency matching needs.
_SURNAME_MASS = {"en_US": 0.72, "es_MX": 0.12, "other": 0.08, "tail": 0.08}
_FIRST_NAME_MASS = {"en_US": 0.86, "es_MX": 0.10, "other": 0.04}
_OTHER_LOCALES = ("de_DE", "it_IT", "fr_FR", "pl_PL", "en_GB", "ga_IE")

STREET_SUFFIXES = [
    # full, USPS abbreviation
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Boulevard", "Blvd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("Terrace", "Ter"),
    ("Circle", "Cir"),
    ("Parkway", "Pkwy"),
    ("Way", "Way"),
]
STREET_SUFFIX_WEIGHTS = [0.30, 0.18, 0.12, 0.04, 0.12, 0.08, 0.06, 0.03, 0.02, 0.02, 0.01, 0.02]
DIRECTIONS = [("North", "N"), ("South", "S"), ("East", "E"), ("West", "W")]

PERSONAL_DOMAINS = {
    "gmail.com": 0.36,
    "yahoo.com": 0.13,
    "hotmail.com": 0.08,
    "outlook.com": 0.08,
    "icloud.com": 0.08,
    "aol.com": 0.04,
    "comcast.net": 0.04,
    "msn.com": 0.02,
    "att.net": 0.02,
    "verizon.net": 0.01,
    "me.com": 0.02,
    "live.com": 0.03,
    "protonmail.com": 0.01,
    "sbcglobal.net": 0.02,
    "bellsouth.net": 0.01,
    "charter.net": 0.01,
    "cox.net": 0.01,
    "ymail.com": 0.01,
    "mail.com": 0.01,
    "gmx.com": 0.01,
}
INTERESTS = [
    "outdoors",
    "cooking",
    "travel",
    "fitness",
    "gaming",
    "fashion",
    "home_garden",
    "pets",
    "books",
    "music",
    "movies",
    "sports",
    "technology",
    "parenting",
    "beauty",
    "automotive",
    "crafts",
    "photography",
    "wine",
    "investing",
]
INCOME_BANDS = ["<25k", "25-50k", "50-75k", "75-100k", "100-150k", "150-250k", "250k+"]
INCOME_WEIGHTS = [0.15, 0.2, 0.18, 0.14, 0.16, 0.11, 0.06]
TIERS = ["bronze", "silver", "gold", "platinum"]
TIER_WEIGHTS = [0.55, 0.28, 0.13, 0.04]
COUNTRY_SPELLINGS = ["US", "US", "US", "USA", "United States", "us", "U.S.", ""]
PLACEHOLDER_EMAILS = ["test@test.com", "none@none.com", "noemail@gmail.com", "na@na.com", "x@x.com"]
PLACEHOLDER_PHONES = ["0000000000", "1111111111", "5555555555", "(999) 999-9999", "123-456-7890"]
PLACEHOLDER_NAMES = ["N/A", "Unknown", "NONE", "test", "-"]
INTERNATIONAL_CODES = [44, 52, 49, 33, 34, 61, 91, 81]


def has_accent(text: str) -> bool:
    return any(unicodedata.combining(c) for c in unicodedata.normalize("NFKD", text))


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _normalized(weights: dict[str, float]) -> tuple[list[str], np.ndarray]:
    names = list(weights)
    w = np.array([weights[n] for n in names], dtype=float)
    return names, w / w.sum()


def _zipf(n: int, exponent: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


def _clean(name: str) -> str | None:
    name = " ".join(name.split())
    if not name or any(ch.isdigit() for ch in name) or "." in name:
        return None
    return name


def _merge(families: list[tuple[list[str], np.ndarray, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge (names, within-family probabilities, family mass); first wins on duplicates."""
    seen: dict[str, int] = {}
    names: list[str] = []
    probs: list[float] = []
    for family_names, family_probs, mass in families:
        for name, p in zip(family_names, family_probs, strict=True):
            clean = _clean(name)
            if clean is None:
                continue
            if clean in seen:
                probs[seen[clean]] += p * mass
            else:
                seen[clean] = len(names)
                names.append(clean)
                probs.append(p * mass)
    p = np.array(probs)
    return np.array(names, dtype=object), p / p.sum()


@dataclass
class Pools:
    first_names: np.ndarray  # object array of names
    first_gender: np.ndarray  # 0 = female, 1 = male
    first_p_female: np.ndarray  # sampling probabilities over first_names
    first_p_male: np.ndarray
    surnames: np.ndarray
    surname_p: np.ndarray
    nicknames: dict[int, list[str]]  # first-name index -> nicknames
    streets: np.ndarray
    street_p: np.ndarray
    cities: np.ndarray
    city_states: np.ndarray
    city_p: np.ndarray
    city_zip_base: np.ndarray  # int zip of the city's first postal code
    city_zip_count: np.ndarray  # how many consecutive postal codes it spans
    personal_domains: np.ndarray
    personal_domain_p: np.ndarray
    work_domains: np.ndarray
    valid_npa: np.ndarray  # area codes / exchanges: 200-999 minus N11
    surname_rank_top: np.ndarray  # indices of the 20 most common surnames
    first_top_female: np.ndarray
    first_top_male: np.ndarray
    # People abroad (c360/tools/generator/international.py); None unless a profile
    # places some there.
    intl: International | None = None

    def __post_init__(self) -> None:
        self.first_pa = pa.array(self.first_names.tolist(), pa.string())
        self.surname_pa = pa.array(self.surnames.tolist(), pa.string())
        self.has_nickname = np.zeros(len(self.first_names), dtype=bool)
        self.has_nickname[list(self.nicknames)] = True


def _person_provider(locale: str):
    return importlib.import_module(f"faker.providers.person.{locale}").Provider


def _first_names() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    by_gender = {}
    for gender, attr in ((0, "first_names_female"), (1, "first_names_male")):
        families = []
        en = getattr(_person_provider("en_US"), attr)
        if isinstance(en, dict):
            families.append((list(en), np.array(list(en.values())), _FIRST_NAME_MASS["en_US"]))
        es = list(dict.fromkeys(getattr(_person_provider("es_MX"), attr)))
        families.append((es, _zipf(len(es), 0.6), _FIRST_NAME_MASS["es_MX"]))
        other: list[str] = []
        for loc in _OTHER_LOCALES:
            other.extend(getattr(_person_provider(loc), attr, ()))
        other = list(dict.fromkeys(other))
        families.append((other, _zipf(len(other), 0.6), _FIRST_NAME_MASS["other"]))
        by_gender[gender] = _merge(families)
    # One pool for both genders; a name used by both keeps both probabilities.
    names = list(dict.fromkeys([*by_gender[0][0], *by_gender[1][0]]))
    index = {n: i for i, n in enumerate(names)}
    p_f = np.zeros(len(names))
    p_m = np.zeros(len(names))
    for n, p in zip(*by_gender[0], strict=True):
        p_f[index[n]] = p
    for n, p in zip(*by_gender[1], strict=True):
        p_m[index[n]] = p
    gender = (p_m > p_f).astype(np.int8)
    return np.array(names, dtype=object), gender, p_f, p_m


def _tail_surnames(rng: np.random.Generator, count: int) -> list[str]:
    """Rare surnames assembled from syllables: the real tail is ~150k names long."""
    starts = [
        "Ab",
        "Bel",
        "Car",
        "Dal",
        "Ek",
        "Fer",
        "Gol",
        "Hart",
        "Ing",
        "Jes",
        "Kel",
        "Lind",
        "Mor",
        "Nor",
        "Ost",
        "Pem",
        "Quin",
        "Ros",
        "Stan",
        "Tor",
        "Ul",
        "Van",
        "Wes",
        "Yar",
        "Zel",
        "Brom",
        "Cress",
        "Dun",
        "Fitz",
        "Grim",
        "Hal",
        "Kir",
        "Mac",
        "Pell",
        "Thorn",
    ]
    middles = ["", "", "a", "e", "i", "o", "er", "en", "ing", "ow", "ard", "el", "is"]
    ends = [
        "son",
        "sen",
        "ley",
        "ton",
        "man",
        "berg",
        "stein",
        "wick",
        "ford",
        "field",
        "ski",
        "ova",
        "ez",
        "ini",
        "ard",
        "ham",
        "well",
        "more",
        "by",
        "worth",
        "ridge",
        "dale",
    ]
    seconds = ["", "", "", "b", "d", "l", "m", "n", "r", "t", "v"]
    combos = [a + b + c + d for a in starts for b in middles for c in seconds for d in ends]
    combos = sorted(set(combos))
    picked = rng.choice(len(combos), size=min(count, len(combos)), replace=False)
    return [combos[i] for i in sorted(picked)]


def build_pools(
    seed: int, n_cities: int = 600, n_tail_surnames: int = 20000, international: bool = False
) -> Pools:
    rng = np.random.default_rng([seed, 9001])
    first_names, first_gender, p_f, p_m = _first_names()

    en_last = _person_provider("en_US").last_names
    # Provider lists are alphabetical: shuffle before giving them Zipf ranks.
    es_last = list(rng.permutation(list(dict.fromkeys(_person_provider("es_MX").last_names))))
    other_last: list[str] = []
    for loc in _OTHER_LOCALES:
        other_last.extend(_person_provider(loc).last_names)
    other_last = list(rng.permutation(list(dict.fromkeys(other_last))))
    tail = _tail_surnames(rng, n_tail_surnames)
    surnames, surname_p = _merge(
        [
            (list(en_last), np.array(list(en_last.values())), _SURNAME_MASS["en_US"]),
            (es_last, _zipf(len(es_last), 0.6), _SURNAME_MASS["es_MX"]),
            (other_last, _zipf(len(other_last), 0.7), _SURNAME_MASS["other"]),
            (tail, _zipf(len(tail), 0.3), _SURNAME_MASS["tail"]),
        ]
    )

    intl_names = None
    if international:
        # Appended after every US name, with probability 0 in the US: the US
        # draws are the same as without people abroad.
        (first_names, first_gender, p_f, p_m, surnames, surname_p), *intl_names = extend_names(
            first_names, first_gender, p_f, p_m, surnames, surname_p, seed
        )

    nickname_by_name: dict[str, list[str]] = {}
    with resources.files("c360.tools.generator").joinpath("data/nicknames.csv").open() as fh:
        for row in csv.DictReader(fh):
            nickname_by_name.setdefault(row["canonical"], []).append(row["nickname"])
    nicknames = {i: nickname_by_name[n] for i, n in enumerate(first_names) if n in nickname_by_name}

    # Streets: common names first (Main, Oak, ...), then ordinals and surnames.
    common = [
        "Main",
        "Oak",
        "Maple",
        "Park",
        "Pine",
        "Cedar",
        "Elm",
        "Washington",
        "Lake",
        "Hill",
        "Walnut",
        "Spring",
        "Church",
        "Highland",
        "Sunset",
        "Lincoln",
        "Jackson",
        "River",
        "Willow",
        "Franklin",
        "Meadow",
        "Forest",
        "Center",
        "Mill",
        "Ridge",
    ]
    ordinals = [
        f"{i}{'th' if 10 <= i % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(i % 10, 'th')}"
        for i in range(1, 80)
    ]
    street_names = list(
        dict.fromkeys(common + ordinals + [_clean(n) or "Oak" for n in list(en_last)[:800]])
    )
    streets = np.array(street_names, dtype=object)
    street_p = _zipf(len(streets), 0.7)

    fk = Faker("en_US")
    fk.seed_instance(seed)
    cities: list[str] = []
    seen_cities: set[str] = set()
    while len(cities) < n_cities:
        c = fk.city()
        if c not in seen_cities:
            seen_cities.add(c)
            cities.append(c)
    states = np.array([fk.state_abbr(include_territories=False) for _ in cities], dtype=object)
    city_p = _zipf(n_cities, 1.0)
    zip_count = np.clip(np.round(city_p * 3000).astype(int), 1, 60)
    zip_base = np.array([int(fk.zipcode_in_state(s)) for s in states])
    zip_base = np.minimum(zip_base, 99999 - zip_count)

    domains, domain_p = _normalized(PERSONAL_DOMAINS)
    work = sorted({fk.domain_name() for _ in range(3000)})

    valid = np.array([x for x in range(200, 1000) if x % 100 != 11], dtype=np.int64)

    top_surnames = np.argsort(-surname_p)[:20]
    intl = None
    if intl_names is not None:
        p_female, p_male, p_last = intl_names
        places = build_international(
            seed, {c: surnames[np.argsort(-p, kind="stable")] for c, p in p_last.items()}
        )
        intl = International(
            **places, first_p_female=p_female, first_p_male=p_male, surname_p=p_last
        )
    return Pools(
        first_names=first_names,
        first_gender=first_gender,
        first_p_female=p_f,
        first_p_male=p_m,
        surnames=surnames,
        surname_p=surname_p,
        nicknames=nicknames,
        streets=streets,
        street_p=street_p,
        cities=np.array(cities, dtype=object),
        city_states=states,
        city_p=city_p,
        city_zip_base=zip_base,
        city_zip_count=zip_count,
        personal_domains=np.array(domains, dtype=object),
        personal_domain_p=domain_p,
        work_domains=np.array(work, dtype=object),
        valid_npa=valid,
        surname_rank_top=top_surnames,
        first_top_female=np.argsort(-p_f)[:20],
        first_top_male=np.argsort(-p_m)[:20],
        intl=intl,
    )
