"""Figures of the semi-CRF synthetic benchmark (plotly)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genobench.metrics.segmentation import histogram

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _step_line(edges: np.ndarray, probs: np.ndarray, **style) -> go.Scatter:
    """A histogram as a step line over the bin edges (y repeated for the last edge)."""
    x, y = edges.astype(float), np.append(probs, probs[-1])
    return go.Scatter(x=x, y=y, line_shape="hv", mode="lines", **style)


def duration_comparison(
    true_runs: Mapping[int, np.ndarray],
    pred_runs: Mapping[str, Mapping[int, np.ndarray]],
    kls: Mapping[str, Mapping[int, float]],
    edges: np.ndarray,
    class_names: Sequence[str],
    law_samples: Mapping[int, np.ndarray] | None = None,
    smoothing: float = 0.0,
) -> go.Figure:
    """Rows = classes; columns = ground truth, then each model.

    Ground truth: the run durations of the test labels (filled) and, as a line, the sampled
    durations of the generator (its law, before the windows cut the edge regions). Model
    columns: the predicted run durations (filled) over the truth (dashed), KL(true || pred)
    in the corner. Probabilities per log-spaced bin.
    """
    models = list(pred_runs)
    titles = ["ground truth"] + models
    fig = make_subplots(
        rows=len(class_names),
        cols=1 + len(models),
        shared_xaxes=True,
        horizontal_spacing=0.02,
        vertical_spacing=0.05,
        column_titles=titles,
        row_titles=list(class_names),
    )
    for r, _name in enumerate(class_names, start=1):
        truth = histogram(true_runs[r - 1], edges, smoothing)
        fig.add_trace(
            _step_line(
                edges,
                truth,
                fill="tozeroy",
                line=dict(color="black"),
                name="true runs (test)",
                legendgroup="truth",
                showlegend=r == 1,
            ),
            row=r,
            col=1,
        )
        if law_samples is not None and len(law_samples.get(r - 1, [])):
            fig.add_trace(
                _step_line(
                    edges,
                    histogram(law_samples[r - 1], edges),
                    line=dict(color="grey", dash="dot"),
                    name="duration law (samples)",
                    legendgroup="law",
                    showlegend=r == 1,
                ),
                row=r,
                col=1,
            )
        for m, model in enumerate(models, start=2):
            predicted = histogram(pred_runs[model][r - 1], edges, smoothing)
            color = PALETTE[(m - 2) % len(PALETTE)]
            fig.add_trace(
                _step_line(
                    edges,
                    predicted,
                    fill="tozeroy",
                    line=dict(color=color),
                    name=model,
                    legendgroup=model,
                    showlegend=r == 1,
                ),
                row=r,
                col=m,
            )
            fig.add_trace(
                _step_line(
                    edges,
                    truth,
                    line=dict(color="black", dash="dash", width=1),
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=r,
                col=m,
            )
            kl = kls[model][r - 1]
            fig.add_annotation(
                text=f"KL {kl:.3f}" if np.isfinite(kl) else "KL n/a",
                xref="x domain",
                yref="y domain",
                x=0.98,
                y=0.95,
                showarrow=False,
                font=dict(size=11),
                row=r,
                col=m,
            )
    fig.update_xaxes(type="log")
    fig.update_xaxes(title_text="run duration (bp)", row=len(class_names))
    fig.update_yaxes(title_text="fraction of runs", col=1)
    fig.update_layout(
        title="Run-duration distributions: truth vs each model (test split)",
        height=230 * len(class_names) + 120,
        width=max(900, 230 * (1 + len(models))),
        template="plotly_white",
        legend=dict(orientation="h", y=-0.12),
    )
    return fig


def training_curves(
    histories: Mapping[str, Sequence[Mapping[str, float]]], tolerance: int
) -> go.Figure:
    """Per-epoch train loss, validation loss and validation boundary F1 of every model."""
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "train loss (per position)",
            "validation loss (per position)",
            f"validation boundary F1 (tolerance {tolerance})",
        ),
    )
    for i, (model, rows) in enumerate(histories.items()):
        epochs = [row["epoch"] for row in rows]
        color = PALETTE[i % len(PALETTE)]
        for col, key in enumerate(("train_loss", "val_loss", "val_boundary_f1"), start=1):
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[row[key] for row in rows],
                    mode="lines+markers",
                    name=model,
                    legendgroup=model,
                    showlegend=col == 1,
                    line=dict(color=color),
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=380, template="plotly_white", title="Training curves")
    return fig


def learned_durations(
    duration_bias: np.ndarray,
    laws: Mapping[str, object],
    class_names: Sequence[str],
    title: str = "",
) -> go.Figure:
    """The learned duration bias next to the log-density of each class's duration law.

    Both curves are shifted to a maximum of 0 so their shapes compare directly: the bias
    b[d-1, c] against log p_c(d) for the log-normal law (its density on [low, high]; the
    point masses that clipping puts at the bounds are not drawn). The bias is not a
    normalised law (emissions and transitions also shape segments) and durations the
    training data never shows keep a bias near 0; runs longer than K are trained as
    K-long pieces, so classes with durations beyond K pile their bias up at d = K.
    """
    max_duration = duration_bias.shape[0]
    d = np.arange(1, max_duration + 1, dtype=float)
    fig = make_subplots(rows=1, cols=len(class_names), subplot_titles=list(class_names))
    for c, name in enumerate(class_names):
        law = laws[name]
        inside = (d >= law.low) & (d <= law.high)
        log_pdf = np.where(
            inside, -np.log(d) - (np.log(d) - np.log(law.median)) ** 2 / (2 * law.sigma**2), np.nan
        )
        if np.isfinite(log_pdf).any():
            log_pdf = log_pdf - np.nanmax(log_pdf)
        bias = duration_bias[:, c] - duration_bias[:, c].max()
        fig.add_trace(
            go.Scatter(
                x=d,
                y=log_pdf,
                mode="lines",
                line=dict(color="grey"),
                name="log density of the law (max 0)",
                showlegend=c == 0,
            ),
            row=1,
            col=c + 1,
        )
        fig.add_trace(
            go.Scatter(
                x=d,
                y=bias,
                mode="lines",
                line=dict(color=PALETTE[3]),
                name="learned duration bias (max 0)",
                showlegend=c == 0,
            ),
            row=1,
            col=c + 1,
        )
    fig.update_xaxes(title_text="segment duration d", type="log")
    fig.update_yaxes(range=[-6, 0.5])
    fig.update_layout(
        height=360,
        template="plotly_white",
        legend=dict(orientation="h", y=-0.25),
        title=title or "Learned duration bias vs the true law (d <= K)",
    )
    return fig
