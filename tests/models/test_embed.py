import numpy as np
import pytest
import torch
from transformers import AutoModel

from genobench.models.embed import HFEmbedder, embed_sequences, length_sorted_batches, mean_pool
from genobench.models.local import build_local_model


def test_mean_pool_ignores_masked_positions():
    hidden = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    pooled = mean_pool(hidden, mask)
    torch.testing.assert_close(pooled[0], hidden[0, :2].mean(0))
    torch.testing.assert_close(pooled[1], hidden[1].mean(0))


def test_length_sorted_batches_cover_every_index_once():
    batches = length_sorted_batches([5, 1, 9, 3, 7], batch_size=2)
    assert [list(b) for b in batches] == [[2, 4], [0, 3], [1]]


@pytest.mark.parametrize("model", ["local:tiny-mistral", "local:tiny-bert"])
def test_padding_does_not_change_an_embedding(model):
    embedder = HFEmbedder(model)
    short = "ACGTTGCA"
    alone = embedder.embed([short], batch_size=1, progress=False)
    padded = embedder.embed([short, "ACGT" * 50], batch_size=2, progress=False)
    np.testing.assert_allclose(padded[0], alone[0], atol=1e-5)
    # the independent check: the model's own output on the unpadded tokens, averaged
    enc = embedder.tokenizer([short], return_tensors="pt")
    with torch.no_grad():
        expected = embedder.model(**enc).last_hidden_state[0].mean(0).numpy()
    np.testing.assert_allclose(alone[0], expected, atol=1e-5)


def test_embeddings_keep_input_order():
    seqs = ["A" * 30, "C" * 5, "G" * 50, "T" * 12]
    embedder = HFEmbedder("local:tiny-mistral")
    together = embedder.embed(seqs, batch_size=2, progress=False)
    one_by_one = np.vstack([embedder.embed([s], batch_size=1, progress=False) for s in seqs])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_local_model_is_reproducible_and_loads_by_path(tmp_path):
    a = build_local_model(tmp_path / "a", "mistral", seed=1)
    b = build_local_model(tmp_path / "b", "mistral", seed=1)
    ma, mb = AutoModel.from_pretrained(a), AutoModel.from_pretrained(b)
    for (name, pa), (_, pb) in zip(ma.state_dict().items(), mb.state_dict().items()):
        assert torch.equal(pa, pb), name
    x = embed_sequences(str(a), ["ACGTACGT"], batch_size=1)
    assert x.shape == (1, ma.config.hidden_size) and np.isfinite(x).all()


def test_unknown_local_model_is_named():
    with pytest.raises(ValueError, match="unknown local model 'local:nope'"):
        embed_sequences("local:nope", ["ACGT"])
