"""The app's charts: Plotly figures from query rows, rendered to HTML
fragments on the server. Plotly's script is served by the app itself
(/assets/plotly.min.js): the page loads nothing from elsewhere."""

from __future__ import annotations

from collections import defaultdict

import plotly.graph_objects as go

from c360 import explain

_LAYOUT = dict(
    template="plotly_white",
    margin=dict(l=50, r=20, t=50, b=50),
    height=360,
    font=dict(family="system-ui, sans-serif", size=12),
)
BAND_COLOURS = {"auto_link": "#2e7d32", "review": "#f9a825"}
ID_CHANGE_COLOURS = {
    "ids_minted": "#1565c0",
    "ids_merged": "#6a1b9a",
    "ids_split": "#c62828",
    "ids_retired": "#757575",
    "ids_erased": "#000000",
}


def to_html(figure: go.Figure) -> str:
    return figure.to_html(
        full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}
    )


def waterfall(edge: explain.Edge) -> go.Figure:
    """The model's prior, then each comparison's weight, adding up to the
    pair's match weight (log2 of the Bayes factor)."""
    names = ["prior", *edge.comparison_weights]
    weights = [edge.prior or 0.0, *edge.comparison_weights.values()]
    figure = go.Figure(
        go.Waterfall(
            x=[*names, "match weight"],
            y=[*weights, 0],
            measure=["relative"] * len(weights) + ["total"],
            text=[f"{w:+.2f}" for w in weights] + [f"{edge.match_weight:.2f}"],
            textposition="outside",
            increasing=dict(marker=dict(color="#2e7d32")),
            decreasing=dict(marker=dict(color="#c62828")),
            totals=dict(marker=dict(color="#1565c0")),
            connector=dict(line=dict(color="#9e9e9e", width=1)),
        )
    )
    probability = edge.match_probability
    title = f"match weight {edge.match_weight:.2f}"
    if probability is not None:
        title += f", probability {probability:.4f}"
    if edge.auto_link_threshold is not None:
        title += f" (auto-link from {edge.auto_link_threshold:.4f})"
    figure.update_layout(**_LAYOUT, title=title, yaxis_title="weight (log2 Bayes factor)")
    return figure


def match_weight_histogram(bins: list[dict]) -> go.Figure:
    """Scored pairs per whole match weight, stacked by band."""
    by_band: dict[str, dict[float, int]] = defaultdict(dict)
    for row in bins:
        by_band[row["match_band"] or "none"][float(row["weight_bin"])] = int(row["pairs"])
    figure = go.Figure(
        [
            go.Bar(
                name=band,
                x=list(counts),
                y=list(counts.values()),
                marker_color=BAND_COLOURS.get(band, "#90a4ae"),
            )
            for band, counts in sorted(by_band.items())
        ]
    )
    figure.update_layout(
        **_LAYOUT,
        barmode="stack",
        title="match weight of scored pairs (review band and up)",
        xaxis_title="match weight (whole units)",
        yaxis_title="pairs",
    )
    return figure


def cluster_size_histogram(sizes: list[dict]) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=[int(r["record_count"]) for r in sizes],
            y=[int(r["customers"]) for r in sizes],
            marker_color="#1565c0",
        )
    )
    figure.update_layout(
        **_LAYOUT,
        title="customers by number of records",
        xaxis_title="records per customer",
        yaxis_title="customers",
        # Powers of ten only: a log axis labels its minor ticks otherwise.
        yaxis=dict(type="log", dtick=1),
    )
    return figure


def id_changes_over_time(metrics: list[dict]) -> go.Figure:
    dates = [str(m["run_date"]) for m in metrics]
    figure = go.Figure(
        [
            go.Bar(
                name=column.removeprefix("ids_"),
                x=dates,
                y=[m.get(column) or 0 for m in metrics],
                marker_color=colour,
            )
            for column, colour in ID_CHANGE_COLOURS.items()
        ]
    )
    figure.update_layout(
        **_LAYOUT,
        barmode="group",
        title="customer ids minted, merged, split, retired and erased per run date",
        xaxis_title="run date",
        xaxis_type="category",
        yaxis_title="ids",
    )
    return figure


def stage_timings(timings: list[dict]) -> go.Figure:
    by_stage: dict[str, dict[str, float]] = defaultdict(dict)
    for row in timings:
        by_stage[row["stage"]][str(row["run_date"])] = float(row["seconds"])
    figure = go.Figure(
        [
            go.Bar(name=stage, x=list(runs), y=list(runs.values()))
            for stage, runs in by_stage.items()
        ]
    )
    figure.update_layout(
        **_LAYOUT,
        barmode="stack",
        title="seconds per stage and run date",
        xaxis_title="run date",
        xaxis_type="category",
        yaxis_title="seconds",
    )
    return figure
