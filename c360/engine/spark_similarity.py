"""The string similarity functions of the Spark engine, as DuckDB computes them.

Splink's Spark similarity jar computes Jaro-Winkler otherwise than DuckDB's
`jaro_winkler_similarity` ("blanca" / "blaanca": 0.9278 on DuckDB, under 0.92
in the jar), which moves pairs across a comparison level and breaks the
engines' parity. rapidfuzz's Jaro and Damerau-Levenshtein equal DuckDB's
(whose functions are rapidfuzz's algorithms in C++), and its Jaro-Winkler
does once the Winkler boost is rounded as DuckDB's build rounds it (see
jaro_winkler_arrow), so the Spark engine registers these over the jar's
names (c360.engine.spark._register_udfs).

Each function takes two Arrow string arrays (one batch of a vectorised
Arrow UDF) and returns one value per row, as DuckDB does:

- null when either side is null;
- Jaro and Jaro-Winkler of two empty strings are 0.0 (rapidfuzz says 1.0);
- characters are Unicode code points on both (Python's `str`, DuckDB's).

No pyspark here: the UDF workers import this module alone, and the tests
compare it with DuckDB without a JVM.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz.distance import DamerauLevenshtein, Jaro
from rapidfuzz.process import cpdist


def _pairwise(left: pa.Array, right: pa.Array, scorer, dtype, both_empty) -> pa.Array:
    """`scorer` of each row's two strings (rapidfuzz's cpdist, in C++ over the
    batch), null where either is null; `both_empty`: the value of two empty
    strings, when DuckDB's differs from rapidfuzz's."""
    null = pc.or_kleene(pc.is_null(left), pc.is_null(right)).to_numpy(zero_copy_only=False)
    a = pc.fill_null(left, "").to_pylist()
    b = pc.fill_null(right, "").to_pylist()
    scores = np.asarray(cpdist(a, b, scorer=scorer, dtype=dtype, workers=1), dtype=dtype)
    if both_empty is not None and len(scores):
        empty = (pc.utf8_length(pc.fill_null(left, "")).to_numpy() == 0) & (
            pc.utf8_length(pc.fill_null(right, "")).to_numpy() == 0
        )
        scores[empty] = both_empty
    return pa.array(scores, mask=null, type=pa.from_numpy_dtype(dtype))


# Jaro-Winkler's weight of the common prefix (of at most 4 characters), DuckDB's.
PREFIX_WEIGHT = 0.1
PREFIX_MAX = 4


def _fused_multiply_add(x: float, y: float, z: float) -> float:
    """x * y + z rounded once, as a fused multiply-add (math.fma is Python
    3.13's): exact in integers, then Python's correctly rounded division."""
    xn, xd = x.as_integer_ratio()
    yn, yd = y.as_integer_ratio()
    zn, zd = z.as_integer_ratio()
    return (xn * yn * zd + zn * xd * yd) / (xd * yd * zd)


def jaro_winkler_arrow(left: pa.Array, right: pa.Array) -> pa.Array:
    """DuckDB's `jaro_winkler_similarity`: Jaro, plus the Winkler boost
    `jaro + prefix * 0.1 * (1 - jaro)` where Jaro is above 0.7. DuckDB's
    build computes the boost as one fused multiply-add (one rounding), and
    rapidfuzz as a multiply then an add (two): they differ in the last bit
    now and then (0.9666666666666667 against ...666), so the boost is
    computed here, fused, over rapidfuzz's Jaro (which equals DuckDB's)."""
    jaro = _pairwise(left, right, Jaro.normalized_similarity, np.float64, 0.0)
    scores = jaro.to_numpy(zero_copy_only=False).copy()
    boosted = np.flatnonzero(np.nan_to_num(scores, nan=0.0) > 0.7)
    if len(boosted):
        a, b = left.to_pylist(), right.to_pylist()
        for i in boosted.tolist():
            prefix = 0
            for x, y in zip(a[i][:PREFIX_MAX], b[i][:PREFIX_MAX], strict=False):
                if x != y:
                    break
                prefix += 1
            if prefix:
                sim = float(scores[i])
                scores[i] = _fused_multiply_add(prefix * PREFIX_WEIGHT, 1.0 - sim, sim)
    return pa.array(scores, mask=jaro.is_null().to_numpy(zero_copy_only=False), type=pa.float64())


def jaro_arrow(left: pa.Array, right: pa.Array) -> pa.Array:
    """DuckDB's `jaro_similarity`."""
    return _pairwise(left, right, Jaro.normalized_similarity, np.float64, 0.0)


def damerau_levenshtein_arrow(left: pa.Array, right: pa.Array) -> pa.Array:
    """DuckDB's `damerau_levenshtein` (a BIGINT there too)."""
    return _pairwise(left, right, DamerauLevenshtein.distance, np.int64, None)


# Every name the Spark SQL of Splink and of the dbt models calls them by:
# Splink's Spark dialect (`jaro_winkler`, `jaro_sim`, `damerau_levenshtein`,
# the jar's names) and sqlglot's Spark spelling of DuckDB's names
# (`jarowinkler_similarity`, `jaro_similarity`: the model's custom levels
# are written in DuckDB's dialect, splink_models/identity.py). Not DuckDB's
# own `jaro_winkler_similarity`: Spark 4.3 has a builtin of that name, which
# computes another value and which a session function cannot shadow; the
# Spark connection writes DuckDB's as `jaro_winkler` (spark._portable).
FUNCTIONS = {
    "jaro_winkler": (jaro_winkler_arrow, "double"),
    "jarowinkler_similarity": (jaro_winkler_arrow, "double"),
    "jaro_sim": (jaro_arrow, "double"),
    "jaro_similarity": (jaro_arrow, "double"),
    "damerau_levenshtein": (damerau_levenshtein_arrow, "bigint"),
}
