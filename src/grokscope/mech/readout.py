"""Read a model's embedding, unembedding, neuron tables, attention and logits over a :class:`Domain` grid.

The grid is every example whose two operands lie in ``domain.values``, ordered so that example (i, j) has
a = values[i], b = values[j]; tables come back as ``[M, n, n, ...]``. Shapes follow the model conventions
(member axis M first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import UserError
from .domain import Domain


@dataclass(frozen=True)
class Grid:
    x: Tensor  # int64 [1, n², S] inputs in grid order
    y: Tensor  # int64 [n²] labels
    rows: np.ndarray  # int64 [n²] index of each grid example in the task's N examples


def grid(data: object, domain: Domain) -> Grid:
    """The n × n operand grid of ``domain`` inside the task's examples (``TaskData``)."""
    x = np.asarray(data.x)  # type: ignore[attr-defined]
    if x.ndim != 2:
        raise UserError("the Fourier analyses need one shared example set (per-member samples are not supported)")
    pa, pb = data.input_positions[:2]  # type: ignore[attr-defined]
    pos = np.full(int(x.max()) + 2, -1, dtype=np.int64)
    pos[domain.values] = np.arange(domain.n)
    ia, ib = pos[x[:, pa]], pos[x[:, pb]]
    keep = np.nonzero((ia >= 0) & (ib >= 0))[0]
    cell = ia[keep] * domain.n + ib[keep]
    if len(np.unique(cell)) != domain.n ** 2:
        raise UserError(f"the task's examples do not cover the {domain.n}×{domain.n} operand grid")
    rows = keep[np.argsort(cell)]
    return Grid(torch.as_tensor(x[rows])[None], torch.as_tensor(np.asarray(data.y)[rows]), rows)  # type: ignore[attr-defined]


def embedding(model: object, domain: Domain) -> Tensor:
    """Embedding rows of the operand tokens ``[M, n, d]`` (one-hot MLP: the first operand slot of W_in)."""
    W = model.P[model.roles.embed].detach().double()  # type: ignore[attr-defined]
    return W[:, torch.as_tensor(domain.values)]


def unembedding(model: object, domain: Domain) -> Tensor:
    """Unembedding columns of the classes in ``domain.values`` as rows ``[M, n, d]``."""
    W = model.P[model.roles.unembed].detach().double()  # type: ignore[attr-defined]  # [M, d, C]
    return W[:, :, torch.as_tensor(domain.values)].transpose(1, 2)


def _forward(model: object, g: Grid, keep: list[str], chunk: int = 4096) -> tuple[Tensor, dict[str, Tensor]]:
    logits, cache = [], {name: [] for name in keep}
    with torch.no_grad():
        for s in range(0, g.x.shape[1], chunk):
            c: dict = {}
            logits.append(model(g.x[:, s:s + chunk], cache=c, keep=keep) if keep  # type: ignore[operator]
                          else model(g.x[:, s:s + chunk]))  # type: ignore[operator]
            for name in keep:
                cache[name].append(c[name])
    return torch.cat(logits, 1), {k: torch.cat(v, 1) for k, v in cache.items()}


def logits_table(model: object, g: Grid, n: int) -> Tensor:
    """Logits over the grid ``[M, n, n, C]`` (fast path, no hooks)."""
    z, _ = _forward(model, g, [])
    return z.double().reshape(z.shape[0], n, n, z.shape[-1])


def neuron_table(model: object, g: Grid, n: int) -> Tensor:
    """Hidden activations of the (last) MLP at the readout position ``[M, n, n, N]``."""
    hidden = model.roles.hidden  # type: ignore[attr-defined]
    if not hidden:
        raise UserError("this model declares no hidden (MLP) activations")
    _, c = _forward(model, g, [hidden[-1]])
    h = c[hidden[-1]]
    if h.dim() == 4:  # transformer: [M, B, S, N], read at the last position (the "=" token)
        h = h[:, :, -1]
    return h.double().reshape(h.shape[0], n, n, h.shape[-1])


def attention_dependence(model: object, g: Grid, positions: tuple[int, ...]) -> Tensor | None:
    """Std over inputs of the attention from the readout query to the operand positions, per head:
    ``[M, H, 2]`` (to a, to b), for the first attention layer; None for models without attention."""
    attn = model.roles.attention  # type: ignore[attr-defined]
    if not attn:
        return None
    name = f"{attn[0]}.hook_pattern"
    _, c = _forward(model, g, [name])
    pat = c[name][..., -1, :].double()  # [M, B, H, S] from the last query
    pa, pb = positions[:2]
    return torch.stack([pat[..., pa].std(1), pat[..., pb].std(1)], -1)
