"""The gfm_zeroshot notebook's steps: models, the variant task, unscored counts, headline."""

import numpy as np
import pandas as pd
import pytest

from genobench.benchmarks.gfm_zeroshot.steps import (
    best_overall,
    model_specs,
    model_table,
    unscored_counts,
    variant_task,
)


def test_standin_steps_override_only_the_stand_ins():
    default = {s.name: s for s in model_specs(["kmer-markov", "planted-nt"])}
    specs = {s.name: s for s in model_specs(["kmer-markov", "planted-nt"], standin_steps=7)}
    assert specs["planted-nt"].standin["steps"] == 7
    assert default["planted-nt"].standin["steps"] != 7
    assert specs["kmer-markov"] == default["kmer-markov"]  # a baseline has no training
    table = model_table(list(specs.values()))
    assert list(table["model"]) == ["kmer-markov", "planted-nt"]


@pytest.mark.parametrize("reference, variants", [("g.fa", None), (None, "v.csv")])
def test_a_task_needs_both_files_or_neither(reference, variants):
    with pytest.raises(ValueError, match="give both `reference` and `variants`"):
        variant_task(None, reference, variants, {}, 0)


def test_a_users_own_task_is_taken_as_given():
    assert variant_task(None, "g.fa", "v.csv", {}, 0) == ("g.fa", "v.csv", None)


def test_unscored_counts_and_the_best_overall_row():
    scores = pd.DataFrame({"model": ["a", "a", "b", "b"], "method": "m",
                           "raw_score": [1.0, np.nan, 2.0, 3.0]})  # fmt: skip
    assert unscored_counts(scores).to_dict() == {("a", "m"): 1}
    metrics = pd.DataFrame({
        "model": ["a", "b", "b"], "method": "m", "region_type": ["all", "all", "exon"],
        "n": 4, "auroc": [0.6, 0.7, 0.9], "auroc_low": 0.5, "auroc_high": 0.8, "auprc": 0.5,
        "auprc_low": 0.4, "auprc_high": 0.6, "auprc_baseline": 0.5,
    })  # fmt: skip
    overall, best = best_overall(metrics)
    assert list(overall["model"]) == ["a", "b"]  # region rows left out
    assert (best["model"], best["auroc"]) == ("b", 0.7)
