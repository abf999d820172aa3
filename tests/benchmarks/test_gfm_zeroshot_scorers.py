"""The GenomicModel wrappers on tiny local checkpoints (random or briefly trained weights)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from genobench.benchmarks.gfm_zeroshot.scorers import (
    HFModel,
    build_model,
    cosine_distance,
    window_from_pair,
)
from genobench.data.variants import VariantWindow
from genobench.models import standins
from genobench.models.local import build_local_model, local_model_path
from genobench.models.registry import ModelSpec, load_registry
from genobench.models.standins import standin_path, standin_tokenizer, train_standin

REF = "ACGTTGCAAGCTTACGGATCCATGCAAGTTCGAT" * 2
ALT = REF[:30] + ("A" if REF[30] != "A" else "C") + REF[31:]
GENOME = {"chr1": "ACGTTGCAAGCTTACGGATCCATGCAAGTTCGATTTGACCA" * 30}


def spec(**kw):
    base = dict(
        name="m",
        hub_id="",
        type="encoder",
        family="bert",
        params=1,
        embedding_dim=64,
        max_length=512,
        tokenization="char",
        zero_shot_method="embedding_distance",
        trust_remote_code=False,
        needs_4bit=False,
        extra_methods=("embedding_distance_local", "masked_marginal"),
        masked_lm=True,
    )
    return ModelSpec(**{**base, **kw})


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    path = build_local_model(tmp_path_factory.mktemp("m") / "bert", "bert", seed=3)
    return HFModel(spec(hub_id=str(path))).load()


@pytest.fixture(scope="module")
def mistral(tmp_path_factory):
    path = build_local_model(tmp_path_factory.mktemp("m") / "mistral", "mistral", seed=3)
    return HFModel(
        spec(
            hub_id=str(path),
            type="causal",
            family="mistral",
            masked_lm=False,
            zero_shot_method="log_likelihood_ratio",
            extra_methods=("embedding_distance",),
        )
    ).load()


def test_cosine_distance_by_hand():
    x = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
    np.testing.assert_allclose(cosine_distance(x, x), 0.0, atol=1e-12)  # float64 rounding
    # 1 - cos 60° between (1, 0) and (1, sqrt 3)
    assert cosine_distance(np.array([1.0, 0]), np.array([1.0, 3**0.5])) == pytest.approx(0.5)
    assert cosine_distance(np.array([1.0, 0]), np.array([0.0, 1])) == pytest.approx(1.0)
    assert cosine_distance(np.array([1.0, 0]), np.array([-1.0, 0])) == pytest.approx(2.0)


def test_identical_sequences_are_computed_not_short_circuited(bert, mistral):
    # no variant: the embedding distances and the LLR come out 0 from the computation
    # itself (the distances up to rounding); the masked marginal has no changed token to
    # score, so it is NaN
    for method in ("embedding_distance", "embedding_distance_local"):  # float64 rounding
        assert bert.score_variant(REF, REF, method) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(bert.score_variant(REF, REF, "masked_marginal"))
    assert mistral.score_variant(REF, REF) == 0.0
    # the embeddings of identical sequences are identical, so the distance is 0 in float64
    emb = bert.get_embedding([REF, REF])
    assert cosine_distance(emb[0], emb[1]) == pytest.approx(0.0, abs=1e-7)


def test_causal_llr_equals_full_sequence_log_likelihood_difference(mistral):
    def log_p(seq):
        ids = mistral.tokenizer(seq, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(mistral.model(input_ids=ids).logits[0, :-1].double(), -1)
        return float(logp.gather(-1, ids[0, 1:, None]).sum())

    expected = log_p(ALT) - log_p(REF)
    assert mistral.score_variant(REF, ALT) == pytest.approx(expected, abs=1e-6)
    assert expected != 0


def test_masked_marginal_by_hand(bert):
    offset = 30
    ids = bert.tokenizer(REF, return_tensors="pt")["input_ids"]
    t = offset + 1  # [CLS] first
    masked = ids.clone()
    masked[0, t] = bert.tokenizer.mask_token_id
    with torch.no_grad():
        logp = torch.log_softmax(bert.model(input_ids=masked).logits[0, t].double(), -1)
    vocab = bert.tokenizer.get_vocab()
    expected = float(logp[vocab[ALT[offset]]] - logp[vocab[REF[offset]]])
    assert bert.score_variant(REF, ALT, "masked_marginal") == pytest.approx(expected, abs=1e-6)


def test_embedding_is_mean_over_sequence_tokens(bert):
    enc = bert.tokenizer([REF], return_tensors="pt")
    with torch.no_grad():
        hidden = bert.model(**enc, output_hidden_states=True).hidden_states[-1][0]
    expected = hidden[1:-1].mean(0).numpy()  # without [CLS] and [SEP]
    np.testing.assert_allclose(bert.get_embedding([REF])[0], expected, atol=1e-5)


def test_batched_scores_equal_one_by_one(bert, mistral):
    windows = [
        window_from_pair(REF, ALT),
        window_from_pair(REF[:40], ALT[:40]),
        window_from_pair(REF[5:], ALT[5:]),
    ]
    for model in (bert, mistral):
        together = model.score_windows(windows, batch_size=3)
        for i, w in enumerate(windows):
            alone = model.score_windows([w], batch_size=1)
            for method, values in together.items():
                assert values[i] == pytest.approx(alone[method][0], abs=1e-5), (model.name, method)


def test_unknown_method_is_refused(mistral):
    with pytest.raises(ValueError, match="does not offer 'masked_marginal'"):
        mistral.score_variant(REF, ALT, "masked_marginal")


def test_kmer_tokenizer_masked_marginal_uses_the_kmer_token(tmp_path):
    path = tmp_path / "nt"
    train_standin(path, "nt", GENOME, steps=0, kmer=3, seq_len=48)
    model = HFModel(spec(hub_id=str(path), family="nt", tokenization="kmer3")).load()
    enc = model.tokenizer("ACGTTGCAA")
    assert model.tokenizer.convert_ids_to_tokens(enc["input_ids"]) == ["[CLS]", "ACG", "TTG", "CAA"]
    offsets = model._encode(["ACGTTGCAA"])[2]
    c2t = model._char_to_token("ACGTTGCAA", offsets[0], torch.tensor([1, 0, 0, 0]))
    assert c2t.tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    # by hand: mask token of the k-mer holding base 30 (tokens from the left, after [CLS])
    t = 1 + 30 // 3
    ids = model.tokenizer(REF, return_tensors="pt")["input_ids"]
    alt_ids = model.tokenizer(ALT, return_tensors="pt")["input_ids"]
    masked = ids.clone()
    masked[0, t] = model.tokenizer.mask_token_id
    with torch.no_grad():
        logp = torch.log_softmax(model.model(input_ids=masked).logits[0, t].double(), -1)
    expected = float(logp[alt_ids[0, t]] - logp[ids[0, t]])
    assert model.score_variant(REF, ALT, "masked_marginal") == pytest.approx(expected, abs=1e-6)


def test_kmer_tokenizer_leftovers_and_n():
    tok = standin_tokenizer("nt", "kmer", 3)
    assert tok.convert_ids_to_tokens(tok("ACGTNACGTA")["input_ids"]) == [
        "[CLS]",
        "ACG",
        "T",
        "N",
        "ACG",
        "T",
        "A",
    ]


def test_build_model_passes_its_options_and_warns_about_4bit_on_cpu(recwarn):
    from genobench.benchmarks.gfm_zeroshot.scorers import QUANT_4BIT, MarkovModel

    big = spec(name="big", needs_4bit=True)
    model = build_model(big, local_radius=5, reference=GENOME, seed=2)
    assert isinstance(model, HFModel) and not model.loaded
    assert (model.device, model.local_radius, model.seed) == ("cpu", 5, 2)
    assert model.reference is GENOME and model.quant_mode == QUANT_4BIT
    assert any("big needs 4-bit weights" in str(w.message) for w in recwarn)
    recwarn.clear()
    assert build_model(big, load_in_4bit=True).quant_mode == QUANT_4BIT  # asked for: no warning
    assert build_model(big, device="cuda").quant_mode == QUANT_4BIT
    assert build_model(big, load_in_4bit=False).quant_mode == "standard"
    assert not [w for w in recwarn if "4-bit" in str(w.message)]
    markov = build_model(spec(name="k", family="kmer_markov", needs_4bit=True), seed=4)
    assert isinstance(markov, MarkovModel) and markov.seed == 4
    assert not [w for w in recwarn if "4-bit" in str(w.message)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["planted-bert", "planted-nt", "planted-mistral", "planted-mamba"])
def test_stand_ins_train_cache_and_load_through_the_wrappers(name):
    reg = load_registry()
    entry = reg[name]
    quick = dataclasses.replace(
        entry, standin={**entry.standin, "steps": 3, "batch_size": 2, "seq_len": 48}
    )
    model = build_model(quick, reference=GENOME).load()
    first = local_model_path(name, reference=GENOME, standin=quick.standin)
    assert (first / "training.json").is_file()
    mtime = (first / "training.json").stat().st_mtime_ns
    again = local_model_path(name, reference=GENOME, standin=quick.standin)
    assert again == first and (again / "training.json").stat().st_mtime_ns == mtime  # cached
    w = VariantWindow(0, 20, GENOME["chr1"][:48], GENOME["chr1"][:20] + "A" + GENOME["chr1"][21:48])
    if w.ref_seq[20] == "A":
        w = VariantWindow(0, 20, w.ref_seq, w.ref_seq[:20] + "C" + w.ref_seq[21:])
    scores = model.score_windows([w])
    assert set(scores) == set(entry.methods)
    assert all(np.isfinite(v[0]) for v in scores.values())
    assert model.get_embedding([w.ref_seq]).shape == (1, entry.embedding_dim)


def test_stand_in_training_is_reproducible(tmp_path):
    a = train_standin(tmp_path / "a", "mistral", GENOME, steps=2, batch_size=2, seq_len=32)
    b = train_standin(tmp_path / "b", "mistral", GENOME, steps=2, batch_size=2, seq_len=32)
    assert a["loss_curve"] == b["loss_curve"]
    with pytest.raises(ValueError, match="unknown stand-in setting"):
        train_standin(tmp_path / "c", "mistral", GENOME, colour="red")


def test_a_changed_stand_in_default_trains_a_new_stand_in(monkeypatch):
    settings = {"steps": 0, "batch_size": 2, "seq_len": 32}
    first = standin_path("quick", settings, "mistral", GENOME)
    assert standin_path("quick", settings, "mistral", GENOME) == first  # cached
    monkeypatch.setitem(standins.DEFAULTS, "hidden_size", 32)
    second = standin_path("quick", settings, "mistral", GENOME)
    assert second != first
    assert json.loads((second / "training.json").read_text())["settings"]["hidden_size"] == 32
