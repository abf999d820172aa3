"""A small causal genomic language model, trained by genobench on the synthetic metagenome.

GenomeOcean is a Mistral-family causal LM with a DNA tokenizer. The stand-in here is a
`MistralForCausalLM` (grouped-query attention, RoPE) with a `tokenizers` DNA tokenizer
saved beside it: non-overlapping 4-mers by default (as the Nucleotide Transformer
tokenizes), or a byte-pair vocabulary learned from the data (`tokenizer="bpe"`, as
GenomeOcean does). It is trained briefly (200 steps of 8 x 256 tokens on 2 threads: about
80 s on an idle 2-core CPU) on the synthetic metagenome so that its next-token distributions
are those of a model that has learned the data, not of random weights. It is saved
with `save_pretrained` (model and tokenizer) plus `training.json` (settings, loss
curve, held-out bits per base next to the uniform 2 bits and the true Markov-chain
entropy of the synthetic genomes, the floor no model can beat).

Why 4-mers by default: the synthetic genomes are order-3 Markov chains, so the next
4-mer depends only on the last one and a short training learns it; measured at 60
steps, held-out bits/base were 1.99 (4-mers), 1.98 (3-mers) and 2.09 (BPE, 512
tokens; worse than guessing bases uniformly), true-chain floor 1.90.

Reproducibility: the weights depend only on the settings and the seed (tokenizer,
initialisation and batch order are seeded; training runs on a fixed number of CPU
threads, 2 for the default model, which the exclusive quantization job has to itself).
`max_seconds` is a runaway guard, far above the training time: if a very slow machine hits
it before `max_steps`, training stops there and
`training.json` says so (`stopped_by_time`), since the weights then depend on the
machine's speed.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genobench.data.metagenome import genome_chains, metagenome_csv
from genobench.models.build import Schedule, dna_tokenizer, save_checkpoint, train_steps
from genobench.report.results import atomic_write_json

TRAINING_FILE = "training.json"

# preset -> settings; "tiny" is random-init (no training) and builds in seconds for tests
PRESETS: dict[str, dict[str, Any]] = {
    # tokenizer: "kmer<k>" (non-overlapping k-mers) or "bpe" (vocab_size tokens learned
    # from tokenizer_bases bases of training data)
    "default": dict(
        tokenizer="kmer4",
        vocab_size=512,
        hidden_size=128,
        num_layers=4,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=384,
        # 256 tokens (1 kb) per window: 200 steps reach the held-out bits/base that 107
        # steps of 512 did (1.970 vs 1.974; floor 1.895) in 40 % of the time
        seq_len=256,
        batch_size=8,
        max_steps=200,
        lr=3e-3,
        warmup_steps=20,
        tokenizer_bases=1_500_000,
        data=dict(),
    ),
    # hidden sizes stay multiples of 64: bitsandbytes' CPU 4-bit kernels quantize in
    # blocks of 64 input features and fail on narrower layers
    "tiny": dict(
        tokenizer="kmer3",
        vocab_size=64,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=128,
        seq_len=64,
        batch_size=4,
        max_steps=0,
        lr=3e-3,
        warmup_steps=1,
        tokenizer_bases=50_000,
        data=dict(n_genomes=4, fragments_per_genome=12, min_length=300, max_length=600),
    ),
}
HOLDOUT_EVERY = 20  # fragments 0, 20, 40, ... of each genome are held out of training


def _split(df):
    """Training and held-out fragments (every HOLDOUT_EVERY-th fragment of each genome)."""
    rank = df.groupby("genome_id").cumcount()
    held = (rank % HOLDOUT_EVERY) == 0
    return df[~held].reset_index(drop=True), df[held].reset_index(drop=True)


def _windows(
    token_ids: list[np.ndarray], seq_len: int, n: int, rng: np.random.Generator
) -> torch.Tensor:
    """`n` random windows of `seq_len` tokens, each inside one fragment."""
    usable = [ids for ids in token_ids if len(ids) >= seq_len]
    if not usable:
        raise ValueError(f"no fragment has {seq_len} tokens; lower seq_len")
    lengths = np.array([len(ids) - seq_len + 1 for ids in usable], dtype=float)
    picks = rng.choice(len(usable), size=n, p=lengths / lengths.sum())
    rows = [
        usable[i][s : s + seq_len]
        for i, s in zip(picks, (rng.integers(0, lengths[picks].astype(int))))
    ]
    return torch.as_tensor(np.stack(rows), dtype=torch.long)


def oracle_bits_per_base(
    seqs: list[str], genome_index: list[int], chains: np.ndarray, spans: list[tuple[int, int]]
) -> float:
    """Bits per base of the true order-3 Markov chains on bases [start, end) of each sequence.

    This is the entropy floor no model of the synthetic data can beat on average.
    """
    code = np.frombuffer(b"ACGT", dtype=np.uint8)
    lut = np.zeros(256, dtype=np.int64)
    lut[code] = np.arange(4)
    total, count = 0.0, 0
    for seq, g, (start, end) in zip(seqs, genome_index, spans):
        x = lut[np.frombuffer(seq[:end].encode(), dtype=np.uint8)]
        pos = np.arange(max(start, 3), len(x))
        state = x[pos - 3] * 16 + x[pos - 2] * 4 + x[pos - 1]
        total += float(-np.log2(chains[g][state, x[pos]]).sum())
        count += len(pos)
    return total / max(count, 1)


@torch.no_grad()
def evaluate_bits_per_base(
    model, tokenizer, seqs: list[str], seq_len: int
) -> tuple[float, list[tuple[int, int]]]:
    """Held-out next-token NLL in bits per base, and the base span each sequence scored.

    Each sequence's first `seq_len` tokens are scored from the second token on (the
    first has no context), so its span is [len(first token), bases of seq_len tokens).
    """
    model.eval()
    nll, bases, spans = 0.0, 0, []
    for seq in seqs:
        ids = tokenizer(seq, add_special_tokens=False)["input_ids"][:seq_len]
        lengths = [len(t) for t in tokenizer.convert_ids_to_tokens(ids)]
        spans.append((lengths[0], sum(lengths)))
        if len(ids) < 2:
            continue
        x = torch.as_tensor([ids])
        logp = torch.log_softmax(model(input_ids=x).logits[0, :-1].double(), -1)
        nll += float(-logp.gather(-1, x[0, 1:, None]).sum())
        bases += sum(lengths[1:])
    return nll / max(bases, 1) / math.log(2), spans


def build_genomic_lm(
    path: str | Path,
    seed: int = 0,
    max_seconds: float = 900.0,
    max_steps: int | None = None,
    preset: str = "default",
    num_threads: int = 1,
    progress: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Build, train and save the genomic LM into `path`; return the training record.

    `preset`: "default" (trained, ~80 s on 2 threads of an idle CPU) or "tiny" (random
    init, seconds).
    `max_steps` overrides the preset's step count (0: random init); `max_seconds` caps
    the training time; `num_threads` fixes torch's CPU threads during training (the
    result can depend on the thread count). Other keyword arguments override preset
    settings (tokenizer, vocab_size, hidden_size, num_layers, num_heads, num_kv_heads,
    intermediate_size, seq_len, batch_size, lr, warmup_steps, tokenizer_bases, data).
    `genobench.models.local.build_cached` makes the cached build atomic.
    """
    import pandas as pd
    from transformers import MistralConfig, MistralForCausalLM

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    unknown = set(overrides) - set(PRESETS[preset])
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(sorted(unknown))}; allowed: "
            f"{', '.join(PRESETS[preset])}"
        )
    cfg = {**PRESETS[preset], **overrides}
    if max_steps is not None:
        cfg["max_steps"] = int(max_steps)
    if cfg["max_steps"] < 0 or max_seconds <= 0:
        raise ValueError("max_steps must be >= 0 and max_seconds > 0")
    started = time.perf_counter()
    path = Path(path)

    data_settings = {"seed": 0, **cfg["data"]}
    df = pd.read_csv(metagenome_csv(**data_settings))
    train_df, held_df = _split(df)

    # tokenizer: k-mers, or BPE learned from a seeded sample of training fragments
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_df))
    sample, total = [], 0
    for i in order:
        sample.append(train_df["seq"].iat[i])
        total += len(sample[-1])
        if total >= cfg["tokenizer_bases"]:
            break
    if cfg["tokenizer"] == "bpe":
        tokenizer = dna_tokenizer("bpe", train_seqs=sorted(sample), vocab_size=cfg["vocab_size"])
    elif cfg["tokenizer"].startswith("kmer"):
        tokenizer = dna_tokenizer("kmer", k=int(cfg["tokenizer"][4:]))
    else:
        raise ValueError(f"unknown tokenizer {cfg['tokenizer']!r}; use bpe or kmer<k>")

    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg["hidden_size"],
        num_hidden_layers=cfg["num_layers"],
        num_attention_heads=cfg["num_heads"],
        num_key_value_heads=cfg["num_kv_heads"],
        intermediate_size=cfg["intermediate_size"],
        max_position_embeddings=max(2048, cfg["seq_len"]),
        sliding_window=None,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        eos_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = MistralForCausalLM(config)

    ids = [
        np.asarray(e, dtype=np.int64)
        for e in tokenizer(train_df["seq"].tolist(), add_special_tokens=False)["input_ids"]
    ]
    batch_rng = np.random.default_rng(seed + 1)

    def next_batch(step: int) -> dict:
        x = _windows(ids, cfg["seq_len"], cfg["batch_size"], batch_rng)
        return {"input_ids": x, "labels": x}

    schedule = Schedule(
        cfg["max_steps"], cfg["lr"], cfg["warmup_steps"], lr_floor=0.1, betas=(0.9, 0.95)
    )
    log = train_steps(
        model, next_batch, schedule, num_threads, max_seconds, progress, desc="train genomic LM"
    )
    losses, stopped_by_time = log.losses, log.stopped_by_time
    old_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        held = held_df["seq"].tolist()
        bits, spans = evaluate_bits_per_base(model, tokenizer, held, cfg["seq_len"])
    finally:
        torch.set_num_threads(old_threads)

    chains = genome_chains(
        data_settings.get("n_genomes", 24),
        data_settings.get("clade_size", 3),
        data_settings["seed"],
    )
    genome_index = [int(g.split("_")[1]) for g in held_df["genome_id"]]
    oracle = oracle_bits_per_base(held, genome_index, chains, spans)
    record = {
        "preset": preset,
        "seed": seed,
        "settings": {k: v for k, v in cfg.items()},
        "steps_completed": len(losses),
        "max_steps": cfg["max_steps"],
        "stopped_by_time": stopped_by_time,
        "max_seconds": max_seconds,
        "num_threads": num_threads,
        "tokenizer": cfg["tokenizer"],
        "vocab": len(tokenizer),
        "n_train_fragments": len(train_df),
        "n_heldout_fragments": len(held_df),
        **log.summary(model, last=10),
        "heldout_bits_per_base": bits,
        "uniform_bits_per_base": 2.0,
        "oracle_bits_per_base": oracle,
        "torch": torch.__version__,
        "total_seconds": None,
    }
    save_checkpoint(model, tokenizer, path)
    record["total_seconds"] = round(time.perf_counter() - started, 2)
    atomic_write_json(record, path / TRAINING_FILE)  # written last: marks the build done
    if stopped_by_time:
        import warnings

        warnings.warn(
            f"genomic LM training hit max_seconds={max_seconds} after "
            f"{len(losses)}/{cfg['max_steps']} steps; the weights depend on this "
            "machine's speed (see training.json)",
            stacklevel=2,
        )
    return record


def training_record(path: str | Path) -> dict[str, Any] | None:
    """The `training.json` saved with a genomic LM (None for other models)."""
    f = Path(path) / TRAINING_FILE
    return json.loads(f.read_text()) if f.is_file() else None
