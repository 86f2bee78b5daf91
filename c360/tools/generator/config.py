"""Every behaviour of the generator is a knob here, with its default.

docs/generator.md explains each one; tests check that the data honours them.
Rates are probabilities per eligible item (person, record or field) unless the
name says otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field

DAY_S = 86_400

SOURCES = ("ecommerce", "mobile_app", "loyalty", "pos", "crm", "enrichment")

SOURCE_TABLE = {
    "ecommerce": "ecommerce_customers",
    "mobile_app": "mobile_app_devices",
    "loyalty": "loyalty_members",
    "pos": "pos_card_holders",
    "crm": "crm_contacts",
    "enrichment": "enrichment_profiles",
}


def _d(**kw):
    return field(default_factory=lambda: dict(kw))


@dataclass
class Coverage:
    # Identity records per 100 people, duplicates included (the envelope of a
    # large e-commerce company's six systems).
    records_per_100: dict[str, float] = _d(
        ecommerce=100, mobile_app=90, loyalty=40, pos=30, crm=15, enrichment=75
    )
    # Share of people known to exactly one system, and which system that is.
    single_source_share: float = 0.45
    single_source_mix: dict[str, float] = _d(
        ecommerce=0.84, mobile_app=0.09, loyalty=0.02, pos=0.02, crm=0.01, enrichment=0.02
    )
    # Probability that someone in a system has a second record there: a work
    # and a personal e-commerce account, two loyalty cards, a phone and a
    # tablet, two CRM contacts, two enrichment profiles (old and new email).
    duplicate_rate: dict[str, float] = _d(
        ecommerce=0.10, mobile_app=0.55, loyalty=0.06, pos=0.06, crm=0.10, enrichment=0.35
    )
    # How often each system has a value for each kind of field: an app knows
    # a profile email once someone logs in, a till rarely asks for a birthday.
    field_presence: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "ecommerce": dict(email=1.0, phone=0.6, address=0.85, dob=0.35, name=0.98),
            "mobile_app": dict(email=0.7, phone=0.0, address=0.0, dob=0.0, name=0.55),
            "loyalty": dict(email=0.8, phone=0.85, address=0.9, dob=0.7, name=1.0),
            "pos": dict(email=0.0, phone=0.7, address=0.8, dob=0.0, name=0.95),
            "crm": dict(email=0.5, phone=0.95, address=0.6, dob=0.0, name=0.97),
            "enrichment": dict(email=0.9, phone=0.7, address=0.85, dob=0.75, name=1.0),
        }
    )


@dataclass
class Population:
    # Share of people who live with at least one other customer.
    household_share: float = 0.25
    household_size_weights: dict[int, float] = field(
        default_factory=lambda: {2: 0.7, 3: 0.2, 4: 0.1}
    )
    # A married couple keeps one surname with this probability.
    couple_same_surname: float = 0.75
    # Share of multi-person households with a home landline that members give.
    household_landline_rate: float = 0.35
    # Hard negatives, as shares of all people.
    junior_senior_share: float = 0.01  # fathers and sons of the same name
    twin_share: float = 0.006  # twins: surname, birth date, address shared
    common_name_city_share: float = 0.01  # top-20 first x last names in the 5 largest cities
    # Share of multi-person households with a device several members log into.
    family_device_rate: float = 0.15
    # Share of multi-person households whose members each call the call
    # centre (CRM) giving one shared family email.
    shared_household_email_rate: float = 0.05
    work_email_rate: float = 0.35
    title_doctor_rate: float = 0.01
    suffix_iii_rate: float = 0.002
    international_phone_rate: float = 0.02
    # Share of people (drawn per household) living abroad, and where: their
    # names, streets, cities, regions and postal codes are that country's
    # (c360/tools/generator/international.py). 0 keeps everyone in the US.
    international_share: float = 0.0
    international_mix: dict[str, float] = _d(GB=0.35, CA=0.25, AU=0.15, DE=0.25)
    # Number of cities (population Zipf-distributed) and surname long tail.
    n_cities: int = 600
    n_tail_surnames: int = 20000


@dataclass
class Noise:
    """Messy PII. Each rate applies to one field of one emitted record."""

    case_style: float = 0.30  # UPPER / lower / mIxed instead of as typed
    whitespace: float = 0.08  # leading, trailing or doubled spaces
    gmail_dots: float = 0.20  # extra dots in a Gmail local part
    gmail_plus_tag: float = 0.08  # +tag appended to a Gmail local part
    googlemail: float = 0.02  # googlemail.com instead of gmail.com
    title: float = 0.05  # Mr./Mrs./Ms./Dr. before the first name
    nickname: float = 0.12  # Bob for Robert, where a nickname exists
    accent_strip: float = 0.40  # José -> Jose, where there is an accent
    typo: float = 0.02  # transposition, dropped, doubled or wrong letter
    first_last_swap: float = 0.01
    address_abbreviation: float = 0.50  # Street -> St / St. / ST
    missing_as_empty: float = 0.5  # an unknown value arrives as '' (else null)
    placeholder: float = 0.002  # junk like 'N/A', 'test@test.com', '0000000000'
    dob_typo: float = 0.01  # one digit of the year or day wrong
    dob_day_month_swap: float = 0.01  # 1980-03-07 -> 1980-07-03 (when both <= 12)
    # Partial birth dates, as sources that store only what they were told
    # deliver them in a date column: the year alone as YYYY-01-01, the year
    # and month as YYYY-MM-01.
    dob_year_only: float = 0.0
    dob_year_month: float = 0.0
    # ASCII-only systems spell letters that have no accent to strip: ß -> ss,
    # ø -> o, æ -> ae, ł -> l, and German umlauts as ue/oe/ae (Müller -> Mueller).
    ascii_fold: float = 0.0
    phone_formats: dict[str, float] = _d(
        paren=0.25,
        dots=0.12,
        dashes=0.20,
        plain10=0.13,
        plus1_spaces=0.10,
        one_dashes=0.08,
        e164=0.12,
    )
    pos_loyalty_number_typed: float = 0.60  # a loyalty member's number typed at the till
    # Per-source multiplier on typo and nickname rates: agents in the call
    # centre type fast, the enrichment provider standardizes.
    typo_multiplier: dict[str, float] = _d(
        ecommerce=1.0, mobile_app=1.0, loyalty=1.0, pos=1.5, crm=2.5, enrichment=0.5
    )


@dataclass
class Changes:
    """Daily change rates (per person or record per day)."""

    new_customer_rate: float = 0.0008
    marriage_rate: float = 0.0003  # per woman still under her birth surname
    move_rate: float = 0.0006
    new_email_rate: float = 0.0004
    new_phone_rate: float = 0.0004
    record_delete_rate: float = 0.0003
    record_update_rate: float = 0.0025  # ordinary updates (tier, points, last seen, refresh)
    new_record_rate: float = 0.0006  # an existing person joins another system
    # How likely a life event reaches each system that holds the person.
    propagation: dict[str, float] = _d(
        ecommerce=0.7, mobile_app=0.5, loyalty=0.6, pos=0.3, crm=0.4, enrichment=0.8
    )
    # Activity per identity record per day.
    orders_per_account_day: float = 0.008
    events_per_device_day: float = 0.15
    txns_per_card_day: float = 0.012
    tickets_per_contact_day: float = 0.004
    anonymous_pos_share: float = 0.3
    # Share of app events of a logged-in device that carry the account
    # (mobile_app_events.customer_account_id: a key link device -> account).
    logged_in_event_share: float = 0.8
    # Privacy requests per person per day.
    privacy_request_rate: float = 0.00005


@dataclass
class GeneratorConfig:
    customers: int = 1000
    days: int = 0
    seed: int = 0
    start_date: dt.date = dt.date(2025, 1, 1)
    coverage: Coverage = field(default_factory=Coverage)
    population: Population = field(default_factory=Population)
    noise: Noise = field(default_factory=Noise)
    changes: Changes = field(default_factory=Changes)
    # People per chunk: fixed (not derived from memory) so that output does
    # not depend on the machine; bounds the generator's memory at any N.
    chunk_size: int = 100_000
    workers: int = 2
    # The named set of knobs this config started from (PROFILES); recorded
    # in truth/generator.json with the knobs themselves.
    profile: str = "default"

    def to_json(self) -> str:
        def default(o):
            if isinstance(o, dt.date):
                return o.isoformat()
            raise TypeError(o)

        data = dataclasses.asdict(self)
        data.pop("workers")  # does not change the output
        return json.dumps(data, default=default, indent=2, sort_keys=True)

    def day_date(self, day: int) -> dt.date:
        return self.start_date + dt.timedelta(days=day)


def _hard(cfg: GeneratorConfig) -> None:
    """No email, no phone, no key typed across systems; three times the typos;
    birth dates often partial or missing; a quarter of people abroad."""
    for presence in cfg.coverage.field_presence.values():
        presence["email"] = presence["phone"] = 0.0
        presence["dob"] = round(presence["dob"] * 0.7, 4)
    _no_key_links(cfg)
    noise = cfg.noise
    noise.typo *= 3
    noise.dob_typo *= 3
    noise.dob_day_month_swap *= 3
    noise.first_last_swap *= 3
    noise.dob_year_only = 0.25
    noise.dob_year_month = 0.10
    noise.ascii_fold = 0.4
    cfg.population.international_share = 0.25


def _names_dob(cfg: GeneratorConfig) -> None:
    """Names and birth dates only: no address, email or phone anywhere, and no
    key typed across systems. Noise and population as by default, so that
    the one thing that differs from the default is which fields exist."""
    for presence in cfg.coverage.field_presence.values():
        presence["email"] = presence["phone"] = presence["address"] = 0.0
    _no_key_links(cfg)


def _no_key_links(cfg: GeneratorConfig) -> None:
    # Keys other systems hold: a loyalty number typed at the till, an app
    # event naming the account logged in. Without them (and without email
    # and phone) only the probabilistic path can link two systems' records.
    cfg.noise.pos_loyalty_number_typed = 0.0
    cfg.changes.logged_in_event_share = 0.0
    # A shared family email is given in CRM by construction: no emails, no
    # such hard negative.
    cfg.population.shared_household_email_rate = 0.0


PROFILES = {"default": lambda cfg: None, "hard": _hard, "names_dob": _names_dob}


def profile_config(profile: str = "default", **kwargs) -> GeneratorConfig:
    """A GeneratorConfig with the knobs of `profile` (PROFILES); `kwargs` are
    GeneratorConfig's own fields (customers, days, seed, ...)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown generator profile {profile!r}: one of {', '.join(PROFILES)}")
    cfg = GeneratorConfig(profile=profile, **kwargs)
    PROFILES[profile](cfg)
    return cfg
