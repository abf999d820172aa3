"""The verdicts of an esm_speed run: the validation metrics table, one comparison row per pair
(speedup with its range over the repeats, embedding cosine, accuracy drop), the run's overall
speed and validation verdicts, and its Markdown summary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genobench.benchmarks.esm_speed.validation import (
    EncoderValidation,
    accuracy_drop_verdict,
    baseline_for,
)
from genobench.status import FAIL, NO_BASELINE, NOT_MEASURED, PASS, WITHIN_NOISE

SPEED_COLUMNS = ("speedup", "speedup_min", "speedup_max", "n_repeats")
# the columns of validation_metrics_table shown in the report
METRIC_COLUMNS = [
    "pair",
    "role",
    "split",
    "source",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "tn",
    "fp",
    "fn",
    "tp",
]


def _baseline(
    pair: dict[str, Any], roles: dict[str, EncoderValidation], baselines: dict | None
) -> tuple[dict[str, float] | None, str]:
    """The baseline test metrics of a validated pair and where they come from: the
    `baseline_metrics` entry of its fast model, else its reference model's classifier."""
    given = baseline_for(baselines, pair["fast"])
    if given is not None:
        return given, "baseline_metrics"
    if "reference" in roles:
        return roles["reference"].metrics["test"], "reference (this run)"
    return None, "none"


def validation_metrics_table(
    pairs: list[dict[str, Any]],
    validation: dict[int, dict[str, EncoderValidation]],
    baselines: dict | None = None,
) -> pd.DataFrame:
    """validation_metrics.csv: per validated pair, each model's val and test metrics, and
    the `baseline_metrics` row when one applies."""
    rows = []
    for i, roles in validation.items():
        name = pairs[i]["name"]
        for role, v in roles.items():
            for split, m in v.metrics.items():
                rows.append(
                    {
                        "pair": name,
                        "role": role,
                        "model": v.label,
                        "split": split,
                        "source": "this run",
                        **m,
                    }
                )
        given = baseline_for(baselines, pairs[i]["fast"])
        if given is not None:
            rows.append(
                {
                    "pair": name,
                    "role": "baseline",
                    "model": None,
                    "split": "test",
                    "source": "baseline_metrics",
                    **given,
                }
            )
    return pd.DataFrame(rows)


def _validation_fields(
    pair: dict[str, Any],
    roles: dict[str, EncoderValidation] | None,
    validated: bool,
    baselines: dict | None,
    accuracy_threshold: float,
) -> dict[str, Any]:
    """The validation columns of one comparison row."""
    if not validated:
        return {
            "validation_verdict": NOT_MEASURED,
            "validation_message": "not validated (not in validation_pairs)",
        }
    if roles is None:
        return {
            "validation_verdict": NOT_MEASURED,
            "validation_message": "no model of the pair loaded: nothing to validate",
        }
    baseline, source = _baseline(pair, roles, baselines)
    if "fast" not in roles:
        return {
            "validation_verdict": NOT_MEASURED,
            "baseline_source": source,
            "validation_message": "the fast model did not load: nothing to validate",
        }
    fast_test = roles["fast"].metrics["test"]
    v = accuracy_drop_verdict(fast_test, baseline, accuracy_threshold)
    return {
        "validation_verdict": v.status,
        "baseline_source": source,
        "baseline_accuracy": (baseline or {}).get("accuracy", np.nan),
        "fast_accuracy": fast_test["accuracy"],
        "accuracy_drop": v.accuracy_drop,
        "accuracy_threshold": accuracy_threshold,
        "validation_message": v.message,
        "next_steps": " | ".join(v.next_steps),
    }


def comparison_table(
    pairs: list[dict[str, Any]],
    speedups: pd.DataFrame,
    fidelity: dict[str, dict[str, Any]],
    validation: dict[int, dict[str, EncoderValidation]],
    validation_pairs: list[int],
    baselines: dict | None = None,
    speedup_threshold: float = 2.0,
    accuracy_threshold: float = 0.05,
) -> pd.DataFrame:
    """comparison.csv: one row per pair with its overall speedup (the `all` row of
    `speedups`: median, range over the repeats, repeats, verdict), the cosine of its
    embeddings (shared weights only) and its validation verdict against the baseline."""
    overall = speedups[speedups["bucket"] == "all"] if len(speedups) else speedups
    rows = []
    for i, pair in enumerate(pairs):
        timed = overall[overall["pair"] == pair["name"]] if len(overall) else overall
        speed = timed.iloc[0] if len(timed) else None
        cosine = fidelity.get(pair["name"], {})
        rows.append(
            {
                "pair": pair["name"],
                "reference": pair["reference"],
                "fast": pair["fast"],
                **{c: np.nan if speed is None else speed[c] for c in SPEED_COLUMNS},
                "speedup_threshold": speedup_threshold,
                "speed_verdict": NOT_MEASURED if speed is None else speed["verdict"],
                "cosine_mean": cosine.get("cosine_mean", np.nan),
                "cosine_min": cosine.get("cosine_min", np.nan),
                **_validation_fields(
                    pair, validation.get(i), i in validation_pairs, baselines, accuracy_threshold
                ),
            }
        )
    return pd.DataFrame(rows)


def run_verdicts(comparison: pd.DataFrame) -> dict[str, str]:
    """The run's `speed` and `validation` verdicts from its pairs' ones.

    Speed: FAIL if a measured pair fails, else WITHIN NOISE if one is within noise, else
    PASS; NOT MEASURED if none was timed. Validation: FAIL if a pair fails, else PASS if
    one passes, else NO BASELINE if one had nothing to compare with; NOT MEASURED if none
    was validated.
    """
    speed = set(comparison["speed_verdict"]) - {NOT_MEASURED}
    validation = set(comparison["validation_verdict"]) - {NOT_MEASURED}
    return {
        "speed": _first_of(speed, (FAIL, WITHIN_NOISE, PASS)),
        "validation": _first_of(validation, (FAIL, PASS, NO_BASELINE)),
    }


def _first_of(verdicts: set[str], order: tuple[str, ...]) -> str:
    return next((v for v in order if v in verdicts), NOT_MEASURED)


def headline(comparison: pd.DataFrame) -> tuple[str, float]:
    """The run's headline: the overall speedup of its first timed pair (NaN if none)."""
    measured = comparison[comparison["speed_verdict"] != NOT_MEASURED]
    if measured.empty:
        return "speedup", float("nan")
    first = measured.iloc[0]
    return f"speedup ({first['pair']})", float(first["speedup"])


def _fmt(x, spec: str = ".2f", unit: str = "") -> str:
    return "n/a" if pd.isna(x) else f"{x:{spec}}{unit}"


def summary_markdown(
    comparison: pd.DataFrame,
    loads: pd.DataFrame,
    verdicts: dict[str, str],
    hardware: dict[str, Any],
    speedup_threshold: float = 2.0,
    accuracy_threshold: float = 0.05,
) -> str:
    """The run's summary: both verdicts, one table row per pair, the models that could not
    load, and the message (with next steps on FAIL) of each pair without a clean PASS."""
    cuda = f", CUDA {hardware['cuda']}" if hardware.get("cuda") else ""
    lines = [
        f"**Speed: {verdicts['speed']}** (speedup = reference time / fast time, PASS if ≥ "
        f"{speedup_threshold:g}×, {WITHIN_NOISE} when the two models' timed repeats overlap) "
        f"on {hardware['device_name']}, torch {hardware['torch']}{cuda}.",
        "",
        f"**Validation: {verdicts['validation']}** (FAIL if the accuracy drop against the "
        f"baseline > {accuracy_threshold:g}).",
        "",
        "| pair | speedup (range, repeats) | speed | cosine (min) | baseline acc. | fast acc. "
        "| drop | validation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in comparison.iterrows():
        spread = (
            ""
            if pd.isna(r["speedup"])
            else f" ({_fmt(r['speedup_min'])}–{_fmt(r['speedup_max'])}, n = {int(r['n_repeats'])})"
        )
        lines.append(
            f"| {r['pair']} | {_fmt(r['speedup'], '.2f', '×')}{spread} | {r['speed_verdict']} | "
            f"{_fmt(r['cosine_min'], '.6f')} | {_fmt(r.get('baseline_accuracy'), '.3f')} | "
            f"{_fmt(r.get('fast_accuracy'), '.3f')} | {_fmt(r.get('accuracy_drop'), '+.3f')} | "
            f"{r['validation_verdict']} |"
        )
    failed = loads[loads["status"] == "failed"] if len(loads) else loads
    if len(failed):
        lines += ["", "Models that could not be loaded:"]
        lines += [
            f"- {r['role']} `{r['model']}`: {r['reason'][:300]}" for _, r in failed.iterrows()
        ]
    for _, r in comparison.iterrows():
        if r["validation_verdict"] == NO_BASELINE:
            lines += ["", f"{r['pair']}: {r['validation_message']}"]
        if r["validation_verdict"] == FAIL:
            lines += ["", f"**{r['pair']}: {r['validation_message']}.** Next steps:"]
            lines += [f"1. {s}" for s in r["next_steps"].split(" | ")]
    return "\n".join(lines)
