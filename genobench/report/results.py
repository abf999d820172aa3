"""Writing a run's results: tables, figures and the headline metric, atomically.

Every file is written to a temporary name beside its target and renamed into place,
so an interrupted run never leaves a half-written table behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

HEADLINE_FILE = "headline.json"


def _atomic_write(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write text to `path` atomically."""
    return _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))


def atomic_write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as CSV (no index) atomically."""
    return _atomic_write(Path(path), lambda tmp: df.to_csv(tmp, index=False))


def atomic_write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON atomically (NaN becomes null)."""
    text = json.dumps(_json_safe(obj), indent=2, sort_keys=True, default=str)
    return atomic_write_text(text + "\n", path)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _json_safe(obj.item())
    return obj


PLOTLY_JS = "plotly.min.js"  # one copy per run's figures folder


class RunOutputs:
    """The output folder of one notebook run: every table and figure goes through here."""

    def __init__(self, output_dir: str | Path):
        self.dir = Path(output_dir)
        self.dir.mkdir(parents=True, exist_ok=True)

    def table(self, df: pd.DataFrame, name: str) -> Path:
        """Write a CSV table under the run folder (name may include a subfolder)."""
        return atomic_write_csv(df, self.dir / name)

    def json(self, obj: Any, name: str) -> Path:
        """Write a JSON file under the run folder."""
        return atomic_write_json(obj, self.dir / name)

    def figure(self, fig, name: str) -> Path:
        """Write a plotly figure as interactive HTML (`figures/<name>.html`, loading the
        run's one copy of plotly.js, `figures/plotly.min.js`, so it opens offline) and as
        plotly JSON (`figures/<name>.json`, what the site's front page shows)."""
        path = self.dir / "figures" / f"{name}.html"
        plotly_js = path.with_name(PLOTLY_JS)
        if not plotly_js.is_file():
            from plotly.offline import get_plotlyjs

            atomic_write_text(get_plotlyjs(), plotly_js)
        atomic_write_text(fig.to_json(), path.with_suffix(".json"))
        return _atomic_write(
            path, lambda tmp: fig.write_html(tmp, include_plotlyjs=PLOTLY_JS, full_html=True)
        )

    def headline(self, metric: str, value: float, **context: Any) -> Path:
        """Record the run's headline metric, shown in the report's index table."""
        return self.json({"metric": metric, "value": value, **context}, HEADLINE_FILE)


FAILURES_FILE = "failures.json"


def failure_row(what: str, exc: BaseException, fix: str | None = None) -> dict[str, Any]:
    """One failed row: what failed, the error class and message, and the fix when known
    (`fix`, else the exception's own `fix` attribute)."""
    return {
        "what": what,
        "error": f"{type(exc).__name__}: {exc}",
        "fix": fix or getattr(exc, "fix", None),
    }


def write_failures(output_dir: str | Path, rows: list[dict[str, Any]]) -> Path | None:
    """Record the parts of a run that failed (each row: `what`, `error`, optional `fix`) in
    `failures.json`; the runner then marks the run `partial`. No rows: nothing written."""
    rows = list(rows)
    if not rows:
        return None
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not row.get("what") or not row.get("error"):
            raise ValueError(f"failure row {i} needs non-empty 'what' and 'error', got {row!r}")
    return atomic_write_json(
        [{"what": r["what"], "error": r["error"], "fix": r.get("fix")} for r in rows],
        Path(output_dir) / FAILURES_FILE,
    )


def read_failures(output_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of `failures.json` in a run folder ([] when there is none)."""
    path = Path(output_dir) / FAILURES_FILE
    return json.loads(path.read_text()) if path.is_file() else []


def failures_summary(rows: list[dict[str, Any]]) -> str:
    """One line naming what failed: "2 failed: a (KeyError: x); b (...)"."""
    parts = [f"{r['what']} ({r['error'].splitlines()[0][:200]})" for r in rows]
    return f"{len(rows)} failed: " + "; ".join(parts)
