"""Segmentations as lists of (start, end, label) and their scores."""

from __future__ import annotations

import torch

from genobench.semicrf._validate import check_inputs, check_lengths

Segment = tuple[int, int, int]
Segmentation = list[Segment]


def segments_from_labels(
    labels: torch.Tensor, lengths: torch.Tensor, max_duration: int, num_classes: int | None = None
) -> list[Segmentation]:
    """Turn per-position labels (B, T) into one segmentation per sequence.

    Runs of one label become segments; a run longer than ``max_duration`` is split
    into pieces of at most ``max_duration`` from its start (a self-transition joins them).
    With ``num_classes``, a label outside [0, C) within a length raises ValueError.
    """
    if labels.dim() != 2:
        raise ValueError(f"labels must have shape (B, T), got {tuple(labels.shape)}")
    if max_duration < 1:
        raise ValueError(f"max_duration must be >= 1, got {max_duration}")
    check_lengths(lengths, labels.shape[0], labels.shape[1])
    if num_classes is not None:
        inside = torch.arange(labels.shape[1])[None, :] < lengths.cpu()[:, None]
        bad = inside & ((labels.cpu() < 0) | (labels.cpu() >= num_classes))
        if bool(bad.any()):
            b, i = (int(v) for v in bad.nonzero()[0])
            raise ValueError(
                f"labels[{b}, {i}] = {int(labels[b, i])} lies outside [0, C) = [0, {num_classes}); "
                "labels must be class indices 0..C-1 within each length "
                "(padding past it is ignored)"
            )
    result: list[Segmentation] = []
    for row, length in zip(labels.tolist(), lengths.tolist()):
        segs: Segmentation = []
        start = 0
        for pos in range(1, length + 1):
            if pos == length or row[pos] != row[start] or pos - start == max_duration:
                segs.append((start, pos, int(row[start])))
                start = pos
        result.append(segs)
    return result


def labels_from_segments(
    segmentations: list[Segmentation], max_len: int, fill: int = -1
) -> torch.Tensor:
    """Per-position labels (B, max_len) from segmentations; positions past the end get ``fill``."""
    labels = torch.full((len(segmentations), max_len), fill, dtype=torch.long)
    for b, segs in enumerate(segmentations):
        for start, end, label in segs:
            labels[b, start:end] = label
    return labels


def check_segmentation(
    segs: Segmentation, length: int, max_duration: int, num_classes: int
) -> None:
    """Raise ValueError unless `segs` tiles [0, length) with 1 <= duration <= K and valid
    labels."""
    position = 0
    for start, end, label in segs:
        if (
            start != position
            or not 1 <= end - start <= max_duration
            or not 0 <= label < num_classes
        ):
            raise ValueError(
                f"segment {(start, end, label)} is invalid: segments must tile [0, {length}) "
                "in order, "
                f"with 1 <= end - start <= K = {max_duration} and 0 <= label < C = {num_classes}"
            )
        position = end
    if position != length:
        raise ValueError(f"segmentation ends at {position} but the sequence length is {length}")


def score_segmentation(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    segments: list[Segmentation],
) -> torch.Tensor:
    """Score (B,) of one segmentation per sequence; differentiable in all three score tensors."""
    batch, max_len, num_classes, max_duration = check_inputs(cum_scores, transition, duration_bias)
    if len(segments) != batch:
        raise ValueError(f"got {len(segments)} segmentations for a batch of {batch}")
    scores = []
    for b, segs in enumerate(segments):
        if not segs:
            raise ValueError(
                f"segmentation {b} is empty; every sequence needs at least one segment"
            )
        check_segmentation(segs, min(segs[-1][1], max_len), max_duration, num_classes)
        idx = torch.tensor(segs, dtype=torch.long, device=cum_scores.device)
        start, end, label = idx[:, 0], idx[:, 1], idx[:, 2]
        total = (cum_scores[b, end, label] - cum_scores[b, start, label]).sum()
        total = total + duration_bias[end - start - 1, label].sum()
        total = total + transition[label[:-1], label[1:]].sum()
        scores.append(total)
    return torch.stack(scores)
