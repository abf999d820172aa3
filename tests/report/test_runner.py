import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import yaml

from genobench.cli import main
from genobench.report.runner import RunConfigError, record_failure, run_notebook

REPO = Path(__file__).resolve().parents[2]


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
    record = run_notebook(
        "binning", "params/binning/smoke.yaml", {"csv": str(bad)}, reports_dir=tmp_path / "reports"
    )
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
def test_plain_jupytext_and_papermill(smoke_run, in_repo, tmp_path):
    """A notebook runs the same under plain jupytext + papermill as under genobench's runner."""
    nb = tmp_path / "gradient_check.ipynb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupytext",
            "--to",
            "ipynb",
            "notebooks/gradient_check.py",
            "-o",
            str(nb),
        ],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "out"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(nb),
            str(tmp_path / "done.ipynb"),
            "-f",
            "params/gradient_check/smoke.yaml",
            "-p",
            "output_dir",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    run_dir, record = smoke_run("gradient_check")
    assert record["status"] == "ok"
    plain, runner = (pd.read_csv(d / "gradient_check.csv") for d in (out, run_dir))
    computed = [
        c
        for c in runner.columns  # times and peak memory are measured, not computed
        if not (c.endswith("_s") or "peak_mem" in c)
    ]
    assert len(computed) > 5
    pd.testing.assert_frame_equal(plain[computed], runner[computed])


# --- atomic runs: a fresh attempt folder each time, the last good result kept ----------

FIXTURE_NOTEBOOKS = REPO / "tests" / "report" / "workflow_fixtures" / "notebooks"


def _alpha(reports, **overrides):
    """The workflow fixture notebook `alpha` (seconds): headline = value, or fails."""
    return run_notebook(
        "alpha", None, overrides, name="r", reports_dir=reports, notebooks_dir=FIXTURE_NOTEBOOKS
    )


def _attempts(run_dir):
    return (
        sorted(p.name for p in (run_dir / "attempts").iterdir())
        if (run_dir / "attempts").is_dir()
        else []
    )


@pytest.mark.slow
def test_a_failed_attempt_is_kept_beside_the_last_good_result(tmp_path):
    run_dir = tmp_path / "runs" / "alpha" / "r"
    first = _alpha(tmp_path, fail=True)  # no good result yet: run.json is the failure
    assert first["status"] == "failed" and first["attempt"].endswith("-failed")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert "deliberate failure" in (run_dir / "error.txt").read_text()
    assert _alpha(tmp_path, value=5)["status"] == "ok"
    good = (run_dir / "run.json").read_text()
    assert json.loads(good)["headline"]["value"] == 5.0
    assert not (run_dir / "error.txt").exists()  # the failure's files left with it...
    assert len(_attempts(run_dir)) == 1  # ... but its attempt is kept
    failed = _alpha(tmp_path, fail=True)
    assert failed["status"] == "failed"
    assert (run_dir / "run.json").read_text() == good  # the good result, untouched
    assert (run_dir / "headline.json").is_file()
    attempts = _attempts(run_dir)
    assert len(attempts) == 2 and all(a.endswith("-failed") for a in attempts)
    newest = run_dir / "attempts" / attempts[-1]
    assert re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?-failed", attempts[-1])
    assert json.loads((newest / "run.json").read_text())["status"] == "failed"
    assert "deliberate failure" in (newest / "error.txt").read_text()
    assert (newest / "alpha.ipynb").is_file()
    assert not list(tmp_path.glob("runs/alpha/.*"))  # no swap folders left behind


@pytest.mark.slow
def test_a_killed_attempt_is_recorded_and_the_good_result_kept(tmp_path):
    run_dir = tmp_path / "runs" / "alpha" / "r"
    assert _alpha(tmp_path, value=2)["status"] == "ok"
    good = (run_dir / "run.json").read_text()
    stale = run_dir / "attempts" / "20260101T000000Z-running"  # its process was killed
    stale.mkdir(parents=True)
    (stale / "partial.csv").write_text("a\n1\n")
    record = record_failure("alpha", "r", tmp_path, "SLURM job 7 TIMEOUT after 1:05")
    assert record["attempt"] == "attempts/20260101T000000Z-failed"
    closed = run_dir / "attempts" / "20260101T000000Z-failed"
    assert (closed / "partial.csv").is_file()  # what the dead job wrote is kept
    assert json.loads((closed / "run.json").read_text())["error"].startswith("SLURM job 7")
    assert (run_dir / "run.json").read_text() == good


@pytest.mark.slow
def test_a_failed_rerun_of_binning_keeps_its_metrics(binning_smoke_run, in_repo, tmp_path):
    reports, _ = binning_smoke_run
    run_dir = tmp_path / "runs" / "binning" / "smoke"
    shutil.copytree(reports / "runs" / "binning" / "smoke", run_dir)
    metrics = (run_dir / "binning_metrics.csv").read_bytes()
    good = (run_dir / "run.json").read_text()
    rng = np.random.default_rng(0)
    rows = [
        (f"g{g}", f"g{g}_f{i}", "".join(rng.choice(list("ACGT"), 400)))
        for g in range(3)
        for i in range(10)
    ]
    rows[7] = (rows[7][0], rows[7][1], rows[7][2][:50] + "J" + rows[7][2][51:])
    bad = tmp_path / "bad.csv"
    pd.DataFrame(rows, columns=["genome_id", "fragment_id", "seq"]).to_csv(bad, index=False)
    record = run_notebook(
        "binning", "params/binning/smoke.yaml", {"csv": str(bad)}, reports_dir=tmp_path
    )
    assert record["status"] == "failed" and "J" in record["error"], record["error"]
    assert (run_dir / "binning_metrics.csv").read_bytes() == metrics
    assert (run_dir / "run.json").read_text() == good
    failed = run_dir / record["attempt"]
    assert json.loads((failed / "run.json").read_text())["status"] == "failed"
    assert not list(failed.glob("*.csv"))  # nothing half-written in the failed attempt


EPOCHS = 40  # a smoke epoch takes milliseconds: enough of them that the kill lands mid-run


@pytest.mark.slow
def test_a_killed_semicrf_run_resumes_and_ends_like_an_uninterrupted_one(in_repo, tmp_path):
    """SIGKILL the whole run (as SLURM does at a time limit) once its first model has a
    checkpoint; the rerun resumes from it and writes the metrics of a run never killed."""
    args = [
        "semicrf_synthetic",
        "-f",
        "params/semicrf_synthetic/smoke.yaml",
        "-p",
        "models",
        "[softmax, linear]",
        "-p",
        "epochs",
        str(EPOCHS),
        "-p",
        "data_dir",
        str(tmp_path / "data"),
    ]

    def genobench(*extra):
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "genobench.cli",
                "--reports-dir",
                str(tmp_path / "reports"),
                "run",
                *args,
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    cache = Path(os.environ["GENOBENCH_CACHE"]) / "runs" / "semicrf_synthetic"
    proc = genobench("--name", "killed")
    deadline = time.monotonic() + 300
    while not list(cache.glob("killed-*/checkpoints/softmax_last.pt")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint to kill at"
        time.sleep(0.2)
    # the run and its kernel (a session of its own) at once, as a job's time limit does
    for p in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
        p.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = tmp_path / "reports" / "runs" / "semicrf_synthetic"
    assert not (run_dir / "killed" / "run.json").exists()  # it never finished
    assert genobench("--name", "killed").wait(timeout=600) == 0
    assert genobench("--name", "whole").wait(timeout=600) == 0
    resumed = json.loads((run_dir / "killed" / "run.json").read_text())
    assert resumed["status"] == "ok" and resumed["state_dir"].startswith(str(cache))
    notebook = (run_dir / "killed" / "semicrf_synthetic.ipynb").read_text()
    resumed_at = re.search(
        r"softmax: resumed from \S+softmax_last\.pt after epoch (\d+)\b", notebook
    )
    assert resumed_at and 1 <= int(resumed_at.group(1)) < EPOCHS  # killed mid-training
    assert "resumed from" not in (run_dir / "whole" / "semicrf_synthetic.ipynb").read_text()
    assert [a.endswith("-failed") for a in _attempts(run_dir / "killed")] == [True]
    tables = [pd.read_csv(run_dir / name / "metrics.csv") for name in ("killed", "whole")]
    timing = [c for c in tables[0].columns if c.endswith("_s") or "_s_" in c]  # seconds
    assert len(tables[0].columns) - len(timing) > 10
    pd.testing.assert_frame_equal(*(t.drop(columns=timing) for t in tables))
