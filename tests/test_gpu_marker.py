"""conftest.py skips tests marked `gpu` without CUDA and runs them with it."""

from pathlib import Path

import pytest
import torch

CONFTEST = Path(__file__).with_name("conftest.py")
TESTS = """
import pytest

@pytest.mark.gpu
def test_needs_cuda():
    pass

def test_runs_anywhere():
    pass
"""


@pytest.mark.parametrize("cuda", [False, True])
def test_gpu_tests_run_only_with_cuda(pytester, monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    gpu: needs a CUDA GPU\n")
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_inprocess("-v", "-rs")
    if cuda:
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(
            [
                "*::test_needs_cuda SKIPPED*",
                "*::test_runs_anywhere PASSED*",
                "SKIPPED*needs a CUDA GPU*",
            ]
        )
