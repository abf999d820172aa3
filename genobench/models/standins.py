"""Local stand-ins for the hub model families, trained briefly on the reference genome.

Hub models cannot be downloaded everywhere, and random weights carry no zero-shot
signal. So genobench trains tiny models of the same `transformers` classes on the
reference the benchmark scores (by default the planted genome), saves them with
`save_pretrained`, and loads them back through `genobench.models.loading.load_model`
like a hub checkpoint:

| family    | class              | objective | tokenizer                                   |
|-----------|--------------------|-----------|---------------------------------------------|
| `bert`    | BertForMaskedLM    | masked    | one token per base, [CLS] ... [SEP]         |
| `nt`      | EsmForMaskedLM     | masked    | non-overlapping k-mers, like NT's 6-mers    |
| `mistral` | MistralForCausalLM | causal    | one token per base (the GenomeOcean family) |
| `mamba`   | MambaForCausalLM   | causal    | one token per base (SSM; PyTorch path on CPU) |

Training samples random windows of `seq_len` bases from the reference (forward
strand), for a fixed number of steps with a fixed thread count and seeds, so the
weights depend only on the settings, the reference and the seed. The checkpoint is
cached under `cache_dir()/models/gfm/<name>-<hash>/` with `training.json` (settings,
loss curve, seconds).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genobench.models.build import Schedule, dna_tokenizer, save_checkpoint, train_steps
from genobench.paths import cache_dir
from genobench.report.results import atomic_write_json

TRAINING_FILE = "training.json"
DEFAULTS: dict[str, Any] = dict(
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    seq_len=128,
    batch_size=16,
    steps=300,
    lr=3e-3,
    warmup=20,
    mask_prob=0.15,
    tokenizer=None,
    kmer=3,
    vocab_size=256,
    state_size=16,
    num_threads=1,  # a workflow job shares the machine: one core (thread count changes the weights)
)
FAMILIES = ("bert", "nt", "mistral", "mamba")


def standin_tokenizer(
    family: str,
    kind: str | None = None,
    kmer: int = 3,
    vocab_size: int = 256,
    reference: dict[str, str] | None = None,
):
    """The stand-in's tokenizer: `kind` char, kmer or bpe (default: kmer for nt, else char).

    k-mer tokens are prefixed with [CLS] (as NT's); character tokens of masked LMs are
    wrapped in [CLS] ... [SEP]; causal LMs and BPE get no special tokens. BPE (GenomeOcean's
    and DNABERT-2's kind) is learned from the reference in 2 kb chunks.
    """
    kind = kind or ("kmer" if family == "nt" else "char")
    if kind == "kmer":
        return dna_tokenizer("kmer", k=kmer, wrap="cls")
    if kind == "bpe":
        if not reference:
            raise ValueError("a BPE tokenizer is learned from the reference; pass reference=")
        chunks = [seq[i : i + 2000] for seq in reference.values() for i in range(0, len(seq), 2000)]
        return dna_tokenizer("bpe", train_seqs=chunks, vocab_size=vocab_size)
    if kind != "char":
        raise ValueError(f"unknown stand-in tokenizer {kind!r}; choose char, kmer or bpe")
    return dna_tokenizer("char", wrap="cls_sep" if family in ("bert", "nt") else "none")


def _model(family: str, vocab: int, pad_id: int, mask_id: int, s: dict[str, Any]):
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        EsmConfig,
        EsmForMaskedLM,
        MambaConfig,
        MambaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
    )

    h, heads = s["hidden_size"], s["num_heads"]
    positions = s["seq_len"] + 8
    # every family's size and padding; the transformers' attention shape; causal LMs' no BOS/EOS
    shared = dict(
        vocab_size=vocab, hidden_size=h, num_hidden_layers=s["num_layers"], pad_token_id=pad_id
    )
    attention = dict(num_attention_heads=heads, intermediate_size=4 * h)
    if family == "bert":
        return BertForMaskedLM(BertConfig(**shared, **attention, max_position_embeddings=positions))
    if family == "nt":
        return EsmForMaskedLM(
            EsmConfig(
                **shared,
                **attention,
                max_position_embeddings=positions,
                position_embedding_type="rotary",
                mask_token_id=mask_id,
                token_dropout=False,
                emb_layer_norm_before=False,
            )
        )
    causal = dict(bos_token_id=None, eos_token_id=None)
    if family == "mistral":
        return MistralForCausalLM(
            MistralConfig(
                **shared,
                **attention,
                **causal,
                num_key_value_heads=heads,
                max_position_embeddings=max(2048, positions),
                sliding_window=None,
            )
        )
    if family == "mamba":
        return MambaForCausalLM(
            MambaConfig(**shared, **causal, state_size=s["state_size"], expand=2, use_mambapy=False)
        )
    raise ValueError(f"unknown stand-in family {family!r}; choose from {', '.join(FAMILIES)}")


def reference_digest(reference: dict[str, str]) -> str:
    """A short hash of the reference's names and sequences."""
    h = hashlib.sha1()
    for name in sorted(reference):
        h.update(name.encode() + b"\0" + reference[name].encode() + b"\0")
    return h.hexdigest()[:12]


def _sample_windows(
    reference: dict[str, str], seq_len: int, n: int, rng: np.random.Generator
) -> list[str]:
    chroms = [c for c, s in reference.items() if len(s) >= seq_len]
    if not chroms:
        raise ValueError(f"no reference sequence has {seq_len} bp; lower seq_len")
    weights = np.array([len(reference[c]) - seq_len + 1 for c in chroms], dtype=float)
    picks = rng.choice(len(chroms), size=n, p=weights / weights.sum())
    out = []
    for p in picks:
        seq = reference[chroms[p]]
        start = int(rng.integers(0, len(seq) - seq_len + 1))
        out.append(seq[start : start + seq_len])
    return out


def train_standin(
    path: str | Path,
    family: str,
    reference: dict[str, str],
    seed: int = 0,
    progress: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    """Train a stand-in of `family` on `reference` and save it into `path`."""
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown stand-in setting(s) {', '.join(sorted(unknown))}; allowed: "
            f"{', '.join(DEFAULTS)}"
        )
    s = {**DEFAULTS, **settings}
    tokenizer = standin_tokenizer(family, s["tokenizer"], s["kmer"], s["vocab_size"], reference)
    torch.manual_seed(seed)
    model = _model(family, len(tokenizer), tokenizer.pad_token_id, tokenizer.mask_token_id, s)
    masked = family in ("bert", "nt")
    rng = np.random.default_rng(seed + 1)
    gen = torch.Generator().manual_seed(seed + 2)

    def next_batch(step: int) -> dict:
        seqs = _sample_windows(reference, s["seq_len"], s["batch_size"], rng)
        enc = tokenizer(seqs, return_tensors="pt", padding=True, return_special_tokens_mask=True)
        ids, attention = enc["input_ids"], enc["attention_mask"]
        if masked:
            can = (enc["special_tokens_mask"] == 0) & (attention == 1)
            pick = (torch.rand(ids.shape, generator=gen) < s["mask_prob"]) & can
            return {
                "input_ids": torch.where(pick, tokenizer.mask_token_id, ids),
                "attention_mask": attention,
                "labels": torch.where(pick, ids, torch.full_like(ids, -100)),
            }
        batch = {"input_ids": ids, "labels": ids.masked_fill(attention == 0, -100)}
        if family != "mamba":  # transformers' Mamba takes no attention_mask
            batch["attention_mask"] = attention
        return batch

    schedule = Schedule(s["steps"], s["lr"], s["warmup"], lr_floor=0.05, betas=(0.9, 0.98))
    log = train_steps(
        model,
        next_batch,
        schedule,
        s["num_threads"],
        progress=progress,
        desc=f"train {family} stand-in",
    )
    path = Path(path)
    save_checkpoint(model, tokenizer, path)
    record = {
        "family": family,
        "seed": seed,
        "settings": s,
        **log.summary(model, last=20),
        "torch": torch.__version__,
    }
    atomic_write_json(record, path / TRAINING_FILE)  # written last: marks the build done
    return record


def standin_path(
    name: str,
    settings: dict[str, Any],
    family: str,
    reference: dict[str, str],
    seed: int = 0,
    progress: bool = False,
) -> Path:
    """Folder of stand-in `name` trained on `reference` with `settings` (trained once, under
    the shared build lock of genobench.models.local.build_cached)."""
    from genobench.models.local import build_cached

    settings = dict(settings)
    family = settings.pop("family", family)
    # the full settings, defaults included: a changed default trains a new stand-in
    key = json.dumps(
        {
            "family": family,
            "settings": {**DEFAULTS, **settings},
            "seed": seed,
            "reference": reference_digest(reference),
        },
        sort_keys=True,
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    path = cache_dir() / "models" / "gfm" / f"{name}-{digest}"
    return build_cached(
        path,
        lambda tmp: train_standin(tmp, family, reference, seed=seed, progress=progress, **settings),
        TRAINING_FILE,
    )
