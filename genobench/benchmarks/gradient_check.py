"""Gradient check of a semi-CRF backend against the reference: errors, PASS/FAIL, time, memory.

The "candidate" backend is Triton where it can run; otherwise the naive autograd DP
(`brute_force.naive_log_partition`) checks the reference itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch
from tqdm.auto import tqdm

from genobench.profiling.timing import time_call
from genobench.semicrf.api import log_partition
from genobench.semicrf.brute_force import naive_log_partition
from genobench.status import FAIL, PASS

# criterion -> pass threshold (a value below it passes)
CRITERIA = {
    "log_z_max_rel_err": 1e-4,
    "grad_transition_max_rel_err": 1e-2,
    "grad_duration_bias_max_rel_err": 1e-2,
    "grad_cum_scores_mae": 1e-3,
}
SCORE_NAMES = ("cum_scores", "transition", "duration_bias")


@dataclass
class Problem:
    """Random semi-CRF scores of one shape."""

    cum_scores: torch.Tensor
    transition: torch.Tensor
    duration_bias: torch.Tensor
    lengths: torch.Tensor


def random_problem(
    batch: int,
    max_len: int,
    max_duration: int,
    num_classes: int,
    seed: int,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    variable_lengths: bool = True,
) -> Problem:
    """Seeded random scores; with `variable_lengths` the first sequence has length T and the
    others a random length in [T/2, T]."""
    gen = torch.Generator().manual_seed(seed)
    emissions = torch.randn(batch, max_len, num_classes, generator=gen, dtype=torch.float64)
    cum = torch.nn.functional.pad(emissions.cumsum(1), (0, 0, 1, 0))
    transition = torch.randn(num_classes, num_classes, generator=gen, dtype=torch.float64)
    duration_bias = torch.randn(max_duration, num_classes, generator=gen, dtype=torch.float64)
    lengths = torch.full((batch,), max_len, dtype=torch.long)
    if variable_lengths and batch > 1:
        lengths[1:] = torch.randint(max(1, max_len // 2), max_len + 1, (batch - 1,), generator=gen)
    to = dict(device=device, dtype=dtype)
    return Problem(cum.to(**to), transition.to(**to), duration_bias.to(**to), lengths.to(device))


def run_backend(
    backend: str, problem: Problem, checkpoint_interval: int | None = None
) -> dict[str, torch.Tensor | float]:
    """log Z, the gradients of sum(log Z), seconds of forward+backward and peak memory (MB).

    `backend` is "reference", "triton" or "naive" (autograd through the textbook DP).
    Peak memory is CUDA's max allocated; on CPU it is NaN (the process peak is not per call).
    """
    device = problem.cum_scores.device
    leaves = [getattr(problem, f"{n}").detach().clone().requires_grad_(True) for n in SCORE_NAMES]
    on_cuda = device.type == "cuda"
    if on_cuda:
        torch.cuda.reset_peak_memory_stats(device)

    def forward_backward():
        if backend == "naive":
            log_z = naive_log_partition(*leaves, problem.lengths)
        else:
            log_z = log_partition(
                *leaves, problem.lengths, backend=backend, checkpoint_interval=checkpoint_interval
            )
        return log_z.detach(), torch.autograd.grad(log_z.sum(), leaves)

    seconds, (log_z, grads) = time_call(forward_backward, str(device))
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if on_cuda else math.nan
    return {
        "log_z": log_z,
        **{f"grad_{n}": g for n, g in zip(SCORE_NAMES, grads)},
        "seconds": seconds,
        "peak_mem_mb": peak,
    }


def _max_rel(ref: torch.Tensor, other: torch.Tensor) -> float:
    return ((ref - other).abs().max() / ref.abs().max().clamp(min=1e-30)).item()


def error_metrics(ref: dict, other: dict) -> dict[str, float]:
    """Errors of `other` against `ref`: log Z max relative (elementwise), transition and
    duration-bias max relative (to the largest reference entry), cum-score gradient mean
    absolute, max absolute and max elementwise relative."""
    r = {k: v.double() for k, v in ref.items() if torch.is_tensor(v)}
    o = {k: v.double() for k, v in other.items() if torch.is_tensor(v)}
    diff_cum = (r["grad_cum_scores"] - o["grad_cum_scores"]).abs()
    return {
        "log_z_max_rel_err": ((r["log_z"] - o["log_z"]).abs() / r["log_z"].abs()).max().item(),
        "grad_transition_max_rel_err": _max_rel(r["grad_transition"], o["grad_transition"]),
        "grad_duration_bias_max_rel_err": _max_rel(
            r["grad_duration_bias"], o["grad_duration_bias"]
        ),
        "grad_cum_scores_mae": diff_cum.mean().item(),
        "grad_cum_scores_max_abs_err": diff_cum.max().item(),
        "grad_cum_scores_max_elem_rel_err": (diff_cum / r["grad_cum_scores"].abs().clamp(min=1e-30))
        .max()
        .item(),
    }


def verdicts(errors: dict[str, float]) -> dict[str, str]:
    """PASS/FAIL per criterion of CRITERIA (NaN fails)."""
    return {
        f"{name}_pass": PASS if errors[name] < limit else FAIL for name, limit in CRITERIA.items()
    }


def gradient_check(
    max_len: int,
    max_duration: int,
    num_classes: int,
    batch: int,
    seed: int,
    candidate: str,
    device: str = "cpu",
    checkpoint_interval: int | None = None,
) -> dict[str, float | str | int]:
    """One row of the gradient-check table: `candidate` vs "reference" at one shape."""
    dtype = torch.float64 if candidate == "naive" else torch.float32
    problem = random_problem(batch, max_len, max_duration, num_classes, seed, device, dtype)
    ref = run_backend("reference", problem, checkpoint_interval)
    other = run_backend(candidate, problem, checkpoint_interval)
    errors = error_metrics(ref, other)
    return {
        "T": max_len,
        "K": max_duration,
        "C": num_classes,
        "B": batch,
        "dtype": str(dtype).removeprefix("torch."),
        "candidate": candidate,
        **errors,
        **verdicts(errors),
        "reference_s": ref["seconds"],
        "candidate_s": other["seconds"],
        "reference_peak_mem_mb": ref["peak_mem_mb"],
        "candidate_peak_mem_mb": other["peak_mem_mb"],
    }


def choose_candidate(device: str) -> tuple[str, str]:
    """("triton", why) where Triton can run on a CUDA `device`; else ("naive", why): the
    reference is then checked against the naive autograd DP in float64."""
    from genobench.semicrf import triton_available

    ok, reason = triton_available(device)
    if ok and device.startswith("cuda"):
        return "triton", f"Checking Triton against the reference on {device}: {reason}."
    return "naive", (
        f"Triton is not checked here: {reason}.\n"
        "Checking the reference against the naive autograd DP instead (float64)."
    )


def check_table(
    seq_lengths: list[int],
    max_duration: int,
    num_classes: int,
    batch: int,
    seed: int,
    candidate: str,
    device: str = "cpu",
    checkpoint_interval: int | None = None,
) -> pd.DataFrame:
    """`gradient_check` at each T of `seq_lengths` (seed + i for the i-th), after one small
    untimed call that compiles the kernels (numba on CPU, Triton on GPU)."""
    gradient_check(16, 4, num_classes, batch, seed, candidate, device)
    return pd.DataFrame(
        [
            gradient_check(
                T,
                max_duration,
                num_classes,
                batch,
                seed + i,
                candidate,
                device,
                checkpoint_interval,
            )  # fmt: skip
            for i, T in enumerate(tqdm(seq_lengths, desc="gradient check"))
        ]
    )


def overall_verdict(table: pd.DataFrame) -> str:
    """PASS when every criterion passed at every T, else FAIL."""
    return PASS if table[[f"{c}_pass" for c in CRITERIA]].eq(PASS).all(axis=None) else FAIL
