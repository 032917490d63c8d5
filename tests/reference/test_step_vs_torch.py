"""Training steps against a plain PyTorch reference written here: per member, its slice of the initial parameters
as ordinary tensors, an explicit forward of the ``mlp`` model, the documented loss, explicit minibatch indices,
``torch.optim.AdamW`` with a manual warm-up lr, and the gradient filters written out. The trainer is reached only
through ``harness``."""

from __future__ import annotations

import copy
from collections import deque

import pytest
import torch
import torch.nn.functional as F

from . import harness as H

BASE = {"name": "ref", "task": {"name": "modular", "op": "add", "p": 7, "frac": 0.5},
        "model": {"name": "mlp", "d_embed": 4, "d_hidden": 8, "act": "gelu"},
        "optim": {"lr": 0.05, "wd": 1.0, "beta1": 0.9, "beta2": 0.98},
        "train": {"steps": 10, "dtype": "float64"}, "checkpoint": {"count": 0}}


def cfg_with(**sections) -> dict:
    cfg = copy.deepcopy(BASE)
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    return cfg


# -- the reference ----------------------------------------------------------------------------------------------
def forward(p: dict[str, torch.Tensor], x: torch.Tensor, positions: tuple[int, ...], act: str) -> torch.Tensor:
    """logits = act(concat_k(E[x_k]) @ W_in + b_in) @ W_U + b_U, for one member; x int64 [B, S]."""
    h = torch.cat([p["W_E"][x[:, k]] for k in positions], dim=-1) @ p["W_in"] + p["b_in"]
    h = {"gelu": F.gelu, "relu": torch.relu, "quadratic": lambda v: v * v}[act](h)
    return h @ p["W_U"] + p["b_U"]


def stablemax_ce(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """StableMax: s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0); p_i = s_i / Σ s_j; loss = mean -log p_y."""
    s = torch.where(z >= 0, z + 1, 1 / (1 - torch.clamp(z, max=0)))
    return -(s.gather(1, y[:, None]).squeeze(1) / s.sum(1)).log().mean()


def ref_loss(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if name == "ce":
        return F.cross_entropy(z, y)  # mean over the batch
    if name == "mse":
        return ((z - F.one_hot(y, z.shape[1]).to(z.dtype)) ** 2).sum(1).mean()
    return stablemax_ce(z, y)


class Filters:
    """⊥Grad and the Grokfast filters for one member, written out from their papers' definitions."""

    def __init__(self, optim: dict) -> None:
        self.orth = optim.get("orthograd", False)
        self.gf = {"kind": "none", "alpha": 0.98, "lamb": 2.0, "window": 100} | optim.get("grokfast", {})
        self.ema: dict[str, torch.Tensor] = {}
        self.hist: dict[str, deque] = {}

    def __call__(self, grads: dict[str, torch.Tensor], p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for n, g in grads.items():
            if self.orth and bool((p[n] != 0).any()):  # a zero tensor (biases at init) has no radial part
                w = p[n].detach()
                g_orth = g - (w * g).sum() / (w * w).sum() * w
                g = g_orth * (g.norm() / g_orth.norm())
            kind, lamb = self.gf["kind"], self.gf["lamb"]
            if kind == "ema":
                a = self.gf["alpha"]
                self.ema[n] = g.clone() if n not in self.ema else a * self.ema[n] + (1 - a) * g
                g = g + lamb * self.ema[n]
            elif kind == "ma":
                q = self.hist.setdefault(n, deque(maxlen=self.gf["window"]))
                q.append(g.clone())
                if len(q) == self.gf["window"]:
                    g = g + lamb * torch.stack(list(q)).mean(0)
            out[n] = g
        return out


def reference(cfg: dict, p0: dict[str, torch.Tensor], batches: list[tuple[torch.Tensor, torch.Tensor]], lr: float,
              wd: float, tau: float, positions: tuple[int, ...], decay: set[str]) -> dict[str, torch.Tensor]:
    o = {"beta1": 0.9, "beta2": 0.98, "eps": 1e-8, "warmup_steps": 0} | cfg["optim"]
    p = {n: v.clone().requires_grad_(True) for n, v in p0.items()}
    groups = [{"params": [p[n] for n in p if n in decay], "weight_decay": wd},
              {"params": [p[n] for n in p if n not in decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    filt = Filters(o)
    w = o["warmup_steps"]
    for t, (x, y) in enumerate(batches):
        z = forward(p, x, positions, cfg["model"]["act"]) / tau
        loss = ref_loss(cfg.get("loss", {}).get("name", "ce"), z, y)
        grads = dict(zip(p, torch.autograd.grad(loss, list(p.values()))))
        for n, g in filt(grads, p).items():
            p[n].grad = g
        for group in opt.param_groups:
            group["lr"] = lr * (t + 1) / w if t < w else lr
        opt.step()
    return {n: v.detach() for n, v in p.items()}


# -- the comparison ----------------------------------------------------------------------------------------------
def member_values(cfg: dict, M: int) -> list[tuple[float, float, float]]:
    vary = cfg.get("members", {}).get("vary", {})
    base = (cfg["optim"]["lr"], cfg["optim"]["wd"], cfg.get("loss", {}).get("tau", 1.0))
    seeds = cfg.get("members", {}).get("seeds", 1)
    n_seeds = seeds if isinstance(seeds, int) else len(seeds)
    out = []
    for m in range(M):
        r = m // n_seeds
        out.append((vary["optim.lr"][r] if "optim.lr" in vary else base[0],
                    vary["optim.wd"][r] if "optim.wd" in vary else base[1],
                    vary["loss.tau"][r] if "loss.tau" in vary else base[2]))
    return out


def check_epochs(idx: list[torch.Tensor], n: int, B: int) -> None:
    """Each epoch's minibatches are one permutation of the training split, B rows per step (the last may be short)."""
    per_epoch = -(-n // B)
    for e in range(len(idx) // per_epoch):
        chunk = idx[e * per_epoch:(e + 1) * per_epoch]
        assert [len(c) for c in chunk] == [min(B, n - k * B) for k in range(per_epoch)]
        assert sorted(torch.cat(chunk).tolist()) == list(range(n)), f"epoch {e} is not a permutation"


def compare(cfg: dict, steps: int, tol: float | None = None) -> None:
    obj = H.build(cfg)
    d = H.data(obj)
    P0 = H.params(obj)
    M = next(iter(P0.values())).shape[0]
    n_train = d["train_idx"].shape[1]
    B = cfg["train"].get("batch_size") or n_train
    idx = [H.batch_indices(obj, t) for t in range(steps)]  # [M, b] each
    positions = H.input_positions(obj)
    decay_cfg = cfg["optim"].get("decay", "weights")
    g = H.groups(obj)
    decay = set(H.weight_names(obj)) if decay_cfg == "weights" else set(P0) if decay_cfg == "all" else \
        {n for grp in decay_cfg for n in g[grp]}
    for t in range(steps):
        H.one_update(obj, t)
    got = H.params(obj)
    dtype = next(iter(P0.values())).dtype
    tol = tol if tol is not None else (1e-12 if dtype == torch.float64 else 1e-6)
    for m, (lr, wd, tau) in enumerate(member_values(cfg, M)):
        check_epochs([i[m] for i in idx], n_train, B)
        x_train = d["x"][min(m, d["x"].shape[0] - 1)][d["train_idx"][m]]
        y_train = d["y_train"][m]
        batches = [(x_train[i[m]], y_train[i[m]]) for i in idx]
        want = reference(cfg, {n: v[m] for n, v in P0.items()}, batches, lr, wd, tau, positions, decay)
        for n in want:
            assert not torch.equal(want[n], P0[n][m]), f"{n} did not move: the comparison would be empty"
            err = (got[n][m] - want[n]).abs().max().item()
            assert err <= tol, f"member {m}, {n}: max |ours - torch| = {err:.3g} > {tol:g}"


CASES = {
    "ce": cfg_with(),
    "mse": cfg_with(loss={"name": "mse"}),
    "stablemax": cfg_with(loss={"name": "stablemax"}),
    "tau": cfg_with(loss={"name": "ce", "tau": 0.5}),
    "label-noise": cfg_with(intervene={"label_noise": 0.3}),
    "grokfast-ema": cfg_with(optim={"grokfast": {"kind": "ema", "alpha": 0.8, "lamb": 2.0}}),
    "grokfast-ma": cfg_with(optim={"grokfast": {"kind": "ma", "window": 3, "lamb": 2.0}}),
    "orthograd": cfg_with(optim={"orthograd": True}),
    "decay-all": cfg_with(optim={"decay": "all"}),
    "decay-groups": cfg_with(optim={"decay": ["hidden", "unembed"]}),
    "warmup": cfg_with(optim={"warmup_steps": 3}),
    "minibatch": cfg_with(train={"batch_size": 7}, members={"seeds": 2}),
    "vary-M3": cfg_with(members={"seeds": 1, "vary": {"optim.lr": [0.01, 0.05, 0.1], "optim.wd": [0.0, 1.0, 3.0],
                                                      "loss.tau": [0.5, 1.0, 2.0]}}),
    "vary-M3-mse-minibatch-warmup": cfg_with(
        loss={"name": "mse"}, train={"batch_size": 10}, optim={"warmup_steps": 2},
        members={"seeds": [3, 4, 5], "vary": {"optim.lr": [0.02], "loss.tau": [2.0]}}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_steps_match_torch_float64(name: str) -> None:
    steps = 8 if name in ("minibatch", "vary-M3-mse-minibatch-warmup") else 5
    compare(CASES[name], steps)


@pytest.mark.parametrize("name", ["ce", "stablemax", "vary-M3"])
def test_one_step_matches_torch_float32(name: str) -> None:
    cfg = copy.deepcopy(CASES[name])
    cfg["train"]["dtype"] = "float32"
    compare(cfg, 1)


def test_a_few_steps_match_torch_float32() -> None:
    cfg = cfg_with(train={"dtype": "float32", "batch_size": 9}, optim={"warmup_steps": 2})
    compare(cfg, 3)


def test_label_noise_flips_the_documented_fraction_to_wrong_classes() -> None:
    obj = H.build(cfg_with(intervene={"label_noise": 0.3}, members={"seeds": 2}))
    d = H.data(obj)
    clean = d["y"].gather(1, d["train_idx"])
    flipped = (clean != d["y_train"]).sum(1)
    n = d["train_idx"].shape[1]
    assert flipped.tolist() == [round(0.3 * n)] * 2


def test_decay_sets_differ_so_the_decay_cases_are_not_vacuous() -> None:
    """Biases start at zero; after a few steps they are non-zero, so decaying them or not changes the params."""
    a, b = H.build(cfg_with()), H.build(cfg_with(optim={"decay": "all"}))
    for t in range(3):
        H.one_update(a, t)
        H.one_update(b, t)
    pa, pb = H.params(a), H.params(b)
    assert not torch.equal(pa["b_in"], pb["b_in"])
    assert torch.equal(H.params(H.build(cfg_with()))["b_in"], torch.zeros_like(pa["b_in"]))
