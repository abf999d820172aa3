"""scripts/gpu_check.py without a GPU: its plan, its table writers, and that it says why."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest
import torch

from tests.conftest import REPO


def load():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_lists_the_steps_in_order_and_refuses_unknown():
    g = load()
    assert [n for n, _ in g.plan()] == [
        "gpu-tests",
        "gradient-check",
        "semicrf-speed",
        "quantization",
        "esm-speed",
    ]
    assert [n for n, _ in g.plan(only=["esm-speed", "gpu-tests"])] == ["gpu-tests", "esm-speed"]
    with pytest.raises(SystemExit, match="unknown step"):
        g.plan(only=["nope"])
    assert g.GRADIENT_SHAPES == [
        (t, k) for k in (100, 1000) for t in (1000, 10_000, 50_000, 100_000)
    ]


def test_junit_rows_and_write_table(tmp_path):
    g = load()
    xml = tmp_path / "r.xml"
    xml.write_text(
        '<testsuites><testsuite><testcase classname="tests.a" name="t1" time="0.5"/>'
        '<testcase classname="tests.a" name="t2" time="1"><failure message="boom">x</failure>'
        '</testcase><testcase classname="tests.b" name="t3" time="0">'
        '<skipped message="needs a CUDA GPU"/></testcase></testsuite></testsuites>'
    )
    rows = g.junit_rows(xml)
    assert [(r["test"], r["outcome"], r["message"]) for r in rows] == [
        ("tests.a::t1", "passed", ""),
        ("tests.a::t2", "failed", "boom"),
        ("tests.b::t3", "skipped", "needs a CUDA GPU"),
    ]
    path = g.write_table(rows, tmp_path, "gpu_tests")
    assert pd.read_csv(path)["seconds"].tolist() == [0.5, 1.0, 0.0]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_without_cuda_every_step_is_skipped_with_the_reason(tmp_path):
    g = load()
    steps = g.run(tmp_path, only=["gradient-check", "quantization"])
    assert steps["status"].tolist() == ["skipped", "skipped"]
    assert steps["error"].str.contains("torch.cuda.is_available\\(\\) is False").all()
    assert (tmp_path / "steps.csv").is_file() and "torch" in (tmp_path / "hardware.txt").read_text()
    assert g.main([str(tmp_path), "--only", "gpu-tests"]) == 1
