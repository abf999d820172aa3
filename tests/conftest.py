"""Shared fixtures: an isolated genobench cache and one smoke run of the binning notebook."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

# Triton reads TRITON_INTERPRET when it is first imported, and bitsandbytes/transformers
# import it long before the Triton tests run: without a GPU, choose the CPU interpreter
# before any test module is loaded.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Local models and synthetic data are built into a fresh cache for the test session."""
    cache = tmp_path_factory.mktemp("genobench-cache")
    old = os.environ.get("GENOBENCH_CACHE")
    os.environ["GENOBENCH_CACHE"] = str(cache)  # inherited by notebook kernels too
    yield cache
    if old is None:
        del os.environ["GENOBENCH_CACHE"]
    else:
        os.environ["GENOBENCH_CACHE"] = old


@pytest.fixture()
def in_repo(monkeypatch):
    """Run from the repository root, as the README's commands do."""
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture(scope="session")
def binning_smoke_run(tmp_path_factory):
    """reports/ folder holding one run of notebooks/binning.py with params/binning/smoke.yaml."""
    from genobench.runner import run_notebook

    reports = tmp_path_factory.mktemp("reports")
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        record = run_notebook("binning", "params/binning/smoke.yaml", reports_dir=reports)
    finally:
        os.chdir(cwd)
    return reports, record


def pytest_collection_modifyitems(config, items):
    """`gpu`-marked tests need CUDA: skip them, saying so, where there is none."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
