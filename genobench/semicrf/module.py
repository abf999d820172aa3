"""``SemiCRF``: a semi-Markov CRF layer over per-position emissions."""

from __future__ import annotations

import torch
from torch import nn

from genobench.semicrf import api
from genobench.semicrf._validate import check_lengths
from genobench.semicrf.segments import (
    Segmentation,
    labels_from_segments,
    score_segmentation,
    segments_from_labels,
)


def cumulative_scores(emissions: torch.Tensor) -> torch.Tensor:
    """(B, T+1, C) prefix sums of emissions centred per position (minus their mean over labels).

    Subtracting a per-position constant shifts every segmentation's score by the same amount,
    so NLL, posteriors and decoding are unchanged while the sums stay small in float32.
    """
    centred = emissions - emissions.mean(dim=-1, keepdim=True)
    return nn.functional.pad(centred.cumsum(dim=1), (0, 0, 1, 0))


class SemiCRF(nn.Module):
    """Semi-CRF with learned transitions and (optionally) learned duration biases.

    ``max_duration`` = K bounds a segment's length (longer runs are several segments joined by
    a self-transition); K = 1 with a zero duration bias is exactly a linear-chain CRF without
    start/end scores. ``learn_duration=False`` fixes the duration bias at zero (uniform).
    """

    def __init__(
        self,
        num_classes: int,
        max_duration: int,
        learn_duration: bool = True,
        backend: str = "auto",
    ):
        super().__init__()
        if num_classes < 1 or max_duration < 1:
            raise ValueError(
                f"need num_classes >= 1 and max_duration >= 1, got {num_classes}, {max_duration}"
            )
        if backend not in api.BACKENDS:
            raise ValueError(
                f"unknown backend {backend!r}; choose one of {', '.join(api.BACKENDS)}"
            )
        self.num_classes = num_classes
        self.max_duration = max_duration
        self.backend = backend
        self.transition = nn.Parameter(torch.zeros(num_classes, num_classes))
        duration = torch.zeros(max_duration, num_classes)
        if learn_duration:
            self.duration_bias = nn.Parameter(duration)
        else:
            self.register_buffer("duration_bias", duration)

    def _cum(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if emissions.dim() != 3 or emissions.shape[-1] != self.num_classes:
            raise ValueError(
                f"emissions must have shape (B, T, C) with C = {self.num_classes}, "
                f"got {tuple(emissions.shape)}"
            )
        check_lengths(lengths, emissions.shape[0], emissions.shape[1])
        return cumulative_scores(emissions)

    def log_partition(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """log Z (B,) of the uncentred emissions."""
        cum = self._cum(emissions, lengths)
        shift = (
            emissions.mean(dim=-1)
            .cumsum(dim=1)
            .gather(1, lengths.long().to(emissions.device)[:, None] - 1)
        )
        log_z = api.log_partition(
            cum, self.transition, self.duration_bias, lengths, backend=self.backend
        )
        return log_z + shift.squeeze(1)

    def nll(
        self, emissions: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """Mean over the batch of log Z - score(gold segmentation from ``labels`` (B, T))."""
        cum = self._cum(emissions, lengths)
        segments = segments_from_labels(labels, lengths, self.max_duration, self.num_classes)
        gold = score_segmentation(cum, self.transition, self.duration_bias, segments)
        log_z = api.log_partition(
            cum, self.transition, self.duration_bias, lengths, backend=self.backend
        )
        return (log_z - gold).mean()

    @torch.no_grad()
    def decode(
        self, emissions: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[list[Segmentation], torch.Tensor]:
        """Viterbi segmentations and per-position labels (B, T), -1 past each length."""
        cum = self._cum(emissions, lengths)
        _, segmentations = api.viterbi(cum, self.transition, self.duration_bias, lengths)
        labels = labels_from_segments(segmentations, emissions.shape[1]).to(emissions.device)
        return segmentations, labels

    @torch.no_grad()
    def marginals(
        self, emissions: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Label posteriors (B, T, C) and segment-start posteriors (B, T); zeros past each
        length."""
        cum = self._cum(emissions, lengths)
        return api.posteriors(cum, self.transition, self.duration_bias, lengths)
