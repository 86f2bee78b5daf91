"""People abroad: the UK, Canada, Australia and Germany.

Built once per seed, only when a profile places people abroad
(Population.international_share > 0), so that the default output does not
depend on any of this. Names extend the shared name pools (an index into
Pools.first_names / Pools.surnames stays the one way to name a person);
cities, regions, postal codes and streets are separate arrays that a person
abroad indexes instead of the US ones (their `country` says which).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
from faker import Faker

# Index = a person's `country` code; 0 is the US.
COUNTRIES = ("US", "GB", "CA", "AU", "DE")
CALLING_CODES = {"GB": 44, "CA": 1, "AU": 61, "DE": 49}
# How each source spells the country when a person gives one abroad.
COUNTRY_SPELLINGS = {
    "GB": ["GB", "GB", "UK", "United Kingdom", "gb", "Great Britain", "England", ""],
    "CA": ["CA", "CA", "Canada", "CAN", "canada", ""],
    "AU": ["AU", "AU", "Australia", "AUS", "au", ""],
    "DE": ["DE", "DE", "Germany", "Deutschland", "DEU", "de", ""],
}
CITIES_PER_COUNTRY = 60

# Big cities first (they take the head of the Zipf populations), with their region.
_BIG_CITIES = {
    "GB": [
        ("London", "Greater London"),
        ("Birmingham", "West Midlands"),
        ("Manchester", "Greater Manchester"),
        ("Glasgow", "Glasgow City"),
        ("Leeds", "West Yorkshire"),
    ],
    "CA": [
        ("Toronto", "ON"),
        ("Montréal", "QC"),
        ("Vancouver", "BC"),
        ("Calgary", "AB"),
        ("Ottawa", "ON"),
    ],
    "AU": [
        ("Sydney", "NSW"),
        ("Melbourne", "VIC"),
        ("Brisbane", "QLD"),
        ("Perth", "WA"),
        ("Adelaide", "SA"),
    ],
    "DE": [
        ("Berlin", "Berlin"),
        ("Hamburg", "Hamburg"),
        ("München", "Bayern"),
        ("Köln", "Nordrhein-Westfalen"),
        ("Frankfurt am Main", "Hessen"),
    ],
}
_COMMON_STREETS = {
    "GB": [
        "High Street",
        "Station Road",
        "Church Street",
        "Main Street",
        "Park Road",
        "Victoria Road",
        "Green Lane",
        "Manor Road",
        "Church Lane",
        "Queens Road",
        "New Road",
        "Mill Lane",
    ],
    "CA": [
        "Main Street",
        "King Street",
        "Queen Street",
        "Yonge Street",
        "Dundas Street",
        "Rue Saint-Denis",
        "Rue Sainte-Catherine",
        "Bloor Street",
        "Wellington Street",
    ],
    "AU": [
        "George Street",
        "High Street",
        "Pitt Street",
        "Collins Street",
        "Queen Street",
        "Church Street",
        "Main Road",
        "Bourke Street",
    ],
    "DE": [
        "Hauptstraße",
        "Bahnhofstraße",
        "Schulstraße",
        "Gartenstraße",
        "Dorfstraße",
        "Bergstraße",
        "Lindenstraße",
        "Kirchstraße",
        "Goethestraße",
        "Schillerstraße",
        "Mühlenweg",
        "Am Markt",
    ],
}
_STREET_TYPES = {
    "GB": ["Street", "Road", "Lane", "Close", "Avenue", "Drive", "Gardens", "Crescent", "Way"],
    "CA": ["Street", "Avenue", "Road", "Drive", "Crescent", "Boulevard", "Court"],
    "AU": ["Street", "Road", "Avenue", "Parade", "Crescent", "Place", "Drive", "Terrace"],
    "DE": ["straße", "straße", "straße", "weg", "allee", "gasse", "ring", "platz"],
}
STREET_ABBREVIATIONS = {
    "Street": "St",
    "Road": "Rd",
    "Lane": "Ln",
    "Close": "Cl",
    "Avenue": "Ave",
    "Drive": "Dr",
    "Gardens": "Gdns",
    "Crescent": "Cres",
    "Boulevard": "Blvd",
    "Court": "Ct",
    "Parade": "Pde",
    "Place": "Pl",
    "Terrace": "Tce",
}
# Names every country's residents also carry (and that the brief of a
# non-ASCII name test wants to see): Danish, Polish, German, French.
_EUROPEAN_FIRST = {
    0: ["Zoë", "Małgorzata", "Chloé", "Anaïs", "Søs", "Björk", "Jördis", "Agnès"],
    1: ["Søren", "Łukasz", "Jürgen", "Björn", "Jörg", "Øyvind", "Wojciech", "François"],
}
_EUROPEAN_LAST = [
    "Müller",
    "Groß",
    "Ærø",
    "Jørgensen",
    "Schäfer",
    "Weiß",
    "Wałęsa",
    "Brontë",
    "Köhler",
    "Søndergaard",
    "Nowak",
    "Lefèvre",
]
# Per country: (Faker locale, share of the country's name mass).
_NAME_LOCALES = {
    "GB": [("en_GB", 0.85)],
    "CA": [("en_US", 0.70), ("fr_CA", 0.18)],
    "AU": [("en_GB", 0.45), ("en_NZ", 0.40)],
    "DE": [("de_DE", 0.85)],
}
_EUROPEAN_LOCALES = ("da_DK", "pl_PL", "de_DE", "fr_FR")


@dataclass
class International:
    cities: np.ndarray  # every country's cities, concatenated
    city_country: np.ndarray  # country code per city (COUNTRIES index)
    city_region: np.ndarray
    city_p: dict[int, tuple[np.ndarray, np.ndarray]]  # code -> (city indices, probabilities)
    city_zip_base: np.ndarray  # index into postcodes of the city's first postal code
    city_zip_count: np.ndarray
    postcodes: np.ndarray  # canonical: "SW1A 1AA", "K1A 0B6", "2000", "01067"
    streets: np.ndarray
    street_p: dict[int, tuple[np.ndarray, np.ndarray]]
    first_p_female: dict[int, np.ndarray]  # code -> probabilities over Pools.first_names
    first_p_male: dict[int, np.ndarray]
    surname_p: dict[int, np.ndarray]


def _provider(kind: str, locale: str):
    return importlib.import_module(f"faker.providers.{kind}.{locale}").Provider


def _zipf(n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


def _names(locale: str, attr: str, seed: int) -> tuple[list[str], np.ndarray]:
    """A locale's names with their weights: real frequencies where Faker has
    them, else Zipf ranks over a shuffle (Faker's lists are alphabetical)."""
    values = getattr(_provider("person", locale), attr, ())
    if isinstance(values, dict):
        names, weights = list(values), np.array(list(values.values()), float)
    else:
        names = list(dict.fromkeys(values))
        rng = np.random.default_rng([seed, 9003, *locale.encode(), *attr.encode()])
        names = [names[i] for i in rng.permutation(len(names))]
        weights = _zipf(len(names), 0.6)
    keep = [i for i, n in enumerate(names) if n and not any(c.isdigit() or c == "." for c in n)]
    names = [" ".join(names[i].split()) for i in keep]
    weights = weights[keep]
    return names, weights / weights.sum() if len(weights) else weights


def _last_name_attr(locale: str) -> str:
    provider = _provider("person", locale)
    # Polish surnames are gendered lists; the male forms stand for both here.
    return "last_names_male" if len(getattr(provider, "last_names", ())) < 10 else "last_names"


def _family_probabilities(
    families: list[tuple[list[str], np.ndarray, float]], index: dict[str, int], size: int
) -> np.ndarray:
    p = np.zeros(size)
    for names, weights, mass in families:
        for name, w in zip(names, weights, strict=True):
            p[index[name]] += w * mass
    return p / p.sum()


def extend_names(
    first_names: np.ndarray,
    first_gender: np.ndarray,
    p_female: np.ndarray,
    p_male: np.ndarray,
    surnames: np.ndarray,
    surname_p: np.ndarray,
    seed: int,
) -> tuple[tuple[np.ndarray, ...], dict, dict, dict]:
    """The name pools with every name abroad appended (with probability 0
    for people in the US), and per country the probabilities of each name."""
    first_index = {n: i for i, n in enumerate(first_names)}
    first_list, gender_list = list(first_names), list(first_gender)
    last_index = {n: i for i, n in enumerate(surnames)}
    last_list = list(surnames)

    def add_first(name: str, gender: int) -> None:
        if name not in first_index:
            first_index[name] = len(first_list)
            first_list.append(name)
            gender_list.append(gender)

    def add_last(name: str) -> None:
        if name not in last_index:
            last_index[name] = len(last_list)
            last_list.append(name)

    european = {g: [] for g in (0, 1)}
    european_last = []
    for gender, attr in ((0, "first_names_female"), (1, "first_names_male")):
        names = list(_EUROPEAN_FIRST[gender])
        weights = [0.1] * len(names)  # a fifth of the European names
        for loc in _EUROPEAN_LOCALES:
            n, w = _names(loc, attr, seed)
            names += n
            weights += list(w)
        european[gender] = (names, np.array(weights) / sum(weights), 0.0)
    names = list(_EUROPEAN_LAST)
    weights = [0.1] * len(names)
    for loc in _EUROPEAN_LOCALES:
        n, w = _names(loc, _last_name_attr(loc), seed)
        names += n
        weights += list(w)
    european_last = (names, np.array(weights) / sum(weights), 0.0)

    families_first: dict[int, dict[int, list]] = {}
    families_last: dict[int, list] = {}
    for code, country in enumerate(COUNTRIES):
        if code == 0:
            continue
        locales = _NAME_LOCALES[country]
        rest = 1 - sum(mass for _, mass in locales)
        families_first[code] = {}
        for gender, attr in ((0, "first_names_female"), (1, "first_names_male")):
            fams = [(*_names(loc, attr, seed), mass) for loc, mass in locales]
            fams.append((european[gender][0], european[gender][1], rest))
            families_first[code][gender] = fams
        fams = [(*_names(loc, _last_name_attr(loc), seed), mass) for loc, mass in locales]
        fams.append((european_last[0], european_last[1], rest))
        families_last[code] = fams
    for code in families_first:
        for gender, fams in families_first[code].items():
            for names, _, _ in fams:
                for name in names:
                    add_first(name, gender)
        for names, _, _ in families_last[code]:
            for name in names:
                add_last(name)

    n_first, n_last = len(first_list), len(last_list)
    pad_f, pad_l = n_first - len(first_names), n_last - len(surnames)
    pools = (
        np.array(first_list, dtype=object),
        np.array(gender_list, dtype=np.int8),
        np.concatenate([p_female, np.zeros(pad_f)]),
        np.concatenate([p_male, np.zeros(pad_f)]),
        np.array(last_list, dtype=object),
        np.concatenate([surname_p, np.zeros(pad_l)]),
    )
    p_f = {c: _family_probabilities(f[0], first_index, n_first) for c, f in families_first.items()}
    p_m = {c: _family_probabilities(f[1], first_index, n_first) for c, f in families_first.items()}
    p_l = {c: _family_probabilities(f, last_index, n_last) for c, f in families_last.items()}
    return pools, p_f, p_m, p_l


def _postcodes(fk: Faker, country: str, count: int) -> list[str]:
    """`count` postal codes of one city, in the country's canonical form."""
    if country in ("GB", "CA"):
        # A city shares its outward code (GB) / forward sortation area (CA).
        first = fk.postcode().replace(" ", "").upper()
        outward = first[:-3]
        codes = []
        for _ in range(count):
            inward = fk.postcode().replace(" ", "").upper()[-3:]
            codes.append(f"{outward} {inward}")
        return list(dict.fromkeys(codes))
    digits = 4 if country == "AU" else 5
    base = min(int(fk.postcode()), 10**digits - 1 - count)
    return [f"{base + i:0{digits}d}" for i in range(count)]


def _region(fk: Faker, country: str) -> str:
    if country == "GB":
        return fk.county()
    if country == "CA":
        return fk.province_abbr()
    if country == "AU":
        return fk.state_abbr()
    return fk.state()


def build_international(seed: int, surnames_by_country: dict[int, np.ndarray]) -> dict:
    """Cities, regions, postal codes and streets abroad (names: extend_names)."""
    cities, city_country, regions, zip_base, zip_count, postcodes = [], [], [], [], [], []
    streets, city_p, street_p = [], {}, {}
    for code, country in enumerate(COUNTRIES):
        if code == 0:
            continue
        fk = Faker({"GB": "en_GB", "CA": "en_CA", "AU": "en_AU", "DE": "de_DE"}[country])
        fk.seed_instance(seed * 31 + code)
        mine = list(_BIG_CITIES[country])
        seen = {c for c, _ in mine}
        while len(mine) < CITIES_PER_COUNTRY:
            name = fk.city()
            if name not in seen:
                seen.add(name)
                mine.append((name, _region(fk, country)))
        p = _zipf(len(mine), 1.0)
        counts = np.clip(np.round(p * 400).astype(int), 2, 40)
        start = len(cities)
        for (name, region), count in zip(mine, counts, strict=True):
            codes = _postcodes(fk, country, int(count))
            cities.append(name)
            city_country.append(code)
            regions.append(region)
            zip_base.append(len(postcodes))
            zip_count.append(len(codes))
            postcodes += codes
        city_p[code] = (np.arange(start, len(cities)), p)

        roots = [str(s) for s in surnames_by_country[code][:150]]
        types = _STREET_TYPES[country]
        mine_streets = list(_COMMON_STREETS[country])
        for i, root in enumerate(roots):
            if " " in root or "-" in root:
                continue
            kind = types[i % len(types)]
            mine_streets.append(f"{root}{kind}" if country == "DE" else f"{root} {kind}")
        mine_streets = list(dict.fromkeys(mine_streets))
        start = len(streets)
        streets += mine_streets
        street_p[code] = (np.arange(start, len(streets)), _zipf(len(mine_streets), 0.7))
    return dict(
        cities=np.array(cities, dtype=object),
        city_country=np.array(city_country, dtype=np.int8),
        city_region=np.array(regions, dtype=object),
        city_p=city_p,
        city_zip_base=np.array(zip_base, dtype=np.int64),
        city_zip_count=np.array(zip_count, dtype=np.int64),
        postcodes=np.array(postcodes, dtype=object),
        streets=np.array(streets, dtype=object),
        street_p=street_p,
    )


def street_line(
    intl: International, country: int, no: int, street: int, unit: int, mode: int, unit_fmt: int
) -> str:
    """The street line as the country writes it; `mode` as for US lines
    (0 full words, 1 abbreviated, 2 abbreviated with a dot, 3 capitals)."""
    name = intl.streets[street]
    if COUNTRIES[country] == "DE":
        if mode:
            name = name.replace("straße", "str.").replace("Straße", "Str.")
            if mode == 1:
                name = name.replace("str.", "str").replace("Str.", "Str")
        number = f"{no}{'abcd'[unit % 4] if unit else ''}"
        line = f"{name} {number}"
    else:
        if mode:
            head, _, kind = name.rpartition(" ")
            short = STREET_ABBREVIATIONS.get(kind)
            if head and short:
                name = f"{head} {short}{'.' if mode == 2 else ''}"
        line = f"{no} {name}"
        if unit:
            code = COUNTRIES[country]
            if code == "GB":
                line = f"Flat {unit}, {line}"
            elif code == "AU":
                line = f"{unit}/{line}" if unit_fmt % 2 else f"Unit {unit}, {line}"
            else:
                line = f"{unit}-{line}" if unit_fmt % 2 else f"{line}, Unit {unit}"
    return line.upper() if mode == 3 else line


def postcode_noise(canonical: str, country: int, r: float) -> tuple[str, str | None]:
    """A canonical postal code as a source holds it, and the noise kind (or
    None): British and Canadian codes lose their space and their capitals,
    Australian and German ones their leading zero, German ones gain `D-`."""
    code = COUNTRIES[country]
    if code in ("GB", "CA"):
        if r < 0.20:
            return canonical.lower(), "postcode_lower"
        if r < 0.32:
            return canonical.replace(" ", ""), "postcode_no_space"
        if r < 0.40:
            return canonical.replace(" ", "").lower(), "postcode_lower_no_space"
        return canonical, None
    if r < 0.05 and canonical.startswith("0"):
        return canonical[1:], "zip_leading_zero_dropped"
    if code == "DE" and 0.05 <= r < 0.08:
        return f"D-{canonical}", "postcode_country_prefix"
    return canonical, None
