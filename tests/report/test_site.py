"""The site's page builders, its Quarto project, and the built-in renderer on the smoke run."""

import gzip
import json
import re
import shutil

import nbformat
import pytest
import yaml
from markupsafe import escape
from site_runs import CDN_SCRIPT, failed_attempt, figure, notebook, smoke_reports, write_run

from genobench.benchmarks.records import BENCHMARKS
from genobench.report.results import RunOutputs
from genobench.report.site import collect_runs, pages, render_site, write_project


@pytest.fixture()
def fabricated(tmp_path):
    """A reports/ folder with one run of every kind, the binning notebook left out."""
    return smoke_reports(tmp_path / "reports", None)


def _by_dir(runs):
    return {r["dir"]: r for r in runs}


def test_unreadable_or_foreign_folders_are_broken_runs_naming_file_and_error(fabricated):
    runs = _by_dir(collect_runs(fabricated))
    cut = runs["runs/gfm_zeroshot/cpu"]
    assert cut["status"] == "broken" and cut["page"] is None
    assert cut["error"].startswith("runs/gfm_zeroshot/cpu/run.json: JSONDecodeError: ")
    assert runs["runs/gfm_zeroshot/foreign"]["error"] == (
        "runs/gfm_zeroshot/foreign/run.json: not a run record: a JSON list, expected an object"
    )
    assert runs["runs/binning/corrupt"]["error"].startswith(
        "runs/binning/corrupt/binning.ipynb: not a readable notebook: NotJSONError"
    )
    assert [r["status"] for r in runs.values()].count("broken") == 3
    assert runs["runs/quantization/smoke"]["status"] == "partial"


@pytest.mark.parametrize(
    "record, problem",
    [
        ({"notebook": "x", "params_name": "y"}, "not a run record: no string status"),
        ({"notebook": "x", "params_name": "y", "status": "done"}, "unknown status 'done'"),
        ({"notebook": "x", "params_name": "y", "status": "ok", "headline": 3}, "headline is not"),
        (
            {"notebook": "x", "params_name": "y", "status": "ok", "sweep": {"keys": []}},
            "sweep is not an object",
        ),
    ],
)
def test_a_record_missing_what_the_site_reads_is_broken(tmp_path, record, problem):
    folder = tmp_path / "runs" / "x" / "y"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(record))
    [run] = collect_runs(tmp_path)
    assert run["status"] == "broken" and problem in run["error"]


def test_only_failed_attempts_newer_than_the_good_result_are_flagged(fabricated):
    run = _by_dir(collect_runs(fabricated))["runs/gradient_check/cpu"]
    assert run["status"] == "ok"  # the last good result is what the page shows
    assert run["newer_failures"] == [
        {
            "time": "2026-01-05 00:00 UTC",
            "error_line": "RuntimeError: out of memory",
            "traceback": "runs/gradient_check/cpu/attempts/20260105T000000Z-failed/error.txt",
        }
    ]
    assert not any(f.startswith("attempts/") for f in run["files"])


def test_a_run_that_never_succeeded_shows_its_attempts(tmp_path):
    run_dir = write_run(
        tmp_path,
        "binning",
        "cpu",
        status="failed",
        error="ValueError: a\nb",
        with_notebook=False,
        finished="2026-01-01T00:00:00+00:00",
    )
    failed_attempt(run_dir, "20260102T000000Z", "OSError: disk full")
    [run] = collect_runs(tmp_path)
    view = pages.run_view(run, tmp_path)
    assert view["error_line"] == "b"  # the last line of the error
    assert view["traceback"] == "runs/binning/cpu/error.txt"
    assert view["href"] == "runs/binning/cpu/failed.html"
    assert [a["error_line"] for a in view["newer_failures"]] == ["OSError: disk full"]


def test_provenance_and_headline_lines():
    run = {
        "status": "ok",
        "git_commit": "abcdef0123",
        "device": {"cpu": "x86_64", "gpu": "H200"},
        "finished": "2026-03-04T05:06:07.123+00:00",
        "params_file": "params/binning/gpu.yaml",
        "duration_s": 61.26,
        "headline": {"metric": "ARI (tnf)", "value": 0.123456},
    }
    assert pages.provenance(run) == (
        "commit abcdef0 · H200 · 2026-03-04 05:06 UTC · params/binning/gpu.yaml · 61.3 s"
    )
    assert pages.provenance({"status": "ok", "device": {"cpu": "arm64"}}) == (
        "commit unknown · CPU arm64 · date unknown · no params file · duration unknown"
    )
    assert pages.headline_text(run) == "ARI (tnf) = 0.1235"
    assert pages.headline_text({"headline": {"metric": "check", "value": "PASS"}}) == (
        "check = PASS"
    )
    assert pages.headline_text({"headline": None}) is None


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_benchmark_notebook_declares_its_record_and_writes_its_key_figure(
    name, smoke_run, in_repo
):
    assert sorted(BENCHMARKS) == sorted(p.stem for p in (in_repo / "notebooks").glob("*.py"))
    bench = BENCHMARKS[name]
    assert bench.direction in ("higher", "lower", "pass")
    run_dir, record = smoke_run(name)
    written = sorted(p.stem for p in (run_dir / "figures").glob(f"{bench.key_figure}.json"))
    assert written, f"{name}: its smoke run wrote no figures/{bench.key_figure}.json"


def test_front_page_sections_follow_the_declared_benchmarks_with_key_figures(fabricated):
    runs = collect_runs(fabricated)
    front = pages.front_view(runs, fabricated)
    sections = {s["name"]: s for s in front["benchmarks"]}
    assert [s["name"] for s in front["benchmarks"]] == [n for n in BENCHMARKS if n in sections]
    assert front["summary"] == "9 runs of 6 benchmarks: 3 ok, 1 partial, 2 failed, 3 broken"
    assert sections["quantization"]["direction"] == "lower is better"
    assert sections["quantization"]["figure"]["run"] == "smoke"
    assert "Plotly.newPlot" in sections["quantization"]["figure"]["html"]
    assert sections["gradient_check"]["figure"]["run"] == "smoke"  # cpu wrote no figure
    assert sections["esm_speed"]["figure"] is None
    assert sections["esm_speed"]["figure_missing"] == "no run of it succeeded yet"
    assert sections["semicrf_synthetic"]["figure_missing"] == (
        "no good run wrote figures/duration_comparison.json"
    )
    assert [r["label"] for r in sections["semicrf_synthetic"]["runs"]] == [
        "grid: T=100",
        "grid: T=1000",
    ]
    assert sections["semicrf_synthetic"]["sweeps"][0]["href"] == (
        "runs/semicrf_synthetic/sweep-grid.html"
    )


def test_the_most_recent_good_run_gives_the_key_figure(tmp_path):
    for name, finished in (
        ("old", "2026-01-01T00:00:00+00:00"),
        ("new", "2026-02-01T00:00:00+00:00"),
    ):
        write_run(
            tmp_path,
            "gradient_check",
            name,
            fig=("gradient_check", figure(name)),
            finished=finished,
        )
    write_run(
        tmp_path,
        "gradient_check",
        "newest",
        status="failed",
        error="E: x",
        fig=("gradient_check", figure("failed")),
        finished="2026-03-01T00:00:00+00:00",
    )
    runs = collect_runs(tmp_path)
    figure_, _ = pages.key_figure(BENCHMARKS["gradient_check"], runs, tmp_path)
    assert figure_["run"] == "new" and figure_["href"] == (
        "runs/gradient_check/new/gradient_check.html"
    )


def test_notebook_figures_use_the_shared_plotly_and_nothing_from_a_cdn():
    nb = notebook("t", figure("f"))
    widget_state = {"application/vnd.jupyter.widget-state+json": {"state": {"a": {}}}}
    nb.metadata["widgets"] = widget_state  # tqdm's bars, whose views the page does not show
    pages.prepare_notebook(nb)
    assert "widgets" not in nb.metadata  # nbconvert would embed it in the page
    outputs = nb.cells[-1].outputs
    assert len(outputs) == 1  # the output that inlined plotly.js is gone
    html = outputs[0].data["text/html"]
    assert "Plotly.newPlot" in html and CDN_SCRIPT not in html and "https://" not in html
    assert "application/vnd.plotly.v1+json" not in outputs[0].data


def test_the_site_carries_the_files_its_pages_link_and_nothing_else(fabricated):
    good = fabricated / "runs" / "gradient_check" / "cpu"
    failed = good / "attempts" / "20260105T000000Z-failed"
    (failed / "big_table.csv").write_text("a\n1\n")  # a failed attempt's leftover table
    running = good / "attempts" / "20260106T000000Z-running"
    running.mkdir()
    (running / "params.yaml").write_text("seed: 1\n")
    _, site = render_site(fabricated, renderer="fallback")
    copied = {p.relative_to(site).as_posix() for p in (site / "runs").rglob("*") if p.is_file()}
    assert "runs/gradient_check/cpu/params.yaml" in copied
    assert f"{failed.relative_to(fabricated).as_posix()}/error.txt" in copied  # linked
    assert not any("big_table" in p or "running" in p or "20250101" in p for p in copied)
    linked = set()
    for page in site.rglob("*.html"):
        for href in re.findall(r'href="([^"#]+)"', page.read_text()):
            linked.add((page.parent / href).resolve().relative_to(site.resolve()).as_posix())
    assert copied - {p for p in copied if p.endswith(".html")} <= linked


def test_a_large_table_is_carried_gzipped_and_a_drawn_figure_once(fabricated):
    smoke = fabricated / "runs" / "gradient_check" / "smoke"  # a notebook drawing one figure
    rows = "".join(f"softmax,{i // 2000},{i % 2000},0,1\n" for i in range(20_000))
    big = f"model,sequence,position,true,pred\n{rows}"
    assert len(big) > pages.GZIP_OVER
    (smoke / "test_predictions.csv").write_text(big)
    (smoke / "small.csv").write_text("a\n1\n")
    nofig = write_run(fabricated, "esm_speed", "gpu", status="failed", with_notebook=False)
    out = RunOutputs(nofig)
    out.figure(figure("left by a failed run"), "speed")
    _, site = render_site(fabricated, renderer="fallback")
    carried = site / "runs" / "gradient_check" / "smoke"
    assert not (carried / "test_predictions.csv").exists()
    with gzip.open(carried / "test_predictions.csv.gz", "rt") as packed:
        assert packed.read() == big  # the same table, gzipped
    assert (carried / "small.csv").read_text() == "a\n1\n"
    page = (carried / "gradient_check.html").read_text()
    assert 'test_predictions.csv.gz">test_predictions.csv.gz</a> (gzip; 0.4 MB unpacked)' in page
    assert "figures/gradient_check.json" not in page and not (carried / "figures").exists()
    assert page.count("Plotly.newPlot") == 1  # the figure is on the page, once
    # a run without a notebook page draws no figure: its plotly JSON is linked and carried
    failed_page = (site / "runs" / "esm_speed" / "gpu" / "failed.html").read_text()
    assert 'figures/speed.json">figures/speed.json</a>' in failed_page
    assert (site / "runs" / "esm_speed" / "gpu" / "figures" / "speed.json").is_file()


def test_navigation_lists_each_benchmark_with_each_run(fabricated):
    nav = {b["name"]: b for b in pages.nav(collect_runs(fabricated))}
    assert [(r["label"], r["status"], r["href"]) for r in nav["gradient_check"]["runs"]] == [
        ("cpu", "ok", "runs/gradient_check/cpu/gradient_check.html"),
        ("smoke", "ok", "runs/gradient_check/smoke/gradient_check.html"),
    ]
    assert nav["gfm_zeroshot"]["runs"][0]["href"] is None  # broken: listed, no page
    assert pages.root_of("runs/a/b/c.html") == "../../../" and pages.root_of("index.html") == ""


def test_quarto_project_has_the_same_pages_navbar_and_code_fold(fabricated, tmp_path):
    template = tmp_path / "template.yml"
    template.write_text("website:\n  title: mine\nformat:\n  html:\n    theme: cosmo\n")
    listed = write_project(fabricated, template)
    config = yaml.safe_load((fabricated / "_quarto.yml").read_text())
    assert config["project"]["render"] == listed and listed[0] == "index.qmd"
    assert "runs/esm_speed/cpu/failed.qmd" in listed
    assert "runs/semicrf_synthetic/sweep-grid.qmd" in listed
    assert "runs/gradient_check/cpu/gradient_check.ipynb" in listed
    assert not any("gfm_zeroshot" in p for p in listed)  # broken runs have no page
    for page in listed:
        assert (fabricated / page).is_file(), page
    assert config["format"]["html"] == {"theme": "cosmo", "code-fold": True, "code-tools": True}
    assert config["execute"]["enabled"] is False and config["website"]["title"] == "mine"
    navbar = config["website"]["navbar"]["left"]
    assert navbar[0] == {"href": "index.qmd", "text": "Home"}
    menus = {item["text"]: item["menu"] for item in navbar[1:]}
    assert {"href": "runs/esm_speed/cpu/failed.qmd", "text": "cpu (failed)"} in menus["ESM speed"]
    assert {p for m in menus.values() for p in (i["href"] for i in m)} == set(listed)
    index = (fabricated / "index.qmd").read_text()
    assert index.startswith("---\ntitle: genobench report\n---") and "```{=html}" in index
    assert (
        fabricated / "runs" / "semicrf_synthetic" / "sweep-grid.csv"
    ).read_text().splitlines() == [
        "T,status,headline_metric,headline_value,duration_s,run",
        "100,ok,F1,0.51,12.5,grid--T-100",
        "1000,failed,F1,0.6,12.5,grid--T-1000",
    ]


def test_quarto_renderer_without_quarto_is_a_clear_error(tmp_path, in_repo, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="no quarto binary"):
        render_site(tmp_path, renderer="quarto")


def test_a_notebook_nbconvert_cannot_render_becomes_broken_and_the_rest_renders(
    fabricated, monkeypatch
):
    real = pages.notebook_html

    def fails_for_quantization(nb, page, *args):
        if "quantization" in page:
            raise KeyError("strange output")
        return real(nb, page, *args)

    monkeypatch.setattr(pages, "notebook_html", fails_for_quantization)
    _, site = render_site(fabricated, renderer="fallback")
    assert not (site / "runs" / "quantization" / "smoke" / "quantization.html").exists()
    index = (site / "index.html").read_text()
    assert "runs/quantization/smoke/quantization.ipynb: cannot be rendered: KeyError" in index
    page = (site / "runs" / "gradient_check" / "cpu" / "gradient_check.html").read_text()
    assert "quantization/smoke/quantization.html" not in page  # no link to a missing page


@pytest.mark.slow
def test_fallback_site_of_the_smoke_run(binning_smoke_run, tmp_path, in_repo):
    reports, _ = binning_smoke_run
    shutil.copytree(reports / "runs", tmp_path / "runs")
    renderer, site = render_site(tmp_path, renderer="fallback")
    assert renderer.startswith("fallback")
    index = (site / "index.html").read_text()
    assert 'href="runs/binning/smoke/binning.html"' in index
    assert str(escape(BENCHMARKS["binning"].question)) in index and "higher is better" in index
    page = (site / "runs" / "binning" / "smoke" / "binning.html").read_text()
    # the eps sweep and one UMAP per model; plotly.js itself is not inlined (one shared copy)
    assert page.count("Plotly.newPlot") == 3 and "plotly.js v" not in page
    assert '<script src="../../../assets/plotly.min.js"></script>' in page
    assert "<code>umap_dim</code></td><td><code>5</code>" in page  # the parameters used
    nb = nbformat.read(reports / "runs" / "binning" / "smoke" / "binning.ipynb", as_version=4)
    assert page.count('<details class="gb-code">') == sum(c.cell_type == "code" for c in nb.cells)
    assert (site / "runs" / "binning" / "smoke" / "binning_metrics.csv").is_file()
    # the site's size from its parts: each figure once on its run page (the front page adds
    # the key figure), no figure JSON copied, plotly.js once in assets/
    run_dir = reports / "runs" / "binning" / "smoke"
    carried = site / "runs" / "binning" / "smoke"
    figures = sorted((run_dir / "figures").glob("*.json"))
    assert len(figures) == 3 and not (carried / "figures").exists()
    data = sorted(p for p in carried.rglob("*") if p.is_file() and p.suffix != ".html")
    assert [p.relative_to(carried) for p in data] == sorted(
        p.relative_to(run_dir)
        for p in run_dir.rglob("*")
        if p.is_file() and p.suffix in (".csv", ".yaml", ".txt", ".json") and p not in figures
    )  # every data file as it is (none of the smoke run's is over GZIP_OVER)

    def drawn(html: bytes) -> int:
        return sum(len(m) for m in re.findall(rb"Plotly\.newPlot\(.*?</script>", html, re.S))

    page_bytes = (carried / "binning.html").read_bytes()
    index_bytes = (site / "index.html").read_bytes()
    # a figure's JSON plus plotly's call around it (measured +226 to +236 bytes each)
    fig_json = sum(p.stat().st_size for p in figures)
    assert fig_json < drawn(page_bytes) < fig_json + 3 * 400
    umaps = [p for p in figures if p.name.startswith("umap_")]  # the first written is shown
    key = min(umaps, key=lambda p: p.stat().st_mtime_ns).stat().st_size
    assert key < drawn(index_bytes) < key + 400
    # the rest of the pages: tables, text, navigation (measured 44.6 kB and 2.2 kB)
    assert len(page_bytes) - drawn(page_bytes) < 50_000
    assert len(index_bytes) - drawn(index_bytes) < 4_000
    assets = sum(p.stat().st_size for p in (site / "assets").iterdir())
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    parts = assets + sum(p.stat().st_size for p in data) + len(page_bytes) + len(index_bytes)
    assert size == parts  # nothing else: measured 5.17 MB, of which plotly.js 4.8 MB
