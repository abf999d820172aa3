"""Figures of the gradient_check notebook."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots


def gradient_check_figure(table, criteria: dict[str, float]) -> go.Figure:
    """Errors (left, log scale, dashed pass thresholds) and forward+backward time (right) vs T."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("error vs reference", "forward + backward time")
    )
    for i, (name, limit) in enumerate(criteria.items()):
        color = pio.templates["plotly_white"].layout.colorway[i]
        fig.add_trace(
            go.Scatter(
                x=table["T"], y=table[name], mode="lines+markers", name=name, line=dict(color=color)
            ),
            row=1,
            col=1,
        )
        fig.add_hline(y=limit, line=dict(color=color, dash="dash", width=1), row=1, col=1)
    for column, label in (
        ("reference_s", "reference"),
        ("candidate_s", table["candidate"].iloc[0]),
    ):
        fig.add_trace(
            go.Scatter(x=table["T"], y=table[column], mode="lines+markers", name=f"time: {label}"),
            row=1,
            col=2,
        )
    fig.update_xaxes(type="log", title_text="T")
    fig.update_yaxes(type="log", exponentformat="e", row=1, col=1)
    fig.update_yaxes(type="log", title_text="seconds", row=1, col=2)
    fig.update_layout(height=420, template="plotly_white")
    return fig
