"""The figure of ``reproduce arrhenius``: Arrhenius plot (log median τ vs 1/T, with the analytic slope ΔE) and the
survival curves S(t) per temperature against t / median τ (exponential waiting times collapse on exp(-ln2·u))."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .fits import survival


def arrhenius_figure(doc: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..experiments.bootstrap import median
    from .study import as_array

    dE = doc["barrier"]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for key, label, marker in (("arrhenius", "net, width 1", "o"), ("wide", "net, wide", "s"),
                               ("reference", "1-D mode model", "^")):
        inv = np.array([1 / a["T"] for a in doc[key]])
        tau = np.array([median(as_array(a["times"])) for a in doc[key]])
        ok = np.isfinite(tau)
        ax[0].semilogy(inv[ok], tau[ok], marker, label=label)
    inv = np.array([1 / a["T"] for a in doc["arrhenius"]])
    tau = np.array([median(as_array(a["times"])) for a in doc["arrhenius"]])
    ok = np.isfinite(tau)
    if ok.any():
        i0 = int(np.flatnonzero(ok)[0])
        ax[0].semilogy(inv, tau[i0] * np.exp(dE * (inv - inv[i0])), "k--", lw=1, label=f"slope ΔE = {dE:.4g}")
    ax[0].set(xlabel="1 / T", ylabel="median escape step", title="Arrhenius plot [reconstructed protocol]")
    ax[0].legend(fontsize=8)
    u = np.linspace(0, 5, 200)
    for a in doc["arrhenius"]:
        t = as_array(a["times"])
        tau = median(t)
        if np.isfinite(tau) and tau > 0:
            ax[1].semilogy(u, np.maximum(survival(t / tau, u), 1e-3), label=f"ΔE/T = {a['x']:g}")
    ax[1].semilogy(u, np.exp(-np.log(2) * u), "k--", lw=1, label="exponential")
    ax[1].set(xlabel="t / median τ", ylabel="S(t) (not yet escaped)", title="survival, rescaled (width 1)",
              ylim=(1e-2, 1.05))
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
