"""BLiMP loader, critical phrases, exposure counts, tokenizer, corpus generator (the issue's checks)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from grokscope.errors import UserError
from grokscope.lm import blimp
from grokscope.lm.blimp import MinimalPair, critical_phrase
from grokscope.lm.corpus import CorpusConfig, generate, load_corpus, parse_tokens, write_corpus
from grokscope.lm.exposure import ExposureIndex, delay
from grokscope.lm.grammar import PHENOMENA, Grammar
from grokscope.lm.tokenizer import Tokenizer, words

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "blimp"


def test_loader_on_shipped_files():
    pairs = blimp.load(blimp.packaged())
    assert set(pairs) == set(PHENOMENA.values())
    for name, rows in pairs.items():
        assert len(rows) == 1000 and all(r.paradigm == name for r in rows)
    first = pairs["anaphor_gender_agreement"][0]
    assert (first.good, first.bad) == ("Katherine can't help herself.", "Katherine can't help himself.")
    assert first.prefix == "Katherine can't help" and first.word_good == "herself" and first.pair_id == "0"
    two_prefix = pairs["sentential_negation_npi_licensor_present"][0]
    assert two_prefix.prefix is None and two_prefix.term == "npi_licensing"


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared BLiMP copy is not beside this checkout")
def test_loader_on_the_shared_copy_matches_the_shipped_one():
    names = ["anaphor_number_agreement", "npi_present_1"]
    pairs = blimp.load(SHARED, names)
    assert list(pairs) == names and len(pairs["npi_present_1"]) == 1000
    assert pairs["anaphor_number_agreement"] == blimp.load(blimp.packaged(), ["anaphor_number_agreement"])[
        "anaphor_number_agreement"]


def test_loader_errors(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"sentence_good": "A b.", "sentence_bad": "A c."}\n{"oops": 1}\n')
    with pytest.raises(UserError, match=r"x.jsonl:2"):
        blimp.load(tmp_path)
    with pytest.raises(UserError, match="no BLiMP file for paradigm"):
        blimp.load(tmp_path, ["missing"])
    with pytest.raises(UserError, match="not found"):
        blimp.load(tmp_path / "nope")
    (tmp_path / "y.jsonl.gz").write_bytes(gzip.compress(json.dumps(
        {"sentence_good": "A b.", "sentence_bad": "A c.", "UID": "y"}).encode()))
    assert blimp.load(tmp_path / "y.jsonl.gz")["y"][0].bad == "A c."


def _pair(paradigm: str, good: str, bad: str, prefix: str | None = None, term: str = "") -> MinimalPair:
    return MinimalPair(paradigm, "0", good, bad, term, prefix)


def test_critical_phrases_on_hand_written_pairs():
    cp = critical_phrase(_pair("anaphor_gender_agreement", "Katherine can't help herself.",
                               "Katherine can't help himself.", "Katherine can't help"))
    assert cp.good == ("katherine", "can't", "help", "herself") and cp.bad[-1] == "himself"
    assert (cp.critical, cp.context) == (3, 0)
    cp = critical_phrase(_pair("determiner_noun_agreement_1", "Craig explored that grocery store.",
                               "Craig explored that grocery stores.", "Craig explored that"))
    assert cp.good == ("that", "grocery", "store") and cp.bad == ("that", "grocery", "stores")
    assert cp.context == 2 and cp.critical == 3  # the one_prefix field names the critical word, not the diff
    cp = critical_phrase(_pair("regular_plural_subject_verb_agreement_1", "The cups alarm Angela.",
                               "The cups alarms Angela.", "The cups"))
    assert cp.good == ("the", "cups", "alarm") and cp.context == 1  # the head noun after the determiner
    cp = critical_phrase(_pair("sentential_negation_npi_licensor_present", "Teresa had not ever sold a car.",
                               "Teresa had probably ever sold a car.", term="npi_licensing"))
    assert cp.good == ("had", "not", "ever") and cp.bad == ("had", "probably", "ever") and cp.context == 2
    with pytest.raises(UserError, match="unknown critical-phrase rule"):
        critical_phrase(_pair("x", "A b.", "A c."), rule="nope")


def test_exposure_counts_by_hand():
    # stream:  0  1  2  3  4  5  6  7  8  9
    toks = np.array([5, 6, 7, 5, 6, 5, 6, 7, 0, 5])
    index = ExposureIndex(toks)
    assert index.positions((5, 6, 7)).tolist() == [0, 5]
    assert index.positions((5, 6)).tolist() == [0, 3, 5]
    assert index.positions((5,)).tolist() == [0, 3, 5, 9]
    assert index.positions((7, 5, 6)).tolist() == [2] and index.positions((9,)).size == 0
    assert [index.count((5, 6, 7), upto) for upto in (2, 3, 7, 8, 10)] == [0, 1, 1, 2, 2]
    # a run that read the first 8 positions 2.5 times: 2 full passes (2 each) + positions 0..3 (1)
    assert index.exposure((5, 6, 7), consumed=20, n_train=8) == 5
    d = delay("x", [1, 2, 4, 8], [0.5, 0.9, 0.95, 0.95], [0.5, 0.85, 0.6, 0.9], 0.8, 3, 4)
    assert (d.t_fit, d.t_gen, d.delay, d.delayed) == (2, 8, 6, True)  # val's early excursion is not sustained
    assert not delay("x", [1, 2], [0.9, 0.9], [0.1, 0.2], 0.8, 1, 1).delayed  # censored, not delayed


def test_tokenizer():
    assert words("Katherine can't help herself.") == ["katherine", "can't", "help", "herself", "."]
    tok = Tokenizer.build(["a b.", "b c."])
    assert tok.vocab == ["<eos>", "<unk>", ".", "a", "b", "c"] and tok.ids("a zz.") == [3, 1, 2]
    assert tok.oov("A zz c.") == ["zz"]
    with pytest.raises(UserError):
        Tokenizer(["a", "b"])


def test_corpus_generator_controls_exposure(tmp_path):
    cfg = CorpusConfig(tokens=20_000, seed=3, holdout=0.4)
    toks, sents, tok, held = generate(cfg)
    again = generate(cfg)
    assert np.array_equal(toks, again[0]) and held == again[3]
    assert toks.size >= 20_000 and (toks == 0).sum() == sents.shape[0]
    gram = Grammar()
    seen = {p: set() for p in cfg.phenomena}
    for start, kind, n in sents:
        if kind >= 0:
            p = cfg.phenomena[kind]
            seen[p].add(gram.key_of(p, tok.decode(toks[start:start + n - 1]).split()))
    for p in cfg.phenomena:
        assert held[p] and not (seen[p] & set(held[p])), p  # held-out keys never occur in their phenomenon
    assert all((sents[:, 1] == i).sum() > 100 for i in range(5))
    out = write_corpus(cfg, tmp_path / "c")
    c = load_corpus(out)
    assert c.manifest["held_out"] == held and np.array_equal(c.tokens, toks)
    with pytest.raises(UserError, match="not empty"):
        write_corpus(cfg, out)
    (out / "tokens.npy").write_bytes((out / "tokens.npy").read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(UserError, match="checksum"):
        load_corpus(out)
    assert parse_tokens("5M") == 5_000_000 and parse_tokens("200k") == 200_000
    with pytest.raises(UserError):
        parse_tokens("lots")


def test_grammar_vocabulary_covers_the_mirrored_paradigms():
    from grokscope.lm.corpus import tokenizer

    tok = tokenizer()
    pairs = blimp.load(blimp.packaged())
    for name, rows in pairs.items():
        oov = sum(1 for r in rows if tok.oov(r.good) or tok.oov(r.bad))
        assert oov <= 20, (name, oov)  # a few bad sentences use words no good sentence has


def test_internals_measures_on_known_inputs():
    import torch

    from grokscope.lm.internals import _logistic_accuracy, concentration, participation_ratio

    g = torch.Generator().manual_seed(0)
    iso = torch.randn(4000, 5, generator=g, dtype=torch.float64)
    assert abs(participation_ratio(iso) - 5) < 0.1  # isotropic: every direction
    line = torch.randn(500, 1, generator=g, dtype=torch.float64) * torch.tensor([[1.0, 2.0, 0.0]])
    assert abs(participation_ratio(line) - 1) < 1e-9  # one direction
    c = concentration(torch.tensor([1.0, 0.0, 0.0, 0.0]), k=2)
    assert c["top_k_share"] == 1.0 and c["entropy"] == 0.0 and abs(c["gini"] - 0.75) < 1e-12
    u = concentration(torch.ones(8), k=2)
    assert abs(u["top_k_share"] - 0.25) < 1e-12 and abs(u["entropy"] - 1) < 1e-12 and abs(u["gini"]) < 1e-12
    x = torch.randn(400, 3, generator=g, dtype=torch.float64)
    y = (x[:, 0] + 0.1 * x[:, 1] > 0).double()
    assert _logistic_accuracy(x[:200], y[:200], x[200:], y[200:]) > 0.9
    assert _logistic_accuracy(x[:200], y[:200], x[200:], 1 - y[200:]) < 0.1
