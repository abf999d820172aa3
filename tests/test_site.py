import json
import shutil

import pytest
import yaml

from genobench.site import collect_runs, render_site


@pytest.fixture()
def reports_with_a_failure(binning_smoke_run, tmp_path):
    """The smoke run, plus a run that failed before writing its notebook."""
    reports, _ = binning_smoke_run
    target = tmp_path / "reports"
    shutil.copytree(reports / "runs", target / "runs")
    failed = target / "runs" / "broken" / "cpu"
    failed.mkdir(parents=True)
    (failed / "run.json").write_text(json.dumps({
        "notebook": "broken", "params_name": "cpu", "status": "failed",
        "error": "ValueError: boom", "duration_s": 0.5, "headline": None}))
    return target


@pytest.mark.slow
def test_fallback_site_lists_every_run(reports_with_a_failure, in_repo):
    renderer, site = render_site(reports_with_a_failure, renderer="fallback")
    assert renderer.startswith("fallback")
    index = (site / "index.html").read_text()
    assert "runs/binning/smoke/binning.html" in index
    assert "runs/broken/cpu/failed.html" in index and "ValueError: boom" in index
    assert "FAILED" in index
    page = (site / "runs" / "binning" / "smoke" / "binning.html").read_text()
    assert "Plotly.newPlot" in page  # the figure is embedded, not dropped
    assert "Binning: do embeddings still separate genomes?" in page
    failed_page = (site / "runs" / "broken" / "cpu" / "failed.html").read_text()
    assert "ValueError: boom" in failed_page
    assert (site / "runs" / "binning" / "smoke" / "binning_metrics.csv").is_file()


@pytest.mark.slow
def test_quarto_project_lists_every_page(reports_with_a_failure, in_repo):
    render_site(reports_with_a_failure, renderer="fallback")
    config = yaml.safe_load((reports_with_a_failure / "_quarto.yml").read_text())
    pages = ["index.qmd", "runs/binning/smoke/binning.ipynb", "runs/broken/cpu/failed.qmd"]
    assert config["project"]["type"] == "website"
    assert config["project"]["render"] == pages
    assert config["execute"]["enabled"] is False
    sidebar = config["website"]["sidebar"]["contents"][0]["contents"]
    assert [item["href"] for item in sidebar] == pages[1:]
    for page in pages:
        assert (reports_with_a_failure / page).is_file()
    assert [r["status"] for r in collect_runs(reports_with_a_failure)] == ["ok", "failed"]


def test_quarto_renderer_without_quarto_is_a_clear_error(tmp_path, in_repo, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="no quarto binary"):
        render_site(tmp_path, renderer="quarto")


def test_a_sweep_is_one_row_of_the_index_and_one_grid_page(tmp_path, in_repo):
    from genobench.site import write_project

    reports = tmp_path / "reports"
    for i, (T, status) in enumerate([(100, "ok"), (1000, "failed")]):
        run_dir = reports / "runs" / "semicrf" / f"grid--T-{T}"
        run_dir.mkdir(parents=True)
        (run_dir / "run.json").write_text(json.dumps({
            "notebook": "semicrf", "params_name": f"grid--T-{T}", "status": status,
            "error": None if status == "ok" else "ValueError: diverged",
            "duration_s": 1.0 + i, "headline": {"metric": "F1", "value": 0.5 + i / 10},
            "sweep": {"params_name": "grid", "keys": ["T"], "values": {"T": T}}}))
    pages = write_project(reports, tmp_path / "no-template.yml")
    assert pages == ["index.qmd", "runs/semicrf/grid--T-100/failed.qmd",
                     "runs/semicrf/grid--T-1000/failed.qmd", "runs/semicrf/sweep-grid.qmd"]
    index = (reports / "index.qmd").read_text()
    assert "[semicrf](runs/semicrf/sweep-grid.html) | grid (sweep of 2: T)" in index
    assert "**1 FAILED** of 2 | F1 = 0.5 … 0.6 | 3.0 s" in index
    assert "grid--T-100" not in index.split("## Failed runs")[0]  # one row, not one per point
    page = (reports / "runs" / "semicrf" / "sweep-grid.qmd").read_text()
    assert "| 100 | ok | F1 = 0.5 | 1.0 s | [grid--T-100](grid--T-100/failed.html) |" in page
    assert "| 1000 | **FAILED** |" in page and "ValueError: diverged" in page
    assert (reports / "runs" / "semicrf" / "sweep-grid.csv").read_text().splitlines() == [
        "T,status,headline_metric,headline_value,duration_s,run",
        "100,ok,F1,0.5,1.0,grid--T-100", "1000,failed,F1,0.6,2.0,grid--T-1000"]
    config = yaml.safe_load((reports / "_quarto.yml").read_text())
    section = config["website"]["sidebar"]["contents"][0]["contents"][0]
    assert section["href"] == "runs/semicrf/sweep-grid.qmd"
    assert [item["text"] for item in section["contents"]] == ["T=100", "T=1000"]
