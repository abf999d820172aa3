"""Encoders, heads and the training loop of the semi-CRF synthetic benchmark."""

import importlib.util

import numpy as np
import pytest
import torch

from genobench.benchmarks.semicrf_synthetic import SegmentationModel, TrainConfig, train_model
from genobench.benchmarks.semicrf_synthetic.encoders import build_encoder, reverse_padded
from genobench.benchmarks.semicrf_synthetic.heads import SemiCRFHead, TorchCRFHead, build_head
from genobench.benchmarks.semicrf_synthetic.mamba_stub import (
    MambaStub,
    causal_depthwise_conv,
    selective_scan,
    selective_scan_naive,
)
from genobench.data.gene_structure import GeneStructureConfig, generate


def scan_inputs(batch=2, length=53, d=6, n=4, decay_scale=1.0, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, length, d, generator=g, dtype=dtype)
    delta = torch.rand(batch, length, d, generator=g, dtype=dtype) * decay_scale
    A = -torch.rand(d, n, generator=g, dtype=dtype) * 4 - 0.1
    B = torch.randn(batch, length, n, generator=g, dtype=dtype)
    C = torch.randn(batch, length, n, generator=g, dtype=dtype)
    D = torch.randn(d, generator=g, dtype=dtype)
    return u, delta, A, B, C, D


@pytest.mark.parametrize("length,chunk", [(53, 16), (16, 16), (7, 16), (40, 4)])
def test_chunked_scan_matches_the_sequential_scan(length, chunk):
    u, delta, A, B, C, D = scan_inputs(length=length)
    expected = selective_scan_naive(u, delta, A, B, C, D)
    assert torch.allclose(
        selective_scan(u, delta, A, B, C, D, chunk_size=chunk), expected, rtol=1e-10, atol=1e-10
    )


def test_chunked_scan_gradients_match():
    inputs = [t.requires_grad_(True) for t in scan_inputs(length=37)]
    grads_naive = torch.autograd.grad(selective_scan_naive(*inputs).square().sum(), inputs)
    grads_chunked = torch.autograd.grad(selective_scan(*inputs).square().sum(), inputs)
    for a, b in zip(grads_naive, grads_chunked):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_chunked_scan_survives_very_strong_decay_in_float32():
    u, delta, A, B, C, D = scan_inputs(length=64, decay_scale=200.0)  # |dt A| up to ~800 per step
    expected = selective_scan_naive(u, delta, A, B, C, D)
    got = selective_scan(*(t.float() for t in (u, delta, A, B, C, D)))
    assert torch.isfinite(got).all()
    assert torch.allclose(got.double(), expected, rtol=1e-4, atol=1e-4)


def test_mamba_stub_block_against_the_naive_scan():
    torch.manual_seed(0)
    block = MambaStub(d_model=8, d_state=4).double()
    naive = MambaStub(d_model=8, d_state=4, scan="naive").double()
    naive.load_state_dict(block.state_dict())
    x = torch.randn(2, 45, 8, dtype=torch.float64)
    assert torch.allclose(block(x), naive(x), atol=1e-10)
    # causal: the output at t does not depend on inputs after t
    y = block(x)
    x2 = x.clone()
    x2[:, 30:] += 1.0
    assert torch.allclose(block(x2)[:, :30], y[:, :30], atol=1e-12)
    assert not torch.allclose(block(x2)[:, 30:], y[:, 30:])


def test_causal_depthwise_conv_equals_conv1d():
    conv = torch.nn.Conv1d(6, 6, 4, groups=6, padding=3)
    x = torch.randn(2, 20, 6)
    expected = conv(x.transpose(1, 2))[..., :20].transpose(1, 2)
    assert torch.allclose(causal_depthwise_conv(x, conv.weight, conv.bias), expected, atol=1e-6)


def test_reverse_padded():
    x = torch.arange(10.0).view(2, 5, 1)
    out = reverse_padded(x, torch.tensor([5, 3]))
    assert out[:, :, 0].tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]


@pytest.mark.parametrize("name", ["bilstm", "mamba_stub"])
def test_encoders_ignore_padding(name):
    torch.manual_seed(0)
    encoder = build_encoder(name, 5, 8, 2).eval()
    x = torch.randn(2, 30, 5)
    full = encoder(x, torch.tensor([30, 30]))
    assert full.shape == (2, 30, 8)
    # the second sequence padded with garbage after 20: its first 20 outputs are unchanged
    padded = x.clone()
    padded[1, 20:] = 100.0
    short = encoder(padded, torch.tensor([30, 20]))
    alone = encoder(x[1:, :20], torch.tensor([20]))
    assert torch.allclose(short[1, :20], alone[0], atol=1e-5)


@pytest.mark.skipif(
    importlib.util.find_spec("mamba_ssm") is not None, reason="mamba-ssm is installed"
)
def test_mamba_encoder_without_mamba_ssm_says_what_to_do():
    with pytest.raises(RuntimeError, match="mamba-ssm.*mamba_stub"):
        build_encoder("mamba", 5, 8, 1)


def test_unknown_encoder_and_model():
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("transformer", 5, 8, 1)
    with pytest.raises(ValueError, match="unknown model"):
        build_head("hmm", 3, 4)


def test_linear_semicrf_matches_pytorch_crf_loss_and_decoding():
    torch.manual_seed(0)
    batch, length, classes = 4, 25, 3
    emissions = torch.randn(batch, length, classes, dtype=torch.float64)
    labels = torch.randint(0, classes, (batch, length))
    lengths = torch.tensor([25, 17, 1, 9])
    linear = build_head("linear", classes, 100, backend="reference").double()
    assert isinstance(linear, SemiCRFHead) and linear.crf.max_duration == 1
    reference = TorchCRFHead(classes).double()
    with torch.no_grad():
        linear.crf.transition.normal_()
        reference.crf.transitions.copy_(linear.crf.transition)
        reference.crf.start_transitions.zero_()
        reference.crf.end_transitions.zero_()
    assert linear.loss(emissions, lengths, labels).item() == pytest.approx(
        reference.loss(emissions, lengths, labels).item(), rel=1e-10
    )
    # and directly against torchcrf's mean NLL
    mask = torch.arange(length)[None] < lengths[:, None]
    nll = -reference.crf(emissions, labels, mask=mask, reduction="mean")
    assert linear.crf.nll(emissions, lengths, labels).item() == pytest.approx(nll.item(), rel=1e-10)
    assert torch.equal(linear.decode(emissions, lengths), reference.decode(emissions, lengths))


@pytest.mark.parametrize("head", ["softmax", "pytorch-crf", "linear", "semicrf", "semicrf_uniform"])
def test_heads_train_step_and_decode(head):
    torch.manual_seed(0)
    model = SegmentationModel(head, 3, 5, "bilstm", 8, 1, max_duration=6, backend="reference")
    feats = torch.randn(2, 20, 5)
    lengths = torch.tensor([20, 13])
    labels = torch.randint(0, 3, (2, 20))
    loss = model.loss(feats, lengths, labels)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    decoded = model.decode(feats, lengths)
    assert decoded.shape == (2, 20)
    assert (decoded[1, 13:] == -1).all() and (decoded[:, :13] >= 0).all()
    if head == "semicrf":
        assert model.head.crf.duration_bias.grad is not None
    if head == "semicrf_uniform":
        assert not model.head.crf.duration_bias.requires_grad
    if head in ("semicrf", "semicrf_uniform"):
        assert model.head.crf.max_duration == 6 and model.head.crf.backend == "reference"


@pytest.fixture(scope="module")
def tiny_data():
    return generate(
        GeneStructureConfig(
            num_train=6,
            num_val=2,
            num_test=2,
            seq_length=120,
            duration_scale=0.02,
            composition_strength=3.0,
        )
    )


def _train(tmp, data, epochs, name="semicrf", resume=True):
    torch.manual_seed(0)
    model = SegmentationModel(name, 3, 5, "bilstm", 8, 1, max_duration=8, backend="reference")
    config = TrainConfig(
        epochs=epochs, batch_size=4, lr=0.01, seed=3, log_every=1, tolerances=(0, 2)
    )
    result = train_model(
        name,
        model,
        data["train"],
        data["val"],
        config,
        tmp,
        3,
        resume=resume,
        spec={"k": 8},
        log=lambda line: None,
    )
    return model, result


@pytest.mark.parametrize("name", ["softmax", "semicrf"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, tiny_data, name):
    straight, result = _train(tmp_path / "a", tiny_data, 3, name)
    assert (tmp_path / "a" / f"{name}_best.pt").is_file()
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    _train(tmp_path / "b", tiny_data, 1, name)  # "interrupted" after epoch 1
    resumed, again = _train(tmp_path / "b", tiny_data, 3, name)
    assert again.resumed_from_epoch == 1
    assert [row["epoch"] for row in again.history] == [1, 2, 3]
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), key
    assert again.best_epoch == result.best_epoch
    # the best checkpoint holds the weights of the best epoch
    best = torch.load(tmp_path / "b" / f"{name}_best.pt", weights_only=False)
    assert best["epoch"] == again.best_epoch


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path, tiny_data):
    _train(tmp_path, tiny_data, 1)
    torch.manual_seed(0)
    model = SegmentationModel("semicrf", 3, 5, "bilstm", 8, 1, max_duration=8, backend="reference")
    config = TrainConfig(epochs=2, batch_size=4, lr=0.05, seed=3, tolerances=(0, 2))
    with pytest.raises(ValueError, match="other settings"):
        train_model(
            "semicrf",
            model,
            tiny_data["train"],
            tiny_data["val"],
            config,
            tmp_path,
            3,
            spec={"k": 8},
            log=lambda line: None,
        )
    # resume=False starts afresh
    result = train_model(
        "semicrf",
        model,
        tiny_data["train"],
        tiny_data["val"],
        config,
        tmp_path,
        3,
        resume=False,
        spec={"k": 8},
        log=lambda line: None,
    )
    assert result.resumed_from_epoch == 0 and len(result.history) == 2


def test_log_lines_every_log_every_steps(tmp_path, tiny_data):
    lines = []
    torch.manual_seed(0)
    model = SegmentationModel("softmax", 3, 5, "bilstm", 8, 1)
    config = TrainConfig(epochs=2, batch_size=2, log_every=2, tolerances=(0,))
    result = train_model(
        "softmax",
        model,
        tiny_data["train"],
        tiny_data["val"],
        config,
        tmp_path,
        3,
        log=lines.append,
    )
    step_lines = [line for line in lines if " step " in line]
    assert len(step_lines) == 3  # 6 steps, one line every 2
    assert [s["step"] for s in result.steps] == [2, 4, 6]
    assert np.isfinite([row["val_loss"] for row in result.history]).all()


def test_load_data_builds_the_generator_or_real_gene_config(monkeypatch):
    from types import SimpleNamespace

    from genobench.benchmarks.semicrf_synthetic import steps
    from genobench.data.real_gene_structure import RealGeneConfig

    made = []

    def fake_load(config, data_dir):
        made.append((config, data_dir))
        return SimpleNamespace(path="here")

    monkeypatch.setattr(steps, "load_or_generate", fake_load)
    monkeypatch.setattr(steps, "load_or_build", fake_load)
    monkeypatch.setattr(steps, "real_gene_datasets", lambda config: "datasets")
    settings = dict(
        num_train=5,
        num_val=2,
        num_test=3,
        seq_length=40,
        seed=7,
        num_classes=5,
        duration_scale=0.5,
        mean_introns=2.0,
        composition_strength=0.7,
        splice_motifs=False,
    )
    lines = []
    data, datasets, _ = steps.load_data(None, "dir", log=lines.append, **settings)
    assert made[-1] == (GeneStructureConfig(**settings), "dir") and datasets is None
    assert lines[-1].startswith("here: 5/2/3 sequences of 40 bp")
    real = {"genome": "kutzneria_kk037166", "bin_size": 9}
    _, datasets, _ = steps.load_data(real, None, log=lines.append, **settings)
    expected = RealGeneConfig(
        genome="kutzneria_kk037166",
        bin_size=9,
        seq_length=40,
        num_train=5,
        num_val=2,
        num_test=3,
        seed=7,
    )
    assert made[-1] == (expected, None) and datasets == "datasets"
    assert lines[-1].startswith("here: 5/2/3 sequences of 40 bp")
