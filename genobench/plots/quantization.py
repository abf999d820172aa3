"""Figures of the quantization notebook."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots


def _measured(df):
    return df[df["status"] == "ok"] if "status" in df.columns else df


def _pass_range(df, column: str) -> dict:
    """Error bars from `column`'s median to its min and max over the timed passes."""
    return dict(
        type="data",
        symmetric=False,
        array=df[f"{column}_max"] - df[column],
        arrayminus=df[column] - df[f"{column}_min"],
    )


def throughput_comparison(performance) -> go.Figure:
    """Tokens/s per mode, the median timed pass with the range over the passes (left), and
    batch latency, median with the p90 marked (right)."""
    df = _measured(performance)
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("throughput (real tokens/s)", "latency per batch (s)")
    )
    fig.add_trace(
        go.Bar(
            x=df["mode"],
            y=df["tokens_per_s"],
            name="tokens/s",
            error_y=_pass_range(df, "tokens_per_s"),
            text=[f"{v:,.0f}" for v in df["tokens_per_s"]],
            customdata=df["seqs_per_s"],
            hovertemplate="%{x}: %{y:,.0f} tokens/s, %{customdata:.1f} seqs/s",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=df["mode"],
            y=df["latency_median_s"],
            name="median",
            error_y=dict(
                type="data",
                symmetric=False,
                array=df["latency_p90_s"] - df["latency_median_s"],
                arrayminus=[0] * len(df),
            ),
            hovertemplate="%{x}: median %{y:.3f} s",
        ),
        row=1,
        col=2,
    )
    fig.update_layout(
        title="Inference speed by quantization mode (error bars: range over the timed passes;"
        " latency up to p90)",
        showlegend=False,
        template="plotly_white",
        height=420,
    )
    return fig


def memory_comparison(performance) -> go.Figure:
    """Model footprint and peak memory (GB) per mode."""
    df = _measured(performance)
    kind = df["peak_mem_kind"].iloc[0] if len(df) else ""
    fig = go.Figure(
        [
            go.Bar(x=df["mode"], y=df["footprint_GB"], name="model footprint"),
            go.Bar(x=df["mode"], y=df["peak_mem_GB"], name=f"peak ({kind})"),
        ]
    )
    fig.update_layout(
        title="Memory by quantization mode",
        barmode="group",
        yaxis_title="GB",
        template="plotly_white",
        height=420,
    )
    return fig


def pareto_tradeoff(summary) -> go.Figure:
    """Throughput (median timed pass, bars: range over the passes) against model footprint;
    the Pareto front (not beaten on both) is joined."""
    df = _measured(summary)
    front = df[df["pareto_throughput_vs_footprint"]].sort_values("footprint_GB")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=front["footprint_GB"],
            y=front["tokens_per_s"],
            mode="lines",
            name="Pareto front (tokens/s)",
            line=dict(dash="dash", color="grey"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=df["footprint_GB"],
            y=df["tokens_per_s"],
            mode="markers+text",
            text=df["mode"],
            textposition="top center",
            name="modes (tokens/s)",
            error_y=_pass_range(df, "tokens_per_s"),
            marker=dict(
                size=12,
                color=df.get("kl_mean"),
                colorscale="Viridis",
                showscale=True,
                colorbar=dict(title="KL mean"),
            ),
        )
    )
    fig.update_layout(
        title="Performance–memory trade-off",
        xaxis_title="model footprint (GB)",
        yaxis_title="tokens/s",
        template="plotly_white",
        height=450,
    )
    return fig


def divergence_comparison(quality) -> go.Figure:
    """KL (mean, median, p99) and JS per quantized mode (log axis), and top-1 agreement."""
    df = _measured(quality)
    df = df[df["mode"] != "standard"]
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.65, 0.35],
        subplot_titles=("divergence from standard (nats/token)", "top-1 agreement with standard"),
    )
    for col, label in (
        ("kl_mean", "KL mean"),
        ("kl_median", "KL median"),
        ("kl_p99", "KL p99"),
        ("js_mean", "JS mean"),
    ):
        if col in df.columns:
            fig.add_trace(go.Bar(x=df["mode"], y=df[col], name=label), row=1, col=1)
    if "top1_agreement" in df.columns:
        fig.add_trace(
            go.Bar(
                x=df["mode"],
                y=df["top1_agreement"],
                name="top-1 agreement",
                error_y=dict(type="data", array=df.get("top1_agreement_err")),
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(
        barmode="group",
        template="plotly_white",
        height=430,
        title="Next-token distribution fidelity",
    )
    return fig


def layer_similarity(layers) -> go.Figure:
    """Cosine similarity and SNR (dB) of mean-pooled hidden states by layer, per mode."""
    df = layers[layers["mode"] != "standard"]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("cosine similarity to standard", "SNR (dB)")
    )
    for i, (mode, part) in enumerate(df.groupby("mode", sort=False)):
        color = pio.templates["plotly_white"].layout.colorway[i % 10]
        fig.add_trace(
            go.Scatter(
                x=part["layer"],
                y=part["cosine_mean"],
                mode="lines+markers",
                name=mode,
                legendgroup=mode,
                line=dict(color=color),
            ),
            row=1,
            col=1,
        )
        snr = part["snr_db"].replace([np.inf], np.nan)
        fig.add_trace(
            go.Scatter(
                x=part["layer"],
                y=snr,
                mode="lines+markers",
                name=mode,
                legendgroup=mode,
                showlegend=False,
                line=dict(color=color),
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="layer (0 = token embeddings)")
    fig.update_layout(
        template="plotly_white",
        height=420,
        title="Embedding fidelity by layer (mean-pooled hidden states)",
    )
    return fig
