"""Public functions: log partition (differentiable), posteriors, Viterbi, backend choice."""

from __future__ import annotations

import os

import torch

from genobench.semicrf import reference
from genobench.semicrf._validate import check_inputs
from genobench.semicrf.segments import Segmentation

BACKENDS = ("auto", "reference", "triton")


def triton_available(device: torch.device | str = "cuda") -> tuple[bool, str]:
    """Whether the Triton backend can run on ``device``, and why not when it cannot."""
    try:
        import triton  # noqa: F401
    except ImportError as err:
        return (
            False,
            f"triton is not importable ({err}); pip install the triton version pinned in "
            "requirements",
        )
    if torch.device(device).type == "cuda":
        if not torch.cuda.is_available():
            return (
                False,
                "no CUDA device (set TRITON_INTERPRET=1 to run the kernels on CPU tensors, slowly)",
            )
        return True, "triton on CUDA"
    if os.environ.get("TRITON_INTERPRET") == "1":
        return True, "triton interpreter on CPU (TRITON_INTERPRET=1)"
    return False, "tensors are on the CPU and TRITON_INTERPRET is not 1"


def resolve_backend(backend: str, device: torch.device) -> str:
    """Map `backend` ("auto", "reference", "triton") to the one that will run, or raise
    ValueError."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "triton" if device.type == "cuda" and triton_available(device)[0] else "reference"
    if backend == "triton":
        usable, reason = triton_available(device)
        if not usable:
            raise ValueError(f"backend 'triton' cannot run: {reason}; use backend='reference'")
    return backend


def _interval(checkpoint_interval: int | None, max_len: int, max_duration: int) -> int:
    if checkpoint_interval is None:
        return reference.default_interval(max_len, max_duration)
    if checkpoint_interval < 1:
        raise ValueError(
            f"checkpoint_interval must be >= 1 (or None for ~sqrt(T K)), got {checkpoint_interval}"
        )
    return min(int(checkpoint_interval), max_len)


def log_partition(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    lengths: torch.Tensor,
    backend: str = "auto",
    checkpoint_interval: int | None = None,
) -> torch.Tensor:
    """log Z (B,) of the semi-CRF, differentiable in cum_scores, transition and duration_bias.

    ``checkpoint_interval`` sets how many steps lie between saved forward states
    (default ~ sqrt(T K)) in the Triton backend; it changes memory and time, never the result
    (the reference keeps every forward message and ignores it).
    """
    _, max_len, _, max_duration = check_inputs(cum_scores, transition, duration_bias, lengths)
    interval = _interval(checkpoint_interval, max_len, max_duration)
    if resolve_backend(backend, cum_scores.device) == "triton":
        from genobench.semicrf import triton_backend

        return triton_backend.TritonLogPartition.apply(
            cum_scores, transition, duration_bias, lengths, interval
        )
    return reference.ReferenceLogPartition.apply(cum_scores, transition, duration_bias, lengths)


def log_partition_with_grads(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    lengths: torch.Tensor,
    backend: str = "auto",
    checkpoint_interval: int | None = None,
) -> dict[str, torch.Tensor]:
    """log Z and its gradients (of log Z summed over the batch) as a dict; for backend
    comparisons."""
    leaves = [
        t.detach().clone().requires_grad_(True) for t in (cum_scores, transition, duration_bias)
    ]
    log_z = log_partition(
        *leaves, lengths, backend=backend, checkpoint_interval=checkpoint_interval
    )
    grads = torch.autograd.grad(log_z.sum(), leaves)
    return {
        "log_z": log_z.detach(),
        "grad_cum_scores": grads[0],
        "grad_transition": grads[1],
        "grad_duration_bias": grads[2],
    }


def compare_backends(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    lengths: torch.Tensor,
    backends: tuple[str, str] = ("reference", "triton"),
    checkpoint_interval: int | None = None,
) -> dict[str, float]:
    """Largest absolute and relative differences between two backends in log Z and each gradient."""
    first, second = (
        log_partition_with_grads(
            cum_scores, transition, duration_bias, lengths, name, checkpoint_interval
        )
        for name in backends
    )
    report: dict[str, float] = {}
    for key, value in first.items():
        diff = (value.double() - second[key].double()).abs().max().item()
        scale = value.double().abs().max().item()
        report[f"{key}_max_abs_diff"] = diff
        report[f"{key}_max_rel_diff"] = diff / scale if scale > 0 else diff
    return report


def posteriors(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    lengths: torch.Tensor,
    checkpoint_interval: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position label posteriors (B, T, C) and P(a segment starts at position i) (B, T).

    Computed by the reference kernels. Label posteriors are d logZ / d emissions, i.e. reverse
    cumulative sums of d logZ / d cum_scores; a segment starts at i > 0 exactly when one ends
    there, and always at i = 0. Positions past a sequence's length get zeros.
    """
    _, max_len, _, max_duration = check_inputs(cum_scores, transition, duration_bias, lengths)
    _interval(
        checkpoint_interval, max_len, max_duration
    )  # validated; the reference keeps every message
    state = reference.forward(cum_scores, transition, duration_bias, lengths)
    g_cum, _, _, p_end = (torch.from_numpy(a) for a in reference.backward(state))
    labels = g_cum[:, 1:].flip(1).cumsum(1).flip(1)
    boundary = p_end[:, :-1].clone()
    boundary[:, 0] = 1.0
    inside = torch.arange(max_len)[None, :] < lengths.cpu()[:, None]
    boundary = torch.where(inside, boundary, torch.zeros_like(boundary))
    return (
        labels.to(cum_scores.device, cum_scores.dtype),
        boundary.to(cum_scores.device, cum_scores.dtype),
    )


def viterbi(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    lengths: torch.Tensor,
) -> tuple[torch.Tensor, list[Segmentation]]:
    """Best score (B,) and the best segmentation of each sequence (list of (start, end, label))."""
    check_inputs(cum_scores, transition, duration_bias, lengths)
    return reference.viterbi(cum_scores, transition, duration_bias, lengths)
