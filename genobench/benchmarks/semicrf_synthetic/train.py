"""The seeded, resumable training loop shared by every segmentation model.

AdamW; one pass over the shuffled training split per epoch (the order of epoch e is drawn
from a generator seeded with (seed, e), so it does not depend on what ran before);
validation after each epoch (per-position loss, boundary F1 at the largest tolerance,
macro position F1); `<checkpoint_dir>/<model>_best.pt` whenever the selection metric
improves and `<checkpoint_dir>/<model>_last.pt` after every epoch. With `resume`, a run
that finds a `_last.pt` written with the same settings continues after its epoch (model,
optimizer, history and timings restored), so an interrupted run ends with the same
weights as an uninterrupted one; a `_last.pt` written with other settings is refused.
A tqdm bar counts the steps and a log line is printed every `log_every` steps.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from genobench.data.gene_structure import Split, featurize
from genobench.metrics.segmentation import boundary_f1, position_f1

SELECT_ON = ("boundary_f1", "position_f1", "val_loss")


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 0.01
    grad_clip: float | None = 1.0
    seed: int = 0
    log_every: int = 10
    device: str = "cpu"
    features: str = "onehot"
    kmer_window: int = 32
    select_on: str = "boundary_f1"
    tolerances: tuple[int, ...] = (0, 10, 50)

    def __post_init__(self):
        if self.select_on not in SELECT_ON:
            raise ValueError(
                f"select_on must be one of {', '.join(SELECT_ON)}, got {self.select_on!r}"
            )
        if self.epochs < 0 or self.batch_size < 1 or self.log_every < 1:
            raise ValueError(
                "need epochs >= 0, batch_size >= 1 and log_every >= 1, got "
                f"{self.epochs}, {self.batch_size}, {self.log_every}"
            )
        self.tolerances = tuple(int(t) for t in self.tolerances)


@dataclass
class TrainResult:
    name: str
    history: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    best_epoch: int
    best_score: float
    best_path: Path
    last_path: Path
    train_seconds: float
    resumed_from_epoch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def batches(split: Split, batch_size: int, order: np.ndarray | None = None):
    """(tokens, labels, lengths) tensors of consecutive batches in `order`."""
    order = np.arange(len(split)) if order is None else order
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield (
            torch.from_numpy(split.tokens[idx]),
            torch.from_numpy(split.labels[idx]).long(),
            torch.from_numpy(split.lengths[idx]),
        )


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of epoch `epoch` (1-based), a function of (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def _features(tokens: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    return featurize(tokens, config.features, config.kmer_window).to(config.device)


@torch.no_grad()
def predict(
    model: torch.nn.Module, split: Split, config: TrainConfig, with_loss: bool = False
) -> tuple[np.ndarray, float]:
    """Decoded labels (N, T) of a split (and its mean per-position loss, else NaN)."""
    model.eval()
    preds, losses, weights = [], [], []
    for tokens, labels, lengths in batches(split, config.batch_size):
        feats = _features(tokens, config)
        lengths_dev = lengths.to(config.device)
        emissions = model.emissions(feats, lengths_dev)
        if with_loss:
            losses.append(float(model.head.loss(emissions, lengths_dev, labels.to(config.device))))
            weights.append(len(tokens))
        preds.append(model.head.decode(emissions, lengths_dev).cpu().numpy())
    loss = float(np.average(losses, weights=weights)) if with_loss else float("nan")
    return np.concatenate(preds), loss


def validate(model, split: Split, config: TrainConfig, num_classes: int) -> dict[str, float]:
    """Per-position loss, boundary F1 at the largest tolerance and macro position F1 on a split."""
    pred, loss = predict(model, split, config, with_loss=True)
    truth = split.labels.astype(np.int64)
    tol = max(config.tolerances)
    return {
        "val_loss": loss,
        "val_boundary_f1": boundary_f1(truth, pred, tol, split.lengths)["f1"],
        "val_position_f1": position_f1(truth, pred, num_classes, split.lengths)["macro_f1"],
    }


def _score(metrics: dict[str, float], select_on: str) -> float:
    if select_on == "val_loss":
        return -metrics["val_loss"]
    return metrics[f"val_{select_on}"]


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _jsonable(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, default=str)


def train_model(
    name: str,
    model: torch.nn.Module,
    train: Split,
    val: Split,
    config: TrainConfig,
    checkpoint_dir: str | Path,
    num_classes: int,
    resume: bool = True,
    spec: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> TrainResult:
    """Train `model` (already built, seeded by the caller) and keep its best checkpoint.

    `spec` describes everything that determines the run besides `config` (data, model
    settings); a `_last.pt` whose spec or config differ is refused rather than resumed.
    The tqdm bar is off with `progress=False` or when TQDM_DISABLE is set (tqdm's notebook
    bar does not read that variable itself).
    """
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    best_path = checkpoint_dir / f"{name}_best.pt"
    last_path = checkpoint_dir / f"{name}_last.pt"
    signature = _jsonable(
        {
            "model": name,
            "spec": spec or {},
            **{k: v for k, v in asdict(config).items() if k not in ("epochs", "log_every")},
        }
    )
    model.to(config.device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    history: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    best_score, best_epoch, done, elapsed, step = -math.inf, 0, 0, 0.0, 0
    if resume and last_path.is_file():
        state = torch.load(last_path, map_location=config.device, weights_only=False)
        if state["signature"] != signature:
            raise ValueError(
                f"{last_path} was written by a run with other settings; delete it "
                f"(or use another checkpoint_dir, or resume=False) to start afresh.\n"
                f"  saved:   {state['signature']}\n  current: {signature}"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, steps = state["history"], state["steps"]
        best_score, best_epoch = state["best_score"], state["best_epoch"]
        done, elapsed, step = state["epoch"], state["elapsed"], state["step"]
        log(f"{name}: resumed from {last_path} after epoch {done}")
    resumed_from = done
    n_batches = math.ceil(len(train) / config.batch_size)
    bar = tqdm(
        total=n_batches * config.epochs,
        initial=n_batches * min(done, config.epochs),
        desc=name,
        leave=False,
        disable=not progress or bool(os.environ.get("TQDM_DISABLE")),
    )
    for epoch in range(done + 1, config.epochs + 1):
        model.train()
        start = time.perf_counter()
        running, count = 0.0, 0
        epoch_loss, epoch_count = 0.0, 0
        for tokens, labels, lengths in batches(
            train, config.batch_size, epoch_order(len(train), config.seed, epoch)
        ):
            feats = _features(tokens, config)
            loss = model.loss(feats, lengths.to(config.device), labels.to(config.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            value = loss.item()
            running, count = running + value, count + 1
            epoch_loss, epoch_count = epoch_loss + value * len(tokens), epoch_count + len(tokens)
            bar.update(1)
            if step % config.log_every == 0:
                steps.append({"step": step, "epoch": epoch, "loss": running / count})
                log(
                    f"{name}: epoch {epoch}/{config.epochs} step {step} loss {running / count:.4f} "
                    f"({elapsed + time.perf_counter() - start:.1f} s)"
                )
                running, count = 0.0, 0
        train_seconds = time.perf_counter() - start
        metrics = validate(model, val, config, num_classes)
        epoch_seconds = time.perf_counter() - start
        elapsed += epoch_seconds
        row = {
            "epoch": epoch,
            "step": step,
            "train_loss": epoch_loss / max(epoch_count, 1),
            **metrics,
            "train_s": train_seconds,
            "epoch_s": epoch_seconds,
        }
        history.append(row)
        score = _score(metrics, config.select_on)
        improved = score > best_score
        if improved:
            best_score, best_epoch = score, epoch
            _atomic_save(
                {
                    "model": model.state_dict(),
                    "epoch": epoch,
                    "score": score,
                    "select_on": config.select_on,
                    "signature": signature,
                },
                best_path,
            )
        _atomic_save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": epoch,
                "step": step,
                "history": history,
                "steps": steps,
                "best_score": best_score,
                "best_epoch": best_epoch,
                "elapsed": elapsed,
                "signature": signature,
            },
            last_path,
        )
        log(
            f"{name}: epoch {epoch}/{config.epochs} train loss {row['train_loss']:.4f}, val loss "
            f"{metrics['val_loss']:.4f}, val boundary F1@{max(config.tolerances)} "
            f"{metrics['val_boundary_f1']:.3f}, val position F1 {metrics['val_position_f1']:.3f}"
            f"{' (best)' if improved else ''} [{epoch_seconds:.1f} s]"
        )
    bar.close()
    if not best_path.is_file():  # epochs = 0: keep the initial weights as "best"
        _atomic_save(
            {
                "model": model.state_dict(),
                "epoch": 0,
                "score": best_score,
                "select_on": config.select_on,
                "signature": signature,
            },
            best_path,
        )
    return TrainResult(
        name, history, steps, best_epoch, best_score, best_path, last_path, elapsed, resumed_from
    )


def load_best(
    model: torch.nn.Module, result_or_path: TrainResult | str | Path, device: str = "cpu"
) -> torch.nn.Module:
    """Load the best checkpoint's weights into `model`."""
    path = (
        result_or_path.best_path
        if isinstance(result_or_path, TrainResult)
        else Path(result_or_path)
    )
    model.load_state_dict(torch.load(path, map_location=device, weights_only=False)["model"])
    return model.to(device)
