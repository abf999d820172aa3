"""esm_speed: the per-pair comparison, the run's verdicts and summary, running the pairs'
inputs and checks (validation_pairs, shared-weight fidelity, the protein sets)."""

import numpy as np
import pandas as pd
import pytest

from genobench.benchmarks.esm_speed.comparison import (
    comparison_table,
    headline,
    run_verdicts,
    summary_markdown,
    validation_metrics_table,
)
from genobench.benchmarks.esm_speed.inputs import (
    class_names,
    describe_sets,
    speed_proteins,
    split_table,
)
from genobench.benchmarks.esm_speed.pairs import check_validation_pairs, embedding_fidelity
from genobench.benchmarks.esm_speed.speed import normalize_pairs
from genobench.benchmarks.esm_speed.validation import EncoderValidation
from genobench.status import FAIL, NO_BASELINE, NOT_MEASURED, PASS, WITHIN_NOISE

HARDWARE = {"device_name": "CPU (test)", "torch": "2.x", "cuda": None}


def _validation(label, val_acc, test_acc):
    metrics = {
        s: {"accuracy": a, "roc_auc": 0.9, "n": 10}
        for s, a in (("val", val_acc), ("test", test_acc))
    }
    return EncoderValidation(label, 0.01, metrics, pd.DataFrame(), (None, None, 0.9))


def _speedups(rows):
    """The `all` rows of a speedups table: pair -> (speedup, min, max, verdict)."""
    return pd.DataFrame(
        [
            {
                "pair": pair,
                "bucket": "all",
                "speedup": s,
                "speedup_min": lo,
                "speedup_max": hi,
                "n_repeats": 3,
                "verdict": v,
            }
            for pair, (s, lo, hi, v) in rows.items()
        ]
    )


@pytest.fixture()
def pairs():
    return normalize_pairs(
        [
            {"reference": "a", "fast": "a"},  # shared weights, validated, passes
            {"reference": "b", "fast": "c"},  # different encoders, validated, fails
            {"reference": "d", "fast": "d"},  # timed only
        ]
    )


def test_comparison_rows_from_hand_made_parts(pairs):
    speed = _speedups({"a vs a": (2.5, 2.1, 3.0, PASS), "b vs c": (1.5, 0.8, 2.2, WITHIN_NOISE)})
    fidelity = {"a vs a": {"cosine_mean": 0.9999, "cosine_min": 0.999}}
    validation = {
        0: {"reference": _validation("a [eager]", 0.8, 0.90), "fast": _validation("a", 0.8, 0.88)},
        1: {"reference": _validation("b", 0.8, 0.90), "fast": _validation("c", 0.7, 0.70)},
    }
    table = comparison_table(pairs, speed, fidelity, validation, [0, 1], None, 2.0, 0.05)
    a, b, d = (table.iloc[i] for i in range(3))
    assert (a["speedup"], a["speedup_min"], a["speedup_max"], a["n_repeats"]) == (2.5, 2.1, 3.0, 3)
    assert a["speed_verdict"] == PASS and a["cosine_min"] == 0.999
    assert a["validation_verdict"] == PASS and a["accuracy_drop"] == pytest.approx(0.02)
    assert a["baseline_source"] == "reference (this run)" and a["next_steps"] == ""
    assert b["speed_verdict"] == WITHIN_NOISE and np.isnan(b["cosine_min"])  # no cosine
    assert b["validation_verdict"] == FAIL and b["accuracy_drop"] == pytest.approx(0.20)
    assert "compare on shared weights" in b["next_steps"]
    assert d["speed_verdict"] == NOT_MEASURED and np.isnan(d["speedup"])
    assert d["validation_verdict"] == NOT_MEASURED
    assert d["validation_message"] == "not validated (not in validation_pairs)"
    assert run_verdicts(table) == {"speed": WITHIN_NOISE, "validation": FAIL}
    assert headline(table) == ("speedup (a vs a)", 2.5)
    md = summary_markdown(table, pd.DataFrame(), run_verdicts(table), HARDWARE, 2.0, 0.05)
    assert "**Speed: WITHIN NOISE**" in md and "**Validation: FAIL**" in md
    assert "| a vs a | 2.50× (2.10–3.00, n = 3) | PASS | 0.999000 | 0.900 | 0.880 |" in md
    assert "| d vs d | n/a | NOT MEASURED | n/a |" in md
    assert md.count("Next steps:") == 1 and "**b vs c: accuracy 0.700 vs baseline 0.900" in md


def test_given_baseline_and_models_that_did_not_load(pairs):
    validation = {
        0: {"reference": _validation("a", 0.8, 0.9)},
        1: {"fast": _validation("c", 0.8, 0.7)},
    }
    baselines = {"a": {"accuracy": 0.95}}  # per fast model: only pair 0's has one
    table = comparison_table(pairs, pd.DataFrame(), {}, validation, [0, 1, 2], baselines)
    assert list(table["validation_verdict"]) == [NOT_MEASURED, NO_BASELINE, NOT_MEASURED]
    assert table["validation_message"].iloc[0] == "the fast model did not load: nothing to validate"
    assert table["baseline_source"].iloc[0] == "baseline_metrics"
    assert "no model of the pair loaded" in table["validation_message"].iloc[2]
    assert run_verdicts(table) == {"speed": NOT_MEASURED, "validation": NO_BASELINE}
    assert headline(table)[0] == "speedup" and np.isnan(headline(table)[1])
    metrics = validation_metrics_table(pairs, validation, baselines)
    assert list(zip(metrics["role"], metrics["split"], metrics["source"])) == [
        ("reference", "val", "this run"),
        ("reference", "test", "this run"),
        ("baseline", "test", "baseline_metrics"),
        ("fast", "val", "this run"),
        ("fast", "test", "this run"),
    ]
    loads = pd.DataFrame(
        [{"role": "fast", "model": "a", "status": "failed", "reason": "ModelLoadError: gone"}]
    )
    md = summary_markdown(table, loads, run_verdicts(table), HARDWARE)
    assert "Models that could not be loaded:\n- fast `a`: ModelLoadError: gone" in md
    assert "b vs c: no baseline metrics" in md


@pytest.mark.parametrize(
    "verdicts, speed",
    [
        ([PASS, PASS], PASS),
        ([PASS, FAIL], FAIL),
        ([PASS, WITHIN_NOISE], WITHIN_NOISE),
        ([WITHIN_NOISE, FAIL], FAIL),
        ([NOT_MEASURED, PASS], PASS),
        ([NOT_MEASURED, NOT_MEASURED], NOT_MEASURED),
    ],
)
def test_speed_roll_up(verdicts, speed):
    table = pd.DataFrame({"speed_verdict": verdicts, "validation_verdict": NOT_MEASURED})
    assert run_verdicts(table) == {"speed": speed, "validation": NOT_MEASURED}


def test_validation_pairs_must_be_indices_of_pairs():
    assert check_validation_pairs([0, 2], 3) == [0, 2]
    assert check_validation_pairs([], 1) == []
    with pytest.raises(
        ValueError, match=r"validation_pairs \[3, -1\] are not indices of pairs \(0..2\)"
    ):
        check_validation_pairs([0, 3, -1], 3)
    with pytest.raises(ValueError, match=r"validation_pairs \['0'\] are not indices"):
        check_validation_pairs(["0"], 3)
    with pytest.raises(ValueError, match="must be a list of indices into pairs, got 0"):
        check_validation_pairs(0, 3)


def test_fidelity_only_for_shared_weights():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 4))
    [shared, different] = normalize_pairs(
        [{"reference": "m", "fast": "m"}, {"reference": "m", "fast": "t"}]
    )
    f = embedding_fidelity(shared, {"reference": a, "fast": 2 * a})  # same direction: cosine 1
    assert f["cosine_min"] == pytest.approx(1.0) and f["n"] == 5
    b = a.copy()
    b[0] = -b[0]  # one row reversed: cosine -1 there
    assert embedding_fidelity(shared, {"reference": a, "fast": b})["cosine_min"] == pytest.approx(
        -1.0
    )
    assert embedding_fidelity(shared, {"reference": a, "fast": None}) is None
    assert embedding_fidelity(different, {"reference": a, "fast": rng.normal(size=(5, 2))}) is None
    forced = {**different, "shared_weights": True}
    with pytest.raises(ValueError, match="4- and 2-dimensional: set shared_weights: false"):
        embedding_fidelity(forced, {"reference": a, "fast": rng.normal(size=(5, 2))})


def test_protein_sets_and_split_table():
    proteins, buckets = speed_proteins(None, [30, 60], None, 3, seed=0)
    assert buckets == [30, 60] and list(proteins.index) == list(range(6))
    assert proteins.groupby("bucket").size().to_dict() == {30: 3, 60: 3}
    labelled = pd.DataFrame(
        {
            "id": list("abcd"),
            "label": [0, 1, 1, 0],
            "label_name": ["host", "viral", "viral", "host"],
        }
    )
    splits = {"train": np.array([0, 1]), "val": np.array([2]), "test": np.array([3])}
    assert class_names(labelled) == ["host", "viral"]
    assert list(split_table(labelled, splits)["split"]) == ["train", "train", "val", "test"]
    text = describe_sets(proteins, labelled, splits)
    assert text == (
        "speed: 6 proteins, buckets 30 aa: 3, 60 aa: 3\n"
        "validation: 4 proteins (viral = 1: 2, host = 0: 2); train 2, val 1, test 1"
    )
    with pytest.raises(ValueError, match="no protein of label 1"):
        class_names(labelled[labelled["label"] == 0])
