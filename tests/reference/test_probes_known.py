"""Built-in probes on a hand-built evaluation context with known logits and noisy training labels.

Expected values come from the probes' documented definitions (probes/accuracy.py, probes/logits.py), computed here
independently; the probes are called through ``harness``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from . import harness as H

C = 3


def logit_row(p_top: float, top: int) -> list[float]:
    """Logits [C] whose softmax puts probability ``p_top`` on class ``top`` (the others equal)."""
    a = math.log((C - 1) * p_top / (1 - p_top))
    return [a if c == top else 0.0 for c in range(C)]


# 2 members, 8 inputs each (4 train, 4 test); one training label per member is noisy (member 0: input 2, clean 2
# -> 0; member 1: input 1, clean 2 -> 1), and the logits favour the noisy label there.
Y = [[0, 1, 2, 0, 1, 2, 0, 1], [2, 2, 1, 0, 0, 1, 2, 0]]
TRAIN = [[0, 2, 4, 6], [1, 3, 5, 7]]
TEST = [[1, 3, 5, 7], [0, 2, 4, 6]]
NOISY = [[0, 0, 1, 0], [1, 0, 1, 0]]
TOPS = [  # the class each logit row favours, and with what probability
    [(0, 0.6), (1, 0.7), (0, 0.9995), (2, 0.4), (1, 0.9985), (0, 0.5), (0, 0.8), (1, 0.99)],
    [(2, 0.9), (1, 0.9995), (2, 0.6), (0, 0.9985), (2, 0.3), (1, 0.9989), (0, 0.7), (0, 0.95)],
]


def context(dtype=torch.float64, loss="ce"):
    logits = torch.tensor([[logit_row(p, c) for c, p in row] for row in TOPS], dtype=dtype)
    y = torch.tensor(Y)
    train_idx, test_idx = torch.tensor(TRAIN), torch.tensor(TEST)
    y_train = torch.tensor(NOISY)
    return H.probe_context(logits, y, y_train, train_idx, test_idx, loss), logits, y, y_train, train_idx, test_idx


def test_the_fixture_has_noise_that_matters() -> None:
    _, _, y, y_train, train_idx, _ = context()
    assert (y.gather(1, train_idx) != y_train).any(dim=1).all(), "every member needs noisy training labels"


def ref_losses(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if name == "ce":
        return F.cross_entropy(z, y, reduction="none")
    if name == "mse":
        return ((z - F.one_hot(y, C).to(z.dtype)) ** 2).sum(1)
    s = torch.where(z >= 0, z + 1, 1 / (1 - torch.clamp(z, max=0)))
    return -(s.gather(1, y[:, None]).squeeze(1) / s.sum(1)).log()


@pytest.mark.parametrize("loss", ["ce", "mse", "stablemax"])
def test_losses_are_per_split_means_and_train_acc_uses_the_noisy_labels(loss: str) -> None:
    ctx, z, y, y_train, train_idx, test_idx = context(loss=loss)
    got = H.run_probe("accuracy", ctx)
    for m in range(2):
        zt, zs = z[m][train_idx[m]], z[m][test_idx[m]]
        yt, ys = y_train[m], y[m][test_idx[m]]
        assert got["train/loss"][m] == pytest.approx(ref_losses(loss, zt, yt).mean().item(), rel=1e-12)
        assert got["test/loss"][m] == pytest.approx(ref_losses(loss, zs, ys).mean().item(), rel=1e-12)
        acc_noisy = (zt.argmax(1) == yt).double().mean().item()
        acc_clean = (zt.argmax(1) == y[m][train_idx[m]]).double().mean().item()
        assert acc_noisy != acc_clean  # the fixture tells the two apart
        assert got["train/acc"][m] == acc_noisy
        assert got["test/acc"][m] == (zs.argmax(1) == ys).double().mean().item()


def test_known_accuracies() -> None:
    got = H.run_probe("accuracy", context()[0])
    # train inputs favour exactly the noisy labels (1.0; 0.75 against the clean ones); member 0's test inputs
    # favour 1,2,0,1 against clean 1,0,2,1, member 1's favour 2,2,0,0 (p 0.3 < 1/3 leaves class
    # 0 on top) against 2,1,0,2
    assert got["train/acc"] == [1.0, 1.0]
    assert got["test/acc"] == [0.5, 0.5]


def test_logit_scale_is_the_mean_l2_norm_of_the_scaled_logits() -> None:
    ctx, z, *_ = context()
    got = H.run_probe("logits", ctx)["logit/scale"]
    assert got == pytest.approx([z[m].norm(dim=1).mean().item() for m in range(2)], rel=1e-12)


def test_sat_frac_counts_max_prob_above_0_999_over_all_inputs() -> None:
    got = H.run_probe("logits", context()[0])["logit/sat_frac"]
    # probabilities > 0.999: member 0 one (0.9995; 0.9985 and 0.99 are below); member 1: 0.9995 only (0.9985, 0.9989 below)
    want = [sum(p > 0.999 for _, p in row) / len(row) for row in TOPS]
    assert want == [1 / 8, 1 / 8]
    assert got == pytest.approx(want, abs=1e-12)


def collapse_context(dtype, y_train: list[int] | None = None):
    """Train points with p_correct = 1 - 2e^-20 (1.0 in float32, < 1 in float64), 0.9995, and 0.6."""
    big = [20.0, 0.0, 0.0]
    logits = torch.tensor([[big, big, logit_row(0.9995, 0), logit_row(0.6, 0)]], dtype=dtype)
    y = torch.zeros(1, 4, dtype=torch.int64)
    yt = y.clone() if y_train is None else torch.tensor([y_train])
    return H.probe_context(logits, y, yt, torch.arange(4)[None], torch.arange(4)[None], "ce")


def test_softmax_collapse_is_exact_one_in_working_precision() -> None:
    assert torch.tensor([20.0, 0.0, 0.0]).softmax(0)[0].item() == 1.0  # the premise, float32
    assert torch.tensor([20.0, 0.0, 0.0], dtype=torch.float64).softmax(0)[0].item() < 1.0
    assert H.run_probe("logits", collapse_context(torch.float32))["logit/sc_frac"] == [0.5]
    assert H.run_probe("logits", collapse_context(torch.float64))["logit/sc_frac"] == [0.0]


def test_sc_frac_reads_the_noisy_training_labels() -> None:
    ctx = collapse_context(torch.float32, y_train=[1, 0, 0, 0])  # the first collapsed point's label is another class
    assert H.run_probe("logits", ctx)["logit/sc_frac"] == [0.25]
