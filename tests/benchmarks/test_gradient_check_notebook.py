"""The gradient_check notebook's smoke run: its error table recomputed from the run's params."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from genobench.benchmarks.gradient_check import CRITERIA, random_problem, run_backend


def _errors(ref: dict, other: dict) -> dict[str, float]:
    """The table's error columns, written out here with numpy."""
    r = {k: v.double().numpy() for k, v in ref.items() if torch.is_tensor(v)}
    o = {k: v.double().numpy() for k, v in other.items() if torch.is_tensor(v)}
    diff = np.abs(r["grad_cum_scores"] - o["grad_cum_scores"])

    def max_rel(name):
        return np.abs(r[name] - o[name]).max() / np.abs(r[name]).max()

    return {
        "log_z_max_rel_err": (np.abs(r["log_z"] - o["log_z"]) / np.abs(r["log_z"])).max(),
        "grad_transition_max_rel_err": max_rel("grad_transition"),
        "grad_duration_bias_max_rel_err": max_rel("grad_duration_bias"),
        "grad_cum_scores_mae": diff.mean(),
        "grad_cum_scores_max_abs_err": diff.max(),
        "grad_cum_scores_max_elem_rel_err": (
            diff / np.maximum(np.abs(r["grad_cum_scores"]), 1e-30)
        ).max(),
    }


@pytest.mark.slow
def test_smoke_errors_are_recomputed_from_the_written_shapes(smoke_run):
    run_dir, record = smoke_run("gradient_check")
    assert record["status"] == "ok", record["error"]
    params = yaml.safe_load((run_dir / "params.yaml").read_text())
    table = pd.read_csv(run_dir / "gradient_check.csv")
    assert list(table["T"]) == params["seq_lengths"] == [20, 60]
    seed = params.get("seed", 0)
    for i, row in table.iterrows():
        assert row["candidate"] == "naive" and row["dtype"] == "float64"  # no GPU here
        problem = random_problem(
            row["B"], row["T"], row["K"], row["C"], seed + i, dtype=torch.float64
        )
        expected = _errors(run_backend("reference", problem), run_backend("naive", problem))
        for name, value in expected.items():
            # the same seeded problem on the same CPU: the same float64 round-off
            assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-300), name
        for name, limit in CRITERIA.items():
            assert row[f"{name}_pass"] == ("PASS" if row[name] < limit else "FAIL")
    passed = (table[[f"{c}_pass" for c in CRITERIA]] == "PASS").all(axis=None)
    assert record["headline"]["value"] == ("PASS" if passed else "FAIL") == "PASS"
