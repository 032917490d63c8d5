"""BLiMP accuracy of an LM run over its checkpoints, and the exposure analysis (proxy split, delay per phenomenon).

``score_run``: per paradigm and checkpoint, the accuracy (mean over members) on the pairs the LM can score, with
the counts of pairs left out for out-of-vocabulary words (``n_oov``) or length (``n_long``).
``exposure_run``: for each phenomenon of the corpus, its BLiMP paradigm's pairs split into proxy-train / proxy-val by
the exposure of their critical phrase (``lm/exposure.py``), the accuracy of each split per checkpoint, and the delay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .blimp import MinimalPair, critical_phrase, pair_correct, usable
from .exposure import ExposureIndex, delay
from .train import checkpoints, load_model, load_run


def _steps(run, steps: list[int] | None) -> list[int]:
    have = checkpoints(run)
    if not have:
        raise UserError(f"run {run.path} has no checkpoints yet")
    if steps:
        missing = [s for s in steps if s not in have]
        if missing:
            raise UserError(f"no checkpoint at step(s) {missing} in {run.path} (have {have})")
        return steps
    return have


def correct_over_checkpoints(run_path: str | Path, pairs: list[MinimalPair],
                             steps: list[int] | None = None) -> tuple[list[int], np.ndarray]:
    """(steps, correct [n_steps, N] as member-mean fraction in [0, 1]) for pairs the LM can score."""
    run, cfg = load_run(run_path)
    steps = _steps(run, steps)
    rows = []
    for s in steps:
        model, tok = load_model(run, cfg, s)
        rows.append(pair_correct(model, tok, pairs).double().mean(0).numpy() if pairs else np.zeros(0))
    return steps, np.stack(rows) if rows else np.zeros((0, len(pairs)))


def score_run(run_path: str | Path, pairs_by_paradigm: dict[str, list[MinimalPair]],
              steps: list[int] | None = None) -> dict[str, Any]:
    run, cfg = load_run(run_path)
    from .tokenizer import Tokenizer

    tok = Tokenizer.load(run.path / "tokenizer.json")
    seq_len = cfg["lm"]["model"]["seq_len"]
    out: dict[str, Any] = {"run": str(run.path), "paradigms": {}}
    for name, pairs in pairs_by_paradigm.items():
        keep, n_oov, n_long = usable(pairs, tok, seq_len)
        st, correct = correct_over_checkpoints(run.path, keep, steps)
        acc = [float(c.mean()) if c.size else float("nan") for c in correct]
        out["paradigms"][name] = {"n_pairs": len(pairs), "n_scored": len(keep), "n_oov": n_oov, "n_long": n_long,
                                  "steps": st, "accuracy": acc}
    return out


def exposure_run(corpus, run_path: str | Path, pairs_by_paradigm: dict[str, list[MinimalPair]], theta: float = 0.8,
                 threshold: int = 1, split_step: int | None = None) -> dict[str, Any]:
    """Proxy split by exposure and the delay per phenomenon (corpus phenomena whose paradigm is in the pairs)."""
    run, cfg = load_run(run_path)
    if cfg["corpus_sha256"] != corpus.manifest["sha256"]:
        raise UserError(f"run {run.path} was not trained on corpus {corpus.path} (checksums differ)")
    lm = cfg["lm"]
    tok = corpus.tokenizer
    seq_len, batch = lm["model"]["seq_len"], lm["batch"]
    n_train = corpus.tokens.size - lm["val_tokens"]
    if lm.get("train_tokens"):
        n_train = min(n_train, lm["train_tokens"])
    n_train = ((n_train - 1) // seq_len) * seq_len + 1  # what the windows cover
    steps = _steps(run, None)
    split_step = split_step or steps[-1]
    index = ExposureIndex(corpus.tokens[:n_train])
    out: dict[str, Any] = {"run": str(run.path), "corpus": str(corpus.path), "theta": theta,
                           "threshold": threshold, "split_step": split_step, "phenomena": {}}
    for phen, paradigm in corpus.manifest["paradigms"].items():
        if paradigm not in pairs_by_paradigm:
            continue
        keep, n_oov, n_long = usable(pairs_by_paradigm[paradigm], tok, seq_len)
        consumed = split_step * batch * seq_len
        expo = np.array([index.exposure(tok.ids(" ".join(critical_phrase(p).good)), consumed, n_train)
                         for p in keep], dtype=np.int64)
        is_train = expo >= threshold
        st, correct = correct_over_checkpoints(run.path, keep, steps)
        acc_tr = [float(c[is_train].mean()) if is_train.any() else float("nan") for c in correct]
        acc_va = [float(c[~is_train].mean()) if (~is_train).any() else float("nan") for c in correct]
        d = delay(phen, st, acc_tr, acc_va, theta, int(is_train.sum()), int((~is_train).sum()))
        out["phenomena"][phen] = {"paradigm": paradigm, "n_pairs": len(pairs_by_paradigm[paradigm]),
                                  "n_scored": len(keep), "n_oov": n_oov, "n_long": n_long,
                                  "exposure_median": float(np.median(expo)) if expo.size else 0.0,
                                  "steps": st, "acc_proxy_train": acc_tr, "acc_proxy_val": acc_va, **d.to_json()}
    return out


