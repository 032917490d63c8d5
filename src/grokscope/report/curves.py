"""curves.png: accuracy and loss against log steps, weight norm on a twin axis, T_mem/T_grok marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .figure_io import save_figure
from .fmt import fmt_steps


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
    title = f"{cfg.name}: {cfg.task.name} / {cfg.model.name}; vertical lines: T_mem (dashed), T_grok (solid)"
    cells = cell_medians(getattr(run, "members", None), events)
    if cells:
        title += "\n" + "; ".join(cells)
    fig.suptitle(title, fontsize=9 if len(cells) <= 1 else 8)
    if df.member.nunique() > 1:
        ax_acc.legend(fontsize=7, loc="center left")
    fig.tight_layout()
    out = Path(out)
    inside_run = hasattr(run, "path") and Path(run.path).resolve() in out.resolve().parents
    save_figure(fig, out, dpi=110, checksum=inside_run)  # a run's own files carry checksums, a user's file not
    plt.close(fig)
    return out


CELL_KEYS_SKIPPED = ("member", "seed", "init_seed", "split_seed")
MAX_TITLE_CELLS = 6


def cell_medians(members: Any, events: dict[int, dict]) -> list[str]:
    """Median T_grok per cell for a title: members with the same per-member values (``members.vary``) pooled, never
    cells with different values (censored counted as +inf: "censored" when half or more are)."""
    if not events:
        return []
    from .cells import cens_median

    rows = members if isinstance(members, list) else [{"member": m} for m in events]
    cells: dict[str, list] = {}
    for row in rows:
        key = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in row.items() if k not in CELL_KEYS_SKIPPED)
        ev = events.get(int(row["member"]), {})
        cells.setdefault(key, []).append(ev.get("t_grok"))  # None: censored
    out = []
    for key, ts in list(cells.items())[:MAX_TITLE_CELLS]:
        med = fmt_steps(cens_median(ts))
        out.append(f"{key}: median T_grok {med} ({sum(t is not None for t in ts)}/{len(ts)} grokked)" if key else
                   f"median T_grok {med} ({sum(t is not None for t in ts)}/{len(ts)} grokked)")
    if len(cells) > MAX_TITLE_CELLS:
        out.append(f"... {len(cells) - MAX_TITLE_CELLS} more cells")
    return out
