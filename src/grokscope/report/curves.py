"""curves.png: accuracy and loss against log steps, weight norm on a twin axis, T_mem/T_grok marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..store.atomic import write_atomic


def plot_run(run: Any, out: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = run.metrics(wide=True)
    events = {e["member"]: e for e in run.events}
    cfg = run.config
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ax_norm = ax_acc.twinx()
    for m, d in df.groupby("member"):
        d = d[d.step > 0].sort_values("step")
        c = colors[int(m) % len(colors)]
        label = f"m{m}" if df.member.nunique() > 1 else None
        if "train/acc" in d:
            ax_acc.plot(d.step, d["train/acc"], color=c, ls="--", lw=1, alpha=0.8)
            ax_acc.plot(d.step, d["test/acc"], color=c, lw=1.5, label=label)
            ax_loss.plot(d.step, d["train/loss"], color=c, ls="--", lw=1, alpha=0.8)
            ax_loss.plot(d.step, d["test/loss"], color=c, lw=1.5)
        if "norm/total" in d:
            ax_norm.plot(d.step, d["norm/total"], color=c, ls=":", lw=1)
        ev = events.get(int(m), {})
        for key, style in (("t_mem", "--"), ("t_grok", "-")):
            if ev.get(key):
                for ax in (ax_acc, ax_loss):
                    ax.axvline(ev[key], color=c, ls=style, lw=0.6, alpha=0.5)
    for ax in (ax_acc, ax_loss):
        ax.set_xscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    ax_loss.set_yscale("log")
    ax_acc.set_ylabel("accuracy (dashed: train, solid: test)")
    ax_loss.set_ylabel("loss (dashed: train, solid: test)")
    ax_norm.set_ylabel("weight norm ||W|| (dotted)")
    ax_acc.set_ylim(-0.02, 1.02)
    grokked = [e["t_grok"] for e in events.values() if e.get("t_grok")]
    title = f"{cfg.name}: {cfg.task.name} / {cfg.model.name}; vertical lines: T_mem (dashed), T_grok (solid)"
    if grokked:
        title += f"; median T_grok {sorted(grokked)[len(grokked) // 2]}"
    fig.suptitle(title, fontsize=10)
    if df.member.nunique() > 1:
        ax_acc.legend(fontsize=7, loc="center left")
    fig.tight_layout()
    out = Path(out)
    write_atomic(out, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)
    return out
