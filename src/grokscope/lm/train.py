"""LM training on a corpus's token stream, in the run store, with log-spaced checkpoints and bit-identical resume.

Data order (logged in ``config.json``): the stream's training part is ``tokens[:n_train]`` (``train_tokens`` caps it:
a small subset repeated for many epochs, ``reproduce lar-overfit``); windows of ``seq_len + 1`` tokens start every
``seq_len`` tokens; step t's batch row b is window ``(t·B + b) mod n_windows``, so training reads the stream front to
back and wraps (one epoch = n_windows / B steps). The last ``val_tokens`` of the corpus are never trained on: the
validation loss is measured on them. Tokens consumed by step t (inclusive): windows 0 .. (t+1)·B − 1 (mod n_windows),
which is what the exposure index counts (``lm/exposure.py``).

Run directory (``store/run_dir.py``): config.json, meta.json (status, steps done), members.json, tokenizer.json,
metrics/part-*.parquet then metrics.parquet (``train/loss`` mean since the previous eval, ``val/loss``,
``lar/unembed`` and ``lar/k_hat`` on the training batch's final hidden states: no held-out data), ``ckpt/step_N.pt``
weights on a log-spaced grid, state.pt (params, AdamW state, step, metric parts written) every ``save_every`` steps.
Resume loads state.pt, drops metric parts written after it and continues: the finished run equals an uninterrupted
one bit for bit (one thread, CPU, deterministic kernels; tested after kill -9).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UserError
from ..probes.lar import effective_dim, lar
from ..store import checkpoint
from ..store.run_dir import RunDir, open_run
from .corpus import Corpus, load_corpus
from .model import LMModelConfig, lm_forward, make_lm, next_token_loss, param_count


class LMTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("lm", description="run name prefix (the run id adds a hash of this config and the corpus)")
    model: LMModelConfig = Field(default_factory=LMModelConfig, description="transformer size")
    steps: int = Field(2000, ge=1, description="optimizer steps")
    batch: int = Field(32, ge=1, description="windows per step")
    lr: float = Field(1e-3, gt=0, description="AdamW peak learning rate (linear warmup, then constant)")
    warmup: int = Field(100, ge=0, description="warmup steps")
    wd: float = Field(0.01, ge=0, description="AdamW decoupled weight decay")
    seeds: list[int] = Field(default_factory=lambda: [0], description="one member per seed (packed on axis M)")
    train_tokens: int | None = Field(None, ge=100, description="train on the first N tokens only, repeated "
                                     "(None: the whole training part, wrapping after one pass)")
    val_tokens: int = Field(20_000, ge=0, description="tail of the corpus held out for the validation loss")
    eval_points: int = Field(40, ge=2, description="eval steps on a geometric grid")
    checkpoints: int = Field(16, ge=1, description="weight checkpoints on a log-spaced grid (plus the last step)")
    save_every: int = Field(200, ge=1, description="resume state written every N steps")
    threads: int = Field(1, ge=1, description="torch threads (1 on a shared CPU)")


def geometric_steps(last: int, n: int) -> list[int]:
    """Distinct integer steps 1 .. last, log-spaced (dense early), always holding 1 and ``last``."""
    grid = np.unique(np.round(np.geomspace(1, last, n)).astype(int))
    return sorted({int(s) for s in grid} | {1, last})


def run_id(cfg: LMTrainConfig, corpus_sha: str) -> str:
    doc = json.dumps({"cfg": cfg.model_dump(exclude={"threads", "save_every", "name"}), "corpus": corpus_sha},
                     sort_keys=True)
    return f"{cfg.name}-{hashlib.sha256(doc.encode()).hexdigest()[:10]}"


class Stream:
    """The training windows and the validation windows of a corpus, in the logged order."""

    def __init__(self, corpus: Corpus, cfg: LMTrainConfig) -> None:
        toks = torch.from_numpy(corpus.tokens.astype(np.int64))
        S = cfg.model.seq_len
        n_train = toks.numel() - cfg.val_tokens
        if cfg.train_tokens is not None:
            n_train = min(n_train, cfg.train_tokens)
        self.n_windows = (n_train - 1) // S
        if self.n_windows < 1:
            raise UserError(f"corpus {corpus.path} is too short for seq_len {S} after holding out "
                            f"{cfg.val_tokens} validation tokens")
        self.S, self.B, self.toks = S, cfg.batch, toks
        self.n_train = n_train
        val = toks[toks.numel() - cfg.val_tokens:] if cfg.val_tokens else toks[:0]
        nv = max(0, (val.numel() - 1) // S)
        idx = torch.arange(nv)[:, None] * S + torch.arange(S + 1)
        self.val = val[idx] if nv else None  # [nv, S+1]

    def windows(self, step: int) -> torch.Tensor:
        """Window indices of step ``step`` (1-based): (t·B + b) mod n_windows for t = step − 1."""
        return (torch.arange(self.B) + (step - 1) * self.B) % self.n_windows

    def batch(self, step: int) -> torch.Tensor:
        w = self.windows(step)
        return self.toks[w[:, None] * self.S + torch.arange(self.S + 1)]  # [B, S+1]

    def tokens_consumed(self, step: int) -> int:
        """Stream positions read by the end of ``step``, counting repeats (for exposure: see lm/exposure.py)."""
        return step * self.B * self.S


def _optimizer(model, cfg: LMTrainConfig):
    """grokscope's functional AdamW (``train/optim.py``; torch.optim's order: decay, then Adam), decay on the weight
    matrices only. (torch.optim.AdamW would import torch._dynamo on first use: ~17 s on a loaded 2-core machine.)"""
    from ..config import OptimConfig
    from ..train.optim import Optimizer

    params = {n: p for n, p in model.P.items() if p.requires_grad}
    ocfg = OptimConfig(name="adamw", lr=cfg.lr, wd=cfg.wd, beta1=0.9, beta2=0.98)
    return Optimizer(ocfg, params, set(model.weight_names) & set(params))


def lr_at(cfg: LMTrainConfig, step: int) -> float:
    """Linear warmup to ``lr`` over ``warmup`` steps (step 1-based), then constant."""
    return cfg.lr * min(1.0, step / cfg.warmup) if cfg.warmup else cfg.lr


@torch.no_grad()
def val_loss(model, stream: Stream, max_windows: int = 256) -> torch.Tensor | None:
    if stream.val is None:
        return None
    v = stream.val[:max_windows]
    losses = [next_token_loss(lm_forward(model, c[None, :, :-1]), c[None, :, 1:]) * c.shape[0]
              for c in v.split(64)]
    return torch.stack(losses).sum(0) / v.shape[0]


def train(corpus_dir: str | Path, cfg: LMTrainConfig, out: str | Path,
          progress: Callable[[int, int], None] | None = None, stop_after: int | None = None) -> RunDir:
    """Train (or resume) the run of ``cfg`` on the corpus in ``out/<run-id>``; returns the run.

    ``stop_after``: return after that many steps of this call (tests of resume); the run stays resumable."""
    from ..store.atomic import write_json

    corpus = load_corpus(corpus_dir)
    torch.set_num_threads(cfg.threads)
    run = RunDir(Path(out) / run_id(cfg, corpus.manifest["sha256"]))
    fresh = not run.exists()
    if fresh:
        run.path.mkdir(parents=True, exist_ok=True)
    run.lock()
    try:
        if fresh:
            corpus.tokenizer.save(run.path / "tokenizer.json")
            write_json(run.path / "members.json", [{"member": m, "seed": s} for m, s in enumerate(cfg.seeds)])
            write_json(run.path / "meta.json", {"status": "running", "steps_done": 0, "threads": cfg.threads,
                                                "torch": torch.__version__})
            write_json(run.path / "config.json", {  # written last: its presence marks a run
                "kind": "lm", "name": cfg.name, "corpus": str(Path(corpus_dir).resolve()),
                "corpus_sha256": corpus.manifest["sha256"], "lm": cfg.model_dump(),
                "data_order": "step t (1-based), row b: window (t-1)*batch + b mod n_windows; window w = "
                              "tokens[w*seq_len : w*seq_len + seq_len + 1] of tokens[:n_train]"})
        elif run.read_json("meta.json").get("status") == "complete":
            return run
        _loop(run, corpus, cfg, progress, stop_after)
    finally:
        run.unlock()
    return run


def _loop(run: RunDir, corpus: Corpus, cfg: LMTrainConfig, progress, stop_after: int | None) -> None:
    stream = Stream(corpus, cfg)
    model = make_lm(cfg.model, len(corpus.tokenizer), M=len(cfg.seeds))
    model.init_members(cfg.seeds)
    opt = _optimizer(model, cfg)
    params = {n: p for n, p in model.P.items() if p.requires_grad}
    M = len(cfg.seeds)
    evals, ckpts = set(geometric_steps(cfg.steps, cfg.eval_points)), set(geometric_steps(cfg.steps, cfg.checkpoints))
    step, parts, loss_sum, loss_n = 0, 0, torch.zeros(len(cfg.seeds), dtype=torch.float64), 0
    run.remove_stale_temp_files()
    state = _load_state(run)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.t, opt.state = int(state["opt_t"]), state["opt"]
        step, parts, loss_sum, loss_n = state["step"], state["parts"], state["loss_sum"], state["loss_n"]
    run.drop_parts_from(parts)
    rows: dict[str, list] = {"step": [], "member": [], "metric": [], "value": []}
    t0, done_here = time.time(), 0
    while step < cfg.steps:
        step += 1
        xy = stream.batch(step)
        cap: dict = {} if step in evals else None  # type: ignore[assignment]
        logits = lm_forward(model, xy[None, :, :-1], cap if step in evals else None)
        loss = next_token_loss(logits, xy[None, :, 1:])
        grads = torch.autograd.grad(loss.sum(), list(params.values()))
        lr = lr_at(cfg, step)
        opt.step(params, dict(zip(params, grads)), torch.full((M,), lr), torch.full((M,), cfg.wd))
        loss_sum += loss.detach().double()
        loss_n += 1
        if step in evals:
            final = cap["final"].detach()
            M, B, S, d = final.shape
            value = lar(model.P["W_U"].detach(), final.reshape(M, B * S, d))
            metrics = {"train/loss": loss_sum / loss_n, "lar/unembed": value,
                       "lar/k_hat": effective_dim(value, d), "lr": torch.full((M,), lr)}
            vl = val_loss(model, stream)
            if vl is not None:
                metrics["val/loss"] = vl
            for name, v in metrics.items():
                for m in range(M):
                    rows["step"].append(step), rows["member"].append(m)
                    rows["metric"].append(name), rows["value"].append(float(v[m]))
            loss_sum, loss_n = torch.zeros_like(loss_sum), 0
        if step in ckpts:
            checkpoint.save(checkpoint.ckpt_path(run.ckpt_dir, step), {"model": model.state_dict(), "step": step})
        done_here += 1
        if step % cfg.save_every == 0 or step == cfg.steps or (stop_after and done_here >= stop_after):
            if rows["step"]:
                run.write_part(parts, rows)
                parts += 1
                rows = {k: [] for k in rows}
            run.keep_previous_state()
            checkpoint.save(run.state_files[0], {"model": model.state_dict(), "opt": opt.state, "opt_t": opt.t,
                                                 "step": step, "parts": parts,
                                                 "loss_sum": loss_sum, "loss_n": loss_n})
            run.update_meta(steps_done=step, params=param_count(model),
                            steps_per_s=round(done_here / max(time.time() - t0, 1e-9), 2))
        if progress:
            progress(step, cfg.steps)
        if stop_after and done_here >= stop_after and step < cfg.steps:
            return
    run.compact()
    run.update_meta(status="complete", steps_done=step)


def _load_state(run: RunDir) -> dict[str, Any] | None:
    from ..store.integrity import DamagedFile

    for f in run.state_files:
        if f.exists():
            try:
                return checkpoint.load(f)
            except DamagedFile:
                continue
    return None


def load_run(path: str | Path) -> tuple[RunDir, dict]:
    """An LM run and its config (a UserError if ``path`` is not one)."""
    run = open_run(path)
    cfg = run.read_json("config.json")
    if cfg.get("kind") != "lm":
        raise UserError(f"{run.path} is not an LM run (made by `grokscope lm train`)")
    return run, cfg


def checkpoints(run: RunDir) -> list[int]:
    return sorted(int(f.stem.split("_")[1]) for f in run.ckpt_dir.glob("step_*.pt"))


def load_model(run: RunDir, cfg: dict, step: int):
    """The model at checkpoint ``step`` (eval mode: no grad needed)."""
    from .tokenizer import Tokenizer

    tok = Tokenizer.load(run.path / "tokenizer.json")
    model = make_lm(LMModelConfig(**cfg["lm"]["model"]), len(tok), M=len(cfg["lm"]["seeds"]))
    model.load_state_dict(checkpoint.load(checkpoint.ckpt_path(run.ckpt_dir, step))["model"])
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tok

