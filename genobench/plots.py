"""Plotly figure builders, one function per figure."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots


def use_notebook_renderer() -> None:
    """Make `fig.show()` embed plotly.js in the notebook, so nbconvert/Quarto pages show figures.

    Under papermill plotly defaults to the mimetype renderer, which nbconvert's HTML drops.
    """
    pio.renderers.default = "plotly_mimetype+notebook"


def binning_scatter(coords: np.ndarray, predicted, true, title: str = "") -> go.Figure:
    """2-d UMAP coloured by predicted cluster (left) and by true genome (right)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("predicted cluster", "true genome"),
                        horizontal_spacing=0.06)
    for col, labels in ((1, np.asarray(predicted).astype(str)), (2, np.asarray(true).astype(str))):
        for label in sorted(set(labels)):
            keep = labels == label
            noise = label == "-1"
            fig.add_trace(go.Scattergl(
                x=coords[keep, 0], y=coords[keep, 1], mode="markers", name=label,
                legendgroup=f"{col}-{label}", showlegend=False,
                marker=dict(size=4, color="lightgrey" if noise else None),
                hovertext=[f"{'noise' if noise else label}"] * int(keep.sum())), row=1, col=col)
    fig.update_layout(title=title, height=450, template="plotly_white")
    fig.update_xaxes(title_text="UMAP 1")
    fig.update_yaxes(title_text="UMAP 2", col=1)
    return fig


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
            fig.add_trace(go.Bar(
                x=gg["bucket"].astype(str) + " aa", y=med, name=f"{role} ({gg['attention'].iloc[0]})",
                marker_color=colors.get(role), legendgroup=role, showlegend=col == 1,
                error_y=dict(type="data", symmetric=False,
                             array=gg[f"{metric}_max"].to_numpy() - med,
                             arrayminus=med - gg[f"{metric}_min"].to_numpy()),
                hovertext=[f"{m}: {v:.3g}" for m, v in zip(gg["model"], med)]), row=1, col=col)
    fig.update_layout(title=title, barmode="group", height=420, template="plotly_white")
    fig.update_yaxes(title_text=metric.replace("_", " "), col=1)
    fig.update_xaxes(title_text="length bucket")
    return fig


def roc_curves(curves: dict, title: str = "") -> go.Figure:
    """ROC curves: `curves` maps a label to (fpr, tpr, auc)."""
    fig = go.Figure()
    for label, (fpr, tpr, auc) in curves.items():
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{label} (AUC {auc:.3f})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line=dict(dash="dot", color="grey")))
    fig.update_layout(title=title, height=450, template="plotly_white",
                      xaxis_title="false positive rate", yaxis_title="true positive rate")
    return fig


def gradient_check_figure(table, criteria: dict[str, float]) -> go.Figure:
    """Errors (left, log scale, dashed pass thresholds) and forward+backward time (right) vs T."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("error vs reference", "forward + backward time"))
    for i, (name, limit) in enumerate(criteria.items()):
        color = pio.templates["plotly_white"].layout.colorway[i]
        fig.add_trace(go.Scatter(x=table["T"], y=table[name], mode="lines+markers", name=name,
                                 line=dict(color=color)), row=1, col=1)
        fig.add_hline(y=limit, line=dict(color=color, dash="dash", width=1), row=1, col=1)
    for column, label in (("reference_s", "reference"), ("candidate_s", table["candidate"].iloc[0])):
        fig.add_trace(go.Scatter(x=table["T"], y=table[column], mode="lines+markers",
                                 name=f"time: {label}"), row=1, col=2)
    fig.update_xaxes(type="log", title_text="T")
    fig.update_yaxes(type="log", exponentformat="e", row=1, col=1)
    fig.update_yaxes(type="log", title_text="seconds", row=1, col=2)
    fig.update_layout(height=420, template="plotly_white")
    return fig
