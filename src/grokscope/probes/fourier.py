"""Fourier / character spectra of the embedding and unembedding during training (paper 2 §2.3; issue 13).

For a modular task, the per-frequency norms of W_E's operand rows and W_U's class columns in the additive Fourier
basis (``add``) and, for a prime p, in the multiplicative-character basis (``mul``), summarised per member as
``fourier/{gini,ipr,top5}_{add,mul}`` (W_E) and ``fourier/{gini,ipr,top5}_{add,mul}_unembed`` (W_U). Label-free:
only weights are read. The kernels are ``grokscope.mech.spectrum``; the bases ``grokscope.mech.numtheory``.
A task without Fourier structure (parity, permutations) gives no metrics.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import torch
from torch import Tensor

from ..mech import spectrum
from ..mech.domain import Domain, make_domain
from ..mech.numtheory import is_prime
from .base import EvalContext, probe

TOP_K = 5
SHORT = {"additive": "add", "multiplicative": "mul"}


@lru_cache(maxsize=16)
def _domains(op: str, p: int, exclude_zero: bool) -> tuple[Domain, ...]:
    task = SimpleNamespace(name="modular", op=op, p=p, exclude_zero=exclude_zero)
    kinds = ["additive"] + (["multiplicative"] if is_prime(p) else [])
    return tuple(make_domain(task, k) for k in kinds)


def spectrum_metrics(norms: Tensor, suffix: str) -> dict[str, Tensor]:
    """``norms [M, K]`` -> Gini, IPR and top-k share per member."""
    return {f"fourier/gini_{suffix}": spectrum.gini(norms), f"fourier/ipr_{suffix}": spectrum.ipr(norms),
            f"fourier/top{TOP_K}_{suffix}": spectrum.top_share(norms, TOP_K)}


@probe("fourier", needs=["task"], uses_labels=False, cost="two small matmuls per basis")
def fourier(ctx: EvalContext) -> dict[str, Tensor]:
    t = ctx.task
    if t.get("name") != "modular":
        return {}
    out: dict[str, Tensor] = {}
    W_E = ctx.params[ctx.roles.embed].detach().double()  # [M, V, d]
    W_U = ctx.params[ctx.roles.unembed].detach().double()  # [M, d, C]
    for dom in _domains(t["op"], int(t["p"]), bool(t.get("exclude_zero", False))):
        B = torch.as_tensor(dom.basis, device=W_E.device)
        v = torch.as_tensor(dom.values, device=W_E.device)
        s = SHORT[dom.kind]
        out.update(spectrum_metrics(spectrum.frequency_norms(B, W_E[:, v]), s))
        out.update(spectrum_metrics(spectrum.frequency_norms(B, W_U[:, :, v].transpose(1, 2)), f"{s}_unembed"))
    return out
