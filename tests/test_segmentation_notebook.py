"""The semicrf_synthetic notebook with its smoke parameters, and its params files."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from genobench.runner import load_params, run_notebook

REPO = Path(__file__).resolve().parents[1]
MODELS = ["softmax", "pytorch-crf", "linear", "semicrf", "semicrf_uniform"]


@pytest.mark.slow
def test_smoke_notebook_run(in_repo, tmp_path):
    record = run_notebook("semicrf_synthetic", "params/semicrf_synthetic/smoke.yaml",
                          {"data_dir": str(tmp_path / "data")}, reports_dir=tmp_path / "reports")
    assert record["status"] == "ok", record["error"]
    run_dir = tmp_path / "reports" / "runs" / "semicrf_synthetic" / "smoke"
    table = pd.read_csv(run_dir / "metrics.csv")
    assert list(table["model"]) == MODELS
    for column in ("boundary_f1_tol0", "boundary_f1_tol5", "segment_f1", "position_macro_f1",
                   "duration_kl_exon", "duration_kl_mean", "train_wall_s"):
        assert column in table.columns
    assert table["boundary_f1_tol5"].between(0, 1).all()
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert set(saved["metrics"]) == set(MODELS)
    assert saved["config"]["seq_length"] == 300 and "notebook_s" in saved["timings"]
    for name in ("duration_comparison", "training_curves", "learned_durations_semicrf"):
        assert (run_dir / "figures" / f"{name}.html").is_file()
    for model in MODELS:
        assert (Path(record["state_dir"]) / "checkpoints" / f"{model}_best.pt").is_file()
    assert (tmp_path / "data").is_dir()  # the splits were saved where asked
    assert record["headline"]["metric"].startswith("boundary F1")


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu", "sweep", "sweep_cpu"])
def test_params_files_name_only_notebook_parameters(name):
    from genobench.runner import check_parameters, to_notebook

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
