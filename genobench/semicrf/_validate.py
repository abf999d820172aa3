"""Shape and range checks shared by every semi-CRF entry point."""

from __future__ import annotations

import torch


def check_inputs(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    lengths: torch.Tensor | None = None,
) -> tuple[int, int, int, int]:
    """Validate the score tensors (and lengths); return (B, T, C, K) or raise ValueError."""
    if cum_scores.dim() != 3:
        raise ValueError(
            f"cum_scores must have shape (B, T+1, C), got {tuple(cum_scores.shape)}; "
            "build it with torch.nn.functional.pad(emissions.cumsum(1), (0, 0, 1, 0))"
        )
    batch, t_plus_1, num_classes = cum_scores.shape
    if t_plus_1 < 2:
        raise ValueError(
            f"cum_scores has T = {t_plus_1 - 1} positions (shape {tuple(cum_scores.shape)}); "
            "T must be >= 1: pass at least one position (cum_scores[:, 0] is the zero row)"
        )
    if num_classes < 1 or batch < 1:
        raise ValueError(f"cum_scores shape {tuple(cum_scores.shape)} needs B >= 1 and C >= 1")
    if not cum_scores.is_floating_point():
        raise ValueError(
            f"cum_scores must be a float tensor, got {cum_scores.dtype}; "
            "convert it with cum_scores.float()"
        )
    if tuple(transition.shape) != (num_classes, num_classes):
        raise ValueError(
            f"transition must have shape (C, C) = ({num_classes}, {num_classes}) to match "
            f"cum_scores, got {tuple(transition.shape)}"
        )
    if duration_bias.dim() == 2 and duration_bias.shape[0] == 0:
        raise ValueError(
            "duration_bias has K = 0 rows: the maximum segment duration K must be >= 1 "
            "(row d-1 scores duration d); use K = 1 for a linear-chain CRF"
        )
    if duration_bias.dim() != 2 or duration_bias.shape[1] != num_classes:
        raise ValueError(
            f"duration_bias must have shape (K, C) with C = {num_classes} and K >= 1 "
            f"(row d-1 scores duration d), got {tuple(duration_bias.shape)}"
        )
    for name, tensor in (("transition", transition), ("duration_bias", duration_bias)):
        if tensor.device != cum_scores.device:
            raise ValueError(
                f"{name} is on {tensor.device} but cum_scores is on {cum_scores.device}; "
                f"move all score tensors to one device ({name}.to(cum_scores.device))"
            )
        if not tensor.is_floating_point():
            raise ValueError(
                f"{name} must be a float tensor, got {tensor.dtype}; convert it with .float()"
            )
    _check_values(cum_scores, transition, duration_bias)
    if lengths is not None:
        check_lengths(lengths, batch, t_plus_1 - 1)
    return batch, t_plus_1 - 1, num_classes, duration_bias.shape[0]


def _check_values(
    cum_scores: torch.Tensor, transition: torch.Tensor, duration_bias: torch.Tensor
) -> None:
    """NaN anywhere, or an infinite cum_score or +inf score, has no meaning (-inf forbids)."""
    with torch.no_grad():
        for name, tensor in (
            ("cum_scores", cum_scores),
            ("transition", transition),
            ("duration_bias", duration_bias),
        ):
            bad = tensor.isnan() | (tensor == float("inf"))
            if name == "cum_scores":
                bad |= tensor.isinf()
            if bool(bad.any()):
                index = tuple(int(i) for i in bad.nonzero()[0])
                raise ValueError(
                    f"{name} holds {tensor[index].item()} at index {index}; scores must be finite "
                    "(transition and duration_bias may use -inf to forbid a move): check the "
                    "emissions that produced them"
                )


def check_lengths(lengths: torch.Tensor, batch: int, max_len: int) -> None:
    """Raise ValueError unless lengths is an integer (B,) tensor with 1 <= length <= T."""
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(f"lengths must have shape (B,) = ({batch},), got {tuple(lengths.shape)}")
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be an integer tensor, got {lengths.dtype}")
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > max_len:
        raise ValueError(
            f"lengths must lie in [1, T] = [1, {max_len}], got min {low} and max {high}; "
            "pad the scores to the longest sequence and pass each true length"
        )
