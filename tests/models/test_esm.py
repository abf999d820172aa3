"""Local ESM2 checkpoints, eager vs SDPA attention on shared weights, residue-only pooling."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForMaskedLM, EsmTokenizer

from genobench.data.proteins import viral_host_proteins
from genobench.metrics.fidelity import cosine_similarity
from genobench.models.esm import ESM_VOCAB, EsmEncoder, build_local_esm, residue_mask
from genobench.models.loading import ModelLoadError
from genobench.models.local import local_model_path


def test_local_checkpoint_is_an_esm2_masked_lm_with_its_vocab(tmp_path):
    a = build_local_esm(tmp_path / "a", seed=1)
    b = build_local_esm(tmp_path / "b", seed=1)
    assert (a / "vocab.txt").read_text().split() == ESM_VOCAB
    ma, mb = AutoModelForMaskedLM.from_pretrained(a), AutoModelForMaskedLM.from_pretrained(b)
    assert type(ma).__name__ == "EsmForMaskedLM"
    assert ma.config.position_embedding_type == "rotary" and ma.config.vocab_size == 33
    for (name, pa), (_, pb) in zip(ma.state_dict().items(), mb.state_dict().items()):
        assert torch.equal(pa, pb), name
    enc = EsmEncoder(str(a), "eager")
    assert isinstance(enc.tokenizer, EsmTokenizer)
    ids = enc.tokenizer(["MKV"])["input_ids"][0]
    assert enc.tokenizer.convert_ids_to_tokens(ids) == ["<cls>", "M", "K", "V", "<eos>"]


def test_transformers_selects_the_asked_attention(monkeypatch):
    """ESM in transformers 5.23 dispatches on config._attn_implementation: the SDPA model
    calls torch's scaled_dot_product_attention once per layer, the eager one never."""
    calls = []
    real = torch.nn.functional.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counting)
    eager, sdpa = EsmEncoder("local:esm2-tiny", "eager"), EsmEncoder("local:esm2-tiny", "sdpa")
    assert (eager.attn_implementation, sdpa.attn_implementation) == ("eager", "sdpa")
    calls.clear()  # the loaders' probe of what runs (attention_used) called it too
    eager.embed(["MKTAYIAK"], progress=False)
    assert calls == []
    sdpa.embed(["MKTAYIAK"], progress=False)
    assert len(calls) == sdpa.model.config.num_hidden_layers


def test_residue_mask_excludes_bos_eos_and_padding():
    enc = EsmEncoder("local:esm2-tiny", "eager")
    batch = enc.tokenize(["MKV", "MKTAY"])
    assert batch["residue_mask"].tolist() == [[0, 1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 1, 1, 0]]
    ids = torch.tensor([[0, 5, 6, 2, 1]])
    assert residue_mask(ids, torch.tensor([[1, 1, 1, 1, 0]]), [0, 1, 2]).tolist() == [
        [0, 1, 1, 0, 0]
    ]


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_pooling_is_over_residues_only_and_unchanged_by_padding(attention):
    enc = EsmEncoder("local:esm2-tiny", attention)
    short = "MKTAYIAKQR"
    alone = enc.embed([short], batch_size=1, progress=False)[0]
    padded = enc.embed([short, "MKV" * 60], batch_size=2, progress=False)[0]
    np.testing.assert_allclose(padded, alone, atol=1e-5)
    tokens = enc.tokenizer([short], return_tensors="pt")
    with torch.no_grad():
        hidden = enc.model(**tokens).last_hidden_state[0]
    np.testing.assert_allclose(alone, hidden[1:-1].mean(0).numpy(), atol=1e-5)  # no BOS/EOS
    assert not np.allclose(alone, hidden.mean(0).numpy(), atol=1e-4)


@pytest.mark.parametrize("name", ["local:esm2-tiny", "local:esm2-t6-8m"])
def test_eager_and_sdpa_agree_on_shared_weights(name):
    seqs = viral_host_proteins(12, seed=2, min_length=30, max_length=200)["seq"].tolist()
    eager = EsmEncoder(name, "eager").embed(seqs, batch_size=6, progress=False)
    sdpa = EsmEncoder(name, "sdpa").embed(seqs, batch_size=6, progress=False)
    cos = cosine_similarity(eager, sdpa)
    assert cos.min() >= 0.999
    assert np.abs(eager - sdpa).max() < 1e-3


def test_unloadable_model_raises_the_loaders_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no-such-model"):
        EsmEncoder(str(tmp_path / "no-such-model"), "eager")
    with pytest.raises(ValueError, match="unknown local model 'esm2-huge'"):
        local_model_path("esm2-huge")
    with pytest.raises(ValueError, match="attention must be one of"):
        EsmEncoder("local:esm2-tiny", "flash")
