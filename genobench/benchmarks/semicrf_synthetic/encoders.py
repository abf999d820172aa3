"""Sequence encoders: (B, T, F) features -> (B, T, hidden_dim) representations.

* `bilstm`: a bidirectional LSTM (hidden_dim / 2 per direction).
* `mamba_stub`: bidirectional residual blocks of `MambaStub`, the pure-PyTorch selective
  scan (CPU or GPU).
* `mamba`: the same blocks with `mamba_ssm.Mamba` (fused CUDA kernels; GPU only). mamba-ssm
  is imported only when this encoder is built, with a clear error when it is missing.

Every encoder takes `lengths` so that the backward direction of a padded batch starts at
each sequence's own end.
"""

from __future__ import annotations

import torch
from torch import nn

from genobench.benchmarks.semicrf_synthetic.mamba_stub import MambaStub

ENCODERS = ("bilstm", "mamba_stub", "mamba")


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of (B, T, ...) within its own length; padding stays in place."""
    batch, length = x.shape[:2]
    pos = torch.arange(length, device=x.device)[None, :]
    lens = lengths.to(x.device)[:, None]
    index = torch.where(pos < lens, lens - 1 - pos, pos)
    return x.gather(1, index.view(batch, length, *([1] * (x.dim() - 2))).expand_as(x))


class BiLSTMEncoder(nn.Module):
    def __init__(self, in_dim: int, hidden_dim: int, num_layers: int):
        super().__init__()
        if hidden_dim % 2:
            raise ValueError(f"bilstm needs an even hidden_dim (two directions), got {hidden_dim}")
        self.lstm = nn.LSTM(
            in_dim, hidden_dim // 2, num_layers=num_layers, batch_first=True, bidirectional=True
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if bool((lengths == x.shape[1]).all()):
            return self.lstm(x)[0]
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.lstm(packed)
        return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


def _mamba_ssm_block():
    try:
        from mamba_ssm import Mamba
    except ImportError as err:
        raise RuntimeError(
            "encoder 'mamba' needs the mamba-ssm package and a CUDA GPU "
            f"(import failed: {err}). Install it on a GPU node with "
            "`pip install -r requirements-gpu.txt`, or use encoder 'mamba_stub' "
            "(the same block in pure PyTorch, runs on CPU)."
        ) from err
    return Mamba


class BiMambaEncoder(nn.Module):
    """Input projection, then `num_layers` residual blocks x + fwd(LN x) + rev(bwd(rev(LN x)))."""

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        num_layers: int,
        block: str = "mamba_stub",
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
    ):
        super().__init__()
        if block == "mamba":
            cls = _mamba_ssm_block()
        elif block == "mamba_stub":
            cls = MambaStub
        else:
            raise ValueError(f"unknown mamba block {block!r}")
        self.proj = nn.Linear(in_dim, hidden_dim)
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_dim) for _ in range(num_layers))
        self.fwd = nn.ModuleList(
            cls(d_model=hidden_dim, d_state=d_state, d_conv=d_conv, expand=expand)
            for _ in range(num_layers)
        )
        self.bwd = nn.ModuleList(
            cls(d_model=hidden_dim, d_state=d_state, d_conv=d_conv, expand=expand)
            for _ in range(num_layers)
        )
        self.out_norm = nn.LayerNorm(hidden_dim)
        self.block = block

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.block == "mamba" and not x.is_cuda:
            raise RuntimeError(
                "encoder 'mamba' (mamba-ssm) runs on CUDA tensors only; use "
                "device 'cuda', or encoder 'mamba_stub' on CPU"
            )
        h = self.proj(x)
        for norm, fwd, bwd in zip(self.norms, self.fwd, self.bwd):
            y = norm(h)
            h = h + fwd(y) + reverse_padded(bwd(reverse_padded(y, lengths)), lengths)
        return self.out_norm(h)


def build_encoder(name: str, in_dim: int, hidden_dim: int, num_layers: int, **kwargs) -> nn.Module:
    """An encoder by name: bilstm, mamba_stub or mamba."""
    if name == "bilstm":
        return BiLSTMEncoder(in_dim, hidden_dim, num_layers)
    if name in ("mamba_stub", "mamba"):
        return BiMambaEncoder(in_dim, hidden_dim, num_layers, block=name, **kwargs)
    raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
