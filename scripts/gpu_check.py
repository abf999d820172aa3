"""The GPU check: every CUDA path of genobench in one command that fits a short lease.

    scripts/gpu-check [OUT_DIR] [--plan] [--only STEP,...] [--budget-s 420]

Steps (each writes its table into OUT_DIR; one that cannot run records why and the rest go on):

- gpu-tests: the `gpu`-marked tests (pytest -m gpu), one row per test;
- gradient-check: Triton vs the reference at T = 1k, 10k, 50k, 100k and K = 100, 1000, C = 3,
  with the criteria of genobench.benchmarks.gradient_check.CRITERIA;
- semicrf-speed: reference vs Triton vs flash-semicrf's own Triton path, same inputs, B = 1..16;
- quantization: bitsandbytes' five modes on CUDA with NVML power and energy, local stand-in LM;
- esm-speed: ESM eager vs SDPA attention in float16 on the local ESM2 stand-in.

OUT_DIR/steps.csv says for every step: ok, failed (with the error) or skipped (with the
reason), and its seconds. A step starts only while the elapsed time is under --budget-s.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GRADIENT_SHAPES = [(t, k) for k in (100, 1000) for t in (1000, 10_000, 50_000, 100_000)]
SPEED_SHAPES = "10000x100,100000x1000"
SPEED_BATCHES = "1,2,4,8,16"
QUANT_MODES = ["standard", "8bit", "4bit_nf4", "4bit_fp4", "4bit_nf4_double"]


def write_table(rows: list[dict] | pd.DataFrame, out_dir: Path, name: str) -> Path:
    """Write `rows` as OUT_DIR/name.csv (atomically: a temporary file, then renamed)."""
    table = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    path = out_dir / f"{name}.csv"
    tmp = path.with_suffix(".csv.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def junit_rows(xml_path: Path) -> list[dict]:
    """One row per test case of a pytest JUnit XML: test, outcome (passed, failed, error,
    skipped), seconds and message."""
    rows = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (node.get("message") or node.text or "").strip().splitlines()[0][:300]
                break
        rows.append(
            {
                "test": f"{case.get('classname')}::{case.get('name')}",
                "outcome": outcome,
                "seconds": float(case.get("time", 0.0)),
                "message": message,
            }
        )
    return rows


def step_gpu_tests(out_dir: Path) -> str:
    xml = out_dir / "gpu_tests.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "gpu",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={xml}",
            "tests",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    (out_dir / "gpu_tests.log").write_text(proc.stdout + proc.stderr)
    if not xml.is_file():
        raise RuntimeError(f"pytest wrote no report (exit {proc.returncode}): {proc.stderr[-500:]}")
    rows = junit_rows(xml)
    write_table(rows, out_dir, "gpu_tests")
    counts = pd.Series([r["outcome"] for r in rows]).value_counts().to_dict()
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def step_gradient_check(out_dir: Path, deadline: float) -> str:
    from genobench.benchmarks.gradient_check import CRITERIA, gradient_check

    rows = []
    for max_len, max_duration in GRADIENT_SHAPES:
        if time.monotonic() > deadline:
            rows.append(
                {
                    "T": max_len,
                    "K": max_duration,
                    "status": "skipped",
                    "reason": "step time budget spent",
                }
            )
            continue
        row = gradient_check(max_len, max_duration, 3, 2, seed=0, candidate="triton", device="cuda")
        rows.append({**row, "status": "ok", "reason": ""})
        write_table(rows, out_dir, "gradient_check")  # keep what is done if a later shape fails
    write_table(rows, out_dir, "gradient_check")
    done = [r for r in rows if r["status"] == "ok"]
    passed = sum(all(r[f"{c}_pass"] == "PASS" for c in CRITERIA) for r in done)
    return f"{passed}/{len(done)} shapes pass all criteria, {len(rows) - len(done)} skipped"


def step_semicrf_speed(out_dir: Path, budget_s: float) -> str:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "semicrf_speed", REPO / "benchmarks" / "semicrf_speed.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    table = bench.main(
        [
            str(out_dir / "semicrf_speed.csv"),
            "--shapes",
            SPEED_SHAPES,
            "--batch",
            SPEED_BATCHES,
            "--repeats",
            "3",
            "--device",
            "cuda",
            "--budget-s",
            str(budget_s),
        ]
    )
    timed = int((table["status"] == "ok").sum())
    return f"{timed} rows timed, {len(table) - timed} skipped"


def step_quantization(out_dir: Path, device: str = "cuda", dtype: str = "float16") -> str:
    from genobench.benchmarks.quantization import encode_batches, run_mode
    from genobench.data.fragments import load_fragments, select_fragments
    from genobench.data.metagenome import metagenome_csv
    from genobench.models.loading import STANDARD, load_tokenizer, resolve_source

    csv = metagenome_csv(
        n_genomes=4, fragments_per_genome=16, min_length=2000, max_length=3000, seed=0
    )
    seqs = select_fragments(load_fragments(csv), 4, 16, 0, "drop")["seq"].tolist()
    source = resolve_source("local:genomic-lm-tiny")
    tokenizer = load_tokenizer(source)
    batches = encode_batches(tokenizer, seqs, 8, 512)
    results, rows = {}, []
    for mode in QUANT_MODES:
        results[mode] = run_mode(
            source,
            mode,
            batches,
            batches[:2],
            device=device,
            dtype=dtype,
            reference=results.get(STANDARD),
            warmup_batches=2,
            progress=False,
        )
        rows.append(results[mode].performance)
    write_table(rows, out_dir, "quantization")
    return ", ".join(f"{r['mode']} {r['status']}" for r in rows)


def step_esm_speed(out_dir: Path, device: str = "cuda", dtype: str = "float16") -> str:
    from genobench.benchmarks.esm_speed.speed import speed_summary, speedups, time_pair
    from genobench.data.proteins import bucket_proteins
    from genobench.models.esm import EsmEncoder

    table = bucket_proteins([100, 300, 500], 8, seed=0).reset_index(drop=True)
    encoders = {
        role: EsmEncoder("local:esm2-t6-8m", attention, device, dtype, False)
        for role, attention in (("reference", "eager"), ("fast", "sdpa"))
    }
    raw, _ = time_pair(encoders["reference"], encoders["fast"], table, 8, 5, 5, device)
    summary = speed_summary(raw.assign(pair="esm2-t6-8m eager vs sdpa"))
    write_table(summary, out_dir, "esm_speed_summary")
    speed = speedups(summary)
    write_table(speed, out_dir, "esm_speedups")
    return "; ".join(f"{r.bucket}: {r.speedup:.2f}x {r.verdict}" for r in speed.itertuples())


def plan(
    budget_s: float = 420.0, only: list[str] | None = None
) -> list[tuple[str, Callable[[Path, float], str]]]:
    """The steps this command would run, in order: (name, fn(out_dir, deadline))."""
    steps: list[tuple[str, Callable[[Path, float], str]]] = [
        ("gpu-tests", lambda out, deadline: step_gpu_tests(out)),
        ("gradient-check", step_gradient_check),
        (
            "semicrf-speed",
            lambda out, deadline: step_semicrf_speed(out, max(30.0, deadline - time.monotonic())),
        ),
        ("quantization", lambda out, deadline: step_quantization(out)),
        ("esm-speed", lambda out, deadline: step_esm_speed(out)),
    ]
    if only:
        unknown = set(only) - {name for name, _ in steps}
        if unknown:
            raise SystemExit(
                f"unknown step(s) {', '.join(sorted(unknown))}; choose from "
                + ", ".join(name for name, _ in steps)
            )
        steps = [s for s in steps if s[0] in only]
    return steps


def preflight() -> str | None:
    """Why no step can run here (no CUDA), or None."""
    try:
        import torch
    except ImportError as err:
        return f"torch is not importable: {err}"
    if not torch.cuda.is_available():
        return "torch.cuda.is_available() is False: run this on a CUDA node"
    return None


def run(out_dir: Path, budget_s: float = 420.0, only: list[str] | None = None) -> pd.DataFrame:
    """Run the plan into `out_dir`; return the steps table (also written as steps.csv)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    blocked = preflight()
    rows = []
    steps = plan(budget_s, only)
    for i, (name, fn) in enumerate(steps):
        began = time.monotonic()
        row = {"step": name, "status": "ok", "summary": "", "error": "", "seconds": 0.0}
        if blocked:
            row.update(status="skipped", error=blocked)
        elif began - start > budget_s:
            row.update(
                status="skipped", error=f"time budget {budget_s:.0f} s spent before this step"
            )
        else:
            # each later step keeps an equal share of what is left
            deadline = began + (budget_s - (began - start)) / (len(steps) - i)
            try:
                row["summary"] = fn(out_dir, deadline)
            except Exception as exc:  # one step's failure is recorded; the others still run
                row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
                (out_dir / f"{name}.error.txt").write_text(traceback.format_exc())
        row["seconds"] = round(time.monotonic() - began, 1)
        rows.append(row)
        print(
            f"[gpu-check] {name}: {row['status']} {row['summary'] or row['error']} "
            f"({row['seconds']} s)",
            flush=True,
        )
        write_table(rows, out_dir, "steps")
    (out_dir / "hardware.txt").write_text(hardware_text())
    return pd.DataFrame(rows)


def hardware_text() -> str:
    """GPU, driver and library versions of this run."""
    lines = [f"python {platform.python_version()}", f"host {platform.node()}"]
    try:
        import torch

        lines.append(f"torch {torch.__version__} cuda {torch.version.cuda}")
        if torch.cuda.is_available():
            lines.append(f"gpu {torch.cuda.get_device_name(0)}")
    except ImportError:
        lines.append("torch not importable")
    for module in ("triton", "transformers", "bitsandbytes", "flash_semicrf", "numba"):
        try:
            lines.append(f"{module} {__import__(module).__version__}")
        except Exception as err:  # a missing package is recorded by name
            lines.append(f"{module} missing ({type(err).__name__})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=REPO / "benchmarks" / "gpu_check")
    parser.add_argument("--plan", action="store_true", help="print the steps and exit")
    parser.add_argument("--only", help="comma-separated step names")
    parser.add_argument("--budget-s", type=float, default=420.0, help="no step starts after this")
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else None
    if args.plan:
        for name, _ in plan(args.budget_s, only):
            print(name)
        return 0
    steps = run(args.out_dir, args.budget_s, only)
    return 0 if (steps["status"] == "ok").all() else 1


if __name__ == "__main__":
    sys.exit(main())
