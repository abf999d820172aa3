"""Render the report website from executed run folders, never re-executing them.

The site has a front page (one section per benchmark: its question, every run's
headline metric and status, its key figure), one page per run (the executed notebook,
code folded, under the parameters used and the run's files), and one page per sweep.
Every page has the same navigation and loads one shared plotly.js (`assets/`), so the
site works from `file://` with no network.

It is also a Quarto website project: `reports/_quarto.yml` (the repository's
`_quarto.yml` plus every page), `index.qmd` and the other non-notebook pages. With a
`quarto` binary on PATH it is rendered by `quarto render`; otherwise by the built-in
renderer (Jinja2 templates, nbconvert for notebooks).
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import yaml

from genobench.report.results import atomic_write_text
from genobench.report.site import pages
from genobench.report.site.pages import SWEEP_PREFIX, html_name, sweep_page
from genobench.report.site.runs import DATA_SUFFIXES, FAILED_PAGE, collect_runs, last_line, sweeps

__all__ = ["collect_runs", "render_site", "render_fallback", "write_project", "sweep_page"]

SITE_DIR = "site"
ASSETS_DIR = "assets"


def write_assets(folder: Path) -> None:
    """The files every page loads: plotly.js (once for the site), CSS, the code toggle."""
    from plotly.offline import get_plotlyjs

    atomic_write_text(get_plotlyjs(), folder / "plotly.min.js")
    atomic_write_text(pages.notebook_css(), folder / "notebook.css")
    for name in ("site.css", "site.js"):
        atomic_write_text((pages.TEMPLATES / pages.TEMPLATE / name).read_text(), folder / name)


def _sweep_csv(group: list[dict[str, Any]]) -> str:
    view = pages.sweep_view(group)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [*view["columns"], "status", "headline_metric", "headline_value", "duration_s", "run"]
    )
    for run in group:
        headline = run.get("headline") or {}
        writer.writerow(
            [
                *(pages.cell(run["sweep"]["values"].get(k)) for k in view["columns"]),
                run["status"],
                headline.get("metric"),
                headline.get("value"),
                run.get("duration_s"),
                Path(run["dir"]).name,
            ]
        )
    return buffer.getvalue()


def _quarto_page(title: str, html: str) -> str:
    front = yaml.safe_dump({"title": title}, width=1000).strip()
    return f"---\n{front}\n---\n\n```{{=html}}\n{html}\n```\n"


def write_project(
    reports_dir: str | Path,
    config_template: str | Path = "_quarto.yml",
    runs: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Write the Quarto project into reports/ (`_quarto.yml`, `index.qmd`, sweep and failure
    pages, sweep CSVs, `assets/`); return its page list (front page first)."""
    reports_dir = Path(reports_dir)
    runs = collect_runs(reports_dir) if runs is None else runs
    write_assets(reports_dir / ASSETS_DIR)
    for stale in [
        *reports_dir.glob(f"runs/*/{SWEEP_PREFIX}*.qmd"),
        *reports_dir.glob(f"runs/*/{SWEEP_PREFIX}*.csv"),
    ]:
        stale.unlink()  # rewritten below for the sweeps that still have runs
    front = pages.front_view(runs, reports_dir)
    atomic_write_text(
        _quarto_page(
            f"{pages.SITE_TITLE} report",
            (
                f'<script src="{ASSETS_DIR}/plotly.min.js"></script>\n'
                + pages.body_html("front.html.j2", "index.qmd", runs, **front)
            ),
        ),
        reports_dir / "index.qmd",
    )
    listed = ["index.qmd"]
    for run in runs:
        if run.get("page", "") and run["page"].endswith(FAILED_PAGE):
            atomic_write_text(
                _quarto_page(
                    pages.run_view(run)["title"],
                    pages.body_html(
                        "run_only.html.j2", run["page"], runs, run=pages.run_view(run, reports_dir)
                    ),
                ),
                reports_dir / run["page"],
            )
        if run.get("page"):
            listed.append(run["page"])
    for group in sweeps(runs).values():
        view = pages.sweep_view(group)
        page = sweep_page(view["notebook"], view["name"])
        atomic_write_text(_sweep_csv(group), reports_dir / page.replace(".qmd", ".csv"))
        atomic_write_text(
            _quarto_page(
                f"{view['notebook']}: {view['name']} sweep",
                pages.body_html("sweep.html.j2", page, runs, sweep=view),
            ),
            reports_dir / page,
        )
        listed.append(page)
    template = Path(config_template)
    config = yaml.safe_load(template.read_text()) if template.is_file() else {}
    project = config.setdefault("project", {})
    project.update(
        {
            "type": "website",
            "output-dir": SITE_DIR,
            "render": listed,
            "resources": [f"{ASSETS_DIR}/*", *(f"runs/**/*{s}" for s in DATA_SUFFIXES)],
        }
    )
    website = config.setdefault("website", {})
    website.setdefault("title", pages.SITE_TITLE)
    website["navbar"] = {
        "left": [{"href": "index.qmd", "text": "Home"}]
        + [
            {
                "text": bench["title"],
                "menu": [{"href": "index.qmd", "text": "overview"}]
                + [
                    {"href": r["source"], "text": f"{r['label']} ({r['status']})"}
                    for r in bench["runs"]
                    if r["source"]
                ]
                + [{"href": s["source"], "text": s["label"]} for s in bench["sweeps"]],
            }
            for bench in pages.nav(runs)
        ]
    }
    html = config.setdefault("format", {}).setdefault("html", {})
    html.update({"code-fold": True, "code-tools": True})
    config.setdefault("execute", {})["enabled"] = False
    atomic_write_text(yaml.safe_dump(config, sort_keys=False), reports_dir / "_quarto.yml")
    return listed


def linked_files(runs: list[dict[str, Any]], reports_dir: Path) -> dict[str, str]:
    """The run files the built-in site's pages link: {path in the site: path in reports/}
    (both relative): each run's data files as `pages.site_files` carries them, and the
    tracebacks of its newer failed attempts. Nothing else under runs/ goes into the site
    (an attempt's leftover tables, a running attempt's files: no page links them)."""
    linked = {
        f"{run['dir']}/{f['href']}": f"{run['dir']}/{f['name']}"
        for run in runs
        for f in pages.site_files(run, reports_dir, compact=True)
    }
    for run in runs:
        tracebacks = [a.get("traceback") for a in run.get("newer_failures", [])]
        linked.update({t: t for t in [run.get("traceback"), *tracebacks] if t})
    return dict(sorted(linked.items()))


def _carry(source: Path, dest: Path) -> None:
    """Copy a run file into the site; gzip it (reproducibly: no name, time 0) when `dest`
    says `.gz` and the source is not one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.suffix == ".gz" and source.suffix != ".gz":
        with source.open("rb") as raw, dest.open("wb") as packed:
            with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as out:
                shutil.copyfileobj(raw, out)
    else:
        shutil.copy2(source, dest)


def render_fallback(reports_dir: str | Path, runs: list[dict[str, Any]] | None = None) -> Path:
    """Build the site without Quarto: `site/index.html`, a page per run and per sweep, the
    assets and the runs' data files. A notebook that fails to render becomes a broken run."""
    reports_dir = Path(reports_dir)
    runs = collect_runs(reports_dir) if runs is None else runs
    site = reports_dir / SITE_DIR
    if site.exists():
        shutil.rmtree(site)
    write_assets(site / ASSETS_DIR)
    for dest, source in linked_files(runs, reports_dir).items():
        _carry(reports_dir / source, site / dest)
    rendered = _notebook_pages(reports_dir, runs)
    for page, html in rendered.items():
        atomic_write_text(html, site / html_name(page))
    for run in runs:
        if run.get("page", "") and run["page"].endswith(FAILED_PAGE):
            view = pages.run_view(run, reports_dir, compact=True)
            atomic_write_text(
                pages.page_html(
                    run["page"], view["title"], "run_only.html.j2", runs, run=view, has_code=False
                ),
                site / html_name(run["page"]),
            )
    for group in sweeps(runs).values():
        view = pages.sweep_view(group)
        page = sweep_page(view["notebook"], view["name"])
        atomic_write_text(
            pages.page_html(
                page, f"{view['notebook']}: {view['name']} sweep", "sweep.html.j2", runs, sweep=view
            ),
            site / html_name(page),
        )
        shutil.copy2(
            reports_dir / page.replace(".qmd", ".csv"), site / page.replace(".qmd", ".csv")
        )
    atomic_write_text(
        pages.page_html(
            "index.html",
            f"{pages.SITE_TITLE} report",
            "front.html.j2",
            runs,
            **pages.front_view(runs, reports_dir),
        ),
        site / "index.html",
    )
    return site


def _notebook_pages(reports_dir: Path, runs: list[dict[str, Any]]) -> dict[str, str]:
    """The HTML of every run page with a notebook; one that cannot be rendered makes its run
    broken (and the pages are made again, so no navigation links to a missing page)."""
    rendered = {}
    for run in [r for r in runs if r.get("page", "") and r["page"].endswith(".ipynb")]:
        try:
            rendered[run["page"]] = pages.notebook_html(
                nbformat.read(reports_dir / run["page"], as_version=4),
                run["page"],
                run,
                runs,
                reports_dir,
            )
        except Exception as exc:  # nbconvert or a strange output: the other pages go on
            run.update(
                status="broken",
                headline=None,
                error=f"{run['page']}: cannot be rendered: {type(exc).__name__}: "
                f"{last_line(str(exc))}",
                page=None,
            )
            return _notebook_pages(reports_dir, runs)
    return rendered


def render_site(
    reports_dir: str | Path = "reports",
    config_template: str | Path = "_quarto.yml",
    renderer: str = "auto",
) -> tuple[str, Path]:
    """Render the website; returns (renderer used, site folder).

    `renderer`: "quarto", "fallback", or "auto" (quarto when on PATH).
    """
    if renderer not in ("auto", "quarto", "fallback"):
        raise ValueError(f"renderer must be auto, quarto or fallback, got {renderer!r}")
    quarto = shutil.which("quarto")
    if renderer == "quarto" and not quarto:
        raise RuntimeError(
            "renderer='quarto' but no quarto binary is on PATH; install Quarto "
            "(https://quarto.org/docs/get-started/) or use renderer='fallback'"
        )
    runs = collect_runs(reports_dir)
    write_project(reports_dir, config_template, runs)
    if quarto and renderer != "fallback":
        subprocess.run([quarto, "render", str(reports_dir)], check=True)
        return "quarto", Path(reports_dir) / SITE_DIR
    return "fallback (nbconvert)", render_fallback(reports_dir, runs)
