"""Family adapters against small remote-code folders written here, each reproducing the
upstream behaviour its adapter answers, loaded through the one loader and scored.

The folders mimic what `huggingface-cli download` gives (config.json with `auto_map`,
the modelling/tokenizer Python files, a weights file), at toy sizes. Their weights file
holds no model tensors, so transformers initialises the weights (seeded); scores are
checked against direct computations with the same loaded model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from genobench.benchmarks.gfm_zeroshot.scorers import HFModel
from genobench.data.variants import VariantWindow
from genobench.models.esm import EsmEncoder
from genobench.models.loading import MissingPackage, forward, load, pad_batch
from genobench.models.registry import spec_for

CONFIG = """
from transformers import PretrainedConfig


class FakeConfig(PretrainedConfig):
    model_type = "{model_type}"

    def __init__(self, vocab_size=12, width=16, num_attention_heads=2, **kwargs):
        self.vocab_size = vocab_size
        self.{width_key} = width
        self.num_attention_heads = num_attention_heads
        super().__init__(**kwargs)
"""

# a character tokenizer in the style of HyenaDNA's / Caduceus's: vocabulary set before
# super().__init__, no get_vocab; `input_names` decides whether it returns attention_mask
TOKENIZER = """
from transformers import PreTrainedTokenizer


class CharTokenizer(PreTrainedTokenizer):
    model_input_names = {input_names}

    def __init__(self, **kwargs):
        self._vocab_str_to_int = {{"[CLS]": 0, "[SEP]": 1, "[PAD]": 2, "[UNK]": 3, "[MASK]": 4,
                                  "A": 5, "C": 6, "G": 7, "T": 8, "N": 9}}
        self._vocab_int_to_str = {{v: k for k, v in self._vocab_str_to_int.items()}}
        super().__init__(pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]", **kwargs)
{get_vocab}
    @property
    def vocab_size(self):
        return len(self._vocab_str_to_int)

    def _tokenize(self, text):
        return list(text)

    def _convert_token_to_id(self, token):
        return self._vocab_str_to_int.get(token, 3)

    def _convert_id_to_token(self, index):
        return self._vocab_int_to_str[index]
"""

# Evo-1's kind: bytes as ids, no pad, eos or unk token
BYTE_TOKENIZER = """
from transformers import PreTrainedTokenizer


class ByteTokenizer(PreTrainedTokenizer):
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def get_vocab(self):
        return {chr(i): i for i in range(256)}

    @property
    def vocab_size(self):
        return 256

    def _tokenize(self, text):
        return list(text)

    def _convert_token_to_id(self, token):
        return ord(token)

    def _convert_id_to_token(self, index):
        return chr(index)
"""

DNABERT2 = """
import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_fake import FakeConfig

try:  # as bert_layers.py: triton importable -> its bundled Triton flash attention
    import triton  # noqa: F401

    def flash_attn_qkvpacked_func(qkv, bias):
        assert qkv.is_cuda, "the Triton kernel runs on CUDA only"
        raise TypeError("dot() got an unexpected keyword argument 'trans_b'")
except ImportError:
    flash_attn_qkvpacked_func = None


class Encoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.rebuild_alibi_tensor(size=8)

    def rebuild_alibi_tensor(self, size, device=None):
        slopes = torch.Tensor([2.0 ** -(h + 1) for h in range(self.heads)]).to(device)
        pos = torch.arange(size, device=device)
        distance = (pos[None, :] - pos[:, None]).abs()
        self.alibi = slopes[:, None, None] * -distance[None]
        self.alibi_size = size

    def forward(self, x, mask):
        b, t, d = x.shape
        if t > self.alibi_size:
            self.rebuild_alibi_tensor(t, x.device)
        bias = self.alibi[:, :t, :t].to(x.device)[None]
        bias = bias.masked_fill(~mask.bool()[:, None, None, :], float("-inf"))
        qkv = self.qkv(x)
        if flash_attn_qkvpacked_func is not None:
            return flash_attn_qkvpacked_func(qkv, bias)
        q, k, v = qkv.view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5 + bias, -1)
        return (att @ v).transpose(1, 2).reshape(b, t, d)


class FakeModel(PreTrainedModel):
    config_class = FakeConfig

    def __init__(self, config):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.encoder = Encoder(config)
        self.post_init()

    def forward(self, input_ids, attention_mask=None):
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        hidden = self.encoder(self.embeddings(input_ids), mask)
        return hidden, hidden[:, 0]
"""

NT_V2 = """
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput
from transformers.pytorch_utils import find_pruneable_heads_and_indices  # noqa: F401

from .configuration_fake import FakeConfig


class FakeForMaskedLM(PreTrainedModel):
    config_class = FakeConfig

    def __init__(self, config):
        super().__init__(config)
        assert not config.is_decoder and not config.add_cross_attention
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.attn = nn.MultiheadAttention(config.hidden_size, config.num_attention_heads,
                                          batch_first=True)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, head_mask=None,
                output_hidden_states=None):
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        extended = self.get_extended_attention_mask(mask, input_ids.shape)
        assert self.get_head_mask(head_mask, 1) == [None]
        x = self.embeddings(input_ids)
        bias = extended[:, 0].expand(-1, input_ids.shape[1], -1)
        bias = bias.repeat_interleave(self.config.num_attention_heads, 0)
        hidden = x + self.attn(x, x, x, attn_mask=bias, need_weights=False)[0]
        return MaskedLMOutput(logits=self.lm_head(hidden), hidden_states=(x, hidden))
"""

HYENA = """
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_fake import FakeConfig


class FakeForCausalLM(PreTrainedModel):
    config_class = FakeConfig

    def __init__(self, config):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.d_model)
        self.mix = nn.Linear(config.d_model, config.d_model)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size)
        self.post_init()

    def forward(self, input_ids, inputs_embeds=None, labels=None, output_hidden_states=None,
                return_dict=None):
        x = self.embeddings(input_ids)
        steps = torch.arange(1, x.shape[1] + 1, device=x.device)[None, :, None]
        hidden = torch.tanh(self.mix(x.cumsum(1) / steps))  # causal: a running mean
        return CausalLMOutput(logits=self.lm_head(hidden), hidden_states=(x, hidden))
"""

CADUCEUS = """
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput

from .configuration_fake import FakeConfig


class FakeForMaskedLM(PreTrainedModel):
    config_class = FakeConfig

    def __init__(self, config):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.d_model)
        self.mix = nn.Linear(2 * config.d_model, config.d_model)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size)
        self.post_init()

    def forward(self, input_ids, inputs_embeds=None, labels=None, output_hidden_states=None,
                return_dict=None):
        x = self.embeddings(input_ids)
        # bidirectional: running sums from the left and from the right
        both = torch.cat([x.cumsum(1), x.flip(1).cumsum(1).flip(1)], -1)
        hidden = torch.tanh(self.mix(both))
        return MaskedLMOutput(logits=self.lm_head(hidden), hidden_states=(x, hidden))
"""

FASTESM = """
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoTokenizer, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput
from transformers.models.esm.modeling_esm import RotaryEmbedding

from .configuration_fake import FakeConfig


class FakeModel(PreTrainedModel):
    config_class = FakeConfig

    def __init__(self, config):
        super().__init__(config)
        self.tokenizer = AutoTokenizer.from_pretrained(config.tokenizer_folder)
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.rotary = RotaryEmbedding(config=self._rotary_config(config))
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.post_init()

    @staticmethod
    def _rotary_config(config):
        from transformers import EsmConfig

        return EsmConfig(hidden_size=config.hidden_size,
                         num_attention_heads=config.num_attention_heads)

    def forward(self, input_ids, attention_mask=None):
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        x = self.embeddings(input_ids)
        q, k, v = self.qkv(x).chunk(3, -1)
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None],
                                             attn_mask=mask.bool()[:, None, None, :])
        return BaseModelOutput(last_hidden_state=x + out[:, 0])
"""

EVO = """
import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_fake import FakeConfig


class FakeForCausalLM(PreTrainedModel):
    config_class = FakeConfig

    def __init__(self, config):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_ids, labels=None, use_cache=False):
        x = self.embeddings(input_ids)
        steps = torch.arange(1, x.shape[1] + 1, device=x.device)[None, :, None]
        return self.lm_head(torch.tanh(x.cumsum(1) / steps)), None
"""


def remote_folder(
    path,
    modeling: str,
    auto_class: str,
    class_name: str,
    *,
    tokenizer: str | None = None,
    tokenizer_class: str = "CharTokenizer",
    model_type: str = "fake",
    width_key: str = "hidden_size",
    vocab_size: int = 12,
    **config_extra,
):
    """A checkpoint folder whose config, model (and tokenizer) are remote code.

    transformers imports remote code as a module named after the folder, so each test
    uses a folder of its own name (as distinct checkpoints have).
    """
    path.mkdir(parents=True)
    (path / "configuration_fake.py").write_text(
        textwrap.dedent(CONFIG.format(model_type=model_type, width_key=width_key))
    )
    (path / "modeling_fake.py").write_text(modeling)
    config = {
        "model_type": model_type,
        "vocab_size": vocab_size,
        width_key: 16,
        "num_attention_heads": 2,
        "architectures": [class_name],
        "auto_map": {
            "AutoConfig": "configuration_fake.FakeConfig",
            auto_class: f"modeling_fake.{class_name}",
        },
        **config_extra,
    }
    (path / "config.json").write_text(json.dumps(config))
    save_file({"unused": torch.zeros(1)}, path / "model.safetensors")
    if tokenizer is not None:
        (path / "tokenization_fake.py").write_text(tokenizer)
        (path / "tokenizer_config.json").write_text(
            json.dumps(
                {
                    "tokenizer_class": tokenizer_class,
                    "auto_map": {"AutoTokenizer": [f"tokenization_fake.{tokenizer_class}", None]},
                }
            )
        )
    return path


def char_tokenizer(input_names=("input_ids", "attention_mask"), get_vocab=False) -> str:
    method = (
        "\n    def get_vocab(self):\n        return dict(self._vocab_str_to_int)\n"
        if get_vocab
        else ""
    )
    return TOKENIZER.format(input_names=list(input_names), get_vocab=method)


def entry(name: str, folder, **changes):
    """The registry entry `name` pointed at a fake folder."""
    return dataclasses.replace(spec_for(name), hub_id=str(folder), **changes)


def log_p(model, ids: list[int]) -> float:
    """log p(sequence) of a causal LM from one unbatched forward (tokens 2..n)."""
    x = torch.tensor([ids])
    with torch.no_grad():
        _, logits = forward(model, {"input_ids": x}, want_hidden=False, want_logits=True)
    lp = torch.log_softmax(logits[0, :-1].double(), -1)
    return float(lp.gather(-1, x[0, 1:, None]).sum())


def window(seq: str, at: int, base: str) -> VariantWindow:
    return VariantWindow(0, at, seq, seq[:at] + base + seq[at + 1 :])


SEQS = ["ACGTACGGTA", "ACG", "TTGACCA"]


def assert_pooling_ignores_padding(model, tokenizer):
    """Mean-pooled embeddings of a padded batch equal each sequence's own."""
    with torch.no_grad():
        batch = pad_batch(tokenizer, SEQS)
        hidden, _ = forward(model, batch)
        mask = batch["attention_mask"][..., None].float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        for i, seq in enumerate(SEQS):
            alone = forward(model, pad_batch(tokenizer, [seq]))[0].mean(1)[0]
            torch.testing.assert_close(pooled[i], alone, rtol=1e-5, atol=1e-6)


# -- DNABERT-2 ---------------------------------------------------------------------------------


def dnabert2_folder(path):
    from genobench.models.build import dna_tokenizer

    folder = remote_folder(path, DNABERT2, "AutoModel", "FakeModel")
    dna_tokenizer("char", wrap="cls_sep").save_pretrained(folder)
    return folder


def test_dnabert2_fails_upstream_without_its_adapter(tmp_path):
    with pytest.raises(RuntimeError, match="meta"):
        load(entry("dnabert2", dnabert2_folder(tmp_path / tmp_path.name), family="bert"))


def test_dnabert2_loads_under_meta_init_and_runs_its_pytorch_attention(tmp_path):
    pytest.importorskip("triton")  # the upstream trap needs triton importable, as here
    loaded = load(entry("dnabert2", dnabert2_folder(tmp_path / tmp_path.name)))
    module = __import__(type(loaded.model).__module__, fromlist=["_"])
    assert module.flash_attn_qkvpacked_func is None  # its Triton path is switched off
    assert loaded.model.encoder.alibi.device.type == "cpu"
    assert loaded.embedding_dim == 16
    assert_pooling_ignores_padding(loaded.model, loaded.tokenizer)  # tuple output, masks
    # inputs longer than the initial ALiBi size rebuild it on the input's device
    long = pad_batch(loaded.tokenizer, ["ACGT" * 5])
    with torch.no_grad():
        assert forward(loaded.model, long)[0].shape == (1, 22, 16)


# -- NT-v2 -------------------------------------------------------------------------------------


def nt_folder(path):
    from genobench.models.build import dna_tokenizer

    tokenizer = dna_tokenizer("kmer", k=3, wrap="cls")
    folder = remote_folder(
        path, NT_V2, "AutoModelForMaskedLM", "FakeForMaskedLM", vocab_size=len(tokenizer)
    )
    tokenizer.save_pretrained(folder)
    return folder


def test_nt_v2_fails_upstream_without_its_adapter(tmp_path, monkeypatch):
    import transformers.pytorch_utils as pytorch_utils

    monkeypatch.delattr(pytorch_utils, "find_pruneable_heads_and_indices", raising=False)
    with pytest.raises(ImportError, match="find_pruneable_heads_and_indices"):
        load(entry("nt-v2-500m", nt_folder(tmp_path / tmp_path.name), family="esm"))


def test_nt_v2_loads_and_scores_every_method(tmp_path):
    spec = entry("nt-v2-500m", nt_folder(tmp_path / tmp_path.name), tokenization="kmer3")
    model = HFModel(spec).load()
    seq = "ACGTTGCAAGCTTACGGATCCATG"
    scores = model.score_windows([window(seq, 10, "A" if seq[10] != "A" else "C")])
    assert set(scores) == {"embedding_distance", "embedding_distance_local", "masked_marginal"}
    assert all(np.isfinite(v[0]) and v[0] != 0 for v in scores.values())
    assert_pooling_ignores_padding(model.model, model.tokenizer)


def test_pruneable_heads_helper_matches_its_definition():
    from genobench.models.adapters import find_pruneable_heads_and_indices

    # 4 heads of width 2, head 0 pruned before: 3 remain (old 1, 2, 3 at rows 0-1, 2-3,
    # 4-5); pruning old heads 1 and 3 keeps old head 2, rows 2 and 3
    heads, index = find_pruneable_heads_and_indices([1, 3], 3, 2, already_pruned_heads={0})
    assert heads == {1, 3} and index.tolist() == [2, 3]


# -- HyenaDNA ----------------------------------------------------------------------------------


def hyena_folder(path, get_vocab=False):
    return remote_folder(
        path,
        HYENA,
        "AutoModelForCausalLM",
        "FakeForCausalLM",
        tokenizer=char_tokenizer(get_vocab=get_vocab),
        width_key="d_model",
        model_type="hyenadna",
    )


def test_hyena_tokenizer_fails_upstream_without_its_adapter(tmp_path):
    with pytest.raises(NotImplementedError):
        load(entry("hyenadna", hyena_folder(tmp_path / tmp_path.name), family="mistral"))


def test_hyena_loads_reads_d_model_and_scores_the_llr(tmp_path):
    model = HFModel(entry("hyenadna", hyena_folder(tmp_path / tmp_path.name))).load()
    assert model.embedding_dim == 16  # d_model: the config has no hidden_size
    seq = "ACGTTGCAAGCTTACGGATC"
    w = window(seq, 12, "A" if seq[12] != "A" else "G")
    tok = model.tokenizer
    expected = log_p(model.model, tok(w.alt_seq)["input_ids"]) - log_p(
        model.model, tok(w.ref_seq)["input_ids"]
    )
    scores = model.score_windows([w])
    assert scores["log_likelihood_ratio"][0] == pytest.approx(expected, abs=1e-9)
    assert expected != 0
    assert model.get_embedding(SEQS).shape == (3, 16)


def test_an_unlisted_folder_gets_its_family_from_model_type(tmp_path):
    loaded = load(
        str(hyena_folder(tmp_path / tmp_path.name, get_vocab=True)), trust_remote_code=True
    )
    assert loaded.family == "hyena"
    assert any("config.model_type" in note for note in loaded.notes)


# -- Caduceus ----------------------------------------------------------------------------------


def caduceus_folder(path):
    return remote_folder(
        path,
        CADUCEUS,
        "AutoModelForMaskedLM",
        "FakeForMaskedLM",
        tokenizer=char_tokenizer(input_names=["input_ids"], get_vocab=True),
        width_key="d_model",
        model_type="caduceus",
    )


def test_caduceus_without_mamba_ssm_is_reported_by_name(tmp_path):
    if __import__("importlib.util").util.find_spec("mamba_ssm") is not None:
        pytest.skip("mamba_ssm is installed here")
    with pytest.raises(MissingPackage, match="mamba_ssm .*CUDA"):
        load(entry("caduceus", caduceus_folder(tmp_path / tmp_path.name)))


def test_caduceus_batches_without_an_attention_mask(tmp_path):
    model = HFModel(
        entry("caduceus", caduceus_folder(tmp_path / tmp_path.name), packages=())
    ).load()
    assert "attention_mask" not in model.tokenizer("ACGT")  # as the real tokenizer
    assert model.embedding_dim == 16
    # bidirectional and mask-less: padding would change real tokens, so it must not be seen
    assert_pooling_ignores_padding(model.model, model.tokenizer)
    seq = "ACGTTGCAAGCTTACGGATC"
    scores = model.score_windows([window(seq, 5, "T" if seq[5] != "T" else "A")])
    assert all(np.isfinite(v[0]) for v in scores.values())


# -- FastESM2 ----------------------------------------------------------------------------------


def fastesm_folder(path):
    from genobench.models.local import local_model_path

    # its class body loads a separate checkpoint's tokenizer (facebook/esm2_t6_8M_UR50D)
    return remote_folder(
        path,
        FASTESM,
        "AutoModel",
        "FakeModel",
        vocab_size=33,
        tokenizer_folder=str(local_model_path("esm2-tiny")),
        _attn_implementation="eager",
    )


def test_fastesm_fails_upstream_without_its_adapter(tmp_path, monkeypatch):
    import transformers.models.esm.modeling_esm as esm

    monkeypatch.delattr(esm, "RotaryEmbedding", raising=False)
    with pytest.raises(ImportError, match="RotaryEmbedding"):
        load(entry("fastesm2-650", fastesm_folder(tmp_path / tmp_path.name), family="esm"))


def test_fastesm_loads_and_is_labelled_by_the_attention_it_runs(tmp_path):
    enc = EsmEncoder(
        entry("fastesm2-650", fastesm_folder(tmp_path / tmp_path.name)), attention=None
    )
    assert enc.model.config._attn_implementation == "eager"  # what its config claims
    assert enc.attn_implementation == "sdpa"  # what it really calls
    x = enc.embed(["MKTAYIAKQR", "MKV"], batch_size=2, progress=False)
    alone = enc.embed(["MKV"], batch_size=1, progress=False)
    np.testing.assert_allclose(x[1], alone[0], rtol=1e-5, atol=1e-6)


# -- Evo-1 -------------------------------------------------------------------------------------


def evo_folder(path):
    return remote_folder(
        path,
        EVO,
        "AutoModelForCausalLM",
        "FakeForCausalLM",
        tokenizer=BYTE_TOKENIZER,
        tokenizer_class="ByteTokenizer",
        model_type="stripedhyena",
        vocab_size=256,
    )


def test_evo_without_flash_attn_is_reported_by_name(tmp_path):
    if __import__("importlib.util").util.find_spec("flash_attn") is not None:
        pytest.skip("flash_attn is installed here")
    with pytest.raises(MissingPackage, match="flash_attn"):
        load(entry("evo-1", evo_folder(tmp_path / tmp_path.name)))


def test_evo_byte_tokenizer_without_pad_token_batches_and_scores(tmp_path):
    model = HFModel(
        entry("evo-1", evo_folder(tmp_path / tmp_path.name), packages=(), needs_4bit=False)
    ).load()
    assert model.tokenizer.pad_token is None
    seqs = ["ACGTTGCAAGCT", "ACGTTGCAAGCA"]
    w = VariantWindow(0, 11, seqs[0], seqs[1])
    expected = log_p(model.model, [ord(c) for c in seqs[1]]) - log_p(
        model.model, [ord(c) for c in seqs[0]]
    )
    llr = model.score_windows([w, w])["log_likelihood_ratio"]
    np.testing.assert_allclose(llr, expected, atol=1e-9)
    with torch.no_grad():  # a tuple output, a batch of unequal lengths with no pad token
        batch = pad_batch(model.tokenizer, ["ACGT", "AC"])
        _, logits = forward(model.model, batch, want_hidden=False, want_logits=True)
    assert logits.shape == (2, 4, 256) and math.isfinite(float(logits.sum()))
