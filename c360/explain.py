"""Why records are, or are not, one customer: `c360 explain` and the app's
explanations (c360/app), from the marts customer_match_evidence and
customer_source_xref and the id history.

A customer is the records its edges join (deterministic rules, the model's
auto-links, stewards' must-links), less the edges the over-merge guard or a
cannot-link cut. The explanation of a customer is the strongest spanning tree
of its edges: every record reached, each over its best evidence. The
explanation of two records is the widest path between them (the path whose
weakest edge is strongest; that edge is the path's strength), and what
vetoed a direct link: a steward's cannot-link, a contradiction that stopped
the model's auto-link, a probability in the review band, a guard's cut.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import asdict, dataclass, field

from c360.engine.dbapi import rows

EVIDENCE_COLUMNS = (
    "record_key_a",
    "record_key_b",
    "customer_id_a",
    "customer_id_b",
    "is_same_customer",
    "is_edge",
    "is_edge_cut",
    "edge_confidence",
    "edge_rules",
    "deterministic_rules",
    "match_weight",
    "match_probability",
    "match_band",
    "auto_link_threshold",
    "contradicted_by",
    "comparison_weights",
    "override_type",
    "override_decided_at",
)


class UnknownSubject(ValueError):
    """The customer id or record key is in no mart."""


@dataclass
class Edge:
    """The evidence on one pair of records."""

    record_key_a: str
    record_key_b: str
    strength: float | None
    evidence: list[str]
    is_edge: bool
    is_edge_cut: bool
    match_weight: float | None = None
    match_probability: float | None = None
    match_band: str | None = None
    auto_link_threshold: float | None = None
    prior: float | None = None
    comparison_weights: dict[str, float] = field(default_factory=dict)
    contradicted_by: list[str] = field(default_factory=list)
    override_type: str | None = None
    override_decided_at: object = None

    def other(self, record_key: str) -> str:
        return self.record_key_b if record_key == self.record_key_a else self.record_key_a

    def vetoes(self) -> list[str]:
        """What stops this pair from linking by itself, in words."""
        found = []
        if self.override_type == "cannot_link":
            found.append(f"a steward's cannot-link, decided {self.override_decided_at}")
        if self.contradicted_by:
            found.append("contradicted: " + ", ".join(self.contradicted_by))
        if self.match_band == "review" and not self.contradicted_by:
            found.append(
                f"model probability {self.match_probability:.4f} is in the review band, "
                f"below the auto-link threshold {self.auto_link_threshold:.4f}"
            )
        if self.is_edge_cut:
            found.append("the over-merge guard or a cannot-link cut this edge")
        return found


@dataclass
class CustomerExplanation:
    customer_id: str
    asked_for: str
    records: list[str]
    path: list[Edge]
    cut_edges: list[Edge]
    vetoed: list[Edge]
    unreached: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PairExplanation:
    record_key_a: str
    record_key_b: str
    customer_id_a: str | None
    customer_id_b: str | None
    together: bool
    path: list[Edge]
    strength: float | None
    direct: Edge | None
    vetoes: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def parse_comparison_weights(text: str | None) -> dict[str, float]:
    """`first_name=3.1;last_name=-0.4` -> {'first_name': 3.1, 'last_name': -0.4}."""
    weights: dict[str, float] = {}
    for term in (text or "").split(";"):
        name, _, value = term.partition("=")
        if name and value:
            weights[name] = float(value)
    return weights


def _split(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part]


def edge_from_row(row: dict) -> Edge:
    weights = parse_comparison_weights(row.get("comparison_weights"))
    weight = row.get("match_weight")
    evidence = _split(row.get("edge_rules")) or _split(row.get("deterministic_rules"))
    if not evidence and weight is not None:
        evidence = ["splink_model"]
    return Edge(
        record_key_a=row["record_key_a"],
        record_key_b=row["record_key_b"],
        strength=row.get("edge_confidence"),
        evidence=evidence,
        is_edge=bool(row.get("is_edge")),
        is_edge_cut=bool(row.get("is_edge_cut")),
        match_weight=weight,
        match_probability=row.get("match_probability"),
        match_band=row.get("match_band"),
        auto_link_threshold=row.get("auto_link_threshold"),
        # The weight is the prior plus the comparisons' shares.
        prior=weight - sum(weights.values()) if weight is not None and weights else None,
        comparison_weights=weights,
        contradicted_by=_split(row.get("contradicted_by")),
        override_type=row.get("override_type"),
        override_decided_at=row.get("override_decided_at"),
    )


def strongest_spanning_tree(records: list[str], edges: list[Edge]) -> tuple[list[Edge], list[str]]:
    """Kruskal's tree over the strongest edges first, listed outward from the
    first record reached; and the records no edge reaches."""
    parent = {record: record for record in records}

    def root(record: str) -> str:
        while parent[record] != record:
            parent[record] = parent[parent[record]]
            record = parent[record]
        return record

    chosen: list[Edge] = []
    ranked = sorted(edges, key=lambda e: (-(e.strength or 0.0), e.record_key_a, e.record_key_b))
    for edge in ranked:
        if edge.record_key_a not in parent or edge.record_key_b not in parent:
            continue
        a, b = root(edge.record_key_a), root(edge.record_key_b)
        if a != b:
            parent[a] = b
            chosen.append(edge)
    touching: dict[str, list[Edge]] = {}
    for edge in chosen:
        touching.setdefault(edge.record_key_a, []).append(edge)
        touching.setdefault(edge.record_key_b, []).append(edge)
    ordered: list[Edge] = []
    seen: set[str] = set()
    for start in records:
        if start in seen or start not in touching:
            continue
        seen.add(start)
        queue = [start]
        while queue:
            record = queue.pop(0)
            for edge in touching[record]:
                other = edge.other(record)
                if other not in seen:
                    seen.add(other)
                    ordered.append(edge)
                    queue.append(other)
    unreached = [r for r in records if r not in touching] if len(records) > 1 else []
    return ordered, unreached


def widest_path(start: str, goal: str, edges: list[Edge]) -> list[Edge]:
    """The path from start to goal whose weakest edge is strongest (empty if
    none): Dijkstra over the bottleneck."""
    touching: dict[str, list[Edge]] = {}
    for edge in edges:
        touching.setdefault(edge.record_key_a, []).append(edge)
        touching.setdefault(edge.record_key_b, []).append(edge)
    best = {start: float("inf")}
    came_by: dict[str, Edge] = {}
    heap = [(-float("inf"), start)]
    while heap:
        width, record = heapq.heappop(heap)
        width = -width
        if record == goal:
            break
        if width < best.get(record, -1.0):
            continue
        for edge in touching.get(record, []):
            other = edge.other(record)
            through = min(width, edge.strength or 0.0)
            if through > best.get(other, -1.0):
                best[other] = through
                came_by[other] = edge
                heapq.heappush(heap, (-through, other))
    if goal not in came_by:
        return []
    path, record = [], goal
    while record != start:
        edge = came_by[record]
        path.append(edge)
        record = edge.other(record)
    return path[::-1]


def current_customer_id(con, customer_id: str) -> str:
    """The customer id today: itself, or the one it was merged into."""
    found = rows(
        con,
        "select current_customer_id, status from marts.customer_id_history where customer_id = ?",
        [customer_id],
    )
    if not found:
        raise UnknownSubject(f"customer id {customer_id} was never issued in this warehouse")
    if found[0]["current_customer_id"] is None:
        raise UnknownSubject(
            f"customer id {customer_id} is {found[0]['status']}: nothing to explain"
        )
    return found[0]["current_customer_id"]


def customer_of(con, record_key: str) -> str | None:
    source_table, sep, source_record_id = record_key.partition(":")
    if not sep:
        raise UnknownSubject(f"record {record_key!r} is not SOURCE_TABLE:KEY")
    found = rows(
        con,
        "select customer_id from marts.customer_source_xref "
        "where source_table = ? and source_record_id = ?",
        [source_table, source_record_id],
    )
    return found[0]["customer_id"] if found else None


def _evidence(con, customer_ids: list[str]) -> list[Edge]:
    marks = ", ".join("?" for _ in customer_ids)
    found = rows(
        con,
        f"select distinct {', '.join(EVIDENCE_COLUMNS)} from marts.customer_match_evidence "
        f"where customer_id in ({marks})",
        customer_ids,
    )
    return [edge_from_row(row) for row in found]


def explain_customer(con, customer_id: str) -> CustomerExplanation:
    current = current_customer_id(con, customer_id)
    records = [
        f"{r['source_table']}:{r['source_record_id']}"
        for r in rows(
            con,
            "select source_table, source_record_id from marts.customer_source_xref "
            "where customer_id = ? order by source_table, source_record_id",
            [current],
        )
    ]
    evidence = _evidence(con, [current])
    inside = set(records)
    joined = [
        e
        for e in evidence
        if e.is_edge and not e.is_edge_cut and {e.record_key_a, e.record_key_b} <= inside
    ]
    path, unreached = strongest_spanning_tree(records, joined)
    return CustomerExplanation(
        customer_id=current,
        asked_for=customer_id,
        records=records,
        path=path,
        cut_edges=[e for e in evidence if e.is_edge_cut],
        vetoed=[e for e in evidence if not e.is_edge and e.vetoes()],
        unreached=unreached,
    )


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def explain_records(con, record_key_a: str, record_key_b: str) -> PairExplanation:
    customer_a, customer_b = customer_of(con, record_key_a), customer_of(con, record_key_b)
    for key, customer in ((record_key_a, customer_a), (record_key_b, customer_b)):
        if customer is None:
            raise UnknownSubject(f"record {key} is not a live identity record of any customer")
    evidence = _evidence(con, sorted({customer_a, customer_b}))
    together = customer_a == customer_b
    # Together: over the edges clustering kept. Apart: over every edge, the
    # cut ones too, so the path shows where the cut fell.
    usable = [e for e in evidence if e.is_edge and not (together and e.is_edge_cut)]
    path = widest_path(record_key_a, record_key_b, usable)
    pair = _ordered(record_key_a, record_key_b)
    direct = next((e for e in evidence if (e.record_key_a, e.record_key_b) == pair), None)
    vetoes = list(direct.vetoes()) if direct else []
    if not together:
        vetoes += [
            f"cut: {e.record_key_a} - {e.record_key_b}"
            for e in path
            if e.is_edge_cut and e is not direct
        ]
        if not path and not direct:
            vetoes.append("no evidence joins them: no rule matched, the model scored them low")
    return PairExplanation(
        record_key_a=record_key_a,
        record_key_b=record_key_b,
        customer_id_a=customer_a,
        customer_id_b=customer_b,
        together=together,
        path=path,
        strength=min((e.strength or 0.0) for e in path) if path else None,
        direct=direct,
        vetoes=vetoes,
    )


def _describe(edge: Edge) -> str:
    parts = []
    rules = [r for r in edge.evidence if r != "splink_model"]
    if rules:
        parts.append("rules " + ", ".join(rules))
    if edge.match_weight is not None:
        parts.append(
            f"model weight {edge.match_weight:.2f} (probability {edge.match_probability:.4f}, "
            f"{edge.match_band})"
        )
    strength = f"strength {edge.strength:.2f}" if edge.strength is not None else "no edge"
    return f"{edge.record_key_a} - {edge.record_key_b}  {strength}; " + "; ".join(parts)


def _weights_line(edge: Edge) -> str:
    if edge.prior is None:
        return ""
    terms = ", ".join(f"{n} {w:+.2f}" for n, w in edge.comparison_weights.items() if w)
    return f"      prior {edge.prior:+.2f}, {terms} = {edge.match_weight:.2f}"


def format_customer(explanation: CustomerExplanation) -> str:
    e = explanation
    lines = []
    if e.asked_for != e.customer_id:
        lines.append(f"{e.asked_for} was merged into {e.customer_id}")
    lines.append(
        f"customer {e.customer_id}: {len(e.records)} record(s), joined by {len(e.path)} edge(s)"
        " (the strongest evidence that connects them)"
    )
    for edge in e.path:
        lines.append("  " + _describe(edge))
        if weights := _weights_line(edge):
            lines.append(weights)
    if len(e.records) == 1:
        lines.append(f"  one record: {e.records[0]}")
    for record in e.unreached:
        lines.append(f"  {record}: no edge reaches it")
    if e.cut_edges:
        lines.append("edges cut (the over-merge guard or a cannot-link split them off):")
        lines += ["  " + _describe(edge) for edge in e.cut_edges]
    if e.vetoed:
        lines.append("pairs that did not link:")
        for edge in e.vetoed:
            lines.append("  " + _describe(edge) + "; " + "; ".join(edge.vetoes()))
    return "\n".join(lines)


def format_pair(explanation: PairExplanation) -> str:
    p = explanation
    if p.together:
        head = f"{p.record_key_a} and {p.record_key_b} are one customer ({p.customer_id_a})"
    else:
        head = (
            f"{p.record_key_a} ({p.customer_id_a}) and {p.record_key_b} ({p.customer_id_b}) "
            "are two customers"
        )
    lines = [head]
    if p.path:
        lines.append(
            f"best path: {len(p.path)} edge(s), strength {p.strength:.2f} (its weakest edge)"
        )
        lines += ["  " + _describe(edge) for edge in p.path]
    else:
        lines.append("no path of edges between them")
    if p.direct:
        lines.append("the pair itself: " + _describe(p.direct))
        if weights := _weights_line(p.direct):
            lines.append(weights)
    if p.vetoes:
        lines.append("vetoes:")
        lines += [f"  {veto}" for veto in p.vetoes]
    return "\n".join(lines)


def to_json(explanation: CustomerExplanation | PairExplanation) -> str:
    return json.dumps(explanation.to_dict(), indent=2, default=str)
