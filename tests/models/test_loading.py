"""load_model in every quantization mode on the tiny genomic LM; bad inputs; skipped modes."""

import importlib.util

import pytest
import torch

from genobench.models import loading
from genobench.models.loading import (
    QUANT_MODES,
    STANDARD,
    ModelLoadError,
    ModeUnavailable,
    load_model,
    load_tokenizer,
    quantization_config,
    resolve_dtype,
)
from genobench.models.local import resolve_model
from genobench.models.registry import spec_for
from genobench.profiling.memory import model_footprint_bytes

TINY = "local:genomic-lm-tiny"


@pytest.fixture(scope="module")
def tiny_path():
    return resolve_model(TINY)  # built (random init, seconds) into the test session's cache


@pytest.mark.parametrize("mode", list(QUANT_MODES))
def test_every_mode_loads_and_runs_forward(tiny_path, mode):
    model, tokenizer = load_model(tiny_path, mode, "cpu")
    assert not model.training
    assert type(model).__name__ == "MistralForCausalLM"
    linear = model.model.layers[0].mlp.up_proj
    expected = {STANDARD: "Linear", "8bit": "Linear8bitLt"}.get(mode, "Linear4bit")
    assert type(linear).__name__ == expected
    if mode.startswith("4bit"):
        # as loaded (bitsandbytes may repack the weights for its CPU kernel on first use)
        qs = linear.weight.quant_state
        assert qs.quant_type == ("fp4" if mode == "4bit_fp4" else "nf4")
        assert qs.nested == (mode == "4bit_nf4_double")
        assert linear.compute_dtype == torch.float32  # follows `dtype` (fp32 on CPU)
    enc = tokenizer(["ACGTTGCAACGGTA" * 6], return_tensors="pt")
    with torch.inference_mode():
        out = model(**enc, output_hidden_states=True)
    assert out.logits.shape[-1] == len(tokenizer)
    assert torch.isfinite(out.logits).all()


def test_the_tokenizer_alone_is_the_loaded_models_and_needs_no_weights(tiny_path, monkeypatch):
    from transformers import AutoModel, AutoModelForCausalLM

    _, loaded = load_model(TINY)
    seqs = ["ACGTTGCAACGGTAN" * 5, "TTGA"]

    def no_weights(*args, **kwargs):
        raise AssertionError("load_tokenizer loaded a model")

    for cls in (AutoModel, AutoModelForCausalLM):
        monkeypatch.setattr(cls, "from_pretrained", no_weights)
    for name in (TINY, str(tiny_path)):
        tokenizer = load_tokenizer(name)
        assert tokenizer.get_vocab() == loaded.get_vocab()
        assert tokenizer(seqs)["input_ids"] == loaded(seqs)["input_ids"]
        assert tokenizer.padding_side == loaded.padding_side
    with pytest.raises(ModelLoadError, match="classical baseline"):
        load_tokenizer("tnf")


def test_quantized_footprints_are_smaller(tiny_path):
    sizes = {m: model_footprint_bytes(load_model(tiny_path, m)[0]) for m in QUANT_MODES}
    assert sizes["8bit"] < sizes[STANDARD]
    assert sizes["4bit_nf4"] < sizes["8bit"]
    assert sizes["4bit_fp4"] == sizes["4bit_nf4"]


def test_head_choice(tiny_path):
    bare, _ = load_model(tiny_path, head="none")
    assert type(bare).__name__ == "MistralModel"
    with pytest.raises(ValueError, match="unknown head"):
        load_model(tiny_path, head="seq2seq")


def test_masked_lm_loads_with_its_head():
    model, _ = load_model("local:tiny-bert", "standard")
    assert type(model).__name__ == "BertForMaskedLM"


def test_unknown_mode_dtype_and_missing_paths_are_clear(tiny_path, tmp_path):
    with pytest.raises(ValueError, match="unknown quantization mode 'int3'.*standard, 8bit"):
        load_model(tiny_path, "int3")
    with pytest.raises(ValueError, match="unknown dtype"):
        load_model(tiny_path, dtype="float8")
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model("./no/such/model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(tmp_path / "empty"))
    with pytest.raises(ModelLoadError, match="unknown local model"):
        load_model("local:no-such-model")


def test_missing_bitsandbytes_makes_modes_unavailable_with_the_reason(tiny_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        loading.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "bitsandbytes" else real(name, *a),
    )
    with pytest.raises(ModeUnavailable) as info:
        load_model(tiny_path, "4bit_nf4")
    assert "bitsandbytes is not installed" in info.value.reason
    assert info.value.mode == "4bit_nf4"
    model, _ = load_model(tiny_path, STANDARD)  # standard needs no bitsandbytes
    assert model is not None


def test_library_errors_while_loading_become_mode_unavailable(tiny_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    def refuse(*args, **kwargs):
        if "quantization_config" in kwargs:
            raise ImportError("Using `bitsandbytes` 4-bit quantization requires a newer version")
        return original(*args, **kwargs)

    original = AutoModelForCausalLM.from_pretrained
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", refuse)
    with pytest.raises(ModeUnavailable, match="requires a newer version"):
        load_model(tiny_path, "4bit_fp4")


def test_cuda_on_a_machine_without_gpu_is_unavailable(tiny_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModeUnavailable, match="no CUDA GPU"):
        load_model(tiny_path, "8bit", device="cuda")


def test_mode_table_and_dtypes():
    assert list(QUANT_MODES) == [STANDARD, "8bit", "4bit_nf4", "4bit_fp4", "4bit_nf4_double"]
    assert quantization_config(STANDARD) is None
    assert quantization_config("8bit").load_in_8bit
    double = quantization_config("4bit_nf4_double", torch.float16)
    assert double.load_in_4bit and double.bnb_4bit_use_double_quant
    assert double.bnb_4bit_quant_type == "nf4" and double.bnb_4bit_compute_dtype == torch.float16
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.float16
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16


def test_gpu_params_name_genomeocean_by_its_published_id(in_repo):
    import yaml

    params = yaml.safe_load(open("params/quantization/gpu.yaml"))
    entry = spec_for(params["model"])
    assert entry.hub_id == "pGenomeOcean/GenomeOcean-4B"
    assert spec_for("DOEJGI/GenomeOcean-4B") == entry  # the legacy id is an alias
    assert entry.family == "mistral" and entry.trust_remote_code
    assert params["quant_modes"] == list(QUANT_MODES)
