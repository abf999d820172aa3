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
| `mamba`   | MambaForCausalLM   | causal    | one token per base (SSM family; pure PyTorch path on CPU) |

Training samples random windows of `seq_len` bases from the reference (forward
strand), for a fixed number of steps with a fixed thread count and seeds, so the
weights depend only on the settings, the reference and the seed. The checkpoint is
cached under `cache_dir()/models/gfm/<name>-<hash>/` with `training.json` (settings,
loss curve, seconds).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genobench.models.local import save_checkpoint
from genobench.paths import cache_dir
from genobench.results import atomic_write_json

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TRAINING_FILE = "training.json"
DEFAULTS: dict[str, Any] = dict(hidden_size=64, num_layers=2, num_heads=4, seq_len=128,
                                batch_size=16, steps=300, lr=3e-3, warmup=20, mask_prob=0.15,
                                tokenizer=None, kmer=3, vocab_size=256, state_size=16,
                                num_threads=2)
FAMILIES = ("bert", "nt", "mistral", "mamba")


def kmer_tokenizer(k: int):
    """NT-style tokenizer: non-overlapping k-mers from the left, leftovers and N one base each."""
    from itertools import product

    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    kmers = ["".join(p) for p in product("ACGT", repeat=k)]
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + kmers + list("ACGTN"))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(f"[ACGT]{{{k}}}|."), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A", special_tokens=[("[CLS]", vocab["[CLS]"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "attention_mask"])


def standin_tokenizer(family: str, kind: str | None = None, kmer: int = 3,
                      vocab_size: int = 256, reference: dict[str, str] | None = None):
    """The stand-in's tokenizer: `kind` char, kmer or bpe (default: kmer for nt, else char).

    BPE (GenomeOcean's and DNABERT-2's kind) is learned from the reference with
    genobench.models.genomic_lm.train_dna_tokenizer.
    """
    from genobench.models.local import dna_tokenizer

    kind = kind or ("kmer" if family == "nt" else "char")
    if kind == "kmer":
        return kmer_tokenizer(kmer)
    if kind == "bpe":
        from genobench.models.genomic_lm import train_dna_tokenizer

        if not reference:
            raise ValueError("a BPE tokenizer is learned from the reference; pass reference=")
        chunks = [seq[i:i + 2000] for seq in reference.values()
                  for i in range(0, len(seq), 2000)]
        return train_dna_tokenizer(chunks, vocab_size)
    if kind != "char":
        raise ValueError(f"unknown stand-in tokenizer {kind!r}; choose char, kmer or bpe")
    # masked LMs wrap sequences in [CLS] ... [SEP]; causal LMs get no special tokens
    return dna_tokenizer("bert" if family in ("bert", "nt") else "mistral")


def _model(family: str, vocab: int, pad_id: int, mask_id: int, s: dict[str, Any]):
    from transformers import (BertConfig, BertForMaskedLM, EsmConfig, EsmForMaskedLM,
                              MambaConfig, MambaForCausalLM, MistralConfig, MistralForCausalLM)

    h, layers, heads = s["hidden_size"], s["num_layers"], s["num_heads"]
    positions = s["seq_len"] + 8
    if family == "bert":
        return BertForMaskedLM(BertConfig(
            vocab_size=vocab, hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads,
            intermediate_size=4 * h, max_position_embeddings=positions, pad_token_id=pad_id))
    if family == "nt":
        return EsmForMaskedLM(EsmConfig(
            vocab_size=vocab, hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads,
            intermediate_size=4 * h, max_position_embeddings=positions,
            position_embedding_type="rotary", pad_token_id=pad_id, mask_token_id=mask_id,
            token_dropout=False, emb_layer_norm_before=False))
    if family == "mistral":
        return MistralForCausalLM(MistralConfig(
            vocab_size=vocab, hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads,
            num_key_value_heads=heads, intermediate_size=4 * h,
            max_position_embeddings=max(2048, positions), sliding_window=None,
            pad_token_id=pad_id, bos_token_id=None, eos_token_id=None))
    if family == "mamba":
        return MambaForCausalLM(MambaConfig(
            vocab_size=vocab, hidden_size=h, num_hidden_layers=layers,
            state_size=s["state_size"], expand=2, pad_token_id=pad_id, bos_token_id=None,
            eos_token_id=None, use_mambapy=False))
    raise ValueError(f"unknown stand-in family {family!r}; choose from {', '.join(FAMILIES)}")


def reference_digest(reference: dict[str, str]) -> str:
    """A short hash of the reference's names and sequences."""
    h = hashlib.sha1()
    for name in sorted(reference):
        h.update(name.encode() + b"\0" + reference[name].encode() + b"\0")
    return h.hexdigest()[:12]


def _lr(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _sample_windows(reference: dict[str, str], seq_len: int, n: int,
                    rng: np.random.Generator) -> list[str]:
    chroms = [c for c, s in reference.items() if len(s) >= seq_len]
    if not chroms:
        raise ValueError(f"no reference sequence has {seq_len} bp; lower seq_len")
    weights = np.array([len(reference[c]) - seq_len + 1 for c in chroms], dtype=float)
    picks = rng.choice(len(chroms), size=n, p=weights / weights.sum())
    out = []
    for p in picks:
        seq = reference[chroms[p]]
        start = int(rng.integers(0, len(seq) - seq_len + 1))
        out.append(seq[start:start + seq_len])
    return out


def train_standin(path: str | Path, family: str, reference: dict[str, str], seed: int = 0,
                  progress: bool = False, **settings: Any) -> dict[str, Any]:
    """Train a stand-in of `family` on `reference` and save it (atomically) into `path`."""
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown stand-in setting(s) {', '.join(sorted(unknown))}; allowed: "
                         f"{', '.join(DEFAULTS)}")
    s = {**DEFAULTS, **settings}
    tokenizer = standin_tokenizer(family, s["tokenizer"], s["kmer"], s["vocab_size"], reference)
    torch.manual_seed(seed)
    model = _model(family, len(tokenizer), tokenizer.pad_token_id, tokenizer.mask_token_id, s)
    masked = family in ("bert", "nt")
    rng = np.random.default_rng(seed + 1)
    gen = torch.Generator().manual_seed(seed + 2)
    opt = torch.optim.AdamW(model.parameters(), lr=s["lr"], betas=(0.9, 0.98), weight_decay=0.01)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(s["num_threads"])
    losses = []
    started = time.perf_counter()
    from tqdm.auto import tqdm

    try:
        model.train()
        for step in tqdm(range(s["steps"]), desc=f"train {family} stand-in",
                         disable=not progress):
            for group in opt.param_groups:
                group["lr"] = _lr(step, s["steps"], s["lr"], s["warmup"])
            seqs = _sample_windows(reference, s["seq_len"], s["batch_size"], rng)
            enc = tokenizer(seqs, return_tensors="pt", padding=True,
                            return_special_tokens_mask=True)
            ids = enc["input_ids"]
            if masked:
                can = (enc["special_tokens_mask"] == 0) & (enc["attention_mask"] == 1)
                pick = (torch.rand(ids.shape, generator=gen) < s["mask_prob"]) & can
                labels = torch.where(pick, ids, torch.full_like(ids, -100))
                inputs = torch.where(pick, torch.full_like(ids, tokenizer.mask_token_id), ids)
                loss = model(input_ids=inputs, attention_mask=enc["attention_mask"],
                             labels=labels).loss
            else:
                labels = ids.masked_fill(enc["attention_mask"] == 0, -100)
                kwargs = {} if family == "mamba" else {"attention_mask": enc["attention_mask"]}
                loss = model(input_ids=ids, labels=labels, **kwargs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
    finally:
        torch.set_num_threads(old_threads)
    model.eval()
    seconds = time.perf_counter() - started
    path = Path(path)
    tmp = path.with_name(path.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(model, tokenizer, tmp)
    record = {"family": family, "seed": seed, "settings": s,
              "n_parameters": int(sum(p.numel() for p in model.parameters())),
              "train_seconds": round(seconds, 2), "loss_first": losses[0] if losses else None,
              "loss_last20_mean": float(np.mean(losses[-20:])) if losses else None,
              "loss_curve": [round(v, 4) for v in losses[::10]], "torch": torch.__version__}
    atomic_write_json(record, tmp / TRAINING_FILE)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return record


def standin_path(spec, reference: dict[str, str], seed: int = 0, progress: bool = False) -> Path:
    """Folder of the stand-in for registry entry `spec` trained on `reference` (trained once)."""
    settings = dict(spec.standin)
    family = settings.pop("family", spec.family)
    key = json.dumps({"family": family, "settings": settings, "seed": seed,
                      "reference": reference_digest(reference)}, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    name = spec.hub_id.split(":", 1)[-1]
    path = cache_dir() / "models" / "gfm" / f"{name}-{digest}"
    if not (path / TRAINING_FILE).is_file():
        train_standin(path, family, reference, seed=seed, progress=progress, **settings)
    return path


def training_record(path: str | Path) -> dict[str, Any] | None:
    f = Path(path) / TRAINING_FILE
    return json.loads(f.read_text()) if f.is_file() else None
