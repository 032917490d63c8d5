"""``analyze fourier``: the spectra of W_E and W_U, the neurons and the attention of one checkpoint, in both bases.

:func:`fourier_analysis` returns a JSON-ready dict: per basis and member, the embedding and unembedding spectra
(per-frequency norms, Gini, IPR, effective dimension 1/IPR, key frequencies at ``factor`` × median, top-k share),
the neuron frequency fractions (clean-neuron fraction, mean max-fraction, the dominant frequency of each neuron),
W_E's effective rank, the attention input-dependence, and which basis is the sparse one (higher W_E Gini).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import readout, spectrum
from .domain import BASES, make_domain, natural_basis

TOP_K = 5  # the top-k energy share reported next to Gini and IPR


def spectrum_stats(norms: torch.Tensor, factor: float) -> dict[str, Any]:
    """Statistics of one spectrum ``norms [K]`` (frequency k at entry k−1)."""
    ip = float(spectrum.ipr(norms))
    keys = spectrum.key_frequencies(norms, factor)
    return {"norms": [round(float(v), 5) for v in norms], "gini": float(spectrum.gini(norms)), "ipr": ip,
            "effective_dim": 1.0 / ip, "key_frequencies": keys, "threshold": float(factor * norms.median()),
            f"top{TOP_K}_share": float(spectrum.top_share(norms, TOP_K))}


def neuron_stats(frac: torch.Tensor, threshold: float = spectrum.CLEAN) -> dict[str, Any]:
    """``frac [N, K]`` -> clean fraction, count, mean max-fraction, the dominant frequency per neuron."""
    mx = frac.max(-1)
    return {"clean_fraction": float((mx.values > threshold).double().mean()),
            "clean": int((mx.values > threshold).sum()), "n_neurons": int(frac.shape[0]),
            "mean_max_fraction": float(mx.values.mean()),
            "dominant": [int(k) + 1 for k in mx.indices]}


def basis_analysis(model: Any, data: Any, task_cfg: Any, kind: str, factor: float,
                   neurons: bool = True, tables: dict | None = None) -> dict[str, Any]:
    """One basis: per member, embedding/unembedding spectra, W_E effective rank and (optionally) neuron fractions.

    ``tables`` caches the neuron tables by domain points (both bases share them for zero-excluded mul)."""
    dom = make_domain(task_cfg, kind)
    B = torch.as_tensor(dom.basis)
    W_E, W_U = readout.embedding(model, dom), readout.unembedding(model, dom)
    e_norms, u_norms = spectrum.frequency_norms(B, W_E), spectrum.frequency_norms(B, W_U)
    fracs = None
    if neurons and model.roles.hidden:
        key = tuple(dom.values.tolist())
        tables = {} if tables is None else tables
        if key not in tables:
            tables[key] = readout.neuron_table(model, readout.grid(data, dom), dom.n)
        fracs = spectrum.neuron_fractions(B, tables[key])  # [M, N, K]
    members = []
    for m in range(W_E.shape[0]):
        row = {"member": m, "embed": spectrum_stats(e_norms[m], factor), "unembed": spectrum_stats(u_norms[m], factor),
               "embed_effective_rank": float(spectrum.effective_rank(W_E[m])), "n_points": dom.n}
        if fracs is not None:
            row["neurons"] = neuron_stats(fracs[m])
        members.append(row)
    return {"basis": kind, "period": dom.period, "members": members}


def fourier_analysis(model: Any, data: Any, task_cfg: Any, basis: str = "auto",
                     factor: float = spectrum.KEY_FACTOR) -> dict[str, Any]:
    """Both bases (``basis="auto"``; the character basis only for a prime p) or one; plus attention and verdict."""
    natural = natural_basis(task_cfg)
    from .numtheory import is_prime

    kinds = [b for b in BASES if b == "additive" or is_prime(task_cfg.p)] if basis == "auto" else [basis]
    out: dict[str, Any] = {"op": task_cfg.op, "p": task_cfg.p, "natural_basis": natural, "factor": factor,
                           "bases": {}}
    tables: dict = {}
    for k in kinds:
        out["bases"][k] = basis_analysis(model, data, task_cfg, k, factor, tables=tables)
    dom = make_domain(task_cfg, kinds[0])
    att = readout.attention_dependence(model, readout.grid(data, dom), tuple(data.input_positions))
    if att is not None:
        out["attention_std"] = [[[round(float(v), 4) for v in h] for h in m] for m in att]  # [M][H][to a, to b]
    out["sparse_basis"] = [max(kinds, key=lambda k: out["bases"][k]["members"][m]["embed"]["gini"])
                           for m in range(len(out["bases"][kinds[0]]["members"]))]
    return out


# A basis is called sparse only above this W_E Gini and with a key frequency: at init both bases read ≈ 0.03, a
# grokked p = 113 model ≈ 0.4-0.6 in its natural basis (paper 2 §2.2: 0.58), so the larger of two dense spectra is
# not reported as "the sparse basis".
SPARSE_GINI = 0.2


def summary_lines(res: dict[str, Any]) -> list[str]:
    """Human-readable lines: one per basis and member, then the sparse basis."""
    lines = []
    for kind, b in res["bases"].items():
        for row in b["members"]:
            e = row["embed"]
            s = (f"member {row['member']} {kind:>14}: W_E Gini {e['gini']:.4f}  IPR {e['ipr']:.2f}  "
                 f"key freqs {e['key_frequencies'] or 'none'} (> {e['threshold']:.3g})  "
                 f"W_U Gini {row['unembed']['gini']:.4f}  eff. rank {row['embed_effective_rank']:.1f}")
            if "neurons" in row:
                nr = row["neurons"]
                s += f"  clean neurons {nr['clean']}/{nr['n_neurons']} (mean max-fraction {nr['mean_max_fraction']:.3f})"
            lines.append(s)
    if "attention_std" in res:
        for m, heads in enumerate(res["attention_std"]):
            lines.append(f"member {m} attention std from '=' to a per head: "
                         + ", ".join(f"{h[0]:.2f}" for h in heads))
    for m, k in enumerate(res["sparse_basis"]):
        e = res["bases"][k]["members"][m]["embed"]
        if e["gini"] < SPARSE_GINI or not e["key_frequencies"]:
            lines.append(f"member {m}: neither basis is sparse (best: {k}, W_E Gini {e['gini']:.3f} < {SPARSE_GINI} "
                         f"or no key frequency); no Fourier structure learned yet")
            continue
        lines.append(f"member {m}: the sparse basis is {k} (expected for {res['op']}: {res['natural_basis']})")
    return lines


def reorder_by_dlog(H: np.ndarray, p: int) -> np.ndarray:
    """A table over a, b = 1 … p−1 reordered by discrete log on both axes (paper 2's heat maps)."""
    from .numtheory import log_order_perm

    perm = log_order_perm(p)
    return H[perm][:, perm]
