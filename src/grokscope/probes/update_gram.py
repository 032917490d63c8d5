"""Spectral lock-in and feature repulsion in two-layer nets (Xu 2026 on Tian's Li₂ framework; papers/03 §14).

- ``update_gram/s2_s3`` (and ``s1_s2``): eigenvalues σ₁ ≥ σ₂ ≥ σ₃ of the W×W Gram ΔᵀΔ of the last W flattened
  first-layer updates Δ = [ΔW_{t−W+1}, …, ΔW_t] (a step hook sees every update; W = ``WINDOW`` = 20 as in the
  paper). NaN until three updates were seen. The first layer is ``roles.layers[0]``. The Gram is kept and updated
  by one row and column per update; the slope detector (``detect/lockin.py``) runs on every update, so its fire
  step (the event ``lockin_step``) does not depend on the eval grid.
- Tian's Theorem-6 repulsion sign-match, which used to be computed here at every evaluation (a K×K inverse), is
  the ``repulsion`` probe (``probes/repulsion.py``), run at a few checkpoints; ρ_tian is the ``tian`` probe.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..detect.lockin import LAG, SLOPE, T_MIN
from .base import EvalContext, probe

WINDOW = 20


def gram_eigs(deltas: Tensor) -> Tensor:
    """``deltas [M, W, P]`` (W updates) -> eigenvalues of the W×W Gram, descending ``[M, W]`` (float64)."""
    D = deltas.double()
    return torch.linalg.eigvalsh(D @ D.transpose(1, 2)).flip(-1)


def _unsupported(roles) -> str | None:
    return None if roles.layers else "the model declares no layer chain"


class UpdateGram:
    """The W×W Gram of the last ``WINDOW`` first-layer updates, updated incrementally (papers/03 §14: one new row and
    column per update, products in float64), the per-update log σ₂/σ₃ series and the online slope detector.

    State (saved in the resume state, so resume is exact): the float64 ring buffer ``[M, W, P]``, its Gram
    ``[M, W, W]``, the update count, the per-update ratio series and each member's fire step."""

    def __init__(self) -> None:
        self.layer: str | None = None
        self.buf: Tensor | None = None
        self.gram: Tensor | None = None
        self.count = 0
        self.series: list[list[float]] = []  # per update: σ₂/σ₃ per member (NaN before three updates)
        self.fired: list[int | None] = []
        self.dtype = torch.float32  # the updates' own dtype: the buffer is saved in it (lossless, half the size)

    def after_step(self, t: int, params: dict, grads: dict, delta: dict) -> None:
        if self.layer is None or self.layer not in delta:
            return
        raw = delta[self.layer].detach()
        self.dtype = raw.dtype
        d = raw.reshape(raw.shape[0], -1).double()  # [M, P]
        M = d.shape[0]
        if self.buf is None:
            self.buf = torch.zeros(M, WINDOW, d.shape[1], dtype=torch.float64, device=d.device)
            self.gram = torch.zeros(M, WINDOW, WINDOW, dtype=torch.float64, device=d.device)
            self.fired = [None] * M
        slot = self.count % WINDOW
        self.buf[:, slot] = d
        row = torch.bmm(self.buf, d[:, :, None])[..., 0]  # [M, W]: ⟨ΔW_w, ΔW_t⟩
        self.gram[:, slot, :] = row
        self.gram[:, :, slot] = row
        self.count += 1
        n = min(self.count, WINDOW)
        ratio = [math.nan] * M
        if n >= 3:
            s = torch.linalg.eigvalsh(self.gram[:, :n, :n]).flip(-1)  # slots 0..n-1 are filled
            ratio = (s[:, 1] / s[:, 2]).tolist()
        self.series.append(ratio)
        self._detect(t)

    def _detect(self, t: int) -> None:
        """The slope detector at update t (papers/03 §14), for members that have not fired yet."""
        if t < T_MIN or len(self.series) <= LAG:
            return
        now, then = self.series[-1], self.series[-1 - LAG]
        for m, f in enumerate(self.fired):
            if f is None and now[m] > 0 and then[m] > 0 and (math.log(now[m]) - math.log(then[m])) / LAG > SLOPE:
                self.fired[m] = t

    def __call__(self, ctx: EvalContext) -> dict[str, Tensor]:
        self.layer = self.layer or ctx.roles.layers[0]
        M = ctx.logits.shape[0]
        nan = torch.full((M,), math.nan, dtype=torch.float64)
        out = {"update_gram/s1_s2": nan, "update_gram/s2_s3": nan}
        n = min(self.count, WINDOW)
        if self.buf is not None and n >= 3:
            s = torch.linalg.eigvalsh(self.gram[:, :n, :n]).flip(-1)
            out = {"update_gram/s1_s2": s[:, 0] / s[:, 1], "update_gram/s2_s3": s[:, 1] / s[:, 2]}
        return out

    def events(self) -> dict[str, list]:
        """``lockin_step``: the first update t >= 100 with a 25-update slope of log σ₂/σ₃ above 0.04 (None: never)."""
        return {"lockin_step": list(self.fired)}

    def state_dict(self) -> dict:
        buf = None if self.buf is None else self.buf.to(self.dtype)  # exact: every entry came from that dtype
        return {"layer": self.layer, "buf": buf, "gram": self.gram, "count": self.count,
                "series": self.series, "fired": self.fired}

    def load_state_dict(self, sd: dict) -> None:
        self.layer, self.buf, self.count = sd["layer"], sd["buf"], sd["count"]
        self.gram, self.series, self.fired = sd.get("gram"), sd.get("series", []), sd.get("fired", [])
        if self.buf is not None and self.gram is not None:
            self.dtype, self.buf = self.buf.dtype, self.buf.double()
        elif self.buf is not None:  # a state written before the Gram was kept: [W, M, P]
            self.buf = self.buf.transpose(0, 1).double().contiguous()
            self.gram = self.buf @ self.buf.transpose(1, 2)


probe("update_gram", uses_labels=False, cost="heavy", unsupported=_unsupported)(UpdateGram)
