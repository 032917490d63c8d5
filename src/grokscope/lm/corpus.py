"""Generated corpus on disk: a token stream in exact training order, with what produced each sentence.

``corpus/`` holds::

    tokens.npy       int32 [n_tokens]  the stream, every sentence ended by <eos> (id 0), in the order training reads it
    sentences.npy    int64 [n_sent, 3] per sentence: start offset in the stream, phenomenon index (-1 filler), length
    tokenizer.json   the word vocabulary
    manifest.json    the CorpusConfig, phenomena and their BLiMP paradigms, the held-out keys the draw met (and
                     refused), counts, a checksum

The directory is built under a temporary name and renamed into place, so a killed ``lm corpus`` never leaves a
half-written corpus. Training reads the stream as consecutive windows (``lm/train.py``): the order is the file.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import UserError
from .grammar import FILLER, PHENOMENA, Grammar, held_out, lexicon_words
from .tokenizer import EOS, UNK, Tokenizer


class CorpusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phenomena: list[str] = Field(default_factory=lambda: list(PHENOMENA)[:5],
                                 description=f"phenomena to generate, from {list(PHENOMENA)}")
    tokens: int = Field(200_000, ge=1000, description="stream length in tokens (sentences are whole: may overrun)")
    seed: int = Field(0, description="seed of the draw and of which keys are held out")
    filler: float = Field(0.3, ge=0.0, lt=1.0, description="share of cue/filler sentences (no phenomenon)")
    holdout: float = Field(0.3, ge=0.0, lt=1.0, description="share of each phenomenon's keys never shown in it "
                           "(controlled exposure; their BLiMP pairs need generalisation)")
    frames: float = Field(0.5, ge=0.0, le=1.0, description="share of a phenomenon's sentences copied verbatim from "
                          "the good sentences of the BLiMP paradigm it mirrors (packaged lexicon): their critical "
                          "phrases then occur in the stream unless their key is held out")
    start: dict[str, float] = Field(default_factory=dict, description="phenomenon -> fraction of the stream before "
                                    "which it does not occur (delayed exposure; default 0 for all)")

    @field_validator("phenomena")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if p not in PHENOMENA]
        if bad or not v or len(set(v)) != len(v):
            raise ValueError(f"phenomena must be distinct names from {list(PHENOMENA)}, got {v}")
        return v


def phenomena_first(n: int) -> list[str]:
    """The first ``n`` phenomena (``--phenomena 5``)."""
    if not 1 <= n <= len(PHENOMENA):
        raise UserError(f"--phenomena must be 1..{len(PHENOMENA)}, got {n}")
    return list(PHENOMENA)[:n]


def parse_tokens(text: str) -> int:
    """``"5M"`` -> 5_000_000, ``"200k"`` -> 200_000, ``"1000"`` -> 1000."""
    t = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise UserError(f"--tokens: expected a count such as 200000, 200k or 5M, got {text!r}") from None
    if value < 1000:
        raise UserError(f"--tokens must be at least 1000, got {text!r}")
    return int(value)


def tokenizer() -> Tokenizer:
    """The grammar's fixed vocabulary (the same for every corpus of this grammar)."""
    return Tokenizer([EOS, UNK, *sorted(lexicon_words())])


def generate(cfg: CorpusConfig) -> tuple[np.ndarray, np.ndarray, Tokenizer, dict[str, list[str]]]:
    """(tokens, sentences [n, 3], tokenizer, held-out keys per phenomenon) for ``cfg``."""
    rng = random.Random(cfg.seed)
    gram, tok = Grammar(), tokenizer()
    index = tok.index
    tokens: list[int] = []
    sents: list[tuple[int, int, int]] = []
    held: dict[str, set[str]] = {p: set() for p in cfg.phenomena}
    while len(tokens) < cfg.tokens:
        pos = len(tokens) / cfg.tokens
        active = [p for p in cfg.phenomena if cfg.start.get(p, 0.0) <= pos]
        kind = FILLER if not active or rng.random() < cfg.filler else rng.choice(active)
        while True:
            use_frame = kind != FILLER and rng.random() < cfg.frames
            ws, key = gram.draw_frame(kind, rng) if use_frame else gram.draw(kind, rng)
            if kind == FILLER or not held_out(kind, key, cfg.holdout, cfg.seed):
                break
            held[kind].add(key)
        else:
            raise UserError(f"--holdout {cfg.holdout} leaves phenomenon {kind} no key to show; lower it")
        sents.append((len(tokens), -1 if kind == FILLER else cfg.phenomena.index(kind), len(ws) + 1))
        tokens.extend(index[w] for w in ws)
        tokens.append(0)
    return (np.asarray(tokens, dtype=np.int32), np.asarray(sents, dtype=np.int64), tok,
            {p: sorted(v) for p, v in held.items()})


def write_corpus(cfg: CorpusConfig, out: Path) -> Path:
    """Generate and write ``out`` (refused if it exists and is not empty); returns ``out``."""
    from ..store.atomic import write_json

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not empty; choose a new --out")
    tokens, sents, tok, held = generate(cfg)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        np.save(tmp / "tokens.npy", tokens)
        np.save(tmp / "sentences.npy", sents)
        tok.save(tmp / "tokenizer.json")
        counts = {p: int((sents[:, 1] == i).sum()) for i, p in enumerate(cfg.phenomena)}
        write_json(tmp / "manifest.json", {
            "kind": "grokscope-lm-corpus", "config": cfg.model_dump(),
            "paradigms": {p: PHENOMENA[p] for p in cfg.phenomena}, "held_out": held,
            "n_tokens": int(tokens.size), "n_sentences": int(sents.shape[0]), "sentences_per_phenomenon": counts,
            "filler_sentences": int((sents[:, 1] == -1).sum()), "vocab_size": len(tok),
            "sha256": hashlib.sha256(tokens.tobytes()).hexdigest(),
            "order": "training reads tokens.npy front to back in windows of seq_len + 1 (lm/train.py)"})
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


@dataclass
class Corpus:
    path: Path
    tokens: np.ndarray
    sentences: np.ndarray
    tokenizer: Tokenizer
    manifest: dict

    @property
    def phenomena(self) -> list[str]:
        return list(self.manifest["config"]["phenomena"])


def load_corpus(path: str | Path) -> Corpus:
    import json

    p = Path(path)
    if not (p / "manifest.json").is_file():
        raise UserError(f"{p} is not a grokscope corpus (no manifest.json); make one with `grokscope lm corpus`")
    manifest = json.loads((p / "manifest.json").read_text())
    tokens = np.load(p / "tokens.npy", allow_pickle=False)
    if hashlib.sha256(tokens.tobytes()).hexdigest() != manifest.get("sha256"):
        raise UserError(f"{p}/tokens.npy does not match its manifest checksum (damaged corpus)")
    return Corpus(p, tokens, np.load(p / "sentences.npy", allow_pickle=False), Tokenizer.load(p / "tokenizer.json"),
                  manifest)
