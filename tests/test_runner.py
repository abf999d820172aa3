import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from genobench.cli import main
from genobench.runner import RunConfigError, run_notebook


@pytest.mark.slow
def test_smoke_run_writes_every_output(binning_smoke_run):
    reports, record = binning_smoke_run
    run_dir = reports / "runs" / "binning" / "smoke"
    assert record["status"] == "ok", record["error"]
    metrics = pd.read_csv(run_dir / "binning_metrics.csv")
    assert list(metrics["model"]) == ["tnf", "local:tiny-mistral"]
    assert metrics["ari"].between(-1, 1).all()
    saved = json.loads((run_dir / "run.json").read_text())
    for key in ("status", "started", "finished", "duration_s", "git_commit", "versions", "device"):
        assert key in saved
    assert saved["headline"]["value"] == pytest.approx(metrics["ari"].iloc[0])
    assert yaml.safe_load((run_dir / "params.yaml").read_text())["n_genomes"] == 3
    assert (run_dir / "binning.ipynb").is_file()
    assert (run_dir / "figures" / "umap_tnf.html").is_file()


@pytest.mark.slow
def test_bad_csv_fails_the_run_cleanly(in_repo, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("genome_id,seq\ng1,ACGT\n")
    record = run_notebook("binning", "params/binning/smoke.yaml", {"csv": str(bad)},
                          reports_dir=tmp_path / "reports")
    run_dir = tmp_path / "reports" / "runs" / "binning" / "smoke"
    assert record["status"] == "failed"
    assert "missing column(s) fragment_id" in record["error"]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert not list(run_dir.glob("*.csv"))  # no half-written results


def test_unknown_parameter_is_refused_before_writing(in_repo, tmp_path):
    with pytest.raises(RunConfigError, match="unknown parameter.*n_genome\\b"):
        run_notebook("binning", None, {"n_genome": 3}, reports_dir=tmp_path)
    assert not (tmp_path / "runs").exists()


def test_cli_reports_missing_notebook_and_params(in_repo, tmp_path, capsys):
    assert main(["--reports-dir", str(tmp_path), "run", "nope"]) == 2
    assert "no notebook" in capsys.readouterr().err
    assert main(["--reports-dir", str(tmp_path), "run", "binning", "-f", "missing.yaml"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_plain_jupytext_and_papermill(in_repo, tmp_path):
    nb = tmp_path / "binning.ipynb"
    subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "notebooks/binning.py",
                    "-o", str(nb)], check=True, capture_output=True)
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "papermill", str(nb), str(tmp_path / "done.ipynb"),
                    "-f", "params/binning/smoke.yaml", "-y", '{"models": ["tnf"]}',
                    "-p", "output_dir", str(out)], check=True, capture_output=True)
    assert pd.read_csv(out / "binning_metrics.csv")["ari"].between(-1, 1).all()
