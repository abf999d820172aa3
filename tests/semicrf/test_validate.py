"""Bad semi-CRF input stops with a ValueError that names the problem."""

from __future__ import annotations

import pytest
import torch

from genobench.semicrf import (
    SemiCRF,
    log_partition,
    score_segmentation,
    segments_from_labels,
    triton_available,
)


def good():
    return torch.zeros(2, 6, 3), torch.zeros(3, 3), torch.zeros(4, 3), torch.tensor([5, 3])


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda a: (a[0][0], *a[1:]), r"cum_scores must have shape \(B, T\+1, C\)"),
        (lambda a: (a[0], torch.zeros(2, 3), *a[2:]), r"transition must have shape \(C, C\)"),
        (
            lambda a: (a[0], a[1], torch.zeros(4, 2), a[3]),
            r"duration_bias must have shape \(K, C\)",
        ),
        (lambda a: (*a[:3], torch.tensor([6, 3])), r"lengths must lie in \[1, T\] = \[1, 5\]"),
        (lambda a: (*a[:3], torch.tensor([0, 3])), r"lengths must lie in \[1, T\]"),
        (lambda a: (*a[:3], torch.tensor([5.0, 3.0])), r"lengths must be an integer tensor"),
        (lambda a: (*a[:3], torch.tensor([5])), r"lengths must have shape \(B,\)"),
    ],
)
def test_bad_shapes_and_lengths(change, message):
    with pytest.raises(ValueError, match=message):
        log_partition(*change(good()), backend="reference")


def test_unknown_backend_and_bad_interval():
    with pytest.raises(
        ValueError, match=r"unknown backend 'cuda'; choose one of auto, reference, triton"
    ):
        log_partition(*good(), backend="cuda")
    with pytest.raises(ValueError, match="checkpoint_interval must be >= 1"):
        log_partition(*good(), backend="reference", checkpoint_interval=0)
    with pytest.raises(ValueError, match="unknown backend"):
        SemiCRF(3, 4, backend="fast")


def test_triton_backend_unusable_says_why(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    usable, reason = triton_available("cpu")
    assert not usable and reason
    with pytest.raises(ValueError, match="backend 'triton' cannot run"):
        log_partition(*good(), backend="triton")


def test_bad_segmentations():
    cum, trans, dur, _ = good()
    with pytest.raises(ValueError, match="must tile"):
        score_segmentation(cum, trans, dur, [[(0, 2, 0), (3, 5, 1)], [(0, 3, 0)]])
    with pytest.raises(ValueError, match="1 <= end - start <= K = 4"):
        score_segmentation(cum, trans, dur, [[(0, 5, 0)], [(0, 3, 0)]])
    with pytest.raises(ValueError, match="max_duration must be >= 1"):
        segments_from_labels(torch.zeros(1, 3, dtype=torch.long), torch.tensor([3]), 0)


def test_module_rejects_wrong_emissions():
    with pytest.raises(ValueError, match=r"emissions must have shape \(B, T, C\) with C = 3"):
        SemiCRF(3, 4).nll(
            torch.zeros(2, 5, 4), torch.tensor([5, 5]), torch.zeros(2, 5, dtype=torch.long)
        )


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda a: (a[0], a[1], torch.zeros(0, 3), a[3]), r"K = 0 rows.*K must be >= 1"),
        (
            lambda a: (torch.zeros(2, 1, 3), *a[1:3], torch.tensor([1, 1])),
            r"T = 0 positions.*T must be >= 1",
        ),
        (
            lambda a: (a[0].long(), *a[1:]),
            r"cum_scores must be a float tensor, got torch.int64.*\.float\(\)",
        ),
        (lambda a: (a[0], a[1].long(), *a[2:]), r"transition must be a float tensor"),
        (
            lambda a: (a[0], torch.zeros(3, 3, device="meta"), *a[2:]),
            r"transition is on meta but cum_scores is on cpu.*transition.to\(cum_scores.device\)",
        ),
        (
            lambda a: (a[0], a[1], torch.zeros(4, 3, device="meta"), a[3]),
            r"duration_bias is on meta",
        ),
        (
            lambda a: (
                a[0].index_put(
                    (torch.tensor(1), torch.tensor(2), torch.tensor(0)), torch.tensor(float("nan"))
                ),
                *a[1:],
            ),
            r"cum_scores holds nan at index \(1, 2, 0\); scores must be finite",
        ),
        (
            lambda a: (a[0], a[1], torch.full((4, 3), float("inf")), a[3]),
            r"duration_bias holds inf",
        ),
    ],
)
def test_degenerate_inputs_name_argument_and_fix(change, message):
    with pytest.raises(ValueError, match=message):
        log_partition(*change(good()), backend="reference")


def test_minus_inf_forbids_a_transition():
    """-inf stays legal in transition: forbidding every change of label leaves one label per
    sequence, so log Z is the log-sum over labels of single-label segmentations."""
    cum, _, dur, lengths = good()
    cum = torch.nn.functional.pad(
        torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0)).cumsum(1), (0, 0, 1, 0)
    )
    trans = torch.full((3, 3), float("-inf")).fill_diagonal_(0.0)
    from genobench.semicrf.brute_force import brute_force

    torch.testing.assert_close(
        log_partition(cum, trans, dur, lengths, backend="reference"),
        brute_force(cum, trans, dur, lengths).log_z.float(),
    )


def test_label_outside_classes_names_position():
    labels = torch.zeros(2, 5, dtype=torch.long)
    labels[1, 2] = 3
    with pytest.raises(ValueError, match=r"labels\[1, 2\] = 3 lies outside \[0, C\) = \[0, 3\)"):
        SemiCRF(3, 4).nll(torch.zeros(2, 5, 3), torch.tensor([5, 5]), labels)
    labels[1, 2] = -1  # padding past a length is ignored
    assert SemiCRF(3, 4).nll(torch.zeros(2, 5, 3), torch.tensor([5, 2]), labels).isfinite()
