"""Linear-teacher regression (paper 3's setting, papers/01 §3.3 [reconstructed]): y = S x + σ ε.

Inputs x ~ N(0, I_d) plus optional nuisance coordinates the teacher ignores (the training inputs optionally
whitened exactly, so that their empirical covariance is I and the training loss is the mode model of
``grokscope.escape.modes``), a teacher S = Σ_i s_i u_i v_iᵀ with a chosen singular spectrum {s_i} and random
orthonormal u_i, v_i (from ``teacher_seed``, shared by all members), label noise σ, and sparse sub-sampling:
``n_train`` may be far below the input dimension. Targets are real vectors; the loss is MSE (Σ over outputs of
(f(x) - y)², mean over examples). ``TaskData.kind`` is "regression": x is float ``[M, N, d]``, y float
``[M, N, d_out]``; examples 0..n_train-1 of each member are its training set, the rest its test set.

Events (DESIGN.md times, regression form): the accuracy probe reports ``acc = 1 - relative error`` with relative
error Σ‖f(x) - y‖² / Σ‖y‖² over a split (the fraction of target energy explained), so T_mem = first eval with
train relative error <= 1 - eval.mem_threshold and T_grok = first eval with test relative error <= 1 -
eval.grok_threshold.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import TASKS, TaskData


class TeacherTask(BaseModel):
    """A linear teacher with singular values ``spectrum``; per-member Gaussian samples."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["teacher"] = "teacher"
    d_in: int = Field(8, ge=1, le=4096, description="input dimension d")
    d_out: int = Field(8, ge=1, le=4096, description="output dimension")
    spectrum: list[float] = Field(default_factory=lambda: [1.0], min_length=1,
                                  description="teacher singular values s_i >= 0 (rank = their count <= min(d_in, d_out))")
    n_train: int = Field(64, ge=1, description="training examples per member (sparse sub-sampling: n_train << d_in)")
    n_test: int = Field(256, ge=1, description="held-out test examples per member")
    noise: float = Field(0.0, ge=0.0, description="label noise: standard deviation σ of the Gaussian added to each target")
    nuisance_dims: int = Field(0, ge=0, le=4096, description="extra input coordinates the teacher ignores (N(0, "
                               "nuisance_scale²) each): with n_train << d_in + nuisance_dims the training set can be "
                               "memorised through them [reconstructed sparse sub-sampling]")
    nuisance_scale: float = Field(1.0, gt=0.0, description="standard deviation of each nuisance coordinate")
    whiten: bool = Field(True, description="whiten the training inputs exactly (empirical covariance = I; needs "
                         "n_train >= d_in), so the training loss is the mode model")
    teacher_seed: int = Field(0, ge=0, description="seed of the teacher's singular vectors (shared by all members)")
    split_seed: int | None = Field(None, description="fixed sample for every member; None = one sample per member seed")

    @model_validator(mode="after")
    def _check(self) -> TeacherTask:
        bad = [s for s in self.spectrum if not (s >= 0) or s != s or s == float("inf")]
        if bad:
            raise ValueError(f"teacher spectrum: singular values must be finite and >= 0, got {bad[0]}")
        rank = len(self.spectrum)
        if rank > min(self.d_in, self.d_out):
            raise ValueError(f"teacher spectrum has {rank} singular values but min(d_in, d_out) = "
                             f"{min(self.d_in, self.d_out)}: the rank cannot exceed it")
        if self.whiten and self.n_train < self.d_in:
            raise ValueError(f"whiten needs n_train >= d_in (got n_train={self.n_train}, d_in={self.d_in}); "
                             "set whiten: false for sparse sub-sampling")
        if (self.d_in + self.nuisance_dims) * (self.n_train + self.n_test) > 20_000_000:
            raise ValueError("teacher task too large: d_in × (n_train + n_test) must be <= 2e7")
        return self


def teacher_matrices(cfg: TeacherTask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U [d_out, k], s [k], V [d_in, k]): orthonormal singular vectors from ``teacher_seed``; S = U diag(s) Vᵀ."""
    rng = np.random.default_rng(cfg.teacher_seed)
    k = len(cfg.spectrum)
    U, _ = np.linalg.qr(rng.standard_normal((cfg.d_out, k)))
    V, _ = np.linalg.qr(rng.standard_normal((cfg.d_in, k)))
    return U, np.asarray(cfg.spectrum, dtype=float), V


def whitened(x: np.ndarray) -> np.ndarray:
    """x [n, d] with empirical covariance xᵀx / n = I exactly (symmetric inverse square root)."""
    cov = x.T @ x / x.shape[0]
    w, Q = np.linalg.eigh(cov)
    return x @ (Q * w ** -0.5) @ Q.T


def sample(cfg: TeacherTask, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One member's inputs [n_train + n_test, d_in] and targets [., d_out] (training rows first)."""
    U, s, V = teacher_matrices(cfg)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg.n_train + cfg.n_test, cfg.d_in))
    if cfg.whiten:
        x[: cfg.n_train] = whitened(x[: cfg.n_train])
    y = (x @ V) * s @ U.T  # y = S x in row form: x V diag(s) Uᵀ
    if cfg.noise > 0:
        y = y + cfg.noise * rng.standard_normal(y.shape)
    if cfg.nuisance_dims:
        nuis = cfg.nuisance_scale * rng.standard_normal((x.shape[0], cfg.nuisance_dims))
        x = np.concatenate([x, nuis], axis=1)
    return x, y


@TASKS.register("teacher")
def build(cfg: TeacherTask, seeds: list[int]) -> TaskData:
    split_seeds = [cfg.split_seed] * len(seeds) if cfg.split_seed is not None else seeds
    xs, ys = zip(*(sample(cfg, s) for s in split_seeds))
    M, n = len(seeds), cfg.n_train
    idx = np.arange(cfg.n_train + cfg.n_test, dtype=np.int64)
    U, s, V = teacher_matrices(cfg)
    V = np.concatenate([V, np.zeros((cfg.nuisance_dims, V.shape[1]))])  # the teacher reads no nuisance coordinate
    return TaskData(np.stack(xs), np.stack(ys), np.broadcast_to(idx[:n], (M, n)).copy(),
                    np.broadcast_to(idx[n:], (M, cfg.n_test)).copy(), cfg.d_in + cfg.nuisance_dims, cfg.d_out, (), {},
                    kind="regression", info={"teacher_u": U.T.tolist(), "teacher_v": V.T.tolist(),
                                             "teacher_s": s.tolist()})
