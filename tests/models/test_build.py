"""The training loop every checkpoint genobench trains goes through, and its record."""

import pytest
import torch

from genobench.models.build import Schedule, TrainLog, cosine_lr, train_steps


class Quadratic(torch.nn.Module):
    """loss = (w - target)^2: AdamW walks w towards the target."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, target):
        return type("Out", (), {"loss": ((self.w - target) ** 2).sum()})()


def test_summary_worked_by_hand():
    model = torch.nn.Linear(3, 2)  # 3 * 2 weights + 2 biases
    log = TrainLog([float(v) for v in range(25, 0, -1)], False, 1.234)
    assert log.summary(model, last=4) == {
        "n_parameters": 8,
        "train_seconds": 1.23,
        "loss_first": 25.0,
        "loss_last4_mean": 2.5,
        "loss_curve": [25.0, 15.0, 5.0],
    }
    empty = TrainLog([], True, 0.0).summary(model, last=10)
    assert empty["loss_first"] is None and empty["loss_last10_mean"] is None


def test_train_steps_follows_the_schedule_and_restores_threads():
    torch.manual_seed(0)
    model = Quadratic()
    threads = torch.get_num_threads()
    schedule = Schedule(steps=30, lr=0.1, warmup=5, lr_floor=0.5)
    log = train_steps(model, lambda step: {"target": torch.tensor([1.0])}, schedule)
    assert len(log.losses) == 30 and not log.stopped_by_time and log.seconds > 0
    assert log.losses[0] == pytest.approx(1.0) and log.losses[-1] < 0.1
    assert torch.get_num_threads() == threads and not model.training
    assert cosine_lr(4, 30, 0.1, 5, 0.5) == pytest.approx(0.1)
    assert cosine_lr(30, 30, 0.1, 5, 0.5) == pytest.approx(0.05)


def test_train_steps_stops_at_max_seconds():
    log = train_steps(
        Quadratic(),
        lambda step: {"target": torch.tensor([1.0])},
        Schedule(10, 0.1, 1),
        max_seconds=0,
    )
    assert log.stopped_by_time and log.losses == []
