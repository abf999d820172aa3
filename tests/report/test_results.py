"""Failed rows and partial runs; the shared build lock; the k-mer LLR by hand."""

import json
import math
import multiprocessing as mp

import pytest

from genobench.models import local
from genobench.models.markov import KmerMarkov
from genobench.report.results import failure_row, failures_summary, read_failures, write_failures


def test_write_failures_records_rows_and_refuses_incomplete_ones(tmp_path):
    assert write_failures(tmp_path, []) is None and read_failures(tmp_path) == []
    row = failure_row("model x", KeyError("attention_mask"), fix="upgrade")
    write_failures(tmp_path, [row, {"what": "mode 8bit", "error": "RuntimeError: boom"}])
    rows = json.loads((tmp_path / "failures.json").read_text())
    assert rows == [
        {"what": "model x", "error": "KeyError: 'attention_mask'", "fix": "upgrade"},
        {"what": "mode 8bit", "error": "RuntimeError: boom", "fix": None},
    ]
    assert failures_summary(rows) == (
        "2 failed: model x (KeyError: 'attention_mask'); mode 8bit (RuntimeError: boom)"
    )
    with pytest.raises(ValueError, match="failure row 0 needs non-empty 'what' and 'error'"):
        write_failures(tmp_path / "other", [{"what": "x"}])
    assert not (tmp_path / "other" / "failures.json").exists()


def test_markov_llr_of_one_substitution_by_hand():
    # order 1, alpha 1, fitted on AACG. Order 0: counts A2 C1 G1 T0 -> (c+1)/8.
    # Order 1: after A: A1 C1 -> A, C 2/6, G, T 1/6; after C: G1 -> G 2/5, else 1/5;
    # after G and T: nothing -> 1/4 each.
    # log p(ACG) = log 3/8 + log 2/6 + log 2/5; log p(ATG) = log 3/8 + log 1/6 + log 1/4
    model = KmerMarkov(order=1, alpha=1.0).fit(["AACG"])
    assert model.log_likelihood("ACG") == pytest.approx(math.log(3 / 8 * 2 / 6 * 2 / 5))
    assert model.llr("ACG", "ATG") == pytest.approx(math.log((1 / 6 * 1 / 4) / (2 / 6 * 2 / 5)))


def _build_tiny_bert(cache: str, log: str) -> str:
    import os
    import time

    os.environ["GENOBENCH_CACHE"] = cache
    original = local.build_local_model

    def logged(path, *args, **kwargs):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} built\n")
        time.sleep(1.0)  # long enough for the other process to arrive meanwhile
        return original(path, *args, **kwargs)

    local.build_local_model = logged
    return str(local.local_model_path("tiny-bert"))


@pytest.mark.slow
def test_two_processes_building_one_stand_in_build_it_once(tmp_path):
    import transformers  # noqa: F401 - imported once here, inherited by the forked builders
    from transformers import BertForMaskedLM  # noqa: F401

    log = tmp_path / "builds.log"
    cache = tmp_path / "cache"
    # fork: the children start with genobench and torch already imported (spawn would spend
    # most of the test importing them again)
    with mp.get_context("fork").Pool(2) as pool:
        paths = pool.starmap(_build_tiny_bert, [(str(cache), str(log))] * 2)
    assert paths[0] == paths[1]
    assert len(log.read_text().splitlines()) == 1
    folder = cache / "models" / "tiny-bert"
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert not (cache / "models" / "tiny-bert.building").exists()


def test_figures_share_one_plotly_js_and_open_offline(tmp_path):
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    from genobench.report.results import RunOutputs

    out = RunOutputs(tmp_path)
    for name in ("a", "b"):
        out.figure(go.Figure(go.Scatter(y=[1, 2])), name)
    figures = tmp_path / "figures"
    assert sorted(p.name for p in figures.iterdir()) == [
        "a.html",
        "a.json",
        "b.html",
        "b.json",
        "plotly.min.js",
    ]
    assert (figures / "plotly.min.js").read_text() == get_plotlyjs()
    html = (figures / "a.html").read_text()
    assert '<script charset="utf-8" src="plotly.min.js">' in html and "https://" not in html
    assert go.Figure(json.loads((figures / "b.json").read_text())).data[0].y == (1, 2)
