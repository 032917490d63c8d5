"""Decoder-only transformer with the answer read at the last position (Nanda et al. 2023; Power et al. 2022).

Two forwards computing the same logits (``MemberModel.forward`` picks one):
- ``fast_forward`` (training, no hooks): layer 0 on an S·V table of (position, token) pairs, gathered per example;
  under a causal mask a V-row table for the leading positions that see one operand only; and in the last layer
  only the readout query (nothing after the last attention reads the other positions). See DESIGN.md.
- ``reference_forward`` (any cache, edit or ``all_queries``): every position of every example, with the
  TransformerLens hook points listed, with shapes, in ``transformer_reference.py``.

Roles: ``layers`` = (W_E, blocks.0.mlp.W_in, blocks.0.mlp.W_out, ..., W_U), the residual-stream path through the
MLPs (V -> d -> d_mlp -> d -> ... -> C); attention (listed in ``attention``) and W_pos sit beside that chain.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from . import transformer_reference
from .base import MODELS, MemberModel, ModelRoles, TaskShape, activation, bmm, gather_rows
from .hooks import HookPoints


class TransformerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["transformer"] = "transformer"
    n_layers: int = Field(1, ge=1, description="transformer blocks")
    d_model: int = Field(128, gt=0, description="residual stream width")
    n_heads: int = Field(4, gt=0, description="attention heads; d_head = d_model / n_heads")
    d_mlp: int = Field(512, gt=0, description="MLP hidden width")
    act: Literal["relu", "gelu"] = Field("relu", description="MLP activation")
    layernorm: bool = Field(False, description="pre-LN blocks + final LN (Nanda's model has none)")
    bias: Literal["on", "off", "frozen"] = Field("frozen", description="biases trained, absent, or fixed at 0 (TL demo)")
    causal: bool = Field(True, description="causal attention mask")

    @model_validator(mode="after")
    def _check(self) -> TransformerConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        return self


@MODELS.register("transformer")
class Transformer(MemberModel):
    """Init as in Nanda et al.'s progress-measures code: N(0, 1/d_model), W_U ~ N(0, 1/n_classes); biases 0."""

    def __init__(self, cfg: TransformerConfig, task: TaskShape, M: int, dtype: torch.dtype) -> None:
        super().__init__(M, dtype)
        self.cfg = cfg
        self.frozen_zero: set[str] = set()
        d, V, S, C, L = cfg.d_model, task.vocab_size, task.seq_len, task.n_classes, cfg.n_layers
        s = d**-0.5
        self.V, self.S, self.dh, self.seq_len = V, S, d // cfg.n_heads, S
        self.input_positions = task.input_positions
        # leading positions whose causal prefix holds at most one operand (see forward)
        self.n_prefix = max([k for k in range(S) if sum(p < k for p in task.input_positions) <= 1], default=0)
        self.prefix_verified = False  # set by verify_inputs() for the task's own inputs
        self.add("W_E", (V, d), s, group="embed")
        self.add("W_pos", (S, d), s, group="embed")
        for l in range(L):
            b = f"blocks.{l}"
            if cfg.layernorm:
                self.add(f"{b}.ln1.w", (d,), 0.0, "ln_w")
                self.add(f"{b}.ln1.b", (d,), 0.0, "ln_b")
                self.add(f"{b}.ln2.w", (d,), 0.0, "ln_w")
                self.add(f"{b}.ln2.b", (d,), 0.0, "ln_b")
            for w in ("W_Q", "W_K", "W_V"):
                self.add(f"{b}.attn.{w}", (d, d), s, group="attn")
            self.add(f"{b}.attn.W_O", (d, d), s, group="attn")
            self.add(f"{b}.mlp.W_in", (d, cfg.d_mlp), s, group="mlp")
            self.add(f"{b}.mlp.W_out", (cfg.d_mlp, d), s, group="mlp")
            self._bias(f"{b}.attn.b_Q", d)
            self._bias(f"{b}.attn.b_K", d)
            self._bias(f"{b}.attn.b_V", d)
            self._bias(f"{b}.attn.b_O", d)
            self._bias(f"{b}.mlp.b_in", cfg.d_mlp)
            self._bias(f"{b}.mlp.b_out", d)
        if cfg.layernorm:
            self.add("ln_final.w", (d,), 0.0, "ln_w")
            self.add("ln_final.b", (d,), 0.0, "ln_b")
        self.add("W_U", (d, C), C**-0.5, group="unembed")
        self._bias("b_U", C)

    def _bias(self, name: str, n: int) -> None:
        if self.cfg.bias != "off":
            self.add(name, (n,), 0.0, "bias", trainable=self.cfg.bias == "on")
        if self.cfg.bias == "frozen":  # stays exactly 0: adding it would be a pass over B-sized tensors for nothing
            self.frozen_zero.add(name)  # (the reference forward adds it anyway, whatever its value)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # type: ignore[override]
        """Load weights; a frozen bias loaded with non-zero values is added by the fast path too (it skips only
        those that are exactly zero), so training and hooked evaluation never disagree."""
        out = super().load_state_dict(state_dict, strict=strict, assign=assign)
        frozen = [n for n, p in self.P.items() if n.split(".")[-1].startswith("b_") and not p.requires_grad]
        self.frozen_zero = {n for n in frozen if not bool(self.P[n].detach().any())}
        return out

    @property
    def roles(self) -> ModelRoles:
        L = range(self.cfg.n_layers)
        mlps = tuple(f"blocks.{l}.mlp.W_{io}" for l in L for io in ("in", "out"))
        return ModelRoles(embed="W_E", unembed="W_U", unembed_in="hook_unembed_in", layers=("W_E", *mlps, "W_U"),
                          attention=tuple(f"blocks.{l}.attn" for l in L),
                          hidden=tuple(f"blocks.{l}.mlp.hook_post" for l in L))

    # -- pieces ---------------------------------------------------------------------------------------------
    def _b(self, name: str, like: Tensor) -> Tensor | float:
        """Bias broadcast against ``like`` [M, ..., n], or 0 when the model has none or it is frozen at zero."""
        if name not in self.P or name in self.frozen_zero:
            return 0.0
        bias = self.P[name]
        return bias.view(bias.shape[0], *([1] * (like.dim() - 2)), bias.shape[-1])

    def _ln(self, name: str, x: Tensor) -> Tensor:
        if not self.cfg.layernorm:
            return x
        w, b = self.P[f"{name}.w"], self.P[f"{name}.b"]
        if self.M == 1:  # one fused kernel (about 2x faster than normalise-then-affine)
            return F.layer_norm(x, x.shape[-1:], w[0], b[0])
        return F.layer_norm(x, x.shape[-1:]) * self._b(f"{name}.w", x) + self._b(f"{name}.b", x)

    def _linear(self, x: Tensor, W: str, bias: str) -> Tensor:
        """x [M, ..., a] @ P[W] [M, a, k] (+ bias [M, k], fused into the matmul when present)."""
        b = self._b(bias, x)
        if isinstance(b, float):
            return bmm(x, self.P[W])
        shape = x.shape
        out = torch.baddbmm(self.P[bias][:, None], x.reshape(shape[0], -1, shape[-1]), self.P[W])
        return out.view(*shape[:-1], out.shape[-1])

    def _proj(self, x: Tensor, l: int, w: str) -> Tensor:
        return self._linear(x, f"blocks.{l}.attn.W_{w}", f"blocks.{l}.attn.b_{w}")

    def _attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """q [M,B,Sq,d] (the last Sq positions), k/v [M,B,S,d] -> z [M,B,Sq,d] (pattern [M,B,H,Sq,S] inside)."""
        M, B, Sq, d = q.shape
        S, H, dh = k.shape[2], self.cfg.n_heads, self.dh
        qh = q.view(M, B, Sq, H, dh).transpose(2, 3)  # [M,B,H,Sq,dh]
        kh = k.view(M, B, S, H, dh).transpose(2, 3)
        vh = v.view(M, B, S, H, dh).transpose(2, 3)
        small = S <= 8  # a few positions: broadcast products beat B·H tiny matmuls on a CPU
        if small:
            scores = (qh.unsqueeze(-2) * kh.unsqueeze(-3)).sum(-1) / dh**0.5  # [M,B,H,Sq,S]
        else:
            scores = qh @ kh.transpose(-1, -2) / dh**0.5
        if self.cfg.causal and Sq > 1:  # query i sits at position S-Sq+i; a lone readout query sees everything
            mask = torch.ones(Sq, S, dtype=torch.bool, device=q.device).triu(1 + S - Sq)
            scores = scores.masked_fill(mask, float("-inf"))
        pattern = scores.softmax(-1)
        z = (pattern.unsqueeze(-1) * vh.unsqueeze(-3)).sum(-2) if small else pattern @ vh  # [M,B,H,Sq,dh]
        return z.transpose(2, 3).reshape(M, B, Sq, d)

    def _mlp(self, x: Tensor, l: int) -> Tensor:
        b = f"blocks.{l}.mlp"
        post = activation(self.cfg.act, self._linear(x, f"{b}.W_in", f"{b}.b_in"))
        return self._linear(post, f"{b}.W_out", f"{b}.b_out")

    # -- forward ----------------------------------------------------------------------------------------------
    def reference_forward(self, x: Tensor, hook: HookPoints) -> Tensor:
        return transformer_reference.reference_forward(self, x, hook)

    def fast_forward(self, x: Tensor) -> Tensor:
        """x: int64 [M|1, B, S] -> logits [M, B, C] at the last position (no hooks)."""
        P, L, V, S, M = self.P, self.cfg.n_layers, self.V, self.S, self.M
        # Layer 0 sees only (token, position) pairs: its residual stream, LayerNorm and Q/K/V are built on the
        # S·V table of pairs and gathered per example.
        resid_tab = (P["W_E"][:, None] + P["W_pos"][:, :, None]).reshape(M, S * V, -1)  # [M, S*V, d]
        idx = x + torch.arange(S, device=x.device) * V  # [M|1, B, S]
        q_tab, k_tab, v_tab = (self._proj(self._ln("blocks.0.ln1", resid_tab), 0, w) for w in "QKV")
        # Under a causal mask the first n positions (here: those with at most one operand among them, e.g.
        # [a, op] of [a, op, b, =]) depend on one token only, in every layer: run them on a V-row table and
        # gather, instead of per example. Only multi-layer models gain.
        n = self.n_prefix if (L > 1 and self.cfg.causal) else 0
        if n and not (self.prefix_verified and x.is_cuda) and not self._prefix_is_const(x, n):
            n = 0  # inputs vary where the task promised constants: take the general path
        if n:
            xt, sel = self._prefix_inputs(x, n)  # [1, R, n] table inputs; [M|1, B] row of each example
            idx_t = xt + torch.arange(n, device=x.device) * V
            resid_t = gather_rows(resid_tab, idx_t)  # [M, R, n, d]
        resid = gather_rows(resid_tab, idx[..., n:]) if L > 1 else None  # [M, B, S-n, d]
        for l in range(L):
            last = l == L - 1
            if l == 0:
                k, v = gather_rows(k_tab, idx[..., n:]), gather_rows(v_tab, idx[..., n:])
                q = gather_rows(q_tab, idx[..., -1:] if last else idx[..., n:])
                resid_q = gather_rows(resid_tab, idx[..., -1:]) if last else resid
                if n:
                    q_t, k_t, v_t = (gather_rows(t, idx_t) for t in (q_tab, k_tab, v_tab))
            else:
                assert resid is not None
                h = self._ln(f"blocks.{l}.ln1", resid)
                k, v = self._proj(h, l, "K"), self._proj(h, l, "V")
                q = self._proj(h[:, :, -1:] if last else h, l, "Q")
                resid_q = resid[:, :, -1:] if last else resid
                if n:
                    h_t = self._ln(f"blocks.{l}.ln1", resid_t)
                    q_t, k_t, v_t = (self._proj(h_t, l, w) for w in "QKV")
            if n:  # prefix keys/values of each example, gathered from the table
                k = torch.cat([self._select(k_t, sel), k], 2)
                v = torch.cat([self._select(v_t, sel), v], 2)
            z = self._attend(q, k, v)
            attn_out = self._linear(z, f"blocks.{l}.attn.W_O", f"blocks.{l}.attn.b_O")
            resid_mid = resid_q + attn_out
            resid = resid_mid + self._mlp(self._ln(f"blocks.{l}.ln2", resid_mid), l)
            if n and not last:
                z_t = self._attend(q_t, k_t, v_t)
                resid_t = resid_t + self._linear(z_t, f"blocks.{l}.attn.W_O", f"blocks.{l}.attn.b_O")
                resid_t = resid_t + self._mlp(self._ln(f"blocks.{l}.ln2", resid_t), l)
        assert resid is not None
        final = self._ln("ln_final", resid[:, :, -1])  # [M, B, d]
        return self._linear(final, "W_U", "b_U")

    def verify_inputs(self, x: Tensor) -> None:
        """Check once that the task's inputs ``x`` (all N examples) hold constant tokens where the prefix table
        expects them; then CUDA forwards on subsets of them skip the per-forward check, a host sync (CPU forwards
        keep it: there it costs nothing)."""
        n = self.n_prefix if (self.cfg.n_layers > 1 and self.cfg.causal) else 0
        self.prefix_verified = bool(n) and self._prefix_is_const(x, n)

    def _prefix_is_const(self, x: Tensor, n: int) -> bool:
        const = [p for p in range(n) if p not in self.input_positions]
        flat = x.reshape(-1, x.shape[-1])
        return all(bool((flat[:, p] == flat[0, p]).all()) for p in const)

    def _prefix_inputs(self, x: Tensor, n: int) -> tuple[Tensor, Tensor]:
        """Table inputs for the first n positions: one row per value of the operand among them (constant tokens
        copied from the first example), and each example's row index."""
        const = x.reshape(-1, x.shape[-1])[0, :n]
        var = [p for p in self.input_positions if p < n]
        if not var:
            return const.view(1, 1, n), torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
        rows = const.repeat(self.V, 1)
        rows[:, var[0]] = torch.arange(self.V, device=x.device)
        return rows[None], x[..., var[0]]

    @staticmethod
    def _select(t: Tensor, sel: Tensor) -> Tensor:
        """Rows of a prefix table ``t [M, R, n, d]`` for each example: ``sel [M|1, B]`` -> ``[M, B, n, d]``."""
        M, R, n, d = t.shape
        return gather_rows(t.reshape(M, R, n * d), sel).view(M, -1, n, d)
