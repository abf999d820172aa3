import pandas as pd
import pytest
import torch

from genobench.benchmarks.gradient_check import (
    CRITERIA,
    error_metrics,
    gradient_check,
    random_problem,
    verdicts,
)


def grads(log_z, cum, transition, duration):
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    return {
        "log_z": t(log_z),
        "grad_cum_scores": t(cum),
        "grad_transition": t(transition),
        "grad_duration_bias": t(duration),
    }


def test_error_metrics_by_hand():
    ref = grads([10.0, -20.0], [[0.5, -0.5], [1e-6, 0.0]], [[2.0, -4.0]], [[1.0, 1.0]])
    other = grads([10.002, -20.0], [[0.5, -0.4], [2e-6, 0.0]], [[2.0, -3.9]], [[1.0, 1.2]])
    e = error_metrics(ref, other)
    assert e["log_z_max_rel_err"] == pytest.approx(2e-4)  # 0.002 / 10
    assert e["grad_transition_max_rel_err"] == pytest.approx(0.1 / 4)
    assert e["grad_duration_bias_max_rel_err"] == pytest.approx(0.2 / 1)
    assert e["grad_cum_scores_mae"] == pytest.approx((0.1 + 1e-6) / 4)
    assert e["grad_cum_scores_max_abs_err"] == pytest.approx(0.1)
    # near-zero entry: 1e-6 absolute is 100 % relative, the reason MAE is the criterion
    assert e["grad_cum_scores_max_elem_rel_err"] == pytest.approx(1.0)
    v = verdicts(e)
    assert v == {
        "log_z_max_rel_err_pass": "FAIL",
        "grad_transition_max_rel_err_pass": "FAIL",
        "grad_duration_bias_max_rel_err_pass": "FAIL",
        "grad_cum_scores_mae_pass": "FAIL",
    }
    assert verdicts({k: limit / 2 for k, limit in CRITERIA.items()}) == {
        f"{k}_pass": "PASS" for k in CRITERIA
    }


def test_random_problem_is_seeded_with_variable_lengths():
    a, b = random_problem(4, 30, 5, 3, seed=1), random_problem(4, 30, 5, 3, seed=1)
    assert torch.equal(a.cum_scores, b.cum_scores) and torch.equal(a.lengths, b.lengths)
    assert a.lengths[0] == 30 and (a.lengths >= 15).all() and (a.lengths <= 30).all()
    assert torch.equal(a.cum_scores[:, 0], torch.zeros(4, 3))


def test_reference_passes_against_naive_dp():
    row = gradient_check(40, 6, 3, 3, seed=0, candidate="naive", checkpoint_interval=7)
    assert all(row[f"{c}_pass"] == "PASS" for c in CRITERIA)
    assert row["log_z_max_rel_err"] < 1e-10


@pytest.mark.slow
def test_gradient_check_notebook_smoke(in_repo, tmp_path):
    from genobench.report.runner import run_notebook

    record = run_notebook(
        "gradient_check", "params/gradient_check/smoke.yaml", reports_dir=tmp_path
    )
    assert record["status"] == "ok", record["error"]
    run_dir = tmp_path / "runs" / "gradient_check" / "smoke"
    table = pd.read_csv(run_dir / "gradient_check.csv")
    assert list(table["T"]) == [20, 60]
    assert (table[[f"{c}_pass" for c in CRITERIA]] == "PASS").all(axis=None)
    assert record["headline"]["value"] == "PASS"
    assert (run_dir / "figures" / "gradient_check.html").is_file()


def test_overall_verdict_needs_every_criterion_at_every_length():
    import pandas as pd

    from genobench.benchmarks.gradient_check import CRITERIA, overall_verdict

    passing = {f"{c}_pass": "PASS" for c in CRITERIA}
    table = pd.DataFrame([passing, passing])
    assert overall_verdict(table) == "PASS"
    table.loc[1, f"{next(iter(CRITERIA))}_pass"] = "FAIL"
    assert overall_verdict(table) == "FAIL"


def test_without_cuda_the_reference_is_checked_against_the_naive_dp():
    from genobench.benchmarks.gradient_check import choose_candidate

    candidate, why = choose_candidate("cpu")
    assert candidate == "naive" and "naive autograd DP" in why
