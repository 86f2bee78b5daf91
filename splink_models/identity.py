"""The probabilistic identity model: what Splink compares and which pairs it scores.

This is the model's structure, kept as code and reviewed like code. Its
parameters (m and u per comparison level, the prior) are data: `c360 train`
estimates them from a warehouse and stores them as a versioned artifact
(`splink_models.training`), and scoring loads the current version.

Every column named here comes from `intermediate.int_identity_records`: tokens
for the direct identifiers and text only for the quasi-identifiers that fuzzy
comparison needs (docs/architecture.md, "What matching sees").
"""

from __future__ import annotations

import hashlib
import json

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

# Custom SQL below is written in DuckDB's dialect; Splink translates it (via
# sqlglot) when the model runs on another backend such as Spark.
SQL_DIALECT = "duckdb"

MODEL_NAME = "c360_identity"
UNIQUE_ID = "record_key"

# The input the model reads; the columns it needs and nothing else.
INPUT_COLUMNS = (
    "record_key",
    "source_table",
    "first_name_normalized",
    "first_name_canonical",
    "last_name_normalized",
    "name_suffix",
    "date_of_birth_normalized",
    "street_name_normalized",
    "house_number_token",
    "address_token",
    "city_normalized",
    "state_normalized",
    "postal_code_normalized",
    "email_token",
    "phone_token",
    "email_block_key",
    "phone_block_key",
    "name_block_key",
    "unordered_name_key",
)


# Two strangers whose first and last names are each other's swapped are too
# rare for random sampling to ever meet (about one pair in 10^8), so u for the
# swapped-name level is set rather than left at Splink's default, which made
# a swapped name weaker evidence than a fuzzy one.
_UNSAMPLEABLE_U = {"u_probability": 1e-6, "fix_u_probability": True}


def _first_name() -> cl.CustomComparison:
    col = "first_name_normalized"
    return cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col, term_frequency_adjustments=True),
            cll.ColumnsReversedLevel(col, "last_name_normalized", symmetrical=True).configure(
                label_for_charts="First and last name swapped", **_UNSAMPLEABLE_U
            ),
            cll.CustomLevel(
                "first_name_canonical_l = first_name_canonical_r",
                label_for_charts="Same name after nickname folding (bob = robert)",
                base_dialect_str=SQL_DIALECT,
            ),
            cll.JaroWinklerLevel(col, 0.92),
            cll.JaroWinklerLevel(col, 0.85),
            cll.ElseLevel(),
        ],
    )


def _last_name() -> cl.CustomComparison:
    col = "last_name_normalized"
    return cl.CustomComparison(
        output_column_name="last_name",
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col, term_frequency_adjustments=True),
            cll.ColumnsReversedLevel(col, "first_name_normalized", symmetrical=True).configure(
                label_for_charts="First and last name swapped", **_UNSAMPLEABLE_U
            ),
            cll.JaroWinklerLevel(col, 0.92),
            cll.JaroWinklerLevel(col, 0.85),
            cll.ElseLevel(),
        ],
    )


def _date_of_birth() -> cl.CustomComparison:
    col = "date_of_birth_normalized"
    return cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col),
            cll.CustomLevel(
                "year(date_of_birth_normalized_l) = year(date_of_birth_normalized_r)"
                " and month(date_of_birth_normalized_l) = day(date_of_birth_normalized_r)"
                " and day(date_of_birth_normalized_l) = month(date_of_birth_normalized_r)",
                label_for_charts="Day and month swapped",
                base_dialect_str=SQL_DIALECT,
            ),
            # The slips data entry makes; a father and son born 30 years
            # apart on one day (1969 vs 1999) are one digit apart but no slip.
            cll.CustomLevel(
                "(month(date_of_birth_normalized_l) = month(date_of_birth_normalized_r)"
                " and day(date_of_birth_normalized_l) = day(date_of_birth_normalized_r)"
                " and abs(year(date_of_birth_normalized_l)"
                " - year(date_of_birth_normalized_r)) in (1, 10))"
                " or (year(date_of_birth_normalized_l) = year(date_of_birth_normalized_r)"
                " and month(date_of_birth_normalized_l) = month(date_of_birth_normalized_r))",
                label_for_charts="One slip: the year by 1 or 10, or the day within the month",
                base_dialect_str=SQL_DIALECT,
            ),
            # Many sources store a birth year alone as its 1 January.
            cll.CustomLevel(
                "year(date_of_birth_normalized_l) = year(date_of_birth_normalized_r)"
                " and ((month(date_of_birth_normalized_l) = 1"
                " and day(date_of_birth_normalized_l) = 1)"
                " or (month(date_of_birth_normalized_r) = 1"
                " and day(date_of_birth_normalized_r) = 1))",
                label_for_charts="Same year, one date a year only (1 January)",
                base_dialect_str=SQL_DIALECT,
            ),
            cll.ElseLevel(),
        ],
    )


def _location() -> cl.CustomComparison:
    # One comparison for street, postal code and city: they are far from
    # independent (one address implies the other two), and scoring them apart
    # would count the same evidence three times.
    return cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.CustomLevel(
                "(postal_code_normalized_l is null and city_normalized_l is null)"
                " or (postal_code_normalized_r is null and city_normalized_r is null)",
                base_dialect_str=SQL_DIALECT,
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("address_token"),
            cll.CustomLevel(
                "house_number_token_l = house_number_token_r"
                " and jaro_winkler_similarity(street_name_normalized_l,"
                " street_name_normalized_r) >= 0.85",
                label_for_charts="Same house number and postal code, street name alike",
                base_dialect_str=SQL_DIALECT,
            ),
            cll.ExactMatchLevel("postal_code_normalized", term_frequency_adjustments=True),
            cll.CustomLevel(
                "city_normalized_l = city_normalized_r and state_normalized_l = state_normalized_r",
                label_for_charts="Same city and state",
                base_dialect_str=SQL_DIALECT,
            ),
            cll.ElseLevel(),
        ],
    )


def _token(column: str, name: str) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name=name,
        comparison_levels=[cll.NullLevel(column), cll.ExactMatchLevel(column), cll.ElseLevel()],
    )


def _suffix() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="name_suffix",
        comparison_levels=[
            cll.CustomLevel(
                "name_suffix_l is null and name_suffix_r is null", base_dialect_str=SQL_DIALECT
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("name_suffix"),
            # A father and son share name and address and show the suffix on
            # some records only: one record with it and one without is
            # weaker evidence than two without.
            cll.CustomLevel(
                "name_suffix_l is null or name_suffix_r is null",
                label_for_charts="Suffix on one record only",
                base_dialect_str=SQL_DIALECT,
            ),
            # Jr. against Sr. is two people; EM rarely sees such a pair among
            # its matches and cannot learn how rare, so the level is fixed.
            cll.ElseLevel().configure(m_probability=0.001, fix_m_probability=True),
        ],
    )


def comparisons() -> list[cl.CustomComparison]:
    return [
        _first_name(),
        _last_name(),
        _date_of_birth(),
        _location(),
        _token("email_token", "email"),
        _token("phone_token", "phone"),
        _suffix(),
    ]


def phonetic_code_sql(column: str) -> str:
    """American Soundex of a name in portable SQL (translate, replace,
    regexp_replace, substr): the first letter, then three digits for the
    consonant sounds that follow; letters of one sound side by side, or split
    only by h or w, count once, and vowels separate them. Typos that keep a
    name's sound keep its code: baliey and bailey are both B400, tyalor and
    taylor T460."""
    letters = f"regexp_replace(lower({column}), '[^a-z]', '', 'g')"
    # Vowels (and y) become 0, which separates repeated sounds; h and w vanish.
    digits = f"translate({letters}, 'aeiouybfpvcgjkqsxzdtlmnrhw', '000000111122222222334556')"
    for digit in "123456":
        digits = f"regexp_replace({digits}, '{digit}{digit}+', '{digit}', 'g')"
    tail = f"replace(substr({digits}, 2), '0', '')"
    return (
        f"case when {letters} <> '' then "
        f"upper(substr({letters}, 1, 1)) || substr({tail} || '000', 1, 3) end"
    )


# Keys for pairs that exact-name blocks miss: a typo in each name, a changed
# surname, a day and month swapped. Each is SQL over the model's input
# columns, and each is capped like the dbt-built keys: a key value that more
# than FUZZY_BLOCK_MAX_RECORDS records share is no key (null), so every block
# is bounded and comparisons grow linearly with the records. At a very large
# N the birth-date keys of common names reach the cap and stop blocking; the
# postcode keys stay narrow.
FUZZY_BLOCK_MAX_RECORDS = 30


def fuzzy_block_keys() -> dict[str, str]:
    first, last = "first_name_normalized", "last_name_normalized"
    dob, postcode = "date_of_birth_normalized", "postal_code_normalized"
    first_sound, last_sound = phonetic_code_sql(first), phonetic_code_sql(last)
    return {
        # Initials with the birth date: a typo in each name.
        "dob_initials_key": (
            f"cast({dob} as varchar) || ':' || substr({first}, 1, 1) || substr({last}, 1, 1)"
        ),
        # The birth date with the postcode: a new surname, a nickname.
        "dob_postcode_key": f"cast({dob} as varchar) || ':' || {postcode}",
        # Both names by sound, at one postcode: a typo in each name.
        "name_sound_postcode_key": f"{first_sound} || {last_sound} || ':' || {postcode}",
        # The surname by sound with the birth year and first initial.
        "surname_sound_birth_year_key": (
            f"{last_sound} || ':' || cast(extract(year from {dob}) as varchar)"
            f" || substr({first}, 1, 1)"
        ),
        # The birth date with day and month swapped (when both can be
        # months), and the surname by sound: blocked against the true date.
        "swapped_dob_surname_key": (
            f"case when extract(day from {dob}) <= 12"
            f" and extract(day from {dob}) <> extract(month from {dob}) then"
            f" cast(extract(year from {dob}) as varchar) || '-'"
            f" || cast(extract(day from {dob}) as varchar) || '-'"
            f" || cast(extract(month from {dob}) as varchar) || ':' || {last_sound} end"
        ),
        "dob_surname_key": (
            f"cast(extract(year from {dob}) as varchar) || '-'"
            f" || cast(extract(month from {dob}) as varchar) || '-'"
            f" || cast(extract(day from {dob}) as varchar) || ':' || {last_sound}"
        ),
    }


def model_input_sql(relation: str) -> str:
    """The model's input from int_identity_records: the columns it reads and
    the fuzzy block keys, each capped at FUZZY_BLOCK_MAX_RECORDS."""
    keys = fuzzy_block_keys()
    raw = ", ".join(f"{expr} as {name}" for name, expr in keys.items())
    capped = ", ".join(
        f"case when count(*) over (partition by {name}) <= {FUZZY_BLOCK_MAX_RECORDS}"
        f" then {name} end as {name}"
        for name in keys
    )
    return (
        f"select {', '.join(INPUT_COLUMNS)}, {capped} "
        f"from (select {', '.join(INPUT_COLUMNS)}, {raw} from {relation})"
    )


def prediction_blocking_rules() -> list:
    """Pairs worth scoring. Every key is bounded: a block holds the people who
    share a name and a birth date, a name and a postal code, or one address,
    so the number of comparisons grows linearly with the records, not with
    their square. Keys that are not bounded by nature come capped from dbt:
    email_block_key, phone_block_key and name_block_key (a full name) are
    null when more records share them than var('deterministic_max_group_size')
    or var('name_block_max_records') allow."""
    return [
        block_on("first_name_canonical", "last_name_normalized", "postal_code_normalized"),
        block_on("last_name_normalized", "date_of_birth_normalized"),
        block_on("first_name_canonical", "date_of_birth_normalized", "state_normalized"),
        block_on(
            "last_name_normalized", "postal_code_normalized", "substr(first_name_normalized, 1, 1)"
        ),
        block_on("unordered_name_key", "postal_code_normalized"),
        block_on("name_block_key"),
        block_on("address_token"),
        block_on("email_block_key"),
        block_on("phone_block_key"),
        block_on("dob_postcode_key"),
        block_on("name_sound_postcode_key"),
        block_on("dob_initials_key"),
        block_on("surname_sound_birth_year_key"),
        # One record's birth date with day and month swapped against the
        # other's as given, either way round: two equality joins, not one
        # join on an `or`, which no engine can hash.
        "l.swapped_dob_surname_key = r.dob_surname_key",
        "l.dob_surname_key = r.swapped_dob_surname_key",
    ]


# EM sessions. Each comparison is estimated in a session that does not block
# on it (m of a blocked-on column is not identifiable there).
TRAINING_BLOCKS = (
    ("last_name_normalized", "date_of_birth_normalized"),
    ("first_name_canonical", "last_name_normalized", "postal_code_normalized"),
    ("email_block_key",),
)


# Sessions for narrow deployments, run only when the sessions above leave a
# comparison that has data without any estimate: with names and birth dates
# only, no session above estimates the birth date (the one that yields pairs
# blocks on it). name_block_key is the full name, capped in size by dbt, so
# the session stays linear in the records.
FALLBACK_TRAINING_BLOCKS = (
    ("name_block_key",),
    ("first_name_canonical", "date_of_birth_normalized"),
)


def training_blocking_rules() -> list:
    return [block_on(*columns) for columns in TRAINING_BLOCKS]


# The columns each comparison reads, with the block keys derived from them:
# an EM session blocked on any of them cannot estimate that comparison's m.
COMPARISON_COLUMNS = {
    "first_name": ("first_name_normalized", "first_name_canonical", "name_block_key"),
    "last_name": ("last_name_normalized", "name_block_key", "unordered_name_key"),
    "date_of_birth": ("date_of_birth_normalized",),
    "location": (
        "postal_code_normalized",
        "city_normalized",
        "state_normalized",
        "address_token",
        "house_number_token",
        "street_name_normalized",
    ),
    "email": ("email_token", "email_block_key"),
    "phone": ("phone_token", "phone_block_key"),
    "name_suffix": ("name_suffix",),
}


def comparisons_blocked_by(columns: tuple[str, ...]) -> set[str]:
    return {name for name, read in COMPARISON_COLUMNS.items() if set(read) & set(columns)}


# m per non-null level, in each comparison's order, for levels no EM session
# could estimate: a young or narrow deployment, or a level its data never
# shows among candidate pairs. They are the shares one expects among true
# matches of customer records (most agree exactly, a few per cent carry a
# typo, a nickname or a swapped field, people move and marry), deliberately
# modest so that an untrained level neither decides a pair alone nor vetoes
# it. Training reports every level it set from here.
DEFAULT_M = {
    "first_name": (0.85, 0.01, 0.05, 0.03, 0.02, 0.04),
    "last_name": (0.90, 0.01, 0.03, 0.01, 0.05),
    "date_of_birth": (0.93, 0.01, 0.03, 0.01, 0.02),
    "location": (0.60, 0.05, 0.10, 0.05, 0.20),
    "email": (0.60, 0.40),
    "phone": (0.70, 0.30),
    "name_suffix": (0.50, 0.49, 0.001),
}

# The least m a disagreement level may have. EM on data where true matches
# almost never disagree (a generator with few moves) learns m near zero for
# "all other comparisons", which turns one disagreement into a veto: a
# moved customer would never link again, whatever else agrees. A veto needs
# evidence that two people differ (records_conflict and the guards in dbt
# hold those rules), not a disagreement the model has rarely seen.
DISAGREEMENT_M_FLOOR = {
    "first_name": 0.01,
    "last_name": 0.02,
    "date_of_birth": 0.005,
    "location": 0.02,
}


# Near-certain rules whose pair count, divided by their recall, gives the
# prior probability that two random records match. Each rule is a conjunction
# of agreements: (comparison, the levels of it the agreement means, the column
# that must hold a value on both records). Their recall among matches is what
# the trained model implies (docs/architecture.md, "The prior").
PRIOR_RULES = (
    (("email", (0,), "email_block_key"),),
    (
        ("first_name", (0, 2), "first_name_canonical"),
        ("last_name", (0,), "last_name_normalized"),
        ("date_of_birth", (0,), "date_of_birth_normalized"),
    ),
)


def deterministic_rules_for_prior() -> list[str]:
    return [
        " and ".join(f"l.{column} = r.{column}" for _, _, column in rule) for rule in PRIOR_RULES
    ]


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID,
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=prediction_blocking_rules(),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,  # per-comparison weights, for stewards,
        additional_columns_to_retain=["source_table"],
        max_iterations=20,
    )


def definition_version() -> str:
    """A hash of the model's structure (comparisons, levels, blocking), without
    its parameters: a trained model whose definition differs from the code's
    no longer fits it and must be re-trained."""
    settings_dict = settings().get_settings(SQL_DIALECT).as_dict()
    text = json.dumps(settings_dict, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
