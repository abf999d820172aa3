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
