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
