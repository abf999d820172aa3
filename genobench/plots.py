"""Plotly figure builders, one function per figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from genobench.metrics.variant_effect import roc_pr_points


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


def eps_sweep_figure(sweeps: pd.DataFrame, title: str = "") -> go.Figure:
    """ARI vs DBSCAN eps, one line per model (`eps_sweep` tables with a `model` column), the
    knee-chosen eps marked with a star."""
    fig = go.Figure()
    for i, (model, g) in enumerate(sweeps.groupby("model", sort=False)):
        color = px.colors.qualitative.Plotly[i % len(px.colors.qualitative.Plotly)]
        fig.add_trace(go.Scatter(x=g["eps"], y=g["ari"], mode="lines+markers", name=model,
                                 line=dict(color=color), marker=dict(size=4),
                                 customdata=g[["n_clusters", "noise_fraction"]],
                                 hovertemplate="eps %{x:.3f}<br>ARI %{y:.3f}<br>"
                                 "%{customdata[0]} clusters, noise %{customdata[1]:.2f}"))
        knee = g[g["is_knee"]]
        fig.add_trace(go.Scatter(x=knee["eps"], y=knee["ari"], mode="markers",
                                 name=f"{model}: knee eps", marker=dict(symbol="star", size=14,
                                                                        color=color)))
    fig.update_layout(title=title, height=400, template="plotly_white",
                      xaxis_title="DBSCAN eps", yaxis_title="ARI (genome level)")
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


# ---- quantization benchmark --------------------------------------------------------------
def _measured(df):
    return df[df["status"] == "ok"] if "status" in df.columns else df


def throughput_comparison(performance) -> go.Figure:
    """Tokens/s per mode (left) and batch latency, median with the p90 marked (right)."""
    df = _measured(performance)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("throughput (real tokens/s)",
                                                        "latency per batch (s)"))
    fig.add_trace(go.Bar(x=df["mode"], y=df["tokens_per_s"], name="tokens/s",
                         text=[f"{v:,.0f}" for v in df["tokens_per_s"]],
                         customdata=df["seqs_per_s"],
                         hovertemplate="%{x}: %{y:,.0f} tokens/s, %{customdata:.1f} seqs/s"),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=df["mode"], y=df["latency_median_s"], name="median",
                         error_y=dict(type="data", symmetric=False,
                                      array=df["latency_p90_s"] - df["latency_median_s"],
                                      arrayminus=[0] * len(df)),
                         hovertemplate="%{x}: median %{y:.3f} s"), row=1, col=2)
    fig.update_layout(title="Inference speed by quantization mode (error bar: up to p90)",
                      showlegend=False, template="plotly_white", height=420)
    return fig


def memory_comparison(performance) -> go.Figure:
    """Model footprint and peak memory (GB) per mode."""
    df = _measured(performance)
    kind = df["peak_mem_kind"].iloc[0] if len(df) else ""
    fig = go.Figure([
        go.Bar(x=df["mode"], y=df["footprint_GB"], name="model footprint"),
        go.Bar(x=df["mode"], y=df["peak_mem_GB"], name=f"peak ({kind})")])
    fig.update_layout(title="Memory by quantization mode", barmode="group", yaxis_title="GB",
                      template="plotly_white", height=420)
    return fig


def pareto_tradeoff(summary) -> go.Figure:
    """Throughput against model footprint; the Pareto front (not beaten on both) is joined."""
    df = _measured(summary)
    front = df[df["pareto_throughput_vs_footprint"]].sort_values("footprint_GB")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=front["footprint_GB"], y=front["tokens_per_s"], mode="lines",
                             name="Pareto front", line=dict(dash="dash", color="grey")))
    fig.add_trace(go.Scatter(
        x=df["footprint_GB"], y=df["tokens_per_s"], mode="markers+text", text=df["mode"],
        textposition="top center", name="modes",
        marker=dict(size=12, color=df.get("kl_mean"), colorscale="Viridis", showscale=True,
                    colorbar=dict(title="KL mean"))))
    fig.update_layout(title="Performance–memory trade-off", xaxis_title="model footprint (GB)",
                      yaxis_title="tokens/s", template="plotly_white", height=450)
    return fig


def divergence_comparison(quality) -> go.Figure:
    """KL (mean, median, p99) and JS per quantized mode (log axis), and top-1 agreement."""
    df = _measured(quality)
    df = df[df["mode"] != "standard"]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.65, 0.35],
                        subplot_titles=("divergence from standard (nats/token)",
                                        "top-1 agreement with standard"))
    for col, label in (("kl_mean", "KL mean"), ("kl_median", "KL median"),
                       ("kl_p99", "KL p99"), ("js_mean", "JS mean")):
        if col in df.columns:
            fig.add_trace(go.Bar(x=df["mode"], y=df[col], name=label), row=1, col=1)
    if "top1_agreement" in df.columns:
        fig.add_trace(go.Bar(x=df["mode"], y=df["top1_agreement"], name="top-1 agreement",
                             error_y=dict(type="data", array=df.get("top1_agreement_err")),
                             showlegend=False), row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(barmode="group", template="plotly_white", height=430,
                      title="Next-token distribution fidelity")
    return fig


def layer_similarity(layers) -> go.Figure:
    """Cosine similarity and SNR (dB) of mean-pooled hidden states by layer, per mode."""
    df = layers[layers["mode"] != "standard"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("cosine similarity to standard",
                                                        "SNR (dB)"))
    for i, (mode, part) in enumerate(df.groupby("mode", sort=False)):
        color = pio.templates["plotly_white"].layout.colorway[i % 10]
        fig.add_trace(go.Scatter(x=part["layer"], y=part["cosine_mean"], mode="lines+markers",
                                 name=mode, legendgroup=mode, line=dict(color=color)),
                      row=1, col=1)
        snr = part["snr_db"].replace([np.inf], np.nan)
        fig.add_trace(go.Scatter(x=part["layer"], y=snr, mode="lines+markers", name=mode,
                                 legendgroup=mode, showlegend=False, line=dict(color=color)),
                      row=1, col=2)
    fig.update_xaxes(title_text="layer (0 = token embeddings)")
    fig.update_layout(template="plotly_white", height=420,
                      title="Embedding fidelity by layer (mean-pooled hidden states)")
    return fig

def roc_pr_figure(scores: pd.DataFrame, metrics: pd.DataFrame, title: str = "") -> go.Figure:
    """ROC (left) and precision-recall (right) curves, one line per model/method."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("ROC", "precision-recall"),
                        horizontal_spacing=0.08)
    overall = metrics[metrics["region_type"] == "all"].set_index(["model", "method"])
    colors = px.colors.qualitative.Plotly
    for i, ((model, method), group) in enumerate(scores.groupby(["model", "method"], sort=False)):
        pts = roc_pr_points(group["label"], group["pathogenicity"])
        m = overall.loc[(model, method)]
        name = f"{model} / {method}"
        color = colors[i % len(colors)]
        fig.add_trace(go.Scatter(x=pts["fpr"], y=pts["tpr"], mode="lines", legendgroup=name,
                                 name=f"{name} (AUROC {m['auroc']:.3f})", line=dict(color=color)),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=pts["recall"], y=pts["precision"], mode="lines",
                                 legendgroup=name, showlegend=False, line=dict(color=color),
                                 name=f"{name} (AUPRC {m['auprc']:.3f})"), row=1, col=2)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", showlegend=False,
                             line=dict(dash="dot", color="grey")), row=1, col=1)
    if len(scores):
        base = scores.groupby(["model", "method"])["label"].mean().iloc[0]
        fig.add_trace(go.Scatter(x=[0, 1], y=[base, base], mode="lines", showlegend=False,
                                 line=dict(dash="dot", color="grey")), row=1, col=2)
    fig.update_xaxes(title_text="false positive rate", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="true positive rate", range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(title_text="recall", range=[0, 1], row=1, col=2)
    fig.update_yaxes(title_text="precision", range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, height=480, template="plotly_white",
                      legend=dict(orientation="h", y=-0.2))
    return fig


def auroc_intervals(metrics: pd.DataFrame) -> go.Figure:
    """AUROC of each model/method on all variants with its bootstrap interval (whiskers),
    and the chance level 0.5."""
    overall = metrics[metrics["region_type"] == "all"]
    labels = overall["model"] + " / " + overall["method"]
    fig = go.Figure(go.Scatter(
        x=overall["auroc"], y=labels, mode="markers", marker=dict(size=10),
        error_x=dict(type="data", symmetric=False,
                     array=overall["auroc_high"] - overall["auroc"],
                     arrayminus=overall["auroc"] - overall["auroc_low"])))
    fig.add_vline(x=0.5, line_dash="dot", line_color="grey", annotation_text="chance")
    fig.update_layout(title="AUROC on all variants (bootstrap 95% interval)",
                      template="plotly_white", height=160 + 40 * len(overall),
                      xaxis=dict(title="AUROC", range=[0, 1]),
                      yaxis=dict(autorange="reversed"))
    return fig


def region_heatmap(metrics: pd.DataFrame, value: str = "auroc") -> go.Figure:
    """Model/method x region-type heat-map of `value` (AUROC by default)."""
    table = metrics.assign(row=metrics["model"] + " / " + metrics["method"]).pivot_table(
        index="row", columns="region_type", values=value, sort=False)
    cols = [c for c in table.columns if c != "all"] + (["all"] if "all" in table.columns else [])
    table = table[cols]
    text = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(table.to_numpy())
    fig = go.Figure(go.Heatmap(z=table.to_numpy(), x=cols, y=list(table.index), text=text,
                               texttemplate="%{text}", colorscale="RdBu", zmid=0.5,
                               zmin=0, zmax=1, colorbar=dict(title=value.upper())))
    fig.update_layout(title=f"{value.upper()} by region type", template="plotly_white",
                      height=120 + 40 * len(table), yaxis=dict(autorange="reversed"))
    return fig


def score_distributions(scores: pd.DataFrame) -> go.Figure:
    """Box plots of the pathogenicity score, benign vs pathogenic, per model/method."""
    groups = list(scores.groupby(["model", "method"], sort=False))
    fig = make_subplots(rows=1, cols=max(len(groups), 1), shared_yaxes=False,
                        subplot_titles=[f"{m}<br>{meth}" for (m, meth), _ in groups])
    for i, (_, group) in enumerate(groups):
        for label, color in ((0, "#4C78A8"), (1, "#E45756")):
            part = group[group["label"] == label]
            fig.add_trace(go.Box(x=part["region_type"], y=part["pathogenicity"],
                                 name="pathogenic" if label else "benign", marker_color=color,
                                 legendgroup=str(label), showlegend=i == 0, boxpoints=False),
                          row=1, col=i + 1)
    fig.update_layout(boxmode="group", template="plotly_white", height=420,
                      title="pathogenicity score by region type (higher = more damaging)",
                      width=max(700, 320 * len(groups)))
    fig.update_annotations(font_size=11)
    return fig
