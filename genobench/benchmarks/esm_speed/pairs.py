"""Each pair of models end to end: load both (a model that cannot load is a failed row and
the pair goes on with the other), time them on the speed proteins, compare their embeddings
when they share weights, and for validation pairs train and score one classifier per model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genobench.benchmarks.esm_speed.speed import ROLES, load_role, time_pair
from genobench.benchmarks.esm_speed.validation import EncoderValidation, validate_encoder
from genobench.metrics.fidelity import cosine_similarity


def check_validation_pairs(validation_pairs, n_pairs: int) -> list[int]:
    """The `validation_pairs` parameter as a list of indices into `pairs` (0..n_pairs-1);
    ValueError naming the bad entries otherwise."""
    if not isinstance(validation_pairs, (list, tuple)):
        raise ValueError(
            f"validation_pairs must be a list of indices into pairs, got {validation_pairs!r}"
        )
    bad = [i for i in validation_pairs if isinstance(i, bool) or not isinstance(i, int)]
    bad += [i for i in validation_pairs if i not in bad and not 0 <= i < n_pairs]
    if bad:
        raise ValueError(
            f"validation_pairs {bad} are not indices of pairs (0..{n_pairs - 1}): give a list "
            f"of the positions in pairs whose classifiers are compared, e.g. [0]"
        )
    return list(validation_pairs)


def embedding_fidelity(
    pair: dict[str, Any], embeddings: dict[str, np.ndarray | None]
) -> dict[str, Any] | None:
    """Cosine similarity of the two models' embeddings of the same proteins (mean, min, n)
    for a pair that shares weights and has both; None otherwise (two different models'
    embeddings are not comparable row by row)."""
    ref, fast = embeddings.get("reference"), embeddings.get("fast")
    if not pair["shared_weights"] or ref is None or fast is None:
        return None
    if ref.shape != fast.shape:
        raise ValueError(
            f"pair {pair['name']!r} has shared_weights true, but its models' embeddings are "
            f"{ref.shape[1]}- and {fast.shape[1]}-dimensional: set shared_weights: false for "
            "two different models"
        )
    cos = cosine_similarity(ref, fast)
    return {"pair": pair["name"], "cosine_mean": cos.mean(), "cosine_min": cos.min(), "n": len(cos)}


@dataclass
class PairRuns:
    """What running the pairs gave: one row per model load, the timed calls, the embedding
    fidelity of shared-weight pairs, and the classifiers of the validation pairs."""

    loads: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # for write_failures
    timings: list[pd.DataFrame] = field(default_factory=list)
    fidelity: dict[str, dict[str, Any]] = field(default_factory=dict)  # pair name -> cosine
    validation: dict[int, dict[str, EncoderValidation]] = field(default_factory=dict)

    def load_table(self) -> pd.DataFrame:
        """models.csv: each model's load status, attention, size or the reason it failed."""
        return pd.DataFrame(self.loads)

    def raw_timings(self) -> pd.DataFrame:
        """speed_runs.csv: one row per timed call (empty when no model loaded)."""
        return pd.concat(self.timings, ignore_index=True) if self.timings else pd.DataFrame()

    def test_scores(self) -> pd.DataFrame:
        """test_scores.csv: each validation model's score of each test protein."""
        parts = [v.test_scores for roles in self.validation.values() for v in roles.values()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def roc_curves(self) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
        """Label ("pair i role: model") -> the test split's (fpr, tpr, ROC-AUC)."""
        return {
            f"pair {i} {role}: {v.label}": v.roc
            for i, roles in self.validation.items()
            for role, v in roles.items()
        }


def run_pairs(
    pairs: list[dict[str, Any]],
    proteins: pd.DataFrame,
    labelled: pd.DataFrame,
    splits: dict[str, np.ndarray],
    validation_pairs: list[int],
    checkpoint_dir: str | Path,
    *,
    classes=("0", "1"),
    batch_size: int = 8,
    warmup: int = 10,
    num_runs: int = 3,
    device: str = "cpu",
    dtype: str | None = None,
    max_length: int = 1024,
    seed: int = 0,
    hidden_layer_sizes=(64,),
    alphas=(1e-4, 1e-2, 1.0),
) -> PairRuns:
    """Run every pair of `normalize_pairs` (see the module docstring); pair i's classifier
    checkpoints go to `checkpoint_dir/pair<i>_<role>`. Each pair's models are released
    before the next pair is loaded."""
    runs = PairRuns()
    for i, pair in enumerate(pairs):
        encoders = {}
        for role in ROLES:
            encoders[role], row, failure = load_role(pair, role, device, dtype)
            runs.loads.append(row)
            if failure:
                runs.failures.append(failure)
        if not any(encoders.values()):
            continue
        raw, embeddings = time_pair(
            encoders["reference"],
            encoders["fast"],
            proteins,
            batch_size,
            warmup,
            num_runs,
            device,
            max_length,
        )
        raw.insert(0, "pair", pair["name"])
        runs.timings.append(raw)
        fidelity = embedding_fidelity(pair, embeddings)
        if fidelity is not None:
            runs.fidelity[pair["name"]] = fidelity
        if i in validation_pairs:
            runs.validation[i] = {
                role: validate_encoder(
                    enc,
                    labelled,
                    splits,
                    Path(checkpoint_dir) / f"pair{i}_{role}",
                    pair["name"],
                    role,
                    classes=classes,
                    seed=seed,
                    hidden_layer_sizes=hidden_layer_sizes,
                    alphas=alphas,
                    batch_size=batch_size,
                    max_length=max_length,
                )
                for role, enc in encoders.items()
                if enc is not None
            }
        for enc in encoders.values():
            if enc is not None:
                enc.release()
    return runs
