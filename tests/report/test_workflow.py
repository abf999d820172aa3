"""The Snakemake workflow behind `genobench report`: plan, sweeps, resources, SLURM dry run.

The local runs use the two tiny notebooks under tests/report/workflow_fixtures/ (seconds
each), in a scratch folder; the dry runs plan every real notebook.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import time
import types
from pathlib import Path

import pytest
import yaml

import genobench.report.workflow
from genobench.cli import main
from genobench.report.runner import RunConfigError, load_params
from genobench.report.workflow import SNAKEFILE, jobs
from genobench.report.workflow.driver import ReportOptions, snakemake_command
from genobench.report.workflow.jobs import sweep_overrides
from genobench.report.workflow.plan import (
    EXCLUSIVE_PRIORITY,
    MACHINE_UNITS,
    MAX_NAME,
    job_priority,
    job_resources,
    plan_runs,
    rule_names,
    run_name,
    runs_of_params_file,
    sweep_points,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "report" / "workflow_fixtures"
REAL_DIRS = ["--notebooks-dir", str(REPO / "notebooks"), "--params-dir", str(REPO / "params")]


def report(workspace: Path, *args: str) -> tuple[int, str]:
    """`genobench report ARGS` run from `workspace`; (exit code, stdout + stderr)."""
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(workspace)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["report", "--renderer", "fallback", *args])
    finally:
        os.chdir(cwd)
    return code, out.getvalue()


def fixture_workspace(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for folder in ("notebooks", "params"):
        shutil.copytree(FIXTURES / folder, path / folder)
    return path


def copy_workspace(src: Path, dest: Path) -> Path:
    """A copy with modification times (and Snakemake's records) kept."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def record(workspace: Path, notebook: str, run: str) -> dict:
    return json.loads((workspace / "reports" / "runs" / notebook / run / "run.json").read_text())


def record_mtimes(workspace: Path) -> dict[str, int]:
    return {
        str(p.relative_to(workspace)): p.stat().st_mtime_ns
        for p in (workspace / "reports" / "runs").glob("*/*/run.json")
    }


# --- plan: notebooks x params files x sweep points, resources -------------------------


def test_snakefile_ships_inside_the_package():
    assert SNAKEFILE.is_file()
    assert SNAKEFILE.parent == Path(genobench.report.workflow.__file__).resolve().parent


def test_sweep_points_and_stable_names():
    points = sweep_points({"T": [100, 1000], "K": [4, 8]}, "f.yaml")
    assert points == [
        {"T": 100, "K": 4},
        {"T": 100, "K": 8},
        {"T": 1000, "K": 4},
        {"T": 1000, "K": 8},
    ]
    assert sweep_points(None, "f.yaml") == [{}]
    assert run_name("grid", {"T": 100, "K": 8}) == "grid--K-8--T-100"
    assert run_name("grid", {"K": 8, "T": 100}) == "grid--K-8--T-100"  # order-independent
    assert run_name("gpu", {"model": "DOEJGI/GenomeOcean-4B"}) == "gpu--model-DOEJGI_GenomeOcean_4B"
    assert run_name("cpu", {}) == "cpu"
    long = run_name("gpu", {"models": ["x" * 60, "y" * 60]})
    assert len(long) <= MAX_NAME and long == run_name("gpu", {"models": ["x" * 60, "y" * 60]})


def test_sweep_values_that_name_alike_get_distinct_runs(tmp_path):
    params = tmp_path / "grid.yaml"
    params.write_text("sweep: {model: [a/b, a_b]}\n")
    names = [run.name for run in runs_of_params_file(tmp_path / "nb.py", params)]
    assert len(set(names)) == 2 and all(n.startswith("grid--model-a_b") for n in names)


@pytest.mark.parametrize(
    "text, message",
    [
        ("sweep: {T: 5}", "sweep value of 'T' must be a non-empty list"),
        ("sweep: [1, 2]", "sweep must map parameters to lists"),
        ("sweep: {T: [1, 1]}", "same combination twice"),
        ("resources: {gpu: 1}", "unknown resource\\(s\\) gpu; known: gpus"),
        ("resources: {gpus: -1}", "resources.gpus must be an integer >= 0"),
        ("resources: {mem_gb: lots}", "resources.mem_gb must be a number"),
        ("resources: {gpu_model: a100}", "gpu_model needs gpus >= 1"),
        ("resources: {exclusive: yes please}", "resources.exclusive must be true or false"),
    ],
)
def test_bad_sweeps_and_resources_are_refused(tmp_path, text, message):
    params = tmp_path / "bad.yaml"
    params.write_text(text + "\n")
    with pytest.raises(RunConfigError, match=message):
        runs_of_params_file(tmp_path / "nb.py", params)


def test_resources_become_snakemake_resources():
    one = {"machine": 1}  # every job takes one unit of the machine
    assert job_resources(None, "f") == (1, one)
    assert job_resources(None, "f", device="cuda") == (1, {"gpu": 1, **one})
    assert job_resources({"gpus": 0}, "f", device="cuda:0") == (1, one)
    assert job_resources({"mem_gb": 1}, "f", device="cpu") == (1, {"mem_mb": 1024, **one})
    assert job_resources({"gpus": 0, "mem_gb": 2}, "f") == (1, {"mem_mb": 2048, **one})
    assert job_resources(
        {"gpus": 1, "gpu_model": "a100", "mem_gb": 80, "runtime_min": 120, "cpus": 8}, "f"
    ) == (8, {"gpu": 1, "gpu_model": "a100", "mem_mb": 81920, "runtime": 120, **one})
    assert job_resources({"exclusive": True}, "f") == (
        1,
        {"machine": MACHINE_UNITS, "slurm_extra": "'--exclusive'"},
    )
    assert job_resources({"exclusive": False}, "f") == (1, one)


def test_exclusive_runs_start_first_then_the_longest_expected():
    assert job_priority({}) == 0
    assert job_priority({"expected_min": 2.5, "cpus": 2}) == 2.5
    assert job_priority({"exclusive": True}) == EXCLUSIVE_PRIORITY
    assert job_priority({"exclusive": True, "expected_min": 3}) > job_priority(
        {"expected_min": 9000}
    )
    with pytest.raises(RunConfigError, match="expected_min must be a number >= 0"):
        job_resources({"expected_min": -1}, "f")


@pytest.mark.slow
def test_a_local_report_on_one_core_starts_runs_in_priority_order(tmp_path):
    workspace = fixture_workspace(tmp_path / "order")
    alpha = workspace / "params" / "alpha"
    for old in alpha.glob("*.yaml"):
        old.unlink()
    declared = {
        "short": "{expected_min: 1}",
        "none": "{}",
        "timed": "{exclusive: true}",
        "long": "{expected_min: 5}",
    }
    for name, resources in declared.items():
        (alpha / f"{name}.yaml").write_text(f"value: 1\nresources: {resources}\n")
    code, out = report(workspace, "--params", *declared, "--only", "alpha", "--cores", "1")
    assert code == 0, out
    started = {name: record(workspace, "alpha", name)["started"] for name in declared}
    assert sorted(started, key=started.get) == ["timed", "long", "short", "none"]


def test_thread_limits_cap_shared_jobs_and_leave_exclusive_ones_alone():
    assert jobs.thread_limits(3, exclusive=False) == {name: "3" for name in jobs.THREAD_VARIABLES}
    assert jobs.thread_limits(3, exclusive=True) == {}


def test_workflow_keys_are_not_notebook_parameters(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("n: 3\nresources: {gpus: 1}\nsweep: {n: [1, 2]}\n")
    assert load_params(params) == {"n": 3}
    assert load_params(params, {"m": 1}) == {"n": 3, "m": 1}


def test_a_sweep_over_a_list_parameter_passes_one_item_lists():
    known = {"quant_modes": {"default": '["standard", "8bit"]'}, "T": {"default": "100"}}
    assert sweep_overrides({"quant_modes": "8bit", "T": 1000}, known) == {
        "quant_modes": ["8bit"],
        "T": 1000,
    }
    assert sweep_overrides({"quant_modes": ["8bit", "4bit_nf4"]}, known) == {
        "quant_modes": ["8bit", "4bit_nf4"]
    }


def test_plan_discovers_notebooks_and_params_files(tmp_path):
    for nb in ("a", "b"):
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        (tmp_path / "notebooks" / f"{nb}.py").write_text("x = 1\n")
    (tmp_path / "params" / "a").mkdir(parents=True)
    (tmp_path / "params" / "a" / "gpu.yaml").write_text("device: cuda\n")
    runs, notes = plan_runs(tmp_path / "notebooks", tmp_path / "params", ["gpu"])
    assert [run.label() for run in runs] == ["a/gpu"]
    assert notes == [f"skipped b: no {tmp_path / 'params' / 'b' / 'gpu.yaml'}"]
    assert runs[0].resources == {"gpu": 1, "machine": 1}  # device: cuda asks for a GPU
    with pytest.raises(RunConfigError, match="does not exist"):
        plan_runs(tmp_path / "notebooks", tmp_path / "params", ["gpu"], only=["b"])
    with pytest.raises(RunConfigError, match="no notebook zzz"):
        plan_runs(tmp_path / "notebooks", tmp_path / "params", ["gpu"], only=["zzz"])
    with pytest.raises(RunConfigError, match="no runs"):
        plan_runs(tmp_path / "notebooks", tmp_path / "params", ["cpu"])
    assert rule_names(runs) == ["run__a__gpu"]


def test_snakemake_command_line():
    local = snakemake_command(ReportOptions(params_sets=["smoke"], cores=3))
    assert local[:3][1:] == ["-m", "snakemake"]
    assert str(SNAKEFILE) in local and "--keep-going" in local
    assert local[local.index("--cores") + 1] == "3"
    assert local[local.index("--resources") + 1] == f"machine={MACHINE_UNITS}"
    assert "params=smoke" in local and "--jobs" not in local
    slurm = snakemake_command(
        ReportOptions(profile="profiles/slurm", dry_run=True, snakemake_args=["--forceall"]),
        forcerun=["reports/.workflow/jobs/a/cpu.json"],
    )
    assert "--cores" not in slurm and "--jobs" not in slurm  # the profile's
    assert "--resources" not in slurm  # on a cluster, exclusive jobs get a node instead
    assert slurm[-3:] == ["--forcerun", "reports/.workflow/jobs/a/cpu.json", "--forceall"]
    assert "--dry-run" in slurm
    executor = snakemake_command(ReportOptions(executor="slurm"))
    assert executor[executor.index("--jobs") + 1] == "50" and "--cores" not in executor


# --- dry runs of the real notebooks, locally and with the SLURM profile ----------------


def _dry_run_jobs(output: str) -> dict[str, str]:
    """Output (job file) -> resources line, for every run job a Snakemake dry run lists."""
    jobs = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", output):
        out = re.search(r"^\s+output: (\S+/\.workflow/jobs/\S+\.json)$", block, re.M)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if out:
            jobs[out.group(1)] = res.group(1) if res else ""
    return jobs


def test_dry_run_lists_every_notebooks_run(tmp_path):
    code, out = report(tmp_path, "--params", "smoke", "--dry-run", *REAL_DIRS)
    assert code == 0, out
    runs, _ = plan_runs(REPO / "notebooks", REPO / "params", ["smoke"])
    assert {run.notebook for run in runs} == {p.stem for p in (REPO / "notebooks").glob("*.py")}
    listed = _dry_run_jobs(out)
    for run in runs:
        assert run.job_file("reports") in listed, run.label()
        assert "Missing output files" in out
    assert "would run " + ", ".join(run.label() for run in runs) in out
    assert not (tmp_path / "reports" / "runs").exists()  # nothing executed


def test_slurm_profile_dry_run_requests_gpus_only_for_gpu_runs(tmp_path):
    code, out = report(
        tmp_path,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--params",
        "cpu",
        "gpu",
        "smoke",
        "--dry-run",
        *REAL_DIRS,
    )
    assert code == 0, out
    runs, _ = plan_runs(REPO / "notebooks", REPO / "params", ["cpu", "gpu", "smoke"])
    listed = _dry_run_jobs(out)
    assert set(listed) == {run.job_file("reports") for run in runs}
    for run in runs:
        resources = listed[run.job_file("reports")]
        assert "slurm_account=" in resources  # the profile's default resources apply
        gpu = re.search(r"\bgpu=(\d+)", resources)
        if run.params_name == "gpu":  # each asks for a GPU (`device: cuda`, or `gpus: N`)
            assert gpu and int(gpu.group(1)) == run.resources["gpu"] >= 1, (run.label(), resources)
        else:
            assert gpu is None, (run.label(), resources)
        if "mem_mb" in run.resources:
            assert f"mem_mb={run.resources['mem_mb']}" in resources
        if run.params_name == "smoke":  # seconds-long runs ask for 4 GB, not the 16 GB default
            assert int(re.search(r"\bmem_mb=(\d+)", resources).group(1)) <= 4096, run.label()
    assert re.search(r"\bgpu=1\b", listed["reports/.workflow/jobs/binning/gpu.json"])


def test_timing_runs_take_the_whole_machine_locally_and_a_node_on_slurm(tmp_path):
    code, out = report(tmp_path, "--params", "cpu", "real", "--dry-run", *REAL_DIRS)
    assert code == 0, out
    listed = _dry_run_jobs(out)
    exclusive = {
        f"reports/.workflow/jobs/{run}.json"
        for run in ("esm_speed/cpu", "esm_speed/real", "quantization/cpu")
    }
    assert exclusive <= set(listed)
    for job, resources in listed.items():
        units = int(re.search(r"\bmachine=(\d+)", resources).group(1))
        assert units == (MACHINE_UNITS if job in exclusive else 1), (job, resources)
    code, out = report(
        tmp_path,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--params",
        "cpu",
        "real",
        "gpu",
        "--dry-run",
        *REAL_DIRS,
    )
    assert code == 0, out
    for job, resources in _dry_run_jobs(out).items():
        timed = re.search(r"/(esm_speed|quantization)/", job) is not None
        assert ("slurm_extra='--exclusive'" in resources) == timed, (job, resources)


def test_profile_partitions_send_gpu_runs_to_the_gpu_partition():
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    partitions = read_partition_file(REPO / "profiles" / "slurm" / "partitions.yaml")
    log = types.SimpleNamespace(
        info=lambda *a: None, warning=lambda *a: None, debug=lambda *a: None
    )

    def job(**resources):
        return types.SimpleNamespace(
            name="run", threads=1, resources={"mem_mb": 16384, "runtime": 120, **resources}
        )

    assert get_best_partition(partitions, job(), log) == "cpu"
    assert get_best_partition(partitions, job(gpu=1, mem_mb=81920), log) == "gpu"
    assert get_best_partition(partitions, job(gpu=1, gpu_model="h100"), log) == "gpu"


def test_unlock_only_unlocks(tmp_path):
    workspace = fixture_workspace(tmp_path)
    code, out = report(workspace, "--params", "smoke", "--", "--unlock")
    assert code == 0, out
    assert "Unlocked working directory." in out
    assert "nothing to do" not in out and "site:" not in out  # no report after it
    assert not (workspace / "reports" / "runs").exists()


# --- local runs of the fixture notebooks ----------------------------------------------


@pytest.fixture(scope="module")
def first_report(tmp_path_factory):
    """A workspace after `genobench report --params smoke grid failing`: alpha and beta
    with smoke.yaml, alpha's sweep over two values (grid.yaml), and failing.yaml: beta's
    notebook raises, alpha's kills its job (as SLURM does on a time or memory limit)."""
    workspace = fixture_workspace(tmp_path_factory.mktemp("workflow") / "first")
    code, out = report(workspace, "--params", "smoke", "grid", "failing")
    return workspace, code, out


@pytest.mark.slow
def test_local_report_runs_two_notebooks_and_renders_the_site(first_report):
    workspace, code, out = first_report
    assert "ran 6 of 6 run(s)" in out, out
    assert "note: skipped beta: no params/beta/grid.yaml" in out
    for nb, value in (("alpha", 1.0), ("beta", 2.0)):
        saved = record(workspace, nb, "smoke")
        assert saved["status"] == "ok" and saved["headline"]["value"] == value
        assert saved["params_file"] == f"params/{nb}/smoke.yaml"
        assert (workspace / "reports" / "runs" / nb / "smoke" / f"{nb}.ipynb").is_file()
    index = (workspace / "reports" / "site" / "index.html").read_text()
    assert "runs/alpha/smoke/alpha.html" in index and "runs/beta/smoke/beta.html" in index


@pytest.mark.slow
def test_each_kernel_is_held_to_the_cores_its_job_was_given(first_report):
    workspace, code, out = first_report
    # smoke.yaml declares no cpus (1); grid.yaml declares 2, which Snakemake caps at the
    # machine's cores
    for run, threads in (("smoke", 1), ("grid--value-1", min(2, os.cpu_count()))):
        executed = workspace / "reports" / "runs" / "alpha" / run / "alpha.ipynb"
        assert f"alpha: OMP_NUM_THREADS = {threads}" in executed.read_text(), run
    assert (workspace / "reports" / "site" / "runs" / "beta" / "smoke" / "beta.html").is_file()


@pytest.mark.slow
def test_a_failed_run_is_recorded_and_shown_and_the_others_finish(first_report):
    workspace, code, out = first_report
    assert code == 1  # the report says something failed...
    failed = record(workspace, "beta", "failing")
    assert failed["status"] == "failed"
    assert "deliberate failure of the beta notebook" in failed["error"]
    lost = record(workspace, "alpha", "failing")  # its job died: no run.json of its own
    assert lost["status"] == "failed" and "ended without finishing its run" in lost["error"]
    assert lost["attempt"].startswith("attempts/") and lost["attempt"].endswith("-failed")
    assert "FAILED beta/failing" in out and "FAILED alpha/failing" in out
    index = (workspace / "reports" / "site" / "index.html").read_text()
    assert 'gb-failed">failed<' in index  # its status badge
    assert "deliberate failure of the beta notebook" in index
    assert "runs/alpha/failing/" in index and "ended without finishing its run" in index
    # ... and every other run finished
    assert {
        r["status"]
        for r in map(
            json.loads, map(Path.read_text, (workspace / "reports" / "runs").glob("*/*/run.json"))
        )
        if r["params_name"] != "failing"
    } == {"ok"}


@pytest.mark.slow
def test_a_sweep_of_two_values_makes_two_runs_and_one_grid_table(first_report):
    workspace, code, out = first_report
    runs = workspace / "reports" / "runs" / "alpha"
    assert sorted(p.name for p in runs.glob("grid*")) == ["grid--value-1", "grid--value-2"]
    for value in (1, 2):
        saved = record(workspace, "alpha", f"grid--value-{value}")
        assert saved["status"] == "ok" and saved["headline"]["value"] == 10.0 * value
        assert saved["sweep"] == {
            "params_name": "grid",
            "keys": ["value"],
            "values": {"value": value},
        }
        assert saved["resources"] == {"cpus": 2, "mem_gb": 1, "runtime_min": 5}
        used = yaml.safe_load((runs / f"grid--value-{value}" / "params.yaml").read_text())
        assert used == {"scale": 10.0, "value": value}  # no resources/sweep keys
    grid = (runs / "sweep-grid.csv").read_text().splitlines()
    assert grid[0] == "value,status,headline_metric,headline_value,duration_s,run"
    assert [row.split(",")[:4] for row in grid[1:]] == [
        ["1", "ok", "value", "10.0"],
        ["2", "ok", "value", "20.0"],
    ]
    site = workspace / "reports" / "site"
    page = (site / "runs" / "alpha" / "sweep-grid.html").read_text()
    assert "grid--value-1/alpha.html" in page and "grid--value-2/alpha.html" in page
    assert "runs/alpha/sweep-grid.html" in (site / "index.html").read_text()


@pytest.mark.slow
def test_a_rerun_with_nothing_changed_does_nothing(first_report, tmp_path):
    workspace = copy_workspace(first_report[0], tmp_path / "ws")
    before = record_mtimes(workspace)
    site = (workspace / "reports" / "site" / "index.html").stat().st_mtime_ns
    now = time.time()  # a touched file whose content is the same is not a change
    os.utime(workspace / "params" / "alpha" / "smoke.yaml", (now, now))
    code, out = report(workspace, "--params", "smoke", "grid")
    assert code == 0, out
    assert "nothing to do" in out
    assert record_mtimes(workspace) == before
    assert (workspace / "reports" / "site" / "index.html").stat().st_mtime_ns == site


@pytest.mark.slow
def test_changing_one_params_file_reruns_only_that_run(first_report, tmp_path):
    workspace = copy_workspace(first_report[0], tmp_path / "ws")
    before = record_mtimes(workspace)
    site = (workspace / "reports" / "site" / "index.html").stat().st_mtime_ns
    with open(workspace / "params" / "alpha" / "smoke.yaml", "a") as params:
        params.write("# edited\n")
    code, out = report(workspace, "--params", "smoke", "grid")
    assert code == 0, out
    assert "ran 1 of 4 run(s): alpha/smoke" in out
    after = record_mtimes(workspace)
    changed = {path for path in before if after[path] != before[path]}
    assert changed == {"reports/runs/alpha/smoke/run.json"}
    assert (workspace / "reports" / "site" / "index.html").stat().st_mtime_ns > site


@pytest.mark.slow
def test_the_next_report_reruns_only_the_failed_run(first_report, tmp_path):
    workspace = copy_workspace(first_report[0], tmp_path / "ws")
    selection = ("--params", "smoke", "grid", "failing")
    code, out = report(workspace, *selection, "--dry-run")  # unchanged, still due
    assert code == 0, out
    assert "would run alpha/failing, beta/failing; would render the site" in out
    assert "Forced execution" in out
    before = record_mtimes(workspace)
    (workspace / "params" / "alpha" / "failing.yaml").write_text("value: 1\n")
    (workspace / "params" / "beta" / "failing.yaml").write_text("value: 2\nfail: false\n")
    code, out = report(workspace, *selection)
    assert code == 0, out
    assert "rerunning 2 failed run(s): alpha/failing, beta/failing" in out
    assert re.search(r"ran 2 of 6 run\(s\): (alpha|beta)/failing, (alpha|beta)/failing", out)
    assert record(workspace, "alpha", "failing")["status"] == "ok"
    assert record(workspace, "beta", "failing")["status"] == "ok"
    after = record_mtimes(workspace)
    assert {path for path in before if after[path] != before[path]} == {
        "reports/runs/alpha/failing/run.json",
        "reports/runs/beta/failing/run.json",
    }
