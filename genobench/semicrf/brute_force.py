"""Slow, obviously-correct oracles for the semi-CRF.

``brute_force`` enumerates every segmentation (T <= 8) and gives log Z, the best
segmentation and exact marginals; ``naive_log_partition`` is the plain
O(T K C^2) dynamic program with autograd doing the backward, the gradient
oracle for medium sizes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from genobench.semicrf._validate import check_inputs
from genobench.semicrf.segments import Segmentation

MAX_BRUTE_FORCE_LENGTH = 8


def enumerate_segmentations(
    length: int, max_duration: int, num_classes: int
) -> Iterator[Segmentation]:
    """Yield every segmentation of [0, length) with durations 1..K and labels 0..C-1."""
    if length == 0:
        yield []
        return
    for duration in range(1, min(max_duration, length) + 1):
        for rest in enumerate_segmentations(length - duration, max_duration, num_classes):
            for label in range(num_classes):
                yield rest + [(length - duration, length, label)]


def plain_score(
    cum: list[list[float]],
    transition: list[list[float]],
    duration_bias: list[list[float]],
    segs: Segmentation,
) -> float:
    """Score of one segmentation with plain Python arithmetic (cum is (T+1, C) as lists)."""
    total = 0.0
    for i, (start, end, label) in enumerate(segs):
        total += cum[end][label] - cum[start][label] + duration_bias[end - start - 1][label]
        if i > 0:
            total += transition[segs[i - 1][2]][label]
    return total


@dataclass
class BruteForceResult:
    """Exact quantities by enumeration; marginals are zero past each length."""

    log_z: torch.Tensor  # (B,)
    best_score: torch.Tensor  # (B,)
    best_segmentation: list[Segmentation]
    label_marginals: torch.Tensor  # (B, T, C): P(position i has label c)
    boundary_marginals: torch.Tensor  # (B, T): P(a segment starts at position i)


def brute_force(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    lengths: torch.Tensor,
) -> BruteForceResult:
    """Enumerate all segmentations of each sequence (length <= 8) in float64."""
    batch, max_len, num_classes, max_duration = check_inputs(
        cum_scores, transition, duration_bias, lengths
    )
    if int(lengths.max()) > MAX_BRUTE_FORCE_LENGTH:
        raise ValueError(f"brute force enumerates lengths <= {MAX_BRUTE_FORCE_LENGTH} only")
    trans = transition.double().tolist()
    dur = duration_bias.double().tolist()
    log_z, best_scores, best_segs = [], [], []
    label_marg = torch.zeros(batch, max_len, num_classes, dtype=torch.float64)
    boundary_marg = torch.zeros(batch, max_len, dtype=torch.float64)
    for b in range(batch):
        cum = cum_scores[b].double().tolist()
        segmentations = list(enumerate_segmentations(int(lengths[b]), max_duration, num_classes))
        scores = [plain_score(cum, trans, dur, segs) for segs in segmentations]
        top = max(scores)
        lz = top + math.log(sum(math.exp(s - top) for s in scores))
        for segs, score in zip(segmentations, scores):
            prob = math.exp(score - lz)
            for start, end, label in segs:
                label_marg[b, start:end, label] += prob
                boundary_marg[b, start] += prob
        best = max(range(len(scores)), key=scores.__getitem__)
        log_z.append(lz)
        best_scores.append(top)
        best_segs.append(segmentations[best])
    return BruteForceResult(
        torch.tensor(log_z, dtype=torch.float64),
        torch.tensor(best_scores, dtype=torch.float64),
        best_segs,
        label_marg,
        boundary_marg,
    )


def naive_log_partition(
    cum_scores: torch.Tensor,
    transition: torch.Tensor,
    duration_bias: torch.Tensor,
    lengths: torch.Tensor,
) -> torch.Tensor:
    """log Z (B,) by the textbook semi-CRF recursion, differentiated by autograd.

    alpha[t, c] = logsumexp over d, c' of alpha[t-d, c'] + transition[c', c] + segment(t-d, t, c),
    with the first segment taking no transition.
    """
    _, max_len, _, max_duration = check_inputs(cum_scores, transition, duration_bias, lengths)
    alphas: list[torch.Tensor] = []  # alphas[t-1] = alpha[t], shape (B, C)
    for t in range(1, max_len + 1):
        terms = []
        for d in range(1, min(max_duration, t) + 1):
            segment = cum_scores[:, t] - cum_scores[:, t - d] + duration_bias[d - 1]
            if t - d == 0:
                terms.append(segment)
            else:
                incoming = torch.logsumexp(alphas[t - d - 1].unsqueeze(2) + transition, dim=1)
                terms.append(incoming + segment)
        alphas.append(torch.logsumexp(torch.stack(terms), dim=0))
    final = torch.stack(alphas, dim=1)[torch.arange(len(lengths)), lengths.long() - 1]
    return torch.logsumexp(final, dim=-1)
