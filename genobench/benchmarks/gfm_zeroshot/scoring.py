"""Score every variant with every model, one model at a time, each isolated from the others.

A model that cannot load or score (a missing package, broken remote code, out of memory)
becomes one failed row (error class and message, the fix when genobench knows it) and the
remaining models still run; the notebook writes those rows with
`genobench.report.results.write_failures`, so the run is `partial`. A quantization mode the
device cannot run (bitsandbytes' own refusal) is a skipped row, not a failure.
"""

from __future__ import annotations

import time
import warnings

import pandas as pd
from tqdm.auto import tqdm

from genobench.benchmarks.gfm_zeroshot.scorers import build_model
from genobench.data.variants import variant_windows
from genobench.models.loading import ModeUnavailable
from genobench.models.registry import METHOD_SIGN, ModelSpec
from genobench.report.results import failure_row

VARIANT_COLUMNS = ["chrom", "pos", "ref", "alt", "label", "region_type"]


def score_one(
    spec: ModelSpec,
    table: pd.DataFrame,
    genome: dict[str, str],
    window: int,
    batch_size: int = 16,
    device: str = "cpu",
    load_in_4bit="auto",
    local_radius: int = 16,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """One model's scores of every variant (long table: one row per variant and method) and
    its timing row. Errors are raised."""
    t0 = time.perf_counter()
    model = build_model(
        spec,
        device=device,
        load_in_4bit=load_in_4bit,
        local_radius=local_radius,
        reference=genome,
        seed=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' notices about unused heads etc.
        model.load()
    t1 = time.perf_counter()
    width = model.window_length(window)
    scores = model.score_windows(variant_windows(table, genome, width), batch_size=batch_size)
    t2 = time.perf_counter()
    rows = pd.concat(
        [
            table[VARIANT_COLUMNS].assign(
                model=spec.name,
                method=method,
                window=width,
                raw_score=raw,
                pathogenicity=METHOD_SIGN[method] * raw,
            )
            for method, raw in scores.items()
        ],
        ignore_index=True,
    )
    timing = {
        "model": spec.name,
        "status": "ok",
        "window_bp": width,
        "load_or_train_s": round(t1 - t0, 1),
        "score_s": round(t2 - t1, 1),
        "methods": ", ".join(scores),
        "reason": "",
    }
    return rows, timing


def score_models(
    specs: list[ModelSpec],
    table: pd.DataFrame,
    genome: dict[str, str],
    window: int,
    progress: bool = True,
    **kwargs,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Every model's scores -> (scores, timing with one row per model and its status,
    failure rows). `kwargs` are `score_one`'s."""
    parts, timing, failures = [], [], []
    for spec in tqdm(specs, desc="models", disable=not progress):
        try:
            rows, row = score_one(spec, table, genome, window, **kwargs)
        except ModeUnavailable as exc:  # the device cannot run the entry's 4-bit mode
            timing.append({"model": spec.name, "status": "skipped", "reason": str(exc)})
            continue
        except Exception as exc:  # noqa: BLE001 - one model's failure is its row, not the run's
            failure = failure_row(spec.name, exc)
            failures.append(failure)
            timing.append(
                {
                    "model": spec.name,
                    "status": "failed",
                    "reason": failure["error"],
                    "fix": failure["fix"],
                }
            )
            continue
        parts.append(rows)
        timing.append(row)
    scores = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            columns=[*VARIANT_COLUMNS, "model", "method", "window", "raw_score", "pathogenicity"]
        )
    )
    return scores, pd.DataFrame(timing), failures
