"""Figures of the esm_speed notebook."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots


def throughput_by_bucket(summary, metric: str = "seqs_per_s", title: str = "") -> go.Figure:
    """Throughput (median, whiskers min–max over runs) per length bucket, one panel per pair
    of models, one bar per model (speed_summary's table)."""
    pairs = list(dict.fromkeys(summary["pair"]))
    fig = make_subplots(rows=1, cols=len(pairs), subplot_titles=pairs, horizontal_spacing=0.08)
    colors = {"reference": "#636efa", "fast": "#ef553b"}
    for col, pair in enumerate(pairs, start=1):
        g = summary[summary["pair"] == pair]
        for role, gg in g.groupby("role", sort=False):
            med = gg[f"{metric}_median"].to_numpy()
            fig.add_trace(
                go.Bar(
                    x=gg["bucket"].astype(str) + " aa",
                    y=med,
                    name=f"{role} ({gg['attention'].iloc[0]})",
                    marker_color=colors.get(role),
                    legendgroup=role,
                    showlegend=col == 1,
                    error_y=dict(
                        type="data",
                        symmetric=False,
                        array=gg[f"{metric}_max"].to_numpy() - med,
                        arrayminus=med - gg[f"{metric}_min"].to_numpy(),
                    ),
                    hovertext=[f"{m}: {v:.3g}" for m, v in zip(gg["model"], med)],
                ),
                row=1,
                col=col,
            )
    fig.update_layout(title=title, barmode="group", height=420, template="plotly_white")
    fig.update_yaxes(title_text=metric.replace("_", " "), col=1)
    fig.update_xaxes(title_text="length bucket")
    return fig


def roc_curves(curves: dict, title: str = "") -> go.Figure:
    """ROC curves: `curves` maps a label to (fpr, tpr, auc)."""
    fig = go.Figure()
    for label, (fpr, tpr, auc) in curves.items():
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{label} (AUC {auc:.3f})"))
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(dash="dot", color="grey")
        )
    )
    fig.update_layout(
        title=title,
        height=450,
        template="plotly_white",
        xaxis_title="false positive rate",
        yaxis_title="true positive rate",
    )
    return fig
