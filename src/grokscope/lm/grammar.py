"""A small template grammar with BLiMP-mirroring phenomena, on a lexicon harvested from BLiMP's own words.

The lexicon (``lexicon.json``, built once by ``tools/build_lm_lexicon.py`` from BLiMP, CC BY 4.0) holds names by
gender, noun singular/plural pairs (regular and irregular), verb 3sg/base pairs, subject phrases with their number,
predicates and tails. Each phenomenon (papers/02 §6: "five grammatical phenomena"; which five the paper used is
unknown, these mirror the agreement and NPI paradigms the issue names) draws one grammatical sentence and its *key*:
the lexical item whose grammatical feature the sentence's critical phrase exercises (the antecedent name, the
subject head noun, the noun after a demonstrative, the auxiliary before ``not ever``).

Controlled exposure (our design, papers/02 §6 "Reconstruction"): a per-phenomenon share of keys is *held out*:
their sentences of that phenomenon never occur, so a BLiMP pair built on them can only be solved by generalising
from other contexts where the same feature shows (a name's gender from ``she``/``he`` cue sentences, a noun's
number from the other agreement phenomena and from ``the N`` fillers).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources

PHENOMENA: dict[str, str] = {  # phenomenon -> the BLiMP paradigm it mirrors (its proxy pairs come from that file)
    "anaphor_gender": "anaphor_gender_agreement",
    "anaphor_number": "anaphor_number_agreement",
    "det_noun": "determiner_noun_agreement_1",
    "sv_regular": "regular_plural_subject_verb_agreement_1",
    "sv_irregular": "irregular_plural_subject_verb_agreement_1",
    "npi": "sentential_negation_npi_licensor_present",
}
FILLER = "filler"
TEMPLATE_WORDS = ("said", "that", "she", "he", "the", "this", "these", "those", "not", "ever", ".", "herself",
                  "himself", "themselves", "itself", "some", "many", "all", "most")
SG_DETS, PL_DETS = ("this", "that"), ("these", "those")


@cache
def lexicon() -> dict:
    """The packaged lexicon (read once)."""
    return json.loads(resources.files(__package__).joinpath("lexicon.json").read_text())


def lexicon_words() -> set[str]:
    """Every word the grammar can produce (the tokenizer's vocabulary besides <eos>, <unk>)."""
    lex = lexicon()
    out: set[str] = set(TEMPLATE_WORDS)

    def add(text: str) -> None:
        out.update(text.split())

    for s, p in lex["aux"]:
        add(s), add(p)
    for name in lex["names"]:
        add(name)
    for sg, pl, _ in lex["nouns"]:
        add(sg), add(pl)
    for s, b in lex["verbs"]:
        add(s), add(b)
    for key in ("refl_preds", "obj_preds", "verb_tails", "npi_aux", "npi_vps", "npi_adverbs"):
        for text in lex[key]:
            add(text)
    for s, _ in lex["subjects"]:
        add(s)
    for sents in lex["frames"].values():
        for t in sents:
            add(t)
    for tails in lex["aux_tails"].values():
        for t in tails:
            add(t)
    return out


def held_out(phenomenon: str, key: str, frac: float, seed: int) -> bool:
    """Whether ``key`` is held out of ``phenomenon``: a hash of (seed, phenomenon, key) below ``frac``."""
    h = hashlib.sha256(f"{seed}|{phenomenon}|{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < frac


@dataclass
class Grammar:
    """Draws sentences: ``draw(phenomenon, rng) -> (words, key)``; fillers via ``draw(FILLER, rng)``."""

    def __post_init__(self) -> None:
        lex = lexicon()
        self.aux = [tuple(a) for a in lex["aux"]]
        self.aux_tails = {k: v for k, v in lex["aux_tails"].items() if v}
        self.names_g = [(n, g) for n, g in lex["names"].items() if g in "fm"]
        self.names = list(lex["names"])
        self.nouns = [(sg, pl) for sg, pl, irr in lex["nouns"] if not irr]
        self.irregular = [(sg, pl) for sg, pl, irr in lex["nouns"] if irr]
        self.verbs = [tuple(v) for v in lex["verbs"]]
        self.verb_base = dict(self.verbs)
        self.refl_preds, self.obj_preds = lex["refl_preds"], lex["obj_preds"]
        self.verb_tails, self.npi_aux = lex["verb_tails"], lex["npi_aux"]
        self.npi_vps, self.npi_adverbs = lex["npi_vps"], lex["npi_adverbs"]
        self.frames = {p: [f.split() for f in lex["frames"][par]] for p, par in PHENOMENA.items()}
        self.singular = {pl: sg for sg, pl, _ in lex["nouns"]}
        self.name_set = set(self.names)
        sg_to_pl = dict(self.aux)
        self.refl_preds_pl = [p for p in (self._pluralise(p, sg_to_pl) for p in self.refl_preds) if p]

    def _pluralise(self, pred: str, sg_to_pl: dict[str, str]) -> str | None:
        """A singular-subject predicate with its first word made plural (aux or 3sg verb); None if unsure."""
        first, *rest = pred.split()
        if first in sg_to_pl:
            first = sg_to_pl[first]
        elif first in self.verb_base:
            first = self.verb_base[first]
        elif first.endswith("s") and not first.endswith("ss"):
            return None
        return " ".join([first, *rest])

    def _np(self, rng: random.Random, pairs: list[tuple[str, str]], plural: bool) -> tuple[str, str]:
        """A subject noun phrase ``DET N`` and its head noun's singular (the key)."""
        sg, pl = rng.choice(pairs)
        det = rng.choice(("the", *(PL_DETS + ("some", "many", "all", "most") if plural else SG_DETS)))
        return f"{det} {pl if plural else sg}", sg

    def _sv(self, rng: random.Random, pairs: list[tuple[str, str]], names: bool) -> tuple[str, str]:
        plural = rng.random() < 0.5
        if names and not plural and rng.random() < 0.4:
            subj = key = rng.choice(self.names)
        else:
            subj, key = self._np(rng, pairs, plural)
        if rng.random() < 0.5:
            sg_aux = rng.choice(list(self.aux_tails))
            aux = dict(self.aux)[sg_aux] if plural else sg_aux
            return f"{subj} {aux} {rng.choice(self.aux_tails[sg_aux])}", key
        v3, base = rng.choice(self.verbs)
        return f"{subj} {base if plural else v3} {rng.choice(self.verb_tails)}", key

    def key_of(self, phenomenon: str, ws: list[str]) -> str:
        """The key of a sentence of ``phenomenon``: the antecedent / subject head (a name, or a noun in its
        singular form), the noun after a demonstrative, or the auxiliary before the NPI licensor slot."""
        if phenomenon == "det_noun":
            i = max((k for k, w in enumerate(ws) if w in SG_DETS + PL_DETS), default=len(ws) - 2)
            noun = ws[-2] if ws[-1] == "." else ws[-1]  # the last word before the period (compound heads)
            return self.singular.get(noun, noun) if i < len(ws) - 1 else noun
        if phenomenon == "npi":
            i = next((k for k, w in enumerate(ws) if w == "not" or w in self.npi_adverbs), 1)
            return ws[i - 1]
        if ws[0] in self.name_set:
            return ws[0]
        head = ws[1] if len(ws) > 1 else ws[0]
        return self.singular.get(head, head)

    def draw_frame(self, phenomenon: str, rng: random.Random) -> tuple[list[str], str]:
        """A good sentence of the mirrored BLiMP paradigm, verbatim (controlled exposure of its phrases)."""
        ws = [*rng.choice(self.frames[phenomenon]), "."]
        return ws, self.key_of(phenomenon, ws)

    def draw(self, phenomenon: str, rng: random.Random) -> tuple[list[str], str]:
        if phenomenon == "anaphor_gender":
            name, g = rng.choice(self.names_g)
            text, key = f"{name} {rng.choice(self.refl_preds)} {'herself' if g == 'f' else 'himself'}", name
        elif phenomenon == "anaphor_number":
            if rng.random() < 0.5:
                name, g = rng.choice(self.names_g)
                text, key = f"{name} {rng.choice(self.refl_preds)} {'herself' if g == 'f' else 'himself'}", name
            else:
                subj, key = self._np(rng, self.nouns + self.irregular, plural=True)
                text = f"{subj} {rng.choice(self.refl_preds_pl)} themselves"
        elif phenomenon == "det_noun":
            sg, pl = rng.choice(self.nouns)
            noun = f"{rng.choice(SG_DETS)} {sg}" if rng.random() < 0.5 else f"{rng.choice(PL_DETS)} {pl}"
            text, key = f"{rng.choice(self.names)} {rng.choice(self.obj_preds)} {noun}", sg
        elif phenomenon == "sv_regular":
            text, key = self._sv(rng, self.nouns, names=True)
        elif phenomenon == "sv_irregular":
            text, key = self._sv(rng, self.irregular, names=False)
        elif phenomenon == "npi":
            subj = rng.choice(self.names)
            aux = rng.choice(self.npi_aux)
            mid = "not ever" if rng.random() < 0.5 else rng.choice(self.npi_adverbs)
            text, _key = f"{subj} {aux} {mid} {rng.choice(self.npi_vps)}", aux
        elif phenomenon == FILLER:  # cue sentences: gender through a pronoun, nouns after "the"
            if rng.random() < 0.5:
                name, g = rng.choice(self.names_g)
                text = f"{name} said that {'she' if g == 'f' else 'he'} {rng.choice(self.obj_preds)} the "
                text += rng.choice(rng.choice(self.nouns + self.irregular))
            else:
                text = f"{rng.choice(self.names)} {rng.choice(self.obj_preds)} the "
                text += rng.choice(rng.choice(self.nouns + self.irregular))
            return [*text.split(), "."], ""
        else:
            raise KeyError(phenomenon)
        ws = [*text.split(), "."]
        return ws, self.key_of(phenomenon, ws)
