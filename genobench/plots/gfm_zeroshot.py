"""Figures of the gfm_zeroshot notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genobench.metrics.variant_effect import roc_pr_points


def roc_pr_figure(scores: pd.DataFrame, metrics: pd.DataFrame, title: str = "") -> go.Figure:
    """ROC (left) and precision-recall (right) curves, one line per model/method."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("ROC", "precision-recall"), horizontal_spacing=0.08
    )
    overall = metrics[metrics["region_type"] == "all"].set_index(["model", "method"])
    colors = px.colors.qualitative.Plotly
    for i, ((model, method), group) in enumerate(scores.groupby(["model", "method"], sort=False)):
        pts = roc_pr_points(group["label"], group["pathogenicity"])
        m = overall.loc[(model, method)]
        name = f"{model} / {method}"
        color = colors[i % len(colors)]
        fig.add_trace(
            go.Scatter(
                x=pts["fpr"],
                y=pts["tpr"],
                mode="lines",
                legendgroup=name,
                name=f"{name} (AUROC {m['auroc']:.3f})",
                line=dict(color=color),
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=pts["recall"],
                y=pts["precision"],
                mode="lines",
                legendgroup=name,
                showlegend=False,
                line=dict(color=color),
                name=f"{name} (AUPRC {m['auprc']:.3f})",
            ),
            row=1,
            col=2,
        )
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", showlegend=False, line=dict(dash="dot", color="grey")
        ),
        row=1,
        col=1,
    )
    if len(scores):
        base = scores.groupby(["model", "method"])["label"].mean().iloc[0]
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[base, base],
                mode="lines",
                showlegend=False,
                line=dict(dash="dot", color="grey"),
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="false positive rate", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="true positive rate", range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(title_text="recall", range=[0, 1], row=1, col=2)
    fig.update_yaxes(title_text="precision", range=[0, 1.02], row=1, col=2)
    fig.update_layout(
        title=title, height=480, template="plotly_white", legend=dict(orientation="h", y=-0.2)
    )
    return fig


def auroc_intervals(metrics: pd.DataFrame) -> go.Figure:
    """AUROC of each model/method on all variants with its bootstrap interval (whiskers),
    and the chance level 0.5."""
    overall = metrics[metrics["region_type"] == "all"]
    labels = overall["model"] + " / " + overall["method"]
    fig = go.Figure(
        go.Scatter(
            x=overall["auroc"],
            y=labels,
            mode="markers",
            marker=dict(size=10),
            error_x=dict(
                type="data",
                symmetric=False,
                array=overall["auroc_high"] - overall["auroc"],
                arrayminus=overall["auroc"] - overall["auroc_low"],
            ),
        )
    )
    fig.add_vline(x=0.5, line_dash="dot", line_color="grey", annotation_text="chance")
    fig.update_layout(
        title="AUROC on all variants (bootstrap 95% interval)",
        template="plotly_white",
        height=160 + 40 * len(overall),
        xaxis=dict(title="AUROC", range=[0, 1]),
        yaxis=dict(autorange="reversed"),
    )
    return fig


def region_heatmap(metrics: pd.DataFrame, value: str = "auroc") -> go.Figure:
    """Model/method x region-type heat-map of `value` (AUROC by default)."""
    table = metrics.assign(row=metrics["model"] + " / " + metrics["method"]).pivot_table(
        index="row", columns="region_type", values=value, sort=False
    )
    cols = [c for c in table.columns if c != "all"] + (["all"] if "all" in table.columns else [])
    table = table[cols]
    text = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(table.to_numpy())
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=cols,
            y=list(table.index),
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0.5,
            zmin=0,
            zmax=1,
            colorbar=dict(title=value.upper()),
        )
    )
    fig.update_layout(
        title=f"{value.upper()} by region type",
        template="plotly_white",
        height=120 + 40 * len(table),
        yaxis=dict(autorange="reversed"),
    )
    return fig


def score_distributions(scores: pd.DataFrame) -> go.Figure:
    """Box plots of the pathogenicity score, benign vs pathogenic, per model/method."""
    groups = list(scores.groupby(["model", "method"], sort=False))
    fig = make_subplots(
        rows=1,
        cols=max(len(groups), 1),
        shared_yaxes=False,
        subplot_titles=[f"{m}<br>{meth}" for (m, meth), _ in groups],
    )
    for i, (_, group) in enumerate(groups):
        for label, color in ((0, "#4C78A8"), (1, "#E45756")):
            part = group[group["label"] == label]
            fig.add_trace(
                go.Box(
                    x=part["region_type"],
                    y=part["pathogenicity"],
                    name="pathogenic" if label else "benign",
                    marker_color=color,
                    legendgroup=str(label),
                    showlegend=i == 0,
                    boxpoints=False,
                ),
                row=1,
                col=i + 1,
            )
    fig.update_layout(
        boxmode="group",
        template="plotly_white",
        height=420,
        title="pathogenicity score by region type (higher = more damaging)",
        width=max(700, 320 * len(groups)),
    )
    fig.update_annotations(font_size=11)
    return fig
