"""Sequence embeddings: TNF, or a transformers model mean-pooled over real tokens."""

from __future__ import annotations

import numpy as np
import torch
import transformers
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer

from genobench.models.local import resolve_model
from genobench.models.tnf import tnf_matrix

TNF = "tnf"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of hidden states (B, T, H) over positions where attention_mask is 1."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[np.ndarray]:
    """Index batches of similar length (longest first) to keep padding small."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


class HFEmbedder:
    """A `transformers` model (hub id or local path) that embeds DNA sequences."""

    def __init__(self, name_or_path: str, device: str = "cpu", dtype: torch.dtype = torch.float32,
                 trust_remote_code: bool = False):
        path = resolve_model(name_or_path)
        self.name = name_or_path
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # a causal LM loaded headless is expected
        try:
            self.model = AutoModel.from_pretrained(path, dtype=dtype,
                                                   trust_remote_code=trust_remote_code)
        finally:
            transformers.logging.set_verbosity(verbosity)
        self.model.to(device).eval()

    @torch.inference_mode()
    def embed(self, seqs: list[str], batch_size: int = 16, max_tokens: int = 1024,
              progress: bool = True) -> np.ndarray:
        """Mean-pooled last hidden state (n, hidden) for each sequence, in input order."""
        out = np.zeros((len(seqs), self.model.config.hidden_size), dtype=np.float32)
        batches = length_sorted_batches([len(s) for s in seqs], batch_size)
        for idx in tqdm(batches, desc=f"embed {self.name}", disable=not progress):
            enc = self.tokenizer([seqs[i] for i in idx], padding=True, truncation=True,
                                 max_length=max_tokens, return_tensors="pt").to(self.device)
            hidden = self.model(**enc).last_hidden_state
            out[idx] = mean_pool(hidden, enc["attention_mask"]).float().cpu().numpy()
        return out


def embed_sequences(model: str, seqs: list[str], batch_size: int = 16, max_tokens: int = 1024,
                    device: str = "cpu") -> np.ndarray:
    """Embed sequences with `model`: "tnf", a hub id, a local path or `local:<name>`."""
    if model == TNF:
        return tnf_matrix(seqs)
    return HFEmbedder(model, device=device).embed(seqs, batch_size, max_tokens)
