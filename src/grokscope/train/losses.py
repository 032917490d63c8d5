"""Per-example losses on temperature-scaled logits ``z = logits / τ`` (τ is not a parameter)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def stablemax_s(z: Tensor) -> Tensor:
    """StableMax's s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0 (Prieto et al. 2025) [reconstructed from memory,
    see papers/01 §6]; probabilities are s(z_i) / Σ_j s(z_j)."""
    return torch.where(z >= 0, z + 1.0, 1.0 / (1.0 - z.clamp(max=0.0)))


def regression_mse(z: Tensor, y: Tensor) -> Tensor:
    """Real targets (regression tasks, e.g. ``teacher``): Σ_outputs (z - y)² per example, ``[M, B]``."""
    return ((z - y) ** 2).sum(-1)


def per_example(name: str, z: Tensor, y: Tensor) -> Tensor:
    """``z [M, B, C]`` temperature-scaled logits, ``y int64 [M, B]`` -> loss ``[M, B]``; real targets
    ``y float [M, B, C]`` (a regression task) take the MSE whatever the name (setup.py requires "mse" there)."""
    if y.is_floating_point():
        return regression_mse(z, y)
    if name == "ce":
        return F.cross_entropy(z.flatten(0, 1), y.flatten(), reduction="none").view(y.shape)
    if name == "mse":  # papers 1/4: Σ_classes (z - onehot(y))², averaged over examples by the caller
        target = F.one_hot(y, z.shape[-1]).to(z.dtype)
        return ((z - target) ** 2).sum(-1)
    if name == "mse_centered":  # Tian 2025 / papers/03 §14: centred output against the zero-mean one-hot target
        target = F.one_hot(y, z.shape[-1]).to(z.dtype) - 1.0 / z.shape[-1]
        return ((z - z.mean(-1, keepdim=True) - target) ** 2).sum(-1)
    if name == "stablemax":
        s = stablemax_s(z)
        return torch.log(s.sum(-1)) - torch.log(s.gather(-1, y[..., None]).squeeze(-1))
    raise ValueError(f"unknown loss {name!r}")


def probabilities(name: str, z: Tensor) -> Tensor:
    """Class probabilities the loss implies (softmax, or StableMax's normalised s; softmax for MSE)."""
    if name == "stablemax":
        s = stablemax_s(z)
        return s / s.sum(-1, keepdim=True)
    return z.softmax(-1)
