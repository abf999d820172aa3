"""Semi-CRF reference backend against the brute-force and naive-DP oracles."""

from __future__ import annotations

import pytest
import torch

from genobench.semicrf import (
    SemiCRF,
    log_partition,
    log_partition_with_grads,
    posteriors,
    score_segmentation,
    segments_from_labels,
    viterbi,
)
from genobench.semicrf.brute_force import brute_force, naive_log_partition, plain_score


def random_problem(
    batch, max_len, num_classes, max_duration, seed, dtype=torch.float64, full_first=True
):
    gen = torch.Generator().manual_seed(seed)
    emissions = torch.randn(batch, max_len, num_classes, generator=gen, dtype=dtype)
    cum = torch.nn.functional.pad(emissions.cumsum(1), (0, 0, 1, 0))
    transition = torch.randn(num_classes, num_classes, generator=gen, dtype=dtype)
    duration = torch.randn(max_duration, num_classes, generator=gen, dtype=dtype)
    lengths = torch.randint(1, max_len + 1, (batch,), generator=gen)
    if full_first:
        lengths[0] = max_len
    return cum, transition, duration, lengths


CASES = [(1, 3), (2, 3), (3, 2), (8, 2), (3, 1)]  # (K, C); K = 8 >= T


@pytest.mark.parametrize("max_duration,num_classes", CASES)
@pytest.mark.parametrize("interval", [None, 2])
def test_reference_matches_brute_force(max_duration, num_classes, interval):
    cum, trans, dur, lengths = random_problem(
        4, 7, num_classes, max_duration, seed=max_duration * 10 + num_classes
    )
    oracle = brute_force(cum, trans, dur, lengths)
    log_z = log_partition(
        cum, trans, dur, lengths, backend="reference", checkpoint_interval=interval
    )
    torch.testing.assert_close(log_z, oracle.log_z, rtol=1e-10, atol=1e-10)
    labels, boundaries = posteriors(cum, trans, dur, lengths, checkpoint_interval=interval)
    torch.testing.assert_close(labels, oracle.label_marginals, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(boundaries, oracle.boundary_marginals, rtol=1e-9, atol=1e-10)
    best, paths = viterbi(cum, trans, dur, lengths)
    torch.testing.assert_close(best, oracle.best_score, rtol=1e-10, atol=1e-10)
    assert paths == oracle.best_segmentation


def test_gold_score_matches_plain_arithmetic():
    cum, trans, dur, lengths = random_problem(3, 8, 3, 3, seed=5)
    labels = torch.randint(0, 3, (3, 8), generator=torch.Generator().manual_seed(1))
    segs = segments_from_labels(labels, lengths, 3)
    expected = [
        plain_score(cum[b].tolist(), trans.tolist(), dur.tolist(), segs[b]) for b in range(3)
    ]
    torch.testing.assert_close(
        score_segmentation(cum, trans, dur, segs), torch.tensor(expected, dtype=torch.float64)
    )


def test_segments_from_labels_splits_long_runs():
    labels = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 2, 9]])
    assert segments_from_labels(labels, torch.tensor([8]), 2) == [
        [(0, 2, 0), (2, 4, 0), (4, 5, 0), (5, 7, 1), (7, 8, 2)]
    ]


def test_gradcheck_float64():
    cum, trans, dur, lengths = random_problem(2, 6, 2, 3, seed=3)
    leaves = [t.clone().requires_grad_(True) for t in (cum, trans, dur)]
    assert torch.autograd.gradcheck(
        lambda c, t, d: log_partition(c, t, d, lengths, backend="reference", checkpoint_interval=2),
        leaves,
    )


def test_gradients_match_naive_dp_with_checkpointing():
    cum, trans, dur, lengths = random_problem(3, 60, 4, 7, seed=11)
    leaves = [t.clone().requires_grad_(True) for t in (cum, trans, dur)]
    weights = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    expected = torch.autograd.grad((naive_log_partition(*leaves, lengths) * weights).sum(), leaves)
    log_z = log_partition(*leaves, lengths, backend="reference", checkpoint_interval=5)
    got = torch.autograd.grad((log_z * weights).sum(), leaves)
    torch.testing.assert_close(log_z, naive_log_partition(cum, trans, dur, lengths))
    for want, have in zip(expected, got):
        torch.testing.assert_close(have, want, rtol=1e-9, atol=1e-10)


def test_k1_equals_pytorch_crf_normalizer():
    torchcrf = pytest.importorskip("torchcrf")
    gen = torch.Generator().manual_seed(2)
    emissions = torch.randn(3, 12, 4, generator=gen)
    lengths = torch.tensor([12, 7, 1])
    crf = torchcrf.CRF(4, batch_first=True)
    with torch.no_grad():
        crf.start_transitions.zero_()
        crf.end_transitions.zero_()
        crf.transitions.copy_(torch.randn(4, 4, generator=gen))
    mask = torch.arange(12)[None, :] < lengths[:, None]
    expected = crf._compute_normalizer(emissions.transpose(0, 1), mask.transpose(0, 1))
    cum = torch.nn.functional.pad(emissions.cumsum(1), (0, 0, 1, 0))
    got = log_partition(
        cum, crf.transitions.detach(), torch.zeros(1, 4), lengths, backend="reference"
    )
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    module = SemiCRF(4, 1, learn_duration=False, backend="reference")
    with torch.no_grad():
        module.transition.copy_(crf.transitions)
    torch.testing.assert_close(
        module.log_partition(emissions, lengths), expected, rtol=1e-5, atol=1e-5
    )


def test_nll_nonnegative_with_long_runs_and_large_duration_entry():
    gen = torch.Generator().manual_seed(4)
    module = SemiCRF(3, 4, backend="reference")
    with torch.no_grad():
        module.transition.copy_(torch.randn(3, 3, generator=gen))
        module.duration_bias.copy_(torch.randn(4, 3, generator=gen))
        module.duration_bias[3, 1] = 50.0  # one large entry: an off-by-one read would show
    emissions = torch.randn(2, 30, 3, generator=gen)
    labels = torch.zeros(2, 30, dtype=torch.long)
    labels[:, 5:17] = 1  # a run of 12 > K = 4
    labels[1, 20:] = 2
    lengths = torch.tensor([30, 26])
    nll = module.nll(emissions, lengths, labels)
    assert nll.item() >= -1e-4
    nll.backward()
    assert torch.isfinite(module.duration_bias.grad).all()


def test_module_decode_and_marginals_consistent():
    gen = torch.Generator().manual_seed(6)
    module = SemiCRF(3, 5, backend="reference")
    with torch.no_grad():
        module.duration_bias.copy_(torch.randn(5, 3, generator=gen))
    emissions = 3 * torch.randn(2, 20, 3, generator=gen)
    lengths = torch.tensor([20, 13])
    segs, labels = module.decode(emissions, lengths)
    assert labels.shape == (2, 20) and (labels[1, 13:] == -1).all() and (labels[1, :13] >= 0).all()
    label_post, boundary_post = module.marginals(emissions, lengths)
    torch.testing.assert_close(label_post.sum(-1)[0], torch.ones(20))
    assert (boundary_post[1, 13:] == 0).all() and boundary_post[:, 0].eq(1).all()
    cum = torch.nn.functional.pad(
        (emissions - emissions.mean(-1, keepdim=True)).cumsum(1), (0, 0, 1, 0)
    )
    best, _ = viterbi(cum, module.transition.detach(), module.duration_bias.detach(), lengths)
    torch.testing.assert_close(
        score_segmentation(cum, module.transition, module.duration_bias, segs).detach(), best
    )


def test_long_sequence_float32_matches_float64():
    cum, trans, dur, lengths = random_problem(1, 100_000, 3, 4, seed=8, dtype=torch.float64)
    cum = (
        cum + 0.5 * torch.arange(100_001, dtype=torch.float64)[None, :, None]
    )  # drift: |cum| ~ 5e4
    z64 = log_partition(cum, trans, dur, lengths, backend="reference")
    z32 = log_partition(cum.float(), trans.float(), dur.float(), lengths, backend="reference")
    assert torch.isfinite(z32).all()
    torch.testing.assert_close(z32.double(), z64, rtol=1e-5, atol=0)


def test_grads_helper_returns_all_gradients():
    cum, trans, dur, lengths = random_problem(2, 10, 3, 4, seed=9)
    out = log_partition_with_grads(
        cum, trans, dur, lengths, backend="reference", checkpoint_interval=3
    )
    assert set(out) == {"log_z", "grad_cum_scores", "grad_transition", "grad_duration_bias"}
    # expected segment count: sum of duration gradients equals sum of boundary posteriors
    _, boundaries = posteriors(cum, trans, dur, lengths)
    torch.testing.assert_close(out["grad_duration_bias"].sum(), boundaries.sum())
