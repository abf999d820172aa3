"""Run folders for the site's tests, written the way the runner writes them.

Besides the binning smoke run (tests/conftest.py), the site's tests need every kind of
run without running every notebook: ok, partial, failed without notebook, a good result
with a newer failed attempt, sweep points, and broken folders (a run.json that is not
JSON, one that is not a run record, a notebook that is not a notebook).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import plotly.graph_objects as go
import yaml

from genobench.report.results import RunOutputs

CDN_SCRIPT = '<script src="https://cdn.example.org/mathjax.js"></script>'


def figure(title: str) -> go.Figure:
    """A small line plot."""
    return go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], name=title)).update_layout(title=title)


def notebook(title: str, fig: go.Figure | None) -> nbformat.NotebookNode:
    """An executed notebook as papermill leaves it: parameters, injected parameters, and a
    figure shown by plotly's notebook renderer (plotly.js inlined once, CDN MathJax)."""
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell(f"# {title}"),
        v4.new_code_cell("seed = 0", metadata={"tags": ["parameters"]}),
        v4.new_code_cell("# Parameters\nseed = 1", metadata={"tags": ["injected-parameters"]}),
        v4.new_code_cell(
            "print('hello')", outputs=[v4.new_output("stream", name="stdout", text="hello\n")]
        ),
    ]
    if fig is not None:
        cells.append(
            v4.new_code_cell(
                "fig.show()",
                outputs=[
                    v4.new_output(
                        "display_data",
                        data={
                            "text/html": (
                                "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
                                "<script>/* plotly.js stand-in */</script>"
                            )
                        },
                    ),
                    v4.new_output(
                        "display_data",
                        data={
                            "application/vnd.plotly.v1+json": json.loads(fig.to_json()),
                            "text/html": f"<div>{CDN_SCRIPT}</div>",
                        },
                    ),
                ],
            )
        )
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def write_run(
    reports: Path,
    nb_name: str,
    name: str,
    status: str = "ok",
    error: str | None = None,
    headline: dict[str, Any] | None = None,
    fig: tuple[str, go.Figure] | None = None,
    with_notebook: bool = True,
    finished: str = "2026-01-02T03:04:05+00:00",
    **extra: Any,
) -> Path:
    """A run folder `runs/<nb_name>/<name>/` with run.json, params.yaml and, optionally, the
    executed notebook and a figure (written by `RunOutputs.figure`, as notebooks do)."""
    run_dir = reports / "runs" / nb_name / name
    out = RunOutputs(run_dir)
    (run_dir / "params.yaml").write_text(yaml.safe_dump({"seed": 1, "models": ["tnf"]}))
    if fig is not None:
        out.figure(fig[1], fig[0])
    if with_notebook:
        nbformat.write(
            notebook(f"{nb_name} {name}", fig[1] if fig else None), run_dir / f"{nb_name}.ipynb"
        )
    if error:
        (run_dir / "error.txt").write_text(f"Traceback (most recent call last):\n  ...\n{error}\n")
    record = {
        "notebook": nb_name,
        "params_name": name,
        "status": status,
        "error": error,
        "params_file": f"params/{nb_name}/{name}.yaml",
        "started": finished,
        "finished": finished,
        "duration_s": 12.5,
        "headline": headline,
        "git_commit": "0123456789abcdef",
        "device": {"cpu": "x86_64", "gpu": None},
        **extra,
    }
    (run_dir / "run.json").write_text(json.dumps(record))
    return run_dir


def failed_attempt(run_dir: Path, stamp: str, error: str) -> Path:
    """A failed attempt kept under `<run>/attempts/<stamp>-failed/`."""
    folder = run_dir / "attempts" / f"{stamp}-failed"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(
        json.dumps(
            {
                "notebook": run_dir.parent.name,
                "params_name": run_dir.name,
                "status": "failed",
                "error": error,
            }
        )
    )
    (folder / "error.txt").write_text(f"Traceback (most recent call last):\n{error}\n")
    return folder


def smoke_reports(target: Path, binning_reports: Path | None) -> Path:
    """A reports/ folder with one run of every kind (the binning smoke run copied in)."""
    if binning_reports is not None:
        shutil.copytree(binning_reports / "runs", target / "runs")
    write_run(
        target,
        "gradient_check",
        "smoke",
        headline={"metric": "check", "value": "PASS"},
        fig=("gradient_check", figure("error vs T")),
    )
    good = write_run(target, "gradient_check", "cpu", headline={"metric": "check", "value": "PASS"})
    failed_attempt(good, "20260105T000000Z", "RuntimeError: out of memory")
    failed_attempt(good, "20250101T000000Z", "RuntimeError: an older failure")
    write_run(
        target,
        "quantization",
        "smoke",
        status="partial",
        error="4bit_fp4: ValueError: no CUDA backend",
        headline={"metric": "KL mean (4bit_nf4 vs standard)", "value": 0.0123},
        fig=("pareto_tradeoff", figure("pareto")),
    )
    write_run(
        target, "esm_speed", "cpu", status="failed", with_notebook=False, error="ValueError: boom"
    )
    for T, status in ((100, "ok"), (1000, "failed")):
        write_run(
            target,
            "semicrf_synthetic",
            f"grid--T-{T}",
            status=status,
            error=None if status == "ok" else "ValueError: diverged",
            headline={"metric": "F1", "value": 0.5 + T / 10000},
            sweep={"params_name": "grid", "keys": ["T"], "values": {"T": T}},
        )
    bad = target / "runs" / "gfm_zeroshot" / "cpu"
    bad.mkdir(parents=True)
    (bad / "run.json").write_text('{"notebook": "gfm_zeroshot", ')  # cut off mid-write
    foreign = target / "runs" / "gfm_zeroshot" / "foreign"
    foreign.mkdir(parents=True)
    (foreign / "run.json").write_text("[1, 2, 3]")
    corrupt = write_run(target, "binning", "corrupt")
    (corrupt / "binning.ipynb").write_text("this is not a notebook")
    return target
