"""Passive isotropic GMM probe on the hidden state fed to the unembedding (Yang 2026, Feature Lottery; 02 §8).

With responsibilities r_k(z) ∝ exp(−β‖z − μ_k‖²/2) (β = precision) the free energy
F(μ) = −(1/β) E_z log Σ_k exp(−β‖z − μ_k‖²/2) has, at the collapsed state μ_k = E z, the Hessian
(1/K)(I − β Cov z) on the K−1 antisymmetric modes: it loses positive-definiteness at

    β_c = 1 / λ_max(Cov z),

and β/β_c is the label-free phase coordinate. How the paper measures β(t) is not verified (02 §8,
reconstructed), so both readings are options:

- ``beta="ml"`` (probe ``gmm``): β is the ML-fitted shared precision of a K-prototype EM fit, warm-started from
  the previous evaluation (state kept across evals and saved for resume): β = d / E[Σ_k r_k ‖z − μ_k‖²];
- ``beta="fixed"`` (probe ``gmm_fixed``): β frozen at its first ML fit; then β/β_c = β·λ_max(t) and only the
  spectrum moves.

NC1 = tr(Σ_W Σ_B^†)/K (neural-collapse within/between variability), with the training labels (``gmm/nc1``) or with
the probe's hard assignments as pseudo-labels (``gmm/nc1_pseudo``, label-free). K defaults to the number of
classes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import EvalContext, probe

EM_ITERS = 1  # EM iterations per evaluation (warm-started, so the fit tracks the slowly moving representation)


def covariance(Z: Tensor) -> Tensor:
    """``Z [M, N, d]`` -> population covariance ``[M, d, d]`` (float64)."""
    Z = Z.double()
    Zc = Z - Z.mean(1, keepdim=True)
    return Zc.transpose(1, 2) @ Zc / Z.shape[1]


def beta_c(Z: Tensor, cov: Tensor | None = None) -> Tensor:
    """Critical precision 1/λ_max(Cov z): ``Z [M, N, d]`` (or its covariance ``cov``) -> ``[M]``."""
    return 1.0 / torch.linalg.eigvalsh(covariance(Z) if cov is None else cov)[:, -1]


def free_energy(mu: Tensor, Z: Tensor, beta: float) -> Tensor:
    """F(μ) = −(1/β) mean_z log Σ_k exp(−β‖z − μ_k‖²/2) for one model: ``mu [K, d]``, ``Z [N, d]`` -> scalar."""
    sq = (Z[:, None, :] - mu[None]).square().sum(-1)  # [N, K] (differentiable twice, unlike cdist)
    return -(torch.logsumexp(-0.5 * beta * sq, dim=1)).mean() / beta


def collapsed_hessian_min_eig(Z: Tensor, beta: float, K: int = 2) -> float:
    """Smallest eigenvalue of ∇²F at the collapsed state (all K prototypes at the mean), by autograd (small d)."""
    Z = Z.double()
    mu0 = Z.mean(0).expand(K, -1).clone()
    H = torch.autograd.functional.hessian(lambda m: free_energy(m.view(K, -1), Z, beta), mu0.reshape(-1))
    return float(torch.linalg.eigvalsh(H)[0])


def sq_dists(Z: Tensor, mu: Tensor) -> Tensor:
    """‖z_n − μ_k‖² ``[M, N, K]`` from ``Z [M, N, d]``, ``mu [M, K, d]`` (one batched matmul, clamped at 0)."""
    return (Z.square().sum(-1, keepdim=True) - 2 * Z @ mu.transpose(1, 2) + mu.square().sum(-1)[:, None]).clamp_min(0)


def em_step(Z: Tensor, mu: Tensor, beta: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One EM step of an isotropic, equal-weight GMM with shared precision.

    ``Z [M, N, d]``, ``mu [M, K, d]``, ``beta [M]`` -> (new mu, new beta, responsibilities ``[M, N, K]``).
    An empty prototype keeps its place. The new β = d / E[Σ_k r_k ‖z − μ_k'‖²] is expanded as
    (Σ_n ‖z_n‖² − 2 Σ_k μ_k'·S_k + Σ_k m_k ‖μ_k'‖²)/N with S_k = Σ_n r_nk z_n, m_k = Σ_n r_nk, so no second
    distance matrix is formed.
    """
    r = torch.softmax(-0.5 * beta[:, None, None] * sq_dists(Z, mu), dim=-1)  # [M, N, K]
    mass = r.sum(1)  # [M, K]
    S = r.transpose(1, 2) @ Z  # [M, K, d]
    new_mu = torch.where(mass[..., None] > 1e-8, S / mass.clamp_min(1e-12)[..., None], mu)
    spread = (Z.square().sum((1, 2)) - 2 * (new_mu * S).sum((1, 2))
              + (mass * new_mu.square().sum(-1)).sum(1)) / Z.shape[1]
    return new_mu, Z.shape[2] / spread.clamp_min(1e-300), r


def nc1(Z: Tensor, labels: Tensor, K: int, cov: Tensor | None = None) -> Tensor:
    """NC1 = tr(Σ_W Σ_B^†)/K: ``Z [M, N, d]``, ``labels int64 [M, N]`` in [0, K) -> ``[M]``.

    Σ_W = Cov z − Σ_k (n_k/N)(μ_k − c)(μ_k − c)ᵀ (within-class scatter, from the total covariance and the class
    means, so nothing N×d beyond one pass); Σ_B = mean over the present classes of (μ_k − c)(μ_k − c)ᵀ.
    """
    Z = Z.double()
    N = Z.shape[1]
    onehot = torch.nn.functional.one_hot(labels, K).to(Z.dtype)  # [M, N, K]
    count = onehot.sum(1)  # [M, K]
    means = (onehot.transpose(1, 2) @ Z) / count.clamp_min(1)[..., None]  # [M, K, d]
    B = (means - Z.mean(1, keepdim=True)) * (count > 0).to(Z.dtype)[..., None]
    weighted = B.transpose(1, 2) @ (B * (count / N)[..., None])
    sigma_w = (covariance(Z) if cov is None else cov) - weighted  # ``cov``: Cov z when already computed
    sigma_b = B.transpose(1, 2) @ B / (count > 0).sum(1).clamp_min(1).to(Z.dtype)[:, None, None]
    return (sigma_w * torch.linalg.pinv(sigma_b, hermitian=True)).sum((1, 2)) / K


class GMMProbe:
    """Stateful GMM probe: prototypes ``mu [M, K, d]`` and β ``[M]`` carried from one evaluation to the next."""

    mode = "ml"

    def __init__(self) -> None:
        self.mu: Tensor | None = None
        self.beta: Tensor | None = None
        self.beta_fixed: Tensor | None = None

    def _init(self, Z: Tensor, K: int) -> None:
        # K data points drawn with a fixed seed (deterministic, so runs and resumes agree)
        gen = torch.Generator().manual_seed(0)
        idx = torch.randperm(Z.shape[1], generator=gen)[:K].to(Z.device)
        self.mu = Z[:, idx].clone()
        self.beta = 1.0 / Z.var(1, unbiased=False).mean(-1)  # 1 / mean variance

    def __call__(self, ctx: EvalContext) -> dict[str, Tensor]:
        Z = ctx.cache[ctx.roles.unembed_in].double()  # [M, N, d]
        K = min(ctx.logits.shape[-1], Z.shape[1])
        if self.mu is None or self.mu.shape != (Z.shape[0], K, Z.shape[2]):
            self._init(Z, K)
        for _ in range(EM_ITERS):
            self.mu, self.beta, r = em_step(Z, self.mu, self.beta)
        if self.beta_fixed is None:
            self.beta_fixed = self.beta.clone()
        beta = self.beta if self.mode == "ml" else self.beta_fixed
        cov = covariance(Z)
        bc = beta_c(Z, cov)
        ns = "gmm" if self.mode == "ml" else "gmm_fixed"
        Zt = ctx.at(Z, ctx.train_idx)
        return {f"{ns}/beta_c": bc, f"{ns}/beta": beta, f"{ns}/beta_ratio": beta / bc,
                f"{ns}/nc1": nc1(Zt, ctx.y_train, ctx.logits.shape[-1]),
                f"{ns}/nc1_pseudo": nc1(Z, r.argmax(-1), K, cov)}

    def state_dict(self) -> dict:
        return {"mu": self.mu, "beta": self.beta, "beta_fixed": self.beta_fixed}

    def load_state_dict(self, sd: dict) -> None:
        self.mu, self.beta, self.beta_fixed = sd["mu"], sd["beta"], sd["beta_fixed"]


def _unembed_in(roles) -> list[str]:
    return [roles.unembed_in]


probe("gmm", hooks=_unembed_in, uses_labels=["gmm/nc1"], cost="heavy")(GMMProbe)


@probe("gmm_fixed", hooks=_unembed_in, uses_labels=["gmm_fixed/nc1"], cost="heavy")
class GMMFixedProbe(GMMProbe):
    """β frozen at its first ML fit (option (a) of 02 §8, reconstructed)."""

    mode = "fixed"
