"""PNG figures of the mechanism analyses: spectra in both bases, neuron heat maps reordered by the discrete log,
the key-frequency timeline and the restricted / excluded loss with T_mem and T_grok marked (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..store.atomic import write_atomic


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path) -> Path:
    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    _plt().close(fig)
    return out


def spectrum_figure(res: dict[str, Any], out: Path, member: int = 0) -> Path:
    """Bars of the W_E per-frequency norms, one panel per basis, key frequencies highlighted."""
    plt = _plt()
    bases = res["bases"]
    fig, axes = plt.subplots(1, len(bases), figsize=(6 * len(bases), 3.6), squeeze=False)
    for ax, (kind, b) in zip(axes[0], bases.items(), strict=True):
        e = b["members"][member]["embed"]
        x = np.arange(1, len(e["norms"]) + 1)
        colors = ["tab:red" if k in e["key_frequencies"] else "tab:gray" for k in x]
        ax.bar(x, e["norms"], color=colors)
        ax.axhline(e["threshold"], color="k", ls=":", lw=0.8)
        ax.set_title(f"{kind}: Gini {e['gini']:.3f}, IPR {e['ipr']:.1f}, keys {e['key_frequencies']}", fontsize=9)
        ax.set_xlabel("frequency k")
        ax.set_ylabel("‖W_E‖ at k (sin, cos combined)")
    fig.suptitle(f"{res['op']} mod {res['p']}, step {res.get('step')}", fontsize=10)
    return _save(fig, out)


def neuron_figure(tables: np.ndarray, titles: list[str], out: Path) -> Path:
    """Heat maps of a few neurons' activation tables ``tables [k, n, n]`` (already reordered)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(tables), figsize=(3 * len(tables), 3), squeeze=False)
    for ax, t, title in zip(axes[0], tables, titles, strict=True):
        ax.imshow(t, cmap="RdBu_r", aspect="equal")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return _save(fig, out)


def progress_figure(res: dict[str, Any], out: Path) -> Path:
    """Restricted / excluded / full losses against step (log y), key-frequency norms on the right; events marked."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    members = sorted({r["member"] for r in res["rows"]})
    for m in members:
        rows = [r for r in res["rows"] if r["member"] == m]
        s = [r["step"] for r in rows]
        for key, style in (("full_loss", "-"), ("train_loss", "--"), ("restricted_loss", "-."), ("excluded_loss", ":")):
            ax.plot(s, [max(r[key], 1e-12) for r in rows], style, label=f"m{m} {key}" if len(members) > 1 else key)
        tl = [t for t in res["timeline"] if t["member"] == m]
        keys = res["key_frequencies"][m]
        for j, k in enumerate(keys):
            ax2.plot([t["step"] for t in tl], [t["key_norms"][j] for t in tl], label=f"k = {k}")
        ev = next((e for e in res["members"] if e["member"] == m), {})
        for key, style in (("t_mem", "--"), ("t_grok", "-")):
            if ev.get(key):
                for a in (ax, ax2):
                    a.axvline(ev[key], color="k", ls=style, lw=0.6, alpha=0.6)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.legend(fontsize=7)
    ax.set_title(f"progress measures ({res['basis']} basis)", fontsize=9)
    ax2.set_xlabel("step")
    ax2.set_ylabel("‖W_E‖ at key frequency")
    ax2.legend(fontsize=7)
    ax2.set_title("key-frequency timeline", fontsize=9)
    return _save(fig, out)
