"""Time semi-CRF log partition forward+backward across backends; write a CSV and a plot.

    python benchmarks/semicrf_speed.py benchmarks/semicrf_speed.csv            # full table
    python benchmarks/semicrf_speed.py /tmp/quick.csv --quick                   # ~1 minute

Backends, all in this process on the same inputs: genobench reference (numba, CPU),
genobench Triton (CUDA, or TRITON_INTERPRET=1), flash-semicrf 0.2.0 (its own Triton kernels
on CUDA, its PyTorch path on CPU) and pytorch-crf (only at K = 1, where a semi-CRF is a
linear CRF). Each timing is a warm-up run then ``--repeats`` timed runs (CUDA synchronized):
the table gives min, median and max and the 1-minute load average when the row was timed.
flash-semicrf computes a different log Z on the same inputs (it starts every label from
label 0 and charges the first segment a transition; with zero transitions its log Z is ours
+ log C, checked in tests/test_semicrf_speed.py): only its time is compared. ``--budget-s`` bounds
the whole run: a row whose warm-up and repeats, extrapolated from the backend's last timed
row (`predicted_call_s`), would not end within what is left of it is skipped with that
reason. Peak memory is torch.cuda.max_memory_allocated on GPU; on
CPU it is not measured per call (NaN).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from genobench.benchmarks.gradient_check import random_problem
from genobench.profiling.timing import summarize_times, time_repeats
from genobench.semicrf import log_partition, triton_available

QUICK = {"shapes": "1000x1,1000x100,10000x100", "repeats": 3}
FULL = {"shapes": "1000x1,1000x100,10000x100,20000x100,100000x100,100000x1000", "repeats": 5}


def _leaves(problem) -> list[torch.Tensor]:
    return [
        t.detach().clone().requires_grad_(True)
        for t in (problem.cum_scores, problem.transition, problem.duration_bias)
    ]


def genobench_runner(backend: str, problem) -> Callable[[], None]:
    """Forward + backward of genobench's log partition on `backend`."""
    leaves = _leaves(problem)

    def run() -> None:
        log_partition(*leaves, problem.lengths, backend=backend).sum().backward()

    return run


def flash_semicrf_runner(problem) -> Callable[[], None]:
    """Forward + backward of flash-semicrf's streaming log partition (Triton on CUDA)."""
    from flash_semicrf import semi_crf_streaming_forward

    leaves = _leaves(problem)
    max_duration = problem.duration_bias.shape[0]
    use_triton = problem.cum_scores.is_cuda

    def run() -> None:
        semi_crf_streaming_forward(
            *leaves, problem.lengths, max_duration, use_triton=use_triton
        ).sum().backward()

    return run


def pytorch_crf_runner(problem) -> Callable[[], None]:
    """pytorch-crf's normalizer with zero start/end scores (equal to our log Z at K = 1)."""
    import torchcrf

    emissions = problem.cum_scores.diff(dim=1)
    crf = torchcrf.CRF(emissions.shape[-1], batch_first=True).to(emissions.device, emissions.dtype)
    with torch.no_grad():
        crf.start_transitions.zero_()
        crf.end_transitions.zero_()
        crf.transitions.copy_(problem.transition)
    steps = torch.arange(emissions.shape[1], device=emissions.device)
    mask = (steps[None, :] < problem.lengths[:, None]).T
    leaf = emissions.detach().clone().requires_grad_(True)

    def run() -> None:
        crf._compute_normalizer(leaf.transpose(0, 1), mask).sum().backward()

    return run


def available_backends(device: torch.device, max_duration: int) -> dict[str, str | None]:
    """Backend name -> None if it can run here, else the reason it cannot."""
    usable, reason = triton_available(device)
    out: dict[str, str | None] = {"reference": None, "triton": None if usable else reason}
    try:
        import flash_semicrf  # noqa: F401

        out["flash-semicrf"] = None
    except ImportError as err:
        out["flash-semicrf"] = f"not installed ({err}); pip install flash-semicrf==0.2.0"
    if max_duration == 1:
        try:
            import torchcrf  # noqa: F401

            out["pytorch-crf"] = None
        except ImportError as err:
            out["pytorch-crf"] = f"not installed ({err}); pip install pytorch-crf==0.7.2"
    return out


RUNNERS = {
    "reference": lambda p: genobench_runner("reference", p),
    "triton": lambda p: genobench_runner("triton", p),
    "flash-semicrf": flash_semicrf_runner,
    "pytorch-crf": pytorch_crf_runner,
}


def parse_shapes(text: str) -> list[tuple[int, int]]:
    """ "1000x100,20000x100" -> [(1000, 100), (20000, 100)]."""
    try:
        shapes = [tuple(int(v) for v in item.split("x")) for item in text.split(",")]
    except ValueError:
        shapes = []
    if not shapes or any(len(s) != 2 or min(s) < 1 for s in shapes):
        raise SystemExit(
            f"--shapes must look like 1000x100,20000x100 (T x K, both >= 1), got {text!r}"
        )
    return shapes  # type: ignore[return-value]


def predicted_call_s(
    timed: tuple[int, int, int, float], max_len: int, max_duration: int, batch: int
) -> float:
    """Seconds of one call at (T, K, B), from one timed call `timed` = (T, K, B, seconds):
    the larger of the two extrapolations, time in proportion to T*K (a GPU runs the batch in
    parallel) and to T*K*B (a CPU runs it in turn)."""
    t0, k0, b0, seconds = timed
    per_tk = seconds * max_len * max_duration / (t0 * k0)
    return max(per_tk, per_tk * batch / b0)


def time_shapes(
    shapes: list[tuple[int, int]],
    batches: list[int],
    classes: int,
    repeats: int,
    dtype: torch.dtype,
    device: torch.device,
    budget_s: float,
    backends: list[str] | None = None,
) -> pd.DataFrame:
    """One row per (backend, T, K, B): seconds (min, median, max, n) or why it was skipped.

    No row starts whose warm-up and `repeats` are predicted to end after `budget_s` seconds
    from the call's start."""
    rows, last = [], {}  # backend -> (T, K, B, median seconds) of its last timed row
    started = time.monotonic()
    for max_len, max_duration in shapes:
        for batch in batches:
            problem = random_problem(
                batch,
                max_len,
                max_duration,
                classes,
                seed=0,
                device=str(device),
                dtype=dtype,
                variable_lengths=False,
            )
            for name, reason in available_backends(device, max_duration).items():
                if backends and name not in backends:
                    continue
                row = {
                    "backend": name,
                    "T": max_len,
                    "K": max_duration,
                    "B": batch,
                    "C": classes,
                    "dtype": str(dtype).removeprefix("torch."),
                    "device": device.type,
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                }
                left = budget_s - (time.monotonic() - started)
                if reason is None and name in last:
                    need = (1 + repeats) * predicted_call_s(
                        last[name], max_len, max_duration, batch
                    )
                    if need > left:
                        reason = (
                            f"skipped: extrapolated {need:.0f} s (warm-up and {repeats} repeats)"
                            f" > {max(left, 0):.0f} s left of --budget-s {budget_s:.0f} s"
                        )
                if reason is not None:
                    rows.append({**row, "status": "skipped", "reason": reason})
                    print(rows[-1], flush=True)
                    continue
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                stats = summarize_times(
                    time_repeats(RUNNERS[name](problem), 1, repeats, str(device))
                )
                # the last shape, not the first: at K = 1 fixed per-step costs make T*K*B
                # a poor guide
                last[name] = (max_len, max_duration, batch, stats["median_s"])
                peak = (
                    torch.cuda.max_memory_allocated(device) / 2**20
                    if device.type == "cuda"
                    else math.nan
                )
                rows.append(
                    {
                        **row,
                        "status": "ok",
                        "reason": "",
                        "median_s": stats["median_s"],
                        "min_s": stats["min_s"],
                        "max_s": stats["max_s"],
                        "repeats": stats["n"],
                        "peak_mem_mb": peak,
                    }
                )
                print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, path: Path) -> None:
    """Time vs T per backend and K (log-log, min-max bars): a self-contained HTML page (~5 MB,
    plotly.js inlined) and the figure as JSON beside it (small enough to commit;
    ``plotly.io.read_json`` reads it back)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ok = table[table["status"] == "ok"]
    for (name, max_duration, batch), g in ok.groupby(["backend", "K", "B"]):
        g = g.sort_values("T")
        fig.add_trace(
            go.Scatter(
                x=g["T"],
                y=g["median_s"],
                mode="lines+markers",
                name=f"{name}, K={max_duration}, B={batch}",
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=g["max_s"] - g["median_s"],
                    arrayminus=g["median_s"] - g["min_s"],
                ),
            )
        )
    fig.update_layout(
        title="semi-CRF log Z forward+backward: median time (bars: min-max)",
        xaxis_title="T",
        yaxis_title="seconds",
        xaxis_type="log",
        yaxis_type="log",
    )
    fig.write_html(path, include_plotlyjs=True)
    fig.write_json(path.with_suffix(".json"))


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv_path", type=Path)
    parser.add_argument("--quick", action="store_true", help=f"small shapes: {QUICK['shapes']}")
    parser.add_argument("--shapes", help=f"TxK,TxK,... (default {FULL['shapes']})")
    parser.add_argument("--batch", default="2", help="batch sizes, e.g. 1,2,4,8,16")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--backends", help="comma-separated subset of " + ",".join(RUNNERS))
    parser.add_argument(
        "--budget-s",
        type=float,
        default=120.0,
        help="time budget of the whole run: a row predicted to end later is skipped",
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    table = time_shapes(
        parse_shapes(args.shapes or preset["shapes"]),
        [int(b) for b in args.batch.split(",")],
        args.classes,
        args.repeats or preset["repeats"],
        getattr(torch, args.dtype),
        torch.device(args.device),
        args.budget_s,
        args.backends.split(",") if args.backends else None,
    )
    args.csv_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv_path, index=False)
    plot(table, args.csv_path.with_suffix(".html"))
    return table


if __name__ == "__main__":
    main()
