"""The site's pages as template contexts, and their HTML (Jinja2; nbconvert for notebooks).

Every link in a context is relative to the site root; a template prefixes it with
`root` (the way from its page back to the root), so pages work from `file://`.
"""

from __future__ import annotations

import fnmatch
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import escape

from genobench.benchmarks.records import BENCHMARKS, BenchmarkInfo
from genobench.report.site.runs import last_line, sweeps

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "genobench"
SWEEP_PREFIX = "sweep-"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
SITE_TITLE = "genobench"


def html_name(page: str) -> str:
    """`runs/x/y/x.ipynb` or `.qmd` -> the rendered page `runs/x/y/x.html`."""
    return Path(page).with_suffix(".html").as_posix()


def root_of(page: str) -> str:
    """The relative way from a page (relative to the site root) back to the root."""
    return "../" * (len(Path(page).parts) - 1)


def sweep_page(notebook: str, params_name: str) -> str:
    """The summary page of a sweep, relative to reports/."""
    return f"runs/{notebook}/{SWEEP_PREFIX}{params_name}.qmd"


def cell(value: Any) -> str:
    """A parameter value as the params file would write it (strings bare, the rest JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def headline_text(run: dict[str, Any]) -> str | None:
    """`metric = value` of a run's headline (4 significant digits), None without one."""
    headline = run.get("headline") or {}
    value = headline.get("value")
    if value is None:
        return None
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{headline.get('metric', 'headline')} = {shown}"


def provenance(run: dict[str, Any]) -> str:
    """One line: commit, hardware, date, params file, duration."""
    if run["status"] == "broken":
        return "unreadable, see the error"
    device = run.get("device") or {}
    hardware = device.get("gpu") or (f"CPU {device['cpu']}" if device.get("cpu") else None)
    finished = (run.get("finished") or run.get("started") or "")[:16].replace("T", " ")
    duration = run.get("duration_s")
    parts = [
        f"commit {run['git_commit'][:7]}" if run.get("git_commit") else "commit unknown",
        hardware or "hardware unknown",
        f"{finished} UTC" if finished else "date unknown",
        run.get("params_file") or "no params file",
        f"{duration:.1f} s" if isinstance(duration, (int, float)) else "duration unknown",
    ]
    return " · ".join(parts)


def run_label(run: dict[str, Any]) -> str:
    """A run's name in navigation and tables: its params name, or its sweep point."""
    sweep = run.get("sweep")
    if sweep:
        point = ", ".join(f"{k}={cell(v)}" for k, v in sweep["values"].items())
        return f"{sweep['params_name']}: {point}"
    return run["params_name"]


def info(notebook: str) -> BenchmarkInfo:
    """The declared record of a benchmark; a notebook without one gets a plain record."""
    return BENCHMARKS.get(notebook) or BenchmarkInfo(
        notebook,
        notebook,
        "(no question declared in genobench.benchmarks.records)",
        "the notebook's headline metric",
        "higher",
        "",
        "",
    )


GZIP_OVER = 256 * 1024  # bytes: a larger data file is carried gzipped by the built-in site


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def site_files(
    run: dict[str, Any], reports_dir: Path | None, compact: bool = False
) -> list[dict[str, Any]]:
    """The run's data files as its page links them: `name` (in the run folder), `href` (in
    the site, relative to the run folder) and a `note`.

    `compact` (the built-in site): a file over `GZIP_OVER` bytes is carried as `<name>.gz`
    (the same bytes, gzipped: e.g. semicrf's 3.4 MB `test_predictions.csv` is 0.4 MB;
    `pandas.read_csv` reads either), and a figure's plotly JSON (`figures/*.json`) is left
    out when the run has a notebook page, which draws that figure already: each figure is
    carried once. Without `compact` (the Quarto project, which copies files itself) every
    file is linked as it is.
    """
    files = []
    drawn = compact and str(run.get("page") or "").endswith(".ipynb")
    for name in run.get("files", []):
        if drawn and name.startswith("figures/") and name.endswith(".json"):
            continue
        path = reports_dir / run["dir"] / name if reports_dir is not None else None
        size = path.stat().st_size if path is not None and path.is_file() else 0
        if compact and size > GZIP_OVER:
            files.append(
                {"name": name, "href": f"{name}.gz", "note": f"gzip; {_size_text(size)} unpacked"}
            )
        else:
            files.append({"name": name, "href": name, "note": None})
    return files


def run_view(
    run: dict[str, Any], reports_dir: Path | None = None, compact: bool = False
) -> dict[str, Any]:
    """What the templates show of one run (links relative to the site root); `compact`:
    its files as the built-in site carries them (`site_files`)."""
    bench = info(run["notebook"])
    params: list[tuple[str, str]] = []
    if reports_dir is not None and run.get("page"):
        path = reports_dir / run["dir"] / "params.yaml"
        try:
            loaded = yaml.safe_load(path.read_text()) if path.is_file() else {}
            params = [(k, cell(v)) for k, v in sorted((loaded or {}).items())]
        except (OSError, yaml.YAMLError) as exc:
            params = [("(params.yaml unreadable)", str(exc))]
    sweep = run.get("sweep")
    return {
        "label": run_label(run),
        "status": run["status"],
        "href": html_name(run["page"]) if run.get("page") else None,
        "title": f"{bench.title}: {run_label(run)}",
        "question": bench.question,
        "headline": headline_text(run),
        "direction": bench.direction_text,
        "provenance": provenance(run),
        "error_line": _error_line(run),
        "traceback": run.get("traceback"),
        "newer_failures": run.get("newer_failures", []),
        "params": params,
        "files": site_files(run, reports_dir, compact),
        "figures_drawn": compact
        and str(run.get("page") or "").endswith(".ipynb")
        and any(f.startswith("figures/") and f.endswith(".json") for f in run.get("files", [])),
        "dir": run.get("dir"),
        "duration": f"{run['duration_s']:.1f} s"
        if isinstance(run.get("duration_s"), (int, float))
        else "—",
        "sweep_name": sweep["params_name"] if sweep else None,
        "sweep_page": html_name(sweep_page(run["notebook"], sweep["params_name"]))
        if sweep
        else None,
    }


def _error_line(run: dict[str, Any]) -> str | None:
    return last_line(run.get("error")) if run["status"] != "ok" else None


def _by_notebook(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Runs grouped by notebook: the declared benchmarks first, in their order."""
    found = {r["notebook"] for r in runs}
    order = [n for n in BENCHMARKS if n in found] + sorted(found - set(BENCHMARKS))
    return {n: [r for r in runs if r["notebook"] == n] for n in order}


def nav(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The navigation every page shows: each benchmark with each of its runs."""
    grids = sweeps(runs)
    return [
        {
            "name": notebook,
            "title": info(notebook).title,
            "runs": [
                {
                    "label": run_label(r),
                    "status": r["status"],
                    "source": r.get("page"),
                    "href": html_name(r["page"]) if r.get("page") else None,
                }
                for r in group
            ],
            "sweeps": [
                {
                    "label": f"{name} sweep",
                    "source": sweep_page(notebook, name),
                    "href": html_name(sweep_page(notebook, name)),
                }
                for (nb, name) in grids
                if nb == notebook
            ],
        }
        for notebook, group in _by_notebook(runs).items()
    ]


def figure_html(figure: dict[str, Any] | str) -> str:
    """A plotly figure (its JSON, or the dict of a notebook output) as a div + script that
    uses the site's shared plotly.js: no plotly.js, MathJax or CDN of its own."""
    import plotly.io as pio

    fig = pio.from_json(
        figure if isinstance(figure, str) else json.dumps(figure), skip_invalid=True
    )
    return pio.to_html(
        fig,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        config={"responsive": True, "displaylogo": False},
    )


def key_figure(
    bench: BenchmarkInfo, runs: list[dict[str, Any]], reports_dir: Path
) -> tuple[dict[str, Any] | None, str]:
    """The benchmark's key figure from its most recent good run that wrote it, or (None, why)."""
    if not bench.key_figure:
        return None, "no key figure declared in genobench.benchmarks.records"
    good = [r for r in runs if r["status"] in ("ok", "partial")]
    for run in sorted(good, key=lambda r: r.get("finished") or "", reverse=True):
        paths = [
            reports_dir / run["dir"] / f
            for f in run["files"]
            if fnmatch.fnmatch(f, f"figures/{bench.key_figure}.json")
        ]
        if paths:  # the first written, e.g. the first model's of several
            text = min(paths, key=lambda p: p.stat().st_mtime_ns).read_text()
            return {
                "html": figure_html(text),
                "caption": bench.key_figure_caption,
                "run": run_label(run),
                "href": html_name(run["page"]),
            }, ""
    if not good:
        return None, "no run of it succeeded yet"
    return None, f"no good run wrote figures/{bench.key_figure}.json"


def sweep_view(group: list[dict[str, Any]]) -> dict[str, Any]:
    """What a sweep's page shows: one row per point of the grid."""
    first = group[0]
    keys = first["sweep"]["keys"]
    name = first["sweep"]["params_name"]
    return {
        "notebook": first["notebook"],
        "name": name,
        "size": len(group),
        "grid": ", ".join(keys),
        "columns": keys,
        "csv": f"{SWEEP_PREFIX}{name}.csv",
        "href": html_name(sweep_page(first["notebook"], name)),
        "rows": [
            {"point": [cell(r["sweep"]["values"].get(k)) for k in keys], "run": run_view(r)}
            for r in group
        ],
    }


def front_view(runs: list[dict[str, Any]], reports_dir: Path) -> dict[str, Any]:
    """The front page: a summary line and one section per benchmark."""
    sections = []
    grids = sweeps(runs)
    for notebook, group in _by_notebook(runs).items():
        bench = info(notebook)
        figure, missing = key_figure(bench, group, reports_dir)
        sections.append(
            {
                "name": notebook,
                "title": bench.title,
                "question": bench.question,
                "headline": bench.headline,
                "direction": bench.direction_text,
                "runs": [run_view(r) for r in group],
                "figure": figure,
                "figure_missing": missing,
                "sweeps": [sweep_view(g) for (nb, _), g in grids.items() if nb == notebook],
            }
        )
    counts = {
        s: sum(r["status"] == s for r in runs)
        for s in ("ok", "partial", "failed", "running", "broken")
    }
    summary = (
        (
            f"{len(runs)} runs of {len(sections)} benchmarks: "
            + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        )
        if runs
        else "No runs yet: `genobench run` or `genobench report` writes them."
    )
    return {"benchmarks": sections, "summary": summary}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the site's own templates (shared with nbconvert's pages)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES / TEMPLATE),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["e"] = escape
    return env


def page_html(page: str, title: str, body: str, runs: list[dict[str, Any]], **context: Any) -> str:
    """A page that is not a notebook: `body` is the template of its content."""
    return (
        environment()
        .get_template("page.html.j2")
        .render(
            root=root_of(page),
            title=title,
            body=body,
            nav=nav(runs),
            site_title=SITE_TITLE,
            **context,
        )
    )


def body_html(body: str, page: str, runs: list[dict[str, Any]], **context: Any) -> str:
    """Just the content of a page (for the Quarto project's raw HTML blocks)."""
    return (
        environment()
        .get_template(body)
        .render(root=root_of(page), nav=nav(runs), site_title=SITE_TITLE, has_code=False, **context)
    )


def prepare_notebook(nb) -> None:
    """Make an executed notebook's figures use the site's shared plotly.js, in place.

    Each plotly output is redrawn from its JSON by `figure_html` (plotly's own HTML loads
    MathJax from a CDN); the output that inlines plotly.js itself is dropped; widget views
    (which need a widget manager from a CDN) fall back to their text, and the saved widget
    state goes too (nbconvert would embed it in every page, ~9-27 kB of progress bars that no
    output shows).
    """
    nb.metadata.pop("widgets", None)
    for cell_ in nb.cells:
        outputs = []
        for output in cell_.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                data["text/html"] = figure_html(data.pop(PLOTLY_MIME))
            elif "PlotlyConfig" in data.get("text/html", ""):
                continue  # plotly.js itself: the site loads it once from assets/
            data.pop("application/vnd.jupyter.widget-view+json", None)
            outputs.append(output)
        if cell_.cell_type == "code":
            cell_.outputs = outputs


def notebook_html(
    nb, page: str, run: dict[str, Any], runs: list[dict[str, Any]], reports_dir: Path
) -> str:
    """A run page: the executed notebook under the site's navigation and run header."""
    from nbconvert import HTMLExporter

    prepare_notebook(nb)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name=TEMPLATE)
    exporter.environment.filters["e"] = escape
    resources = {
        "genobench": {
            "root": root_of(page),
            "nav": nav(runs),
            "site_title": SITE_TITLE,
            "run": run_view(run, reports_dir, compact=True),
        }
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def notebook_css() -> str:
    """JupyterLab's notebook CSS (nbconvert's lab template), written once for the site."""
    from nbconvert import HTMLExporter

    for base in HTMLExporter(template_name="lab").template_paths:
        css = Path(base) / "static" / "index.css"
        if css.is_file():
            return css.read_text() + (css.parent / "theme-light.css").read_text()
    raise FileNotFoundError(
        "nbconvert's lab template has no static/index.css: reinstall "
        "nbconvert (pip install -r requirements.txt)"
    )
