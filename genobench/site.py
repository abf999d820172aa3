"""Render the report website from executed run directories, never re-executing them.

The site is a Quarto website project written into `reports/`: `_quarto.yml` (the
repository's settings plus every page), `index.qmd` (the table of runs) and the
executed notebooks. With a `quarto` binary on PATH it is rendered by
`quarto render`; otherwise by a fallback that builds the same pages with nbconvert.
"""

from __future__ import annotations

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
    return f"{h['metric']} = {value:.3f}" if isinstance(value, float) else f"{h['metric']} = {value}"


def index_markdown(runs: list[dict[str, Any]]) -> str:
    """The body of the index page: a table of runs linking to their pages and files."""
    lines = ["Every benchmark run in this report: its notebook, parameters, status, headline "
             "metric and wall time. Each page is the executed notebook, not re-run by the site.",
             "", "| notebook | params | status | headline metric | duration | tables |",
             "|---|---|---|---|---|---|"]
    for run in runs:
        status = "ok" if run["status"] == "ok" else f"**{run['status'].upper()}**"
        files = " ".join(f"[{f}]({run['dir']}/{f})" for f in run["files"] if f.endswith(".csv"))
        lines.append(f"| [{run['notebook']}]({_html_name(run['page'])}) | "
                     f"{run['params_name']} | {status} | {_headline(run)} | "
                     f"{run.get('duration_s', 0):.1f} s | {files} |")
    failed = [r for r in runs if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- **{r['notebook']} / {r['params_name']}**: `{r['error']}`" for r in failed]
    if not runs:
        lines.append("| *no runs yet: `genobench run` or `genobench report`* | | | | | |")
    return "\n".join(lines) + "\n"


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
    pages = ["index.qmd"] + [r["page"] for r in runs]
    config = yaml.safe_load(Path(config_template).read_text()) if Path(config_template).is_file() \
        else {"project": {"type": "website"}, "website": {"title": "genobench"}}
    config.setdefault("project", {})["render"] = pages
    config["project"]["output-dir"] = SITE_DIR
    config["project"]["resources"] = [f"runs/**/*{s}" for s in DATA_SUFFIXES]
    config.setdefault("website", {})["sidebar"] = {"contents": [
        {"section": "Runs", "contents": [
            {"href": r["page"], "text": f"{r['notebook']} ({r['params_name']})"}
            for r in runs]}]}
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
