"""Output heads over per-position emissions (B, T, C), and the five benchmark models.

| model           | head                                                                |
| --------------- | ------------------------------------------------------------------- |
| softmax         | per-position cross-entropy; decode = argmax                          |
| pytorch-crf     | `torchcrf.CRF` (linear CRF with its own start/end scores); Viterbi   |
| linear          | genobench `SemiCRF` with K = 1 (a linear CRF, no start/end); Viterbi |
| semicrf         | `SemiCRF` with K = max_duration and a learned duration bias; Viterbi  |
| semicrf_uniform | same K, duration bias fixed at zero (ablation); Viterbi               |

Every head's `loss` is per position: the batch-mean NLL (or cross-entropy sum) divided by
the mean sequence length, so training curves of different heads share a scale.
`decode` returns (B, T) labels with -1 past each sequence's length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MODELS = ("softmax", "pytorch-crf", "linear", "semicrf", "semicrf_uniform")


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, T) bool, True inside each sequence."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class SoftmaxHead(nn.Module):
    def loss(self, emissions, lengths, labels):
        mask = length_mask(lengths.to(emissions.device), emissions.shape[1])
        return F.cross_entropy(emissions[mask], labels.to(emissions.device)[mask].long())

    @torch.no_grad()
    def decode(self, emissions, lengths):
        mask = length_mask(lengths.to(emissions.device), emissions.shape[1])
        return torch.where(mask, emissions.argmax(-1), torch.full_like(mask, -1, dtype=torch.long))


class TorchCRFHead(nn.Module):
    """pytorch-crf's linear-chain CRF (learned transitions and start/end scores)."""

    def __init__(self, num_classes: int):
        super().__init__()
        from torchcrf import CRF

        self.crf = CRF(num_classes, batch_first=True)

    def loss(self, emissions, lengths, labels):
        lengths = lengths.to(emissions.device)
        mask = length_mask(lengths, emissions.shape[1])
        nll = -self.crf(
            emissions, labels.to(emissions.device).long().clamp(min=0), mask=mask, reduction="mean"
        )
        return nll / lengths.float().mean()

    @torch.no_grad()
    def decode(self, emissions, lengths):
        mask = length_mask(lengths.to(emissions.device), emissions.shape[1])
        paths = self.crf.decode(emissions, mask=mask)
        out = torch.full(mask.shape, -1, dtype=torch.long)
        for b, path in enumerate(paths):
            out[b, : len(path)] = torch.tensor(path, dtype=torch.long)
        return out.to(emissions.device)


class SemiCRFHead(nn.Module):
    """genobench's semi-CRF (`genobench.semicrf.SemiCRF`) as a head: per-position loss,
    labels only from `decode`."""

    def __init__(self, crf: nn.Module):
        super().__init__()
        self.crf = crf

    def loss(self, emissions, lengths, labels):
        lengths = lengths.to(emissions.device)
        nll = self.crf.nll(emissions, lengths, labels.to(emissions.device).long())
        return nll / lengths.float().mean()

    @torch.no_grad()
    def decode(self, emissions, lengths):
        return self.crf.decode(emissions, lengths.to(emissions.device))[1]


def build_head(name: str, num_classes: int, max_duration: int, backend: str = "auto") -> nn.Module:
    """The head of one of the five benchmark models."""
    from genobench.semicrf import SemiCRF

    if name == "softmax":
        return SoftmaxHead()
    if name == "pytorch-crf":
        return TorchCRFHead(num_classes)
    if name in ("linear", "semicrf", "semicrf_uniform"):  # linear: K = 1, no duration bias
        k = 1 if name == "linear" else max_duration
        return SemiCRFHead(
            SemiCRF(num_classes, k, learn_duration=name == "semicrf", backend=backend)
        )
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


class SegmentationModel(nn.Module):
    """features (B, T, F) -> encoder -> linear emissions (B, T, C) -> head."""

    def __init__(
        self,
        head: str,
        num_classes: int,
        in_dim: int,
        encoder: str = "bilstm",
        hidden_dim: int = 32,
        num_layers: int = 2,
        max_duration: int = 100,
        backend: str = "auto",
        **encoder_kwargs,
    ):
        super().__init__()
        from genobench.benchmarks.semicrf_synthetic.encoders import build_encoder

        self.name = head
        self.encoder = build_encoder(encoder, in_dim, hidden_dim, num_layers, **encoder_kwargs)
        self.emit = nn.Linear(hidden_dim, num_classes)
        self.head = build_head(head, num_classes, max_duration, backend)

    def emissions(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.emit(self.encoder(features, lengths))

    def loss(self, features, lengths, labels):
        return self.head.loss(self.emissions(features, lengths), lengths, labels)

    @torch.no_grad()
    def decode(self, features, lengths):
        return self.head.decode(self.emissions(features, lengths), lengths)

    def forward(self, features, lengths):
        return self.emissions(features, lengths)
