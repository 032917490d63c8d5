"""Internals of an LM at a checkpoint, on minimal pairs (papers/02 §6 "internal analysis"; details reconstructed).

For pairs whose good and bad sentences differ at the same position (the critical token ``c``), with ``h`` the
residual stream after the last block at ``c``:

- concept vector, mean difference: ``v = mean(h_good − h_bad)`` on a fitting half; predictability = accuracy on
  the other half of the rule "good iff (h − m)·v > 0", m the fitting half's mean hidden state;
- concept vector, logistic probe: an L2-regularised logistic regression on h (good = 1), held-out accuracy;
- participation ratio of the difference vectors ``d = h_good − h_bad``: PR = (Σλ)² / Σλ² over the eigenvalues of
  their covariance (1 = one direction; d = isotropic);
- attention from the critical token to the context token (licensor / antecedent), per layer and head, averaged over
  the good sentences: ``a[l, h]``; its concentration over all heads: the top-k share Σ_top-k a / Σ a, the
  normalised entropy H(a/Σa) / log(L·H) and the Gini coefficient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .blimp import MinimalPair, critical_phrase
from .model import lm_forward
from .tokenizer import Tokenizer


def participation_ratio(d: Tensor) -> float:
    """``d [N, k]`` -> (Σλ)²/Σλ² of the covariance of its rows."""
    d = d.double() - d.double().mean(0)
    lam = torch.linalg.eigvalsh(d.T @ d / max(d.shape[0] - 1, 1)).clamp(min=0)
    return float(lam.sum() ** 2 / (lam.square().sum() + 1e-30))


def concentration(a: Tensor, k: int = 2) -> dict[str, float]:
    """Top-k share, normalised entropy and Gini of non-negative head weights ``a`` (any shape, flattened)."""
    a = a.double().flatten().clamp(min=0)
    n, total = a.numel(), float(a.sum())
    if total <= 0:
        return {"top_k_share": float("nan"), "entropy": float("nan"), "gini": float("nan")}
    p = a / total
    ent = float(-(p * (p + 1e-30).log()).sum() / math.log(n)) if n > 1 else 0.0
    s = torch.sort(a).values
    gini = float((2 * torch.arange(1, n + 1, dtype=torch.float64) - n - 1).mul(s).sum() / (n * s.sum()))
    return {"top_k_share": float(torch.topk(a, min(k, n)).values.sum() / total), "entropy": ent, "gini": gini}


@torch.no_grad()
def _logistic_accuracy(xtr: Tensor, ytr: Tensor, xte: Tensor, yte: Tensor, l2: float = 1e-2,
                       iters: int = 25) -> float:
    """Held-out accuracy of an L2-regularised logistic regression (Newton's method on standardised features;
    the intercept is not penalised)."""
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr = torch.cat([(xtr - mu) / sd, torch.ones(len(xtr), 1, dtype=xtr.dtype)], 1)
    xte = torch.cat([(xte - mu) / sd, torch.ones(len(xte), 1, dtype=xte.dtype)], 1)
    n, k = xtr.shape
    reg = torch.full((k,), 2 * l2 * n, dtype=xtr.dtype)
    reg[-1] = 0.0
    w = torch.zeros(k, dtype=xtr.dtype)
    for _ in range(iters):
        p = torch.sigmoid(xtr @ w)
        grad = xtr.T @ (p - ytr) + reg * w
        hess = (xtr * (p * (1 - p))[:, None]).T @ xtr + torch.diag(reg) + 1e-8 * torch.eye(k, dtype=xtr.dtype)
        step = torch.linalg.solve(hess, grad)
        w = w - step
        if float(step.abs().max()) < 1e-8:
            break
    return float(((xte @ w > 0).double() == yte).double().mean())


@torch.no_grad()
def _states(model, tok: Tokenizer, pairs: list[MinimalPair]) -> tuple[Tensor, Tensor, Tensor, list[int]]:
    """(h_good [N, d], h_bad [N, d], attention a [L, H] from critical to context, kept pair indices)."""
    keep, cg, cb = [], [], []
    for n, p in enumerate(pairs):
        cp = critical_phrase(p)
        g, b = tok.ids(p.good), tok.ids(p.bad)
        if cp.critical < min(len(g), len(b)) and cp.context <= cp.critical:
            keep.append(n)
            cg.append((g, cp.critical, cp.context))
            cb.append(b)
    if not keep:
        empty = torch.zeros(0, 0)
        return empty, empty, torch.zeros(0), []
    L = max(max(len(g) for g, _, _ in cg), max(len(b) for b in cb)) + 1
    xg = torch.zeros(len(keep), L, dtype=torch.long)
    xb = torch.zeros_like(xg)
    for r, ((g, _, _), b) in enumerate(zip(cg, cb)):
        xg[r, 1:len(g) + 1], xb[r, 1:len(b) + 1] = torch.tensor(g), torch.tensor(b)
    crit = torch.tensor([c + 1 for _, c, _ in cg])
    ctx_pos = torch.tensor([c + 1 for _, _, c in cg])
    capg, capb = {}, {}
    lm_forward(model, xg[None], capg)
    lm_forward(model, xb[None], capb)
    last = f"resid.{model.cfg.n_layers - 1}"
    rows = torch.arange(len(keep))
    hg, hb = capg[last][0, rows, crit], capb[last][0, rows, crit]
    att = torch.stack([capg[f"pattern.{l}"][0, rows, :, crit, ctx_pos].mean(0)
                       for l in range(model.cfg.n_layers)])  # [L, H]
    return hg.double(), hb.double(), att.double(), keep


def internals(model, tok: Tokenizer, pairs: list[MinimalPair], k: int = 2) -> dict[str, float]:
    """The concept-vector, subspace and head-concentration measures of member 0 on ``pairs``."""
    hg, hb, att, keep = _states(model, tok, pairs)
    if len(keep) < 8:
        nan = float("nan")
        return {"n": len(keep), "meandiff_acc": nan, "probe_acc": nan, "pr": nan, "top_k_share": nan,
                "entropy": nan, "gini": nan}
    half = len(keep) // 2
    v = (hg[:half] - hb[:half]).mean(0)
    m = torch.cat([hg[:half], hb[:half]]).mean(0)
    te = torch.cat([hg[half:], hb[half:]])
    yte = torch.cat([torch.ones(len(keep) - half), torch.zeros(len(keep) - half)]).double()
    meandiff = float((((te - m) @ v > 0).double() == yte).double().mean())
    xtr = torch.cat([hg[:half], hb[:half]])
    ytr = torch.cat([torch.ones(half), torch.zeros(half)]).double()
    probe = _logistic_accuracy(xtr, ytr, te, yte)
    return {"n": len(keep), "meandiff_acc": meandiff, "probe_acc": probe, "pr": participation_ratio(hg - hb),
            **concentration(att, k)}
