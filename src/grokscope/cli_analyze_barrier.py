"""``grokscope analyze barrier --depth 3 --s 1.0 --gamma 0.2 [--json] [--plot FILE]``: the analytic mode model of
paper 3 [reconstructed, papers/01 §3.3]: ℓ(b), its minima, the spinodal γ_sp, the first-order point γ_c, the
barrier ΔE(γ) (polynomial roots, checked against a brute-force grid) and the hysteresis loop (γ swept up and down).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from .errors import UserError


def barrier_report(depth: int, s: float, gamma: float, n_gamma: int = 41) -> dict[str, Any]:
    """Everything the command prints: the landscape at γ, ΔE over a γ grid, and the hysteresis loop."""
    import numpy as np

    from .escape import RECONSTRUCTED, modes

    try:
        land = modes.landscape(depth, s, gamma)
    except ValueError as e:
        raise UserError(str(e)) from None
    hi = max(1.2 * land.gamma_sp, 1.2 * gamma, 1e-3)
    gammas = np.linspace(hi / n_gamma, hi, n_gamma)
    curve = [modes.barrier(depth, s, float(g)) for g in gammas]
    loop = modes.hysteresis(depth, s, gammas)
    up_off = [g for g, a in zip(loop["gamma_up"], loop["amplitude_up"]) if a < 1e-6]
    down_on = [g for g, a in zip(loop["gamma_down"], loop["amplitude_down"]) if a > 1e-6]
    return {
        "depth": depth, "hidden_layers": depth - 1, "s": s, "gamma": gamma,
        "loss": f"l(b) = b^{2 * depth} - 2*{s:g}*b^{depth} + {gamma:g}*{depth}*b^2",
        **{k: v for k, v in land.as_dict().items() if k not in ("depth", "hidden_layers", "s", "gamma")},
        "barrier_grid": modes.barrier_grid(depth, s, gamma),
        "gamma_unit": "network gamma = optim.wd / 2 (SGD with L2 in the gradient, grokscope MSE)",
        "barrier_curve": {"gamma": gammas.tolist(), "barrier": curve},
        "hysteresis": {**loop, "up_sweep_leaves_on_at": up_off[0] if up_off else None,
                       "down_sweep_returns_on_at": down_on[0] if down_on else None},
        "reconstructed": RECONSTRUCTED,
    }


def plot_report(rep: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from .escape import modes

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    L, s, g = rep["depth"], rep["s"], rep["gamma"]
    b = np.linspace(-0.05, 1.3 * (rep["b_on"] or 1.0), 400)
    ax[0].plot(b, modes.loss(b, L, s, g))
    ax[0].axhline(0, color="0.7", lw=0.5)
    ax[0].set(xlabel="b", ylabel="ℓ(b)", title=f"L={L}, s={s:g}, γ={g:g}: ΔE={rep['barrier'] or 0:.4g}")
    c = rep["barrier_curve"]
    ax[1].plot(c["gamma"], [np.nan if v is None else v for v in c["barrier"]])
    ax[1].axvline(rep["gamma_c"], ls="--", color="C3", label="γ_c")
    ax[1].axvline(rep["gamma_sp"], ls=":", color="C2", label="γ_sp")
    ax[1].set(xlabel="γ", ylabel="ΔE(γ)", title="barrier from the off state")
    ax[1].legend()
    h = rep["hysteresis"]
    ax[2].plot(h["gamma_up"], h["amplitude_up"], "-o", ms=3, label="γ up")
    ax[2].plot(h["gamma_down"], h["amplitude_down"], "-s", ms=3, label="γ down")
    ax[2].set(xlabel="γ", ylabel="mode amplitude b^L", title="hysteresis (quasi-static)")
    ax[2].legend()
    fig.suptitle("mode model [reconstructed: papers/01 §3.3]", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def register(analyze_app: typer.Typer) -> None:
    @analyze_app.command("barrier")
    def barrier_cmd(
        depth: int = typer.Option(3, "--depth", help="L: number of weight matrices (D = L - 1 hidden layers)"),
        s: float = typer.Option(1.0, "--s", help="the mode's singular value s > 0"),
        gamma: float = typer.Option(0.2, "--gamma", help="L2 strength γ >= 0 (the network's optim.wd / 2)"),
        plot: Optional[Path] = typer.Option(None, "--plot", help="write ℓ(b), ΔE(γ) and the hysteresis loop to this PNG"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """The mode model ℓ(b) = b^{2L} - 2 s b^L + γ L b²: minima, spinodal, γ_c, barrier ΔE(γ), hysteresis."""
        from .cli_json import print_json

        rep = barrier_report(depth, s, gamma)
        if plot is not None:
            rep["plot"] = str(plot_report(rep, plot))
        if as_json:
            print_json(rep)
            return
        fmt = lambda v: "-" if v is None else f"{v:.6g}"  # noqa: E731
        lines = [rep["loss"], f"phase: {rep['phase']}",
                 f"gamma_sp = {fmt(rep['gamma_sp'])}   gamma_c = {fmt(rep['gamma_c'])}",
                 f"off minimum b = 0 (curvature {fmt(rep['curvature_off'])});  on minimum b* = {fmt(rep['b_on'])} "
                 f"(l = {fmt(rep['loss_on'])}, amplitude b*^L = {fmt(rep['amplitude_on'])})",
                 f"barrier top b = {fmt(rep['b_top'])};  barrier dE = {fmt(rep['barrier'])} (grid check "
                 f"{fmt(rep['barrier_grid'])});  back barrier {fmt(rep['barrier_back'])}",
                 f"hysteresis: gamma up leaves the on state at {fmt(rep['hysteresis']['up_sweep_leaves_on_at'])}; "
                 f"gamma down returns at {fmt(rep['hysteresis']['down_sweep_returns_on_at'])} (None: never, b = 0 "
                 "stays locally stable)",
                 rep["gamma_unit"], "reconstructed: " + rep["reconstructed"]]
        if plot is not None:
            lines.append(f"plot: {rep['plot']}")
        sys.stdout.write("\n".join(lines) + "\n")
