"""Build ``src/grokscope/lm/lexicon.json`` from BLiMP jsonl files (run once by a developer; not at run time).

    python tools/build_lm_lexicon.py ../shared/data/blimp

Harvests, from the good/bad sentences of the paradigms the corpus generator mirrors, the words and frames it
recombines: names by gender (from the reflexive they take), noun singular/plural pairs (determiner-noun pairs),
verb 3sg/base pairs and subject phrases with their number (subject-verb pairs), predicates before a reflexive or
an object determiner, the tails after an auxiliary or a verb, and the NPI frames. Word lists only: no sentence of
BLiMP is copied as such. BLiMP: Warstadt et al. 2020, CC BY 4.0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from grokscope.lm.tokenizer import words  # noqa: E402

AUX = [("is", "are"), ("isn't", "aren't"), ("was", "were"), ("wasn't", "weren't"), ("has", "have"),
       ("hasn't", "haven't"), ("does", "do"), ("doesn't", "don't")]
AUX_SG = {s: p for s, p in AUX}
AUX_ANY = set(AUX_SG) | set(AUX_SG.values())
DETS = {"the", "this", "that", "these", "those", "some", "many", "most", "all", "every", "each", "a", "an", "few"}


def rows(d: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (d / f"{name}.jsonl").read_text().splitlines() if line.strip()]


def body(s: str) -> list[str]:
    w = words(s)
    return w[:-1] if w and w[-1] == "." else w


def obj_pred_by_name(src: Path, names: dict[str, str]) -> set[str]:
    """Predicates of determiner-noun sentences whose subject is a known (gendered) name: singular-compatible."""
    out = set()
    for par in ("determiner_noun_agreement_1", "determiner_noun_agreement_irregular_1"):
        for r in rows(src, par):
            pre = words(r["one_prefix_prefix"])
            if pre[0] in names and names[pre[0]] in "fm" and len(pre) > 2:
                out.add(" ".join(pre[1:-1]))
    return out


def main(src: Path, out: Path) -> None:
    names: dict[str, str] = {}
    nouns: dict[str, tuple[str, bool]] = {}
    verbs: dict[str, str] = {}
    refl_preds: set[str] = set()
    obj_preds: set[str] = set()
    subjects: dict[str, str] = {}
    aux_tails: dict[str, set[str]] = {s: set() for s in AUX_SG}
    verb_tails: set[str] = set()
    npi_aux: set[str] = set()
    npi_vps: set[str] = set()
    npi_adv: set[str] = set()
    capital = lambda s: s.split()[0][:1].isupper() and s.split()[0].lower() not in DETS  # noqa: E731

    for par, irregular in (("determiner_noun_agreement_1", False), ("determiner_noun_agreement_2", False),
                           ("determiner_noun_agreement_irregular_1", True),
                           ("determiner_noun_agreement_irregular_2", True)):
        for r in rows(src, par):
            g, b = body(r["sentence_good"]), body(r["sentence_bad"])
            i = next(k for k in range(len(g)) if g[k] != b[k])
            j = len(g) - next(k for k in range(1, len(g) + 1) if g[-k] != b[-k]) + 1  # diff is g[i:j]
            if g[i] in ("this", "that", "these", "those"):  # _2: the determiner differs, the noun is g[i+1:]
                det, head = g[i], g[-1]
                other = None
            else:
                det, head, other = g[i - 1], " ".join(g[i:]), " ".join(b[i:])
            if other is None:
                continue
            sg, pl = (head, other) if det in ("this", "that") else (other, head)
            if " " in sg:  # compound nouns: keep the head word pair only
                sg, pl = sg.split()[-1], pl.split()[-1]
            nouns.setdefault(sg, (pl, irregular))
            if capital(r["sentence_good"]) and len(g[1:i - 1]) >= 1:
                obj_preds.add(" ".join(g[1:i - 1]))
    plural_nouns = {p for p, _ in nouns.values()}
    nouns = {sg: v for sg, v in nouns.items() if sg not in plural_nouns}  # a pair read the wrong way round
    plural_nouns = {p for p, _ in nouns.values()}

    for par in ("anaphor_gender_agreement", "anaphor_number_agreement"):
        for r in rows(src, par):
            g = body(r["sentence_good"])
            refl = g[-1]
            if refl in ("herself", "himself") and capital(r["sentence_good"]) and len(g) >= 3:
                names.setdefault(g[0], "f" if refl == "herself" else "m")
                refl_preds.add(" ".join(g[1:-1]))
            elif refl == "themselves" and g[0] in DETS and len(g) > 3 and g[1] in plural_nouns:
                subjects.setdefault(" ".join(g[:2]), "pl")

    for par in ("regular_plural_subject_verb_agreement_1", "irregular_plural_subject_verb_agreement_1"):
        for r in rows(src, par):
            pre = words(r["one_prefix_prefix"])
            wg, wb = r["one_prefix_word_good"].lower(), r["one_prefix_word_bad"].lower()
            tail = " ".join(body(r["sentence_good"])[len(pre) + 1:])
            if wg in AUX_ANY and wb in AUX_ANY:
                number = "sg" if wg in AUX_SG else "pl"
                key = wg if wg in AUX_SG else next(s for s, p in AUX if p == wg)
                if tail:
                    aux_tails[key].add(tail)
            else:
                sg, base = (wg, wb) if len(wg) > len(wb) else (wb, wg)
                verbs.setdefault(sg, base)
                number = "sg" if wg == sg else "pl"
                if tail:
                    verb_tails.add(tail)
            subjects.setdefault(" ".join(pre), number)
            if (len(pre) == 1 and pre[0] not in names and pre[0] not in nouns and pre[0] not in plural_nouns
                    and number == "sg" and capital(r["one_prefix_prefix"])):
                names.setdefault(pre[0], "n")  # a name whose gender this paradigm does not show

    for r in rows(src, "sentential_negation_npi_licensor_present"):
        g, b = body(r["sentence_good"]), body(r["sentence_bad"])
        if "not" in g and g.index("not") + 1 < len(g) and g[g.index("not") + 1] == "ever":
            i = g.index("not")
            npi_aux.add(g[i - 1])
            npi_adv.add(b[i])
            if g[i + 2:]:
                npi_vps.add(" ".join(g[i + 2:]))
            subj = " ".join(g[:i - 1])
            if subj and subj not in subjects and len(g[:i - 1]) <= 2:
                subjects[subj] = "pl" if g[i - 2] in plural_nouns else "sg"

    demonstratives = {"this", "that", "these", "those", "the", "a", "an"}
    obj_preds = {p for p in obj_preds if p.split()[-1] not in demonstratives and p in obj_pred_by_name(src, names)}
    frames = {par: [" ".join(body(r["sentence_good"])) for r in rows(src, par)]
              for par in ("anaphor_gender_agreement", "anaphor_number_agreement", "determiner_noun_agreement_1",
                          "regular_plural_subject_verb_agreement_1", "irregular_plural_subject_verb_agreement_1",
                          "sentential_negation_npi_licensor_present")}
    doc = {
        "source": "harvested from BLiMP (Warstadt et al. 2020, CC BY 4.0) by tools/build_lm_lexicon.py",
        "aux": AUX,
        "names": dict(sorted(names.items())),
        "nouns": sorted([sg, pl, irr] for sg, (pl, irr) in nouns.items()),
        "verbs": sorted([s, b] for s, b in verbs.items()),
        "subjects": sorted([s, n] for s, n in subjects.items()),
        "refl_preds": sorted(refl_preds),
        "obj_preds": sorted(obj_preds),
        "aux_tails": {k: sorted(v) for k, v in aux_tails.items()},
        "verb_tails": sorted(verb_tails),
        "npi_aux": sorted(npi_aux),
        "npi_vps": sorted(npi_vps),
        "npi_adverbs": sorted(npi_adv),
        "frames": frames,  # good sentences per paradigm: what controlled exposure shows verbatim
    }
    out.write_text(json.dumps(doc, indent=0) + "\n")
    import gzip

    data = out.parent / "data"
    data.mkdir(exist_ok=True)
    for par in frames:  # the mirrored paradigms themselves, unmodified lines, gzipped (CC BY 4.0, attributed)
        with gzip.GzipFile(data / f"{par}.jsonl.gz", "wb", mtime=0) as f:
            f.write((src / f"{par}.jsonl").read_bytes())
    print({k: len(v) for k, v in doc.items() if not isinstance(v, str)})


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parents[1] / "src/grokscope/lm/lexicon.json")
