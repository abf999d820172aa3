"""Figures of the binning notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def binning_scatter(coords: np.ndarray, predicted, true, title: str = "") -> go.Figure:
    """2-d UMAP coloured by predicted cluster (left) and by true genome (right)."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("predicted cluster", "true genome"), horizontal_spacing=0.06
    )
    for col, labels in ((1, np.asarray(predicted).astype(str)), (2, np.asarray(true).astype(str))):
        for label in sorted(set(labels)):
            keep = labels == label
            noise = label == "-1"
            fig.add_trace(
                go.Scattergl(
                    x=coords[keep, 0],
                    y=coords[keep, 1],
                    mode="markers",
                    name=label,
                    legendgroup=f"{col}-{label}",
                    showlegend=False,
                    marker=dict(size=4, color="lightgrey" if noise else None),
                    hovertext=[f"{'noise' if noise else label}"] * int(keep.sum()),
                ),
                row=1,
                col=col,
            )
    fig.update_layout(title=title, height=450, template="plotly_white")
    fig.update_xaxes(title_text="UMAP 1")
    fig.update_yaxes(title_text="UMAP 2", col=1)
    return fig


def eps_sweep_figure(sweeps: pd.DataFrame, title: str = "") -> go.Figure:
    """ARI vs DBSCAN eps, one line per model (`eps_sweep` tables with a `model` column), the
    knee-chosen eps marked with a star."""
    fig = go.Figure()
    for i, (model, g) in enumerate(sweeps.groupby("model", sort=False)):
        color = px.colors.qualitative.Plotly[i % len(px.colors.qualitative.Plotly)]
        fig.add_trace(
            go.Scatter(
                x=g["eps"],
                y=g["ari"],
                mode="lines+markers",
                name=model,
                line=dict(color=color),
                marker=dict(size=4),
                customdata=g[["n_clusters", "noise_fraction"]],
                hovertemplate="eps %{x:.3f}<br>ARI %{y:.3f}<br>"
                "%{customdata[0]} clusters, noise %{customdata[1]:.2f}",
            )
        )
        knee = g[g["is_knee"]]
        fig.add_trace(
            go.Scatter(
                x=knee["eps"],
                y=knee["ari"],
                mode="markers",
                name=f"{model}: knee eps",
                marker=dict(symbol="star", size=14, color=color),
            )
        )
    fig.update_layout(
        title=title,
        height=400,
        template="plotly_white",
        xaxis_title="DBSCAN eps",
        yaxis_title="ARI (genome level)",
    )
    return fig
