"""The semi-CRF verdict (paired bootstrap) on cases worked by hand, and the notebook's
checks of its settings."""

import numpy as np
import pandas as pd
import pytest

from genobench.benchmarks.semicrf_synthetic.comparison import headline, semicrf_verdict
from genobench.benchmarks.semicrf_synthetic.steps import checkpoint_folder, configure
from genobench.data.gene_structure import GeneStructureConfig, GeneStructureData, Split
from genobench.metrics.segmentation import segmentation_metrics

TRUTH = np.array(
    [
        [0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0],  # 3 boundaries
        [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],  # 1 boundary
    ]
)
BOUNDARY, KL = "boundary F1 @0 bp", "mean duration KL"


def _data(labels: np.ndarray) -> GeneStructureData:
    n, length = labels.shape
    config = GeneStructureConfig(num_train=1, num_val=1, num_test=n, seq_length=length)
    test = Split("test", np.zeros_like(labels, dtype=np.uint8), labels.astype(np.uint8), None)
    return GeneStructureData(config, {"test": test})


def _verdict(predictions: dict[str, np.ndarray], labels: np.ndarray = TRUTH) -> pd.DataFrame:
    data = _data(labels)
    table = pd.DataFrame(
        [
            {"model": name, **segmentation_metrics(labels, pred, 3, (0,), 4, 0.5)}
            for name, pred in predictions.items()
        ]
    ).set_index("model")
    verdict = semicrf_verdict(table, predictions, data, 0, 4, 0.5, seed=0)
    return verdict.set_index("metric") if len(verdict) else verdict


def test_identical_predictions_are_no_significant_difference():
    noisy = TRUTH.copy()
    noisy[0, 4] = 2
    v = _verdict({"semicrf": noisy, "linear": noisy.copy()})
    for metric in (BOUNDARY, KL):
        assert v.loc[metric, "semicrf - other"] == 0
        assert v.loc[metric, "95% interval"] == "[+0.000, +0.000]"
        assert v.loc[metric, "verdict"] == "semicrf not better (within the noise: interval holds 0)"


def test_a_clearly_better_model_is_significant():
    """The truth itself against one label everywhere: boundary F1 1 against 0 in every
    resample, and a duration KL of 0 against a positive one."""
    flat = np.zeros_like(TRUTH)
    v = _verdict({"semicrf": TRUTH.copy(), "softmax": flat})
    assert v.loc[BOUNDARY, "semicrf - other"] == 1.0
    assert v.loc[BOUNDARY, "95% interval"] == "[+1.000, +1.000]"
    assert v.loc[KL, "semicrf"] == 0 and v.loc[KL, "semicrf - other"] < 0
    assert float(v.loc[KL, "95% interval"].split(",")[1].strip(" ]")) < 0
    for metric in (BOUNDARY, KL):
        assert v.loc[metric, "best other"] == "softmax"
        assert v.loc[metric, "verdict"] == "semicrf better (interval excludes 0)"


def test_a_margin_that_one_sequence_makes_is_within_the_noise():
    """Both models right on sequence 0 (3 boundaries); on sequence 1 (1 boundary) the other
    finds none. Pooled, the other's F1 is 2*3 / (2*3 + 1) = 6/7, a margin of 1/7; but a
    resample of sequence 0 twice (probability 1/4) gives a difference of 0 and one of
    sequence 1 twice gives 1, so the interval is [0, 1] and holds 0."""
    other = TRUTH.copy()
    other[1] = 0
    v = _verdict({"semicrf": TRUTH.copy(), "linear": other})
    row = v.loc[BOUNDARY]
    assert row["semicrf"] == 1.0 and row["its value"] == pytest.approx(6 / 7)
    assert row["semicrf - other"] == pytest.approx(1 / 7)
    assert row["95% interval"] == "[+0.000, +1.000]"
    assert row["verdict"] == "semicrf better (within the noise: interval holds 0)"


def test_the_best_other_model_is_chosen_per_metric():
    """linear finds every boundary but merges the last two runs of sequence 0 (best F1 of
    the others, durations off); softmax predicts the truth's durations shifted by one
    position (F1 0 at tolerance 0, run lengths off by at most one at the ends)."""
    merged = TRUTH.copy()
    merged[0, 9:] = 2  # boundary at 9 lost: F1 6/7
    shifted = np.roll(TRUTH, 1, axis=1)  # every boundary one position late
    v = _verdict({"semicrf": TRUTH.copy(), "linear": merged, "softmax": shifted})
    assert v.loc[BOUNDARY, "best other"] == "linear"
    assert v.loc[BOUNDARY, "its value"] == pytest.approx(6 / 7)
    assert v.loc[KL, "best other"] == "softmax"


def test_no_verdict_without_a_semicrf_or_another_model():
    assert _verdict({"linear": TRUTH.copy(), "softmax": TRUTH.copy()}).empty
    assert _verdict({"semicrf": TRUTH.copy()}).empty


def test_headline():
    comparison = pd.DataFrame(
        {"boundary_f1_tol5": [0.5, 0.7], "duration_kl_mean": [0.2, 0.1]},
        index=pd.Index(["linear", "semicrf"], name="model"),
    )
    assert headline(comparison, 5) == {
        "metric": "boundary F1 @5 bp (semicrf)",
        "value": 0.7,
        "duration_kl_mean": 0.1,
    }
    assert headline(comparison.drop(index="semicrf"), 5) == {
        "metric": "boundary F1 @5 bp (linear)",
        "value": 0.5,
    }


def test_settings_are_checked_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="models: unknown model.*crf.*choose from softmax"):
        configure(["softmax", "crf"], "cpu", None)
    configure(["softmax"], "cpu", None)
    assert checkpoint_folder(None, None, tmp_path / "run") == tmp_path / "run" / "checkpoints"
    assert checkpoint_folder(None, tmp_path / "s", "r") == tmp_path / "s" / "checkpoints"
    assert checkpoint_folder(tmp_path / "c", tmp_path / "s", "r") == tmp_path / "c"
