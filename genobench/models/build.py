"""Building blocks of the checkpoints genobench builds itself: DNA tokenizers, the training
loop every stand-in uses, and saving a checkpoint.

Tokenizers are `tokenizers` objects wrapped in `PreTrainedTokenizerFast`, saved with the
model, so a stand-in loads back through `AutoTokenizer` like a hub checkpoint:

- `char`: one token per base (A, C, G, T, N);
- `kmer`: non-overlapping k-mers from the left, as the Nucleotide Transformer tokenizes;
  leftover bases and N are one token each;
- `bpe`: a byte-pair vocabulary learned from the given sequences (GenomeOcean, DNABERT-2).

`wrap` adds special tokens around a sequence: "cls_sep" ([CLS] ... [SEP], BERT),
"cls" ([CLS] ..., NT) or "none" (causal LMs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import torch

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BASES = list("ACGTN")
WRAPS = ("none", "cls", "cls_sep")


def dna_tokenizer(
    kind: str = "char",
    k: int = 3,
    wrap: str = "none",
    train_seqs: list[str] | None = None,
    vocab_size: int = 256,
):
    """A DNA tokenizer of `kind` char, kmer (`k`) or bpe (learned from `train_seqs`)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if wrap not in WRAPS:
        raise ValueError(f"wrap must be one of {', '.join(WRAPS)}, got {wrap!r}")
    if kind == "bpe":
        if not train_seqs:
            raise ValueError("a BPE tokenizer is learned from sequences; pass train_seqs=")
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.decoder = decoders.BPEDecoder()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=SPECIAL_TOKENS,
            initial_alphabet=BASES,
            show_progress=False,
        )
        tok.train_from_iterator(train_seqs, trainer)
        vocab = tok.get_vocab()
    elif kind in ("char", "kmer"):
        words = ["".join(p) for p in product("ACGT", repeat=k)] if kind == "kmer" else []
        vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS + words + BASES)}
        tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        pattern = f"[ACGT]{{{k}}}|." if kind == "kmer" else "."
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}; choose char, kmer or bpe")
    if wrap != "none":
        single = "[CLS] $A [SEP]" if wrap == "cls_sep" else "[CLS] $A"
        specials = [(t, vocab[t]) for t in ("[CLS]", "[SEP]") if t in single]
        tok.post_processor = processors.TemplateProcessing(single=single, special_tokens=specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        padding_side="right",
        model_input_names=["input_ids", "attention_mask"],
    )


def cosine_lr(step: int, steps: int, lr: float, warmup: int, floor: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay from `lr` to `floor * lr`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@dataclass(frozen=True)
class Schedule:
    """`steps` AdamW steps: linear warm-up over `warmup` steps to `lr`, then cosine decay to
    `lr_floor * lr`."""

    steps: int
    lr: float
    warmup: int
    lr_floor: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)


@dataclass
class TrainLog:
    """What `train_steps` did: the loss of every step, whether `max_seconds` stopped it, and
    how long it took."""

    losses: list[float]
    stopped_by_time: bool
    seconds: float

    def summary(self, model, last: int) -> dict[str, Any]:
        """The record's training columns: parameters, seconds, first loss, mean of the
        `last` losses and every 10th loss."""
        losses = self.losses
        return {
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "train_seconds": round(self.seconds, 2),
            "loss_first": losses[0] if losses else None,
            f"loss_last{last}_mean": float(np.mean(losses[-last:])) if losses else None,
            "loss_curve": [round(v, 4) for v in losses[::10]],
        }


def train_steps(
    model,
    next_batch: Callable[[int], dict],
    schedule: Schedule,
    num_threads: int = 1,
    max_seconds: float | None = None,
    progress: bool = False,
    desc: str = "train",
) -> TrainLog:
    """Train `model` on `next_batch(step)` (model keyword arguments with labels) with
    `schedule`, the one training loop of every checkpoint genobench trains.

    Gradients are clipped at norm 1; torch uses `num_threads` CPU threads meanwhile (the
    result can depend on the thread count). `max_seconds` stops early (reported).
    """
    from tqdm.auto import tqdm

    opt = torch.optim.AdamW(
        model.parameters(), lr=schedule.lr, betas=schedule.betas, weight_decay=0.01
    )
    old_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    losses, stopped = [], False
    started = time.perf_counter()
    try:
        model.train()
        bar = tqdm(range(schedule.steps), desc=desc, disable=not progress)
        for step in bar:
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                stopped = True
                break
            for group in opt.param_groups:
                group["lr"] = cosine_lr(
                    step, schedule.steps, schedule.lr, schedule.warmup, schedule.lr_floor
                )
            loss = model(**next_batch(step)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    finally:
        torch.set_num_threads(old_threads)
        model.eval()
    return TrainLog(losses, stopped, time.perf_counter() - started)


def save_checkpoint(model, tokenizer, path: str | Path) -> None:
    """`save_pretrained` a model and its tokenizer into `path`, without transformers' bars."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
