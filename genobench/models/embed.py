"""Sequence embeddings: TNF, or a model from the one loader mean-pooled over real tokens."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from genobench.models.tnf import tnf_matrix

TNF = "tnf"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of hidden states (B, T, H) over positions where attention_mask is 1."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[np.ndarray]:
    """Index batches of similar length (longest first) to keep padding small."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def embed_in_batches(
    seqs: list[str],
    batch_size: int,
    dim: int,
    pool: Callable[[list[str]], torch.Tensor],
    desc: str,
    progress: bool = True,
) -> np.ndarray:
    """(n, dim) float32 embeddings, `pool` (a batch of sequences -> (b, dim)) run over
    batches of similar length, rows in input order."""
    out = np.zeros((len(seqs), dim), dtype=np.float32)
    batches = length_sorted_batches([len(s) for s in seqs], batch_size)
    for idx in tqdm(batches, desc=desc, disable=not progress):
        out[idx] = pool([seqs[i] for i in idx]).float().cpu().numpy()
    return out


class HFEmbedder:
    """A model (registry name, hub id, folder or `local:<name>`) that embeds DNA sequences.

    `dtype` and `trust_remote_code` default to the registry entry's.
    """

    def __init__(
        self,
        name_or_path: str,
        device: str = "cpu",
        dtype=None,
        trust_remote_code: bool | None = None,
    ):
        from genobench.models.loading import load

        self.name = name_or_path
        self.device = device
        loaded = load(
            name_or_path,
            device=device,
            dtype=dtype,
            head="none",
            trust_remote_code=trust_remote_code,
        )
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.embedding_dim = loaded.embedding_dim

    @torch.inference_mode()
    def embed(
        self, seqs: list[str], batch_size: int = 16, max_tokens: int = 1024, progress: bool = True
    ) -> np.ndarray:
        """Mean-pooled last hidden state (n, dim) for each sequence, in input order."""
        from genobench.models.loading import forward, pad_batch

        def pool(batch: list[str]) -> torch.Tensor:
            enc = pad_batch(self.tokenizer, batch, max_length=max_tokens)
            hidden, _ = forward(self.model, enc)
            return mean_pool(hidden, enc["attention_mask"].to(hidden.device))

        return embed_in_batches(
            seqs, batch_size, self.embedding_dim, pool, f"embed {self.name}", progress
        )


def embed_sequences(
    model: str, seqs: list[str], batch_size: int = 16, max_tokens: int = 1024, device: str = "cpu"
) -> np.ndarray:
    """Embed sequences with `model`: "tnf", a registry name, a hub id, a folder or
    `local:<name>`."""
    if model == TNF:
        return tnf_matrix(seqs)
    return HFEmbedder(model, device=device).embed(seqs, batch_size, max_tokens)
