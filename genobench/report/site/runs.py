"""What the site shows of each run folder: its record, status, files and newer failed attempts.

A run folder that cannot be read (a run.json that is not JSON or not a run record, a
notebook that is not a notebook) becomes a `broken` run naming the file and the error,
so one bad folder never stops the site.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import nbformat

from genobench.report.runner import RUN_FILE

DATA_SUFFIXES = (".csv", ".json", ".yaml", ".txt")
STATUSES = ("ok", "partial", "failed", "running")
FAILED_PAGE = "failed.qmd"
ATTEMPTS_DIR = "attempts"
ERROR_FILE = "error.txt"
ATTEMPT_TIME = "%Y%m%dT%H%M%SZ"


def last_line(error: str | None) -> str | None:
    """The last non-empty line of an error message (the exception, for a traceback)."""
    lines = [line for line in str(error or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


def _problem(record: Any) -> str | None:
    """Why a parsed run.json is not a run record, or None when it is one."""
    if not isinstance(record, dict):
        return f"not a run record: a JSON {type(record).__name__}, expected an object"
    missing = [
        k for k in ("notebook", "params_name", "status") if not isinstance(record.get(k), str)
    ]
    if missing:
        return f"not a run record: no string {', '.join(missing)}"
    if record["status"] not in STATUSES:
        return f"unknown status {record['status']!r} (expected one of {', '.join(STATUSES)})"
    if record.get("headline") is not None and not isinstance(record["headline"], dict):
        return "headline is not an object with metric and value"
    sweep = record.get("sweep")
    if sweep is not None and not (
        isinstance(sweep, dict) and {"params_name", "keys", "values"} <= set(sweep)
    ):
        return "sweep is not an object with params_name, keys and values"
    return None


def _read_record(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    problem = _problem(record)
    return (None, problem) if problem else (record, None)


def _parse_time(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def failed_attempts(run_dir: Path, reports_dir: Path, after: str | None) -> list[dict[str, Any]]:
    """The failed attempts under `<run>/attempts/<UTC time>-failed/` newer than `after`
    (an ISO time; all of them when None), oldest first."""
    since = _parse_time(after)
    attempts = []
    for folder in sorted((run_dir / ATTEMPTS_DIR).glob("*-failed")):
        try:
            when = dt.datetime.strptime(folder.name.split("-")[0], ATTEMPT_TIME).replace(
                tzinfo=dt.timezone.utc
            )
        except ValueError:
            continue  # not an attempt folder of the runner
        if since is not None and when <= since:
            continue
        record, problem = _read_record(folder / RUN_FILE)
        error = (record or {}).get("error") or problem or "no error recorded"
        traceback = folder / ERROR_FILE
        attempts.append(
            {
                "time": when.strftime("%Y-%m-%d %H:%M UTC"),
                "error_line": last_line(error),
                "traceback": traceback.relative_to(reports_dir).as_posix()
                if traceback.is_file()
                else None,
            }
        )
    return attempts


def _broken(run_dir: Path, reports_dir: Path, file: Path, error: str) -> dict[str, Any]:
    return {
        "notebook": run_dir.parent.name,
        "params_name": run_dir.name,
        "status": "broken",
        "dir": run_dir.relative_to(reports_dir).as_posix(),
        "page": None,
        "error": f"{file.relative_to(reports_dir).as_posix()}: {error}",
        "files": [],
        "newer_failures": [],
        "traceback": None,
        "headline": None,
    }


def collect_runs(reports_dir: str | Path) -> list[dict[str, Any]]:
    """Every run folder `reports/runs/<notebook>/<name>/`, sorted by notebook and name.

    Each record gains `dir` (relative to reports/), `page` (its executed notebook, a
    failure page when the run left none, None for a broken run), `files` (its data
    files), `traceback` (error.txt when present) and `newer_failures` (failed attempts
    after it). An unreadable record or notebook gives status `broken` with the error.
    """
    reports_dir = Path(reports_dir)
    runs = []
    for path in sorted(reports_dir.glob(f"runs/*/*/{RUN_FILE}")):
        run_dir = path.parent
        record, problem = _read_record(path)
        if problem:
            runs.append(_broken(run_dir, reports_dir, path, problem))
            continue
        notebook = run_dir / f"{record['notebook']}.ipynb"
        if notebook.is_file():
            try:
                nbformat.validate(nbformat.read(notebook, as_version=4))
            except Exception as exc:  # any unreadable notebook: nbformat raises many kinds
                runs.append(
                    _broken(
                        run_dir,
                        reports_dir,
                        notebook,
                        f"not a readable notebook: {type(exc).__name__}: {last_line(str(exc))}",
                    )
                )
                continue
        record["dir"] = run_dir.relative_to(reports_dir).as_posix()
        record["page"] = f"{record['dir']}/{notebook.name if notebook.is_file() else FAILED_PAGE}"
        record["files"] = sorted(
            p.relative_to(run_dir).as_posix()
            for p in run_dir.rglob("*")
            if p.suffix in DATA_SUFFIXES
            and p.is_file()
            and ATTEMPTS_DIR not in p.relative_to(run_dir).parts
        )
        traceback = run_dir / ERROR_FILE
        record["traceback"] = f"{record['dir']}/{ERROR_FILE}" if traceback.is_file() else None
        record["newer_failures"] = failed_attempts(
            run_dir, reports_dir, record.get("finished") or record.get("started")
        )
        runs.append(record)
    return runs


def sweeps(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The runs of each sweep, by (notebook, params file name), in run order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        if isinstance(run.get("sweep"), dict):
            groups.setdefault((run["notebook"], run["sweep"]["params_name"]), []).append(run)
    return groups
