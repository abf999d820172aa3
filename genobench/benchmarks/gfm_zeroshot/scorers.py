"""`GenomicModel`: one interface over genomic foundation models for zero-shot variant scoring.

    model = build_model(spec, device="cpu", reference=genome).load()
    model.get_embedding(["ACGT..."])              # (n, dim) mean-pooled embeddings
    model.score_variant(ref_window, alt_window)    # the entry's primary method
    model.score_windows(windows, methods)          # batched, every method at once

Methods (raw values; see registry.METHOD_SIGN for the pathogenicity direction):

- `embedding_distance`: cosine distance between the mean-pooled (special tokens
  excluded) last-layer embeddings of the ref and alt windows.
- `embedding_distance_local`: the same over only the tokens covering the variant and
  `local_radius` bp either side.
- `masked_marginal` (masked LMs): mask the token holding the variant in the ref window;
  log p(alt token) - log p(ref token) at that position. Needs ref and alt to tokenize
  to the same tokens except that one (char and k-mer tokenizers; BPE usually not: NaN).
- `log_likelihood_ratio` (causal LMs): log p(alt window) - log p(ref window), summed
  over tokens from the first token where ref and alt differ (the tokens before it have
  identical causal context, so their terms cancel exactly).

Hub models, local folders and the trained stand-ins all load through the one loader
`genobench.models.loading.load` (family adapters and quantization modes included), so a
stand-in exercises the code path of the hub model it stands in for; batches are padded by
`loading.pad_batch` and run by `loading.forward`. Family subclasses exist only where
behaviour differs: `MarkovModel` (no neural network at all).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from genobench.data.variants import VariantWindow
from genobench.metrics.fidelity import cosine_similarity
from genobench.models.embed import mean_pool
from genobench.models.markov import KmerMarkov, encode
from genobench.models.registry import ModelSpec

QUANT_4BIT = "4bit_nf4"


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise 1 - cos(a, b) of two embeddings (or two vectors), in [0, 2]."""
    return np.clip(1.0 - cosine_similarity(a, b), 0.0, 2.0)


def window_from_pair(ref_seq: str, alt_seq: str) -> VariantWindow:
    """A VariantWindow for two aligned sequences (variant at their first difference)."""
    if len(ref_seq) != len(alt_seq):
        raise ValueError("ref and alt windows must have the same length (substitutions only)")
    diff = [i for i, (r, a) in enumerate(zip(ref_seq, alt_seq)) if r != a]
    return VariantWindow(0, diff[0] if diff else 0, ref_seq, alt_seq)


def _variant_length(w: VariantWindow) -> int:
    diff = [i for i, (r, a) in enumerate(zip(w.ref_seq, w.alt_seq)) if r != a]
    return diff[-1] - w.offset + 1 if diff else 1


class GenomicModel:
    """Base class: a registry entry that can embed sequences and score variants."""

    def __init__(
        self,
        spec: ModelSpec,
        device: str = "cpu",
        dtype: str = "auto",
        load_in_4bit: bool | str = "auto",
        local_radius: int = 16,
        reference: dict[str, str] | None = None,
        seed: int = 0,
    ):
        self.spec = spec
        self.name = spec.name
        self.device = device
        self.dtype = dtype
        self.load_in_4bit = load_in_4bit  # as asked: True, False or "auto"
        self.quant_mode = "standard"
        if load_in_4bit is True or (load_in_4bit == "auto" and spec.needs_4bit):
            self.quant_mode = QUANT_4BIT
        elif load_in_4bit not in (False, "auto"):
            raise ValueError(f"load_in_4bit must be true, false or 'auto', got {load_in_4bit!r}")
        self.local_radius = local_radius
        self.reference = reference
        self.seed = seed
        self.loaded = False

    @property
    def methods(self) -> tuple[str, ...]:
        return self.spec.methods

    def window_length(self, cap: int) -> int:
        """Window width in bp: the model's max length, capped by `cap`."""
        return int(min(cap, self.spec.max_length)) if self.spec.max_length else int(cap)

    def load(self) -> GenomicModel:
        raise NotImplementedError

    def get_embedding(self, seqs: list[str], batch_size: int = 16) -> np.ndarray:
        raise NotImplementedError

    def score_windows(
        self,
        windows: list[VariantWindow],
        methods: tuple[str, ...] | None = None,
        batch_size: int = 16,
        progress: bool = False,
    ) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def score_variant(self, ref_seq: str, alt_seq: str, method: str | None = None) -> float:
        """Score one variant given its aligned ref and alt windows (primary method by default)."""
        method = method or self.spec.primary_method
        if method not in self.methods:
            raise ValueError(
                f"{self.name} does not offer {method!r}; it offers {', '.join(self.methods)}"
            )
        return float(self.score_windows([window_from_pair(ref_seq, alt_seq)], (method,))[method][0])

    def _check_methods(self, methods):
        methods = tuple(methods or self.methods)
        bad = [m for m in methods if m not in self.methods]
        if bad:
            raise ValueError(
                f"{self.name} does not offer {', '.join(bad)}; it offers {', '.join(self.methods)}"
            )
        return methods


class MarkovModel(GenomicModel):
    """The order-k Markov baseline, fitted on the reference genome at load()."""

    def load(self) -> MarkovModel:
        if not self.reference:
            raise ValueError(
                f"{self.name}: the k-mer Markov model is fitted on the reference; pass reference="
            )
        self.markov = KmerMarkov(self.spec.order).fit(self.reference.values())
        self.loaded = True
        return self

    def get_embedding(self, seqs: list[str], batch_size: int = 16) -> np.ndarray:
        """Normalized (order+1)-mer spectrum of each sequence."""
        k = self.spec.order + 1
        out = np.zeros((len(seqs), 4**k))
        for n, seq in enumerate(seqs):
            x = encode(seq)
            idx, ok = KmerMarkov._contexts(np.append(x, 0), k)
            np.add.at(out[n], idx[ok], 1)
            out[n] /= max(out[n].sum(), 1)
        return out

    def score_windows(self, windows, methods=None, batch_size=16, progress=False):
        methods = self._check_methods(methods)
        return {
            "log_likelihood_ratio": np.array(
                [self.markov.llr(w.ref_seq, w.alt_seq) for w in windows]
            )
        }


def _special_prefix(tokenizer) -> int:
    """How many special tokens the tokenizer puts before a sequence's first token."""
    sentinel = 10**6
    try:
        ids = tokenizer.build_inputs_with_special_tokens([sentinel])
        return ids.index(sentinel)
    except (AttributeError, ValueError, TypeError):
        return 0


class HFModel(GenomicModel):
    """A `transformers` encoder (masked LM or bare) or causal LM."""

    def load(self) -> HFModel:
        from genobench.models.loading import load

        if self.spec.type == "causal":
            head = "causal"
        else:
            head = "masked" if self.spec.masked_lm else "none"
        loaded = load(
            self.spec,
            quant_mode=self.quant_mode,
            device=self.device,
            dtype=self.dtype,
            head=head,
            reference=self.reference,
            seed=self.seed,
            standin=self.spec.standin or None,
        )
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.embedding_dim = loaded.embedding_dim
        self.n_prefix = _special_prefix(self.tokenizer)
        self.loaded = True
        return self

    # -- tokenization ---------------------------------------------------------------------
    def _encode(self, seqs: list[str]):
        from genobench.models.loading import pad_batch

        enc = pad_batch(self.tokenizer, seqs, special_tokens_mask=True, offsets=True)
        offsets = enc.pop("offset_mapping")
        special = enc.pop("special_tokens_mask")
        return enc, special, offsets

    def _char_to_token(self, seq: str, offsets_row, special_row) -> np.ndarray | None:
        """Token index of every base of `seq` (None when the tokenizer gives no mapping)."""
        if offsets_row is not None:
            out = np.full(len(seq), -1, dtype=np.int64)
            for t, ((s, e), sp) in enumerate(zip(offsets_row.tolist(), special_row.tolist())):
                if not sp and e > s:
                    out[s:e] = t
            return out if (out >= 0).all() else None
        if self.spec.tokenization == "char":
            return self.n_prefix + np.arange(len(seq))
        if self.spec.kmer:
            return self.n_prefix + np.arange(len(seq)) // self.spec.kmer
        return None

    # -- forward --------------------------------------------------------------------------
    @torch.inference_mode()
    def _forward(self, enc, want_logits: bool, want_hidden: bool = True):
        """(last-layer hidden states or None, logits or None) of one padded batch."""
        from genobench.models.loading import forward

        return forward(self.model, enc, want_hidden=want_hidden, want_logits=want_logits)

    def get_embedding(self, seqs: list[str], batch_size: int = 16) -> np.ndarray:
        """Mean-pooled last-layer embeddings (special and pad tokens excluded), (n, dim)."""
        self._require_loaded()
        out = []
        for i in range(0, len(seqs), batch_size):
            enc, special, _ = self._encode(seqs[i : i + batch_size])
            hidden, _ = self._forward(enc, want_logits=False)
            mask = (enc["attention_mask"].bool() & ~special.bool()).to(hidden.device)
            out.append(mean_pool(hidden, mask).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.embedding_dim or 0))

    def _require_loaded(self):
        if not self.loaded:
            raise RuntimeError(f"{self.name}: call load() first")

    # -- scoring --------------------------------------------------------------------------
    def score_windows(self, windows, methods=None, batch_size=16, progress=False):
        """Every requested method for each window, computed batch by batch."""
        self._require_loaded()
        methods = self._check_methods(methods)
        from tqdm.auto import tqdm

        result = {m: np.full(len(windows), np.nan) for m in methods}
        need_embed = any(m.startswith("embedding_distance") for m in methods)
        need_llr = "log_likelihood_ratio" in methods
        starts = range(0, len(windows), batch_size)
        for b in tqdm(starts, desc=f"score {self.name}", disable=not progress):
            batch = windows[b : b + batch_size]
            n = len(batch)
            if need_embed or need_llr:
                seqs = [w.ref_seq for w in batch] + [w.alt_seq for w in batch]
                enc, special, offsets = self._encode(seqs)
                hidden, logits = self._forward(enc, want_logits=need_llr, want_hidden=need_embed)
                mask = enc["attention_mask"].bool() & ~special.bool()
                if "embedding_distance" in methods:
                    pooled = mean_pool(hidden, mask.to(hidden.device)).cpu().numpy()
                    result["embedding_distance"][b : b + n] = cosine_distance(
                        pooled[:n], pooled[n:]
                    )
                if "embedding_distance_local" in methods:
                    result["embedding_distance_local"][b : b + n] = self._local_distance(
                        batch, hidden, mask, special, offsets
                    )
                if need_llr:
                    result["log_likelihood_ratio"][b : b + n] = _causal_llr(
                        logits, enc["input_ids"], enc["attention_mask"], n
                    )
            if "masked_marginal" in methods:
                result["masked_marginal"][b : b + n] = self._masked_marginal(batch)
        return result

    def _local_distance(self, batch, hidden, mask, special, offsets) -> np.ndarray:
        n = len(batch)
        out = np.full(n, np.nan)
        for i, w in enumerate(batch):
            lo = max(0, w.offset - self.local_radius)
            hi = min(len(w.ref_seq), w.offset + _variant_length(w) + self.local_radius)
            vecs = []
            for row, seq in ((i, w.ref_seq), (n + i, w.alt_seq)):
                c2t = self._char_to_token(
                    seq, None if offsets is None else offsets[row], special[row]
                )
                if c2t is None:
                    break
                tokens = torch.as_tensor(np.unique(c2t[lo:hi]), device=hidden.device)
                vecs.append(hidden[row, tokens].mean(0).cpu().numpy())
            if len(vecs) == 2:
                out[i] = cosine_distance(vecs[0], vecs[1])
        return out

    @torch.inference_mode()
    def _masked_marginal(self, batch) -> np.ndarray:
        n = len(batch)
        out = np.full(n, np.nan)
        enc, special, offsets = self._encode(
            [w.ref_seq for w in batch] + [w.alt_seq for w in batch]
        )
        ids = enc["input_ids"]
        mask_id = self.tokenizer.mask_token_id
        if mask_id is None:
            raise ValueError(
                f"{self.name}: tokenizer has no mask token; masked_marginal needs a masked LM"
            )
        sites, rows = [], []
        for i, w in enumerate(batch):
            c2t = self._char_to_token(
                w.ref_seq, None if offsets is None else offsets[i], special[i]
            )
            if c2t is None:
                continue
            t = int(c2t[w.offset])
            last = int(c2t[w.offset + _variant_length(w) - 1])
            differ = torch.nonzero(ids[i] != ids[n + i]).flatten().tolist()
            if last != t or differ != [t]:  # the variant must change exactly one token
                continue
            sites.append((i, t, int(ids[i, t]), int(ids[n + i, t])))
            rows.append(i)
        if not sites:
            return out
        masked = ids[rows].clone()
        for r, (_, t, _, _) in enumerate(sites):
            masked[r, t] = mask_id
        _, logits = self._forward(
            {"input_ids": masked, "attention_mask": enc["attention_mask"][rows]},
            want_logits=True,
            want_hidden=False,
        )
        for r, (i, t, ref_id, alt_id) in enumerate(sites):
            logp = torch.log_softmax(logits[r, t].double(), -1)
            out[i] = float(logp[alt_id] - logp[ref_id])
        return out


def _causal_llr(
    logits: torch.Tensor, ids: torch.Tensor, attention: torch.Tensor, n: int
) -> np.ndarray:
    """log p(alt) - log p(ref) for rows [0, n) = ref and [n, 2n) = alt of one batch.

    Per-token log-probs are summed from the first token where ref and alt differ; the
    first token of a sequence is not predicted by a causal LM and is not scored.
    """
    ids = ids.to(logits.device)
    attention = attention.to(logits.device)
    logp = torch.log_softmax(logits[:, :-1].double(), -1)
    token_lp = logp.gather(-1, ids[:, 1:, None])[..., 0] * attention[:, 1:]
    out = np.zeros(n)
    for i in range(n):
        r_len, a_len = int(attention[i].sum()), int(attention[n + i].sum())
        r, a = ids[i, :r_len], ids[n + i, :a_len]
        common = min(r_len, a_len)
        differ = torch.nonzero(r[:common] != a[:common]).flatten()
        if len(differ):
            t0 = int(differ[0])
        elif r_len == a_len:
            continue  # identical token sequences
        else:
            t0 = common
        start = max(t0, 1) - 1  # token t is predicted at logits row t-1
        out[i] = float(
            token_lp[n + i, start : a_len - 1].sum() - token_lp[i, start : r_len - 1].sum()
        )
    return out


def build_model(spec: ModelSpec, **options: Any) -> GenomicModel:
    """The wrapper of a registry entry (not yet loaded); `options` are GenomicModel's
    keyword arguments (device, dtype, load_in_4bit, local_radius, reference, seed).

    A `local:<name>` entry with `standin:` settings is trained on `reference` when loaded
    (cached); other `local:` names are genobench.models.local's checkpoints.
    """
    if spec.family == "kmer_markov":
        return MarkovModel(spec, **options)
    model = HFModel(spec, **options)
    if (
        spec.needs_4bit
        and not str(model.device).startswith("cuda")
        and model.load_in_4bit == "auto"
    ):
        warnings.warn(
            f"{spec.name} needs 4-bit weights to fit a 24 GB GPU; on {model.device} it is "
            "loaded in 4-bit through bitsandbytes' CPU path",
            stacklevel=2,
        )
    return model
