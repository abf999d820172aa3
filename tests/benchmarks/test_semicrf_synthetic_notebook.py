"""The semicrf_synthetic notebook with its smoke parameters, and its params files."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score

from genobench.data.packaged import describe
from genobench.report.runner import load_params, run_notebook

REPO = Path(__file__).resolve().parents[2]
MODELS = ["softmax", "pytorch-crf", "linear", "semicrf", "semicrf_uniform"]


def _runs(labels: np.ndarray) -> set[tuple[int, int, int]]:
    """(start, end, label) of each run of equal labels, by hand."""
    starts = np.r_[0, np.flatnonzero(np.diff(labels)) + 1]
    ends = np.r_[starts[1:], len(labels)]
    return {(int(a), int(b), int(labels[a])) for a, b in zip(starts, ends)}


@pytest.mark.slow
def test_smoke_notebook_run(smoke_run):
    run_dir, record = smoke_run("semicrf_synthetic")
    assert record["status"] == "ok", record["error"]
    table = pd.read_csv(run_dir / "metrics.csv").set_index("model")
    assert list(table.index) == MODELS
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert set(saved["metrics"]) == set(MODELS)
    assert saved["config"]["seq_length"] == 300 and "notebook_s" in saved["timings"]
    # test metrics recomputed from the written predictions: position macro F1 with
    # scikit-learn, exact boundaries and exact segments by hand
    predictions = pd.read_csv(run_dir / "test_predictions.csv")
    assert predictions.groupby("model").size().to_dict() == {m: 4 * 300 for m in MODELS}
    for model, part in predictions.groupby("model"):
        row = table.loc[model]
        classes = sorted(set(part["true"]) | set(part["pred"]))
        assert row["position_macro_f1"] == pytest.approx(
            f1_score(part["true"], part["pred"], labels=classes, average="macro"), abs=1e-12
        )
        tp = n_true = n_pred = seg_tp = seg_true = seg_pred = 0
        for _, seq in part.groupby("sequence"):
            t, p = seq["true"].to_numpy(), seq["pred"].to_numpy()
            bt, bp = set(np.flatnonzero(np.diff(t))), set(np.flatnonzero(np.diff(p)))
            tp, n_true, n_pred = tp + len(bt & bp), n_true + len(bt), n_pred + len(bp)
            rt, rp = _runs(t), _runs(p)
            seg_tp += len(rt & rp)
            seg_true, seg_pred = seg_true + len(rt), seg_pred + len(rp)
        assert row["boundary_f1_tol0"] == pytest.approx(
            2 * tp / (n_true + n_pred) if n_true + n_pred else 1.0
        )
        assert row["segment_f1"] == pytest.approx(
            2 * seg_tp / (seg_true + seg_pred) if seg_true + seg_pred else 1.0
        )
    assert record["headline"]["metric"].startswith("boundary F1")
    for name in ("duration_comparison", "training_curves", "learned_durations_semicrf"):
        assert (run_dir / "figures" / f"{name}.html").is_file()
    checkpoints = run_dir.parents[3] / "checkpoints"  # checkpoint_dir given by the fixture
    for model in MODELS:
        assert (checkpoints / f"{model}_best.pt").is_file()
    assert (run_dir.parents[3] / "data").is_dir()  # the splits were saved where asked


@pytest.mark.slow
def test_real_smoke_notebook_run(in_repo, tmp_path):
    """Real genes (phage Topaz's Prodigal calls, 15 bp bins): the five models, the
    annotation's durations and the dataset's provenance."""
    record = run_notebook(
        "semicrf_synthetic",
        "params/semicrf_synthetic/real_smoke.yaml",
        {"data_dir": str(tmp_path / "data")},
        reports_dir=tmp_path / "reports",
    )
    assert record["status"] == "ok", record["error"]
    run_dir = tmp_path / "reports" / "runs" / "semicrf_synthetic" / "real_smoke"
    table = pd.read_csv(run_dir / "metrics.csv")
    assert list(table["model"]) == MODELS
    assert {"duration_kl_gene_plus", "duration_kl_gene_minus", "boundary_f1_tol3"} <= set(table)
    durations = pd.read_csv(run_dir / "true_durations.csv")
    assert set(durations["class"]) == {"intergenic", "gene_plus", "gene_minus"}
    assert durations["duration"].sum() == describe("phage_topaz")["size"] // 15  # all of it
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["class_names"] == ["intergenic", "gene_plus", "gene_minus"]
    datasets = pd.read_csv(run_dir / "datasets.csv")
    assert datasets["dataset"].tolist() == ["phage_topaz"]
    assert datasets["package"].iloc[0] == "pyrodigal-gv"


@pytest.mark.parametrize(
    "name", ["smoke", "cpu", "gpu", "sweep", "sweep_cpu", "real", "real_smoke"]
)
def test_params_files_name_only_notebook_parameters(name):
    from genobench.report.runner import check_parameters, to_notebook

    path = REPO / "params" / "semicrf_synthetic" / f"{name}.yaml"
    params = load_params(path)
    check_parameters(to_notebook(REPO / "notebooks" / "semicrf_synthetic.py"), params, str(path))
    sweep = yaml.safe_load(path.read_text()).get("sweep", {})
    check_parameters(to_notebook(REPO / "notebooks" / "semicrf_synthetic.py"), sweep, str(path))
    if name == "gpu":
        assert params["seq_length"] == 20000 and params["max_duration"] == 1000
        assert params["encoder"] == "mamba" and params["epochs"] == 100
    if name == "sweep":
        assert sweep["seq_length"] == [10000, 20000, 50000]
