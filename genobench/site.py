"""Render the report website from executed run directories, never re-executing them.

The site is a Quarto website project written into `reports/`: `_quarto.yml` (the
repository's settings plus every page), `index.qmd` (the table of runs) and the
executed notebooks. With a `quarto` binary on PATH it is rendered by
`quarto render`; otherwise by a fallback that builds the same pages with nbconvert.

The runs of one sweep (a params file's grid, see `genobench.workflow.plan`) share
one summary page, `runs/<notebook>/sweep-<params>.qmd`, with the grid as one table
(also written as `sweep-<params>.csv`); the index has one row per sweep.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import yaml

from genobench.runner import RUN_FILE
from genobench.results import atomic_write_text

SITE_DIR = "site"
DATA_SUFFIXES = (".csv", ".json", ".yaml", ".txt")
FAILED_PAGE = "failed.qmd"
SWEEP_PREFIX = "sweep-"


def collect_runs(reports_dir: str | Path) -> list[dict[str, Any]]:
    """Every run record under `reports/runs/*/*/run.json`, sorted by notebook and params.

    Each record gains `dir` (relative to reports/), `page` (its executed notebook, or a
    failure page when the run left none) and `files` (its data files).
    """
    reports_dir = Path(reports_dir)
    runs = []
    for path in sorted(reports_dir.glob(f"runs/*/*/{RUN_FILE}")):
        record = json.loads(path.read_text())
        run_dir = path.parent
        record["dir"] = run_dir.relative_to(reports_dir).as_posix()
        notebook = run_dir / f"{record['notebook']}.ipynb"
        record["page"] = f"{record['dir']}/{notebook.name if notebook.is_file() else FAILED_PAGE}"
        record["files"] = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                                 if p.suffix in DATA_SUFFIXES and p.is_file())
        runs.append(record)
    return runs


def _html_name(source: str) -> str:
    return str(Path(source).with_suffix(".html").as_posix())


def _headline(run: dict[str, Any]) -> str:
    h = run.get("headline")
    if not h or h.get("value") is None:
        return "—"
    value = h["value"]
    return f"{h['metric']} = {value:.4g}" if isinstance(value, float) else f"{h['metric']} = {value}"


def _status(run: dict[str, Any]) -> str:
    return "ok" if run["status"] == "ok" else f"**{run['status'].upper()}**"


def sweeps(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The runs of each sweep, by (notebook, params file name), in run order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        if run.get("sweep"):
            groups.setdefault((run["notebook"], run["sweep"]["params_name"]), []).append(run)
    return groups


def sweep_page(notebook: str, params_name: str) -> str:
    """The summary page of a sweep, relative to reports/."""
    return f"runs/{notebook}/{SWEEP_PREFIX}{params_name}.qmd"


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def sweep_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """The grid of one sweep: a row per run, its swept values, status and headline metric."""
    keys = runs[0]["sweep"]["keys"]
    header = [*keys, "status", "headline_metric", "headline_value", "duration_s", "run"]
    rows = []
    for run in runs:
        headline = run.get("headline") or {}
        rows.append([*(run["sweep"]["values"].get(k) for k in keys), run["status"],
                     headline.get("metric"), headline.get("value"), run.get("duration_s"),
                     Path(run["dir"]).name])
    return header, rows


def sweep_markdown(runs: list[dict[str, Any]]) -> str:
    """The body of a sweep's summary page: the whole grid as one table."""
    keys = runs[0]["sweep"]["keys"]
    params_name = runs[0]["sweep"]["params_name"]
    notebook = runs[0]["notebook"]
    lines = [f"{len(runs)} runs of `{notebook}` with the `{params_name}` params file, one per "
             f"combination of {', '.join(f'`{k}`' for k in keys)} (the file's `sweep:`). Each "
             f"links to its executed notebook; the table is also "
             f"[{SWEEP_PREFIX}{params_name}.csv]({SWEEP_PREFIX}{params_name}.csv).", "",
             "| " + " | ".join([*keys, "status", "headline metric", "duration", "page"]) + " |",
             "|" + "---|" * (len(keys) + 4)]
    for run in runs:
        page = _html_name(run["page"][len(f"runs/{notebook}/"):])
        values = [_cell(run["sweep"]["values"].get(k)) for k in keys]
        lines.append("| " + " | ".join([*values, _status(run), _headline(run),
                                        f"{run.get('duration_s', 0):.1f} s",
                                        f"[{Path(run['dir']).name}]({page})"]) + " |")
    failed = [r for r in runs if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- **{Path(r['dir']).name}**: `{r['error']}`" for r in failed]
    return "\n".join(lines) + "\n"


def _sweep_row(runs: list[dict[str, Any]]) -> str:
    first = runs[0]
    notebook, params_name = first["notebook"], first["sweep"]["params_name"]
    n_failed = sum(r["status"] != "ok" for r in runs)
    status = "ok" if not n_failed else f"**{n_failed} FAILED** of {len(runs)}"
    values = [r["headline"]["value"] for r in runs
              if (r.get("headline") or {}).get("value") is not None]
    metrics = {r["headline"]["metric"] for r in runs if (r.get("headline") or {}).get("metric")}
    headline = "—"
    if values and len(metrics) == 1 and all(isinstance(v, (int, float)) for v in values):
        headline = f"{metrics.pop()} = {min(values):.3g} … {max(values):.3g}"
    total = sum(r.get("duration_s") or 0 for r in runs)
    page = _html_name(sweep_page(notebook, params_name))
    return (f"| [{notebook}]({page}) | {params_name} (sweep of {len(runs)}: "
            f"{', '.join(first['sweep']['keys'])}) | {status} | {headline} | {total:.1f} s | "
            f"[{SWEEP_PREFIX}{params_name}.csv](runs/{notebook}/{SWEEP_PREFIX}{params_name}.csv) |")


def index_markdown(runs: list[dict[str, Any]]) -> str:
    """The body of the index page: a table of runs linking to their pages and files.

    The runs of a sweep share one row that links to the sweep's summary page.
    """
    lines = ["Every benchmark run in this report: its notebook, parameters, status, headline "
             "metric and wall time. Each page is the executed notebook, not re-run by the site.",
             "", "| notebook | params | status | headline metric | duration | tables |",
             "|---|---|---|---|---|---|"]
    grids = sweeps(runs)
    for run in runs:
        if run.get("sweep"):
            group = grids[run["notebook"], run["sweep"]["params_name"]]
            if run is group[0]:
                lines.append(_sweep_row(group))
            continue
        files = " ".join(f"[{f}]({run['dir']}/{f})" for f in run["files"] if f.endswith(".csv"))
        lines.append(f"| [{run['notebook']}]({_html_name(run['page'])}) | "
                     f"{run['params_name']} | {_status(run)} | {_headline(run)} | "
                     f"{run.get('duration_s', 0):.1f} s | {files} |")
    failed = [r for r in runs if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- **{r['notebook']} / {r['params_name']}**: `{r['error']}`" for r in failed]
    if not runs:
        lines.append("| *no runs yet: `genobench run` or `genobench report`* | | | | | |")
    return "\n".join(lines) + "\n"


def _write_sweep(reports_dir: Path, runs: list[dict[str, Any]]) -> str:
    notebook, params_name = runs[0]["notebook"], runs[0]["sweep"]["params_name"]
    page = sweep_page(notebook, params_name)
    header, rows = sweep_table(runs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) if isinstance(v, (list, dict)) else v for v in row]
                      for row in rows])
    atomic_write_text(buffer.getvalue(), reports_dir / page.replace(".qmd", ".csv"))
    atomic_write_text(f"---\ntitle: \"{notebook}: {params_name} sweep\"\n---\n\n"
                      f"{sweep_markdown(runs)}", reports_dir / page)
    return page


def write_project(reports_dir: str | Path, config_template: str | Path = "_quarto.yml"
                  ) -> list[str]:
    """Write `_quarto.yml`, `index.qmd` and failure pages into reports/; return the page list."""
    reports_dir = Path(reports_dir)
    runs = collect_runs(reports_dir)
    for run in runs:
        if run["page"].endswith(FAILED_PAGE):
            atomic_write_text(f"---\ntitle: \"{run['notebook']} ({run['params_name']}): "
                              f"failed\"\n---\n\nThis run failed before its notebook could be "
                              f"written.\n\n```\n{run['error']}\n```\n", reports_dir / run["page"])
    for stale in [*reports_dir.glob(f"runs/*/{SWEEP_PREFIX}*.qmd"),
                  *reports_dir.glob(f"runs/*/{SWEEP_PREFIX}*.csv")]:
        stale.unlink()  # rewritten below for the sweeps that still have runs
    grids = sweeps(runs)
    sweep_pages = [_write_sweep(reports_dir, group) for group in grids.values()]
    pages = ["index.qmd"] + [r["page"] for r in runs] + sweep_pages
    config = yaml.safe_load(Path(config_template).read_text()) if Path(config_template).is_file() \
        else {"project": {"type": "website"}, "website": {"title": "genobench"}}
    config.setdefault("project", {})["render"] = pages
    config["project"]["output-dir"] = SITE_DIR
    config["project"]["resources"] = [f"runs/**/*{s}" for s in DATA_SUFFIXES]
    sidebar = []
    for r in runs:
        if not r.get("sweep"):
            sidebar.append({"href": r["page"], "text": f"{r['notebook']} ({r['params_name']})"})
            continue
        group = grids[r["notebook"], r["sweep"]["params_name"]]
        if r is group[0]:
            sidebar.append({
                "section": f"{r['notebook']} ({r['sweep']['params_name']} sweep)",
                "href": sweep_page(r["notebook"], r["sweep"]["params_name"]),
                "contents": [{"href": g["page"], "text": ", ".join(
                    f"{k}={_cell(v)}" for k, v in g["sweep"]["values"].items())}
                    for g in group]})
    config.setdefault("website", {})["sidebar"] = {"contents": [
        {"section": "Runs", "contents": sidebar}]}
    config.setdefault("execute", {})["enabled"] = False
    atomic_write_text(yaml.safe_dump(config, sort_keys=False), reports_dir / "_quarto.yml")
    title = config["website"].get("title", "genobench")
    atomic_write_text(f"---\ntitle: \"{title} report\"\n---\n\n{index_markdown(runs)}",
                      reports_dir / "index.qmd")
    return pages


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    if text.startswith("---\n"):
        head, body = text[4:].split("\n---\n", 1)
        return yaml.safe_load(head) or {}, body
    return {}, text


def _export_html(nb) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return body


def _markdown_page(qmd: Path) -> str:
    meta, body = _split_front_matter(qmd.read_text())
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        f"# {meta.get('title', qmd.stem)}\n\n{body}")])
    nb.metadata["title"] = meta.get("title", qmd.stem)
    return _export_html(nb)


def render_fallback(reports_dir: str | Path, pages: list[str]) -> Path:
    """Build the site with nbconvert: each page to `site/<page>.html`, data files copied."""
    reports_dir = Path(reports_dir)
    site = reports_dir / SITE_DIR
    if site.exists():
        shutil.rmtree(site)
    for page in pages:
        src = reports_dir / page
        html = _markdown_page(src) if src.suffix == ".qmd" else \
            _export_html(nbformat.read(src, as_version=4))
        atomic_write_text(html, site / _html_name(page))
    for path in (reports_dir / "runs").rglob("*"):
        if path.suffix in DATA_SUFFIXES and path.is_file():
            dest = site / path.relative_to(reports_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
    return site


def render_site(reports_dir: str | Path = "reports", config_template: str | Path = "_quarto.yml",
                renderer: str = "auto") -> tuple[str, Path]:
    """Render the website; returns (renderer used, site folder).

    `renderer`: "quarto", "fallback", or "auto" (quarto when on PATH).
    """
    if renderer not in ("auto", "quarto", "fallback"):
        raise ValueError(f"renderer must be auto, quarto or fallback, got {renderer!r}")
    pages = write_project(reports_dir, config_template)
    quarto = shutil.which("quarto")
    if renderer == "quarto" and not quarto:
        raise RuntimeError("renderer='quarto' but no quarto binary is on PATH; install Quarto "
                           "(https://quarto.org/docs/get-started/) or use renderer='fallback'")
    if quarto and renderer != "fallback":
        subprocess.run([quarto, "render", str(reports_dir)], check=True)
        return "quarto", Path(reports_dir) / SITE_DIR
    return "fallback (nbconvert)", render_fallback(reports_dir, pages)
