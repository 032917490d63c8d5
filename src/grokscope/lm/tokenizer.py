"""Word-level tokenizer for the generated corpus and for BLiMP sentences.

A sentence is lower-cased and split into words (contractions such as ``can't`` stay one word) and punctuation
marks; ids come from a fixed vocabulary built on the corpus. Id 0 is ``<eos>``, which ends every sentence and also
opens the next (the LM scores a sentence after ``<eos>``); id 1 is ``<unk>``. A word-level vocabulary means a BLiMP
sentence with a word the corpus never produced is out of vocabulary: scoring counts such pairs, never drops them
silently (``lm/blimp.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import UserError

EOS, UNK = "<eos>", "<unk>"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]")


def words(sentence: str) -> list[str]:
    """``"Katherine can't help herself."`` -> ``["katherine", "can't", "help", "herself", "."]``."""
    return _WORD.findall(sentence.lower())


class Tokenizer:
    """A fixed word vocabulary: ``ids(sentence)`` and ``decode(ids)``; ``<eos>`` = 0, ``<unk>`` = 1."""

    def __init__(self, vocab: list[str]) -> None:
        if vocab[:2] != [EOS, UNK]:
            raise UserError("a vocabulary must start with <eos>, <unk>")
        if len(set(vocab)) != len(vocab):
            raise UserError("a vocabulary must not repeat a word")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}

    @classmethod
    def build(cls, sentences: Iterable[str]) -> Tokenizer:
        """Vocabulary of every word in ``sentences``, sorted (so it does not depend on their order)."""
        seen = {w for s in sentences for w in words(s)}
        return cls([EOS, UNK, *sorted(seen - {EOS, UNK})])

    def __len__(self) -> int:
        return len(self.vocab)

    def ids(self, sentence: str) -> list[int]:
        return [self.index.get(w, 1) for w in words(sentence)]

    def oov(self, sentence: str) -> list[str]:
        """The words of ``sentence`` outside the vocabulary."""
        return [w for w in words(sentence) if w not in self.index]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.vocab[i] for i in ids)

    def save(self, path: Path) -> None:
        from ..store.atomic import write_json

        write_json(path, {"kind": "word", "vocab": self.vocab})

    @classmethod
    def load(cls, path: Path) -> Tokenizer:
        try:
            doc = json.loads(Path(path).read_text())
            return cls(list(doc["vocab"]))
        except FileNotFoundError:
            raise UserError(f"no tokenizer at {path}") from None
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path} is not a grokscope tokenizer ({type(e).__name__})") from None
