"""BLiMP minimal pairs: the loader, critical phrases, and full-sentence log-prob scoring (papers/02 §6).

Files: one ``<paradigm>.jsonl`` per paradigm (Warstadt et al. 2020), one JSON object per line with
``sentence_good``, ``sentence_bad``, ``UID``, ``pairID``, ``linguistics_term``, ``field`` and, for one-prefix
paradigms, ``one_prefix_prefix`` / ``one_prefix_word_good`` / ``one_prefix_word_bad`` (two-prefix paradigms carry
``two_prefix_*`` instead).

Scoring (BLiMP's "simple LM method"): a pair is correct when log P(good) > log P(bad), each the sum of the token
log-probs of the sentence after ``<eos>``, its final ``<eos>`` included (``eos=False`` leaves it out). A pair with a
word outside the LM's vocabulary is counted in ``n_oov`` and left out of the accuracy, never silently dropped; a
pair longer than the context is counted in ``n_long``.

Critical phrase (reconstructed, papers/02 §6): the token diff of good vs bad (its start found from
``one_prefix_prefix`` when present), extended leftward to the phenomenon's licensor/antecedent by a per-phenomenon
rule: to the sentence start for anaphors and subject-verb agreement (the antecedent / subject opens the sentence),
one token for determiner-noun agreement (the determiner), and for NPI licensing one token left (the auxiliary) and
rightward to the NPI ``ever``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UserError
from .tokenizer import Tokenizer, words


@dataclass(frozen=True)
class MinimalPair:
    paradigm: str
    pair_id: str
    good: str
    bad: str
    term: str = ""
    prefix: str | None = None  # one_prefix_prefix, when the paradigm has one
    word_good: str | None = None
    word_bad: str | None = None


def packaged() -> Path:
    """The BLiMP paradigms the grammar mirrors, shipped gzipped with grokscope (unmodified lines, CC BY 4.0)."""
    return Path(__file__).parent / "data"


def _stem(f: Path) -> str:
    return f.name.removesuffix(".gz").removesuffix(".jsonl")


def load(path: str | Path, paradigms: list[str] | None = None) -> dict[str, list[MinimalPair]]:
    """Pairs per paradigm from a directory of ``*.jsonl`` / ``*.jsonl.gz`` (or one file); ``paradigms`` selects
    files by name."""
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted([*p.glob("*.jsonl"), *p.glob("*.jsonl.gz")])
        if paradigms:
            have = {_stem(f): f for f in files}
            missing = [n for n in paradigms if n not in have]
            if missing:
                raise UserError(f"no BLiMP file for paradigm(s) {', '.join(missing)} in {p}")
            files = [have[n] for n in paradigms]
    else:
        raise UserError(f"BLiMP pairs not found: {p}")
    if not files:
        raise UserError(f"no *.jsonl files in {p}")
    out: dict[str, list[MinimalPair]] = {}
    for f in files:
        out[_stem(f)] = _read(f)
    return out


def _read(f: Path) -> list[MinimalPair]:
    import gzip

    pairs = []
    try:
        text = (gzip.decompress(f.read_bytes()) if f.name.endswith(".gz") else f.read_bytes()).decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise UserError(f"{f}: unreadable ({type(e).__name__})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            pairs.append(MinimalPair(str(r.get("UID", _stem(f))), str(r.get("pairID", n - 1)), r["sentence_good"],
                                     r["sentence_bad"], r.get("linguistics_term", ""), r.get("one_prefix_prefix"),
                                     r.get("one_prefix_word_good"), r.get("one_prefix_word_bad")))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise UserError(f"{f}:{n}: not a BLiMP pair ({type(e).__name__}: {e})") from None
    return pairs


# -- critical phrases --------------------------------------------------------------------------------------------
DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "some", "many", "most", "all", "every", "each",
               "few", "no"}


@dataclass(frozen=True)
class CriticalPhrase:
    good: tuple[str, ...]  # the span in the good sentence
    bad: tuple[str, ...]  # the same span in the bad sentence
    start: int  # first token of the span (both sentences)
    critical: int  # first differing token
    context: int  # the licensor / antecedent token the span was extended to


def rule_for(pair: MinimalPair) -> str:
    """'start' | 'det' | 'npi' from the paradigm name (see the module docstring)."""
    name = pair.paradigm
    if name.startswith("determiner_noun"):
        return "det"
    if "npi" in name or pair.term == "npi_licensing":
        return "npi"
    return "start"


def token_diff(good: list[str], bad: list[str]) -> tuple[int, int, int]:
    """(i, j_good, j_bad): good[i:j_good] and bad[i:j_bad] differ, the common prefix and suffix around them."""
    i = 0
    while i < min(len(good), len(bad)) and good[i] == bad[i]:
        i += 1
    k = 0
    while k < min(len(good), len(bad)) - i and good[-1 - k] == bad[-1 - k]:
        k += 1
    return i, len(good) - k, len(bad) - k


def critical_phrase(pair: MinimalPair, rule: str | None = None) -> CriticalPhrase:
    g, b = words(pair.good), words(pair.bad)
    i, jg, jb = token_diff(g, b)
    if pair.prefix is not None:  # the one_prefix fields name the critical word exactly
        i = min(i, len(words(pair.prefix)))
    rule = rule or rule_for(pair)
    if rule == "start":  # the antecedent / subject: its head is the first word, or the second after a determiner
        start, context = 0, 1 if g[0] in DETERMINERS and i > 1 else 0
    elif rule == "det":
        start = context = max(i - 1, 0)
    elif rule == "npi":
        start, context = max(i - 1, 0), i
        while jg < len(g) and g[jg - 1] != "ever" and "ever" in g[jg:]:
            jg, jb = jg + 1, jb + 1
    else:
        raise UserError(f"unknown critical-phrase rule {rule!r} (start, det, npi)")
    return CriticalPhrase(tuple(g[start:jg]), tuple(b[start:jb]), start, i, context)


# -- scoring -----------------------------------------------------------------------------------------------------
@torch.no_grad()
def sentence_logprobs(model, tok: Tokenizer, sentences: list[str], eos: bool = True,
                      batch: int = 256) -> torch.Tensor:
    """Sum of token log-probs of each sentence after <eos>: ``[M, N]`` (every member of the model)."""
    from .model import lm_forward

    seqs = [[0, *tok.ids(s), *([0] if eos else [])] for s in sentences]
    out = []
    for k in range(0, len(seqs), batch):
        chunk = seqs[k:k + batch]
        L = max(len(s) for s in chunk)
        x = torch.zeros(len(chunk), L, dtype=torch.long)
        mask = torch.zeros(len(chunk), L - 1)
        for r, s in enumerate(chunk):
            x[r, :len(s)] = torch.tensor(s)
            mask[r, :len(s) - 1] = 1
        logp = lm_forward(model, x[None, :, :-1]).log_softmax(-1)  # [M, B, L-1, V]
        tgt = logp.gather(-1, x[None, :, 1:, None].expand(logp.shape[0], -1, -1, 1))[..., 0]
        out.append((tgt.double() * mask).sum(-1))
    return torch.cat(out, 1)


def usable(pairs: list[MinimalPair], tok: Tokenizer, seq_len: int) -> tuple[list[MinimalPair], int, int]:
    """(pairs the LM can score, n with out-of-vocabulary words, n longer than the context)."""
    keep, n_oov, n_long = [], 0, 0
    for p in pairs:
        if tok.oov(p.good) or tok.oov(p.bad):
            n_oov += 1
        elif max(len(words(p.good)), len(words(p.bad))) + 1 > seq_len:
            n_long += 1
        else:
            keep.append(p)
    return keep, n_oov, n_long


def pair_correct(model, tok: Tokenizer, pairs: list[MinimalPair], eos: bool = True) -> torch.Tensor:
    """``[M, N]`` bool: log P(good) > log P(bad) per member and pair."""
    if not pairs:
        return torch.zeros(1, 0, dtype=torch.bool)
    lp = sentence_logprobs(model, tok, [p.good for p in pairs] + [p.bad for p in pairs], eos)
    return lp[:, :len(pairs)] > lp[:, len(pairs):]
