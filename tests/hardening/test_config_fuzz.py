"""Malformed configs (issue 11): each is one line on stderr, exit 2, no traceback, nothing written.

Driven in-process through ``grokscope.cli.main``: ``run quick`` with a bad ``--set`` (or a bad file). Every case
also sets a 1-step budget first, so a case wrongly accepted trains one step and fails the test (exit 0), cheaply.
Counts: ``HAND`` hand-written cases plus the Hypothesis cases below (README, "Hardening").
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .cli_inproc import assert_one_line, cli

INT_KEYS = ["train.steps", "task.p", "model.d_hidden", "model.d_embed", "eval.points", "checkpoint.count",
            "intervene.wd_off_step", "members.seeds", "task.split_seed", "optim.warmup_steps",
            "optim.grokfast.window", "intervene.rescale.step", "train.batch_size"]
FLOAT_KEYS = ["optim.lr", "optim.wd", "loss.tau", "intervene.init_scale", "intervene.label_noise",
              "intervene.langevin_T", "checkpoint.flush_seconds", "eval.mem_threshold", "eval.grok_threshold",
              "task.frac", "optim.beta1", "optim.beta2", "optim.eps", "optim.grokfast.alpha", "optim.grokfast.lamb",
              "intervene.rescale.factor", "intervene.clamp.target"]
BOOL_KEYS = ["intervene.wd_off_at_t_mem", "intervene.freeze_norm_at_t_mem", "checkpoint.states", "model.bias"]
PACK = ["optim.lr", "optim.wd", "loss.tau", "intervene.init_scale", "intervene.label_noise", "intervene.langevin_T"]
NONFINITE = [".inf", "-.inf", ".nan", ".NaN", "+.inf", ".Inf"]

HAND: list[tuple[str, ...]] = []
HAND += [(f"{k}=true",) for k in INT_KEYS + FLOAT_KEYS] + [(f"{k}=false",) for k in INT_KEYS + FLOAT_KEYS]
HAND += [(f"{k}={v}",) for k in FLOAT_KEYS for v in (".inf", ".nan")]
HAND += [(f"{k}={v}",) for k in BOOL_KEYS for v in ("0", "1", "2.5")]
HAND += [(f"members.vary.{k}=[{v}, 1e-3]",) for k in PACK[:3] for v in (".inf", ".nan", "true")]
HAND += [(f"name={n}",) for n in ("../../escaped", "/abs/path", "a/b/c", ".hidden", "..", ".", "a\x00b", "x" * 300,
                                    "ünïcode", "name with space", "-dash", "a\\b", "[1, 2]", "{a: 1}", "''")]
HAND += [("eval.probes=[]",), ("members.seeds=[]",), ("members.seeds=[true]",), ("members.seeds=[1, 1]",),
         ("members.seeds=0",), ("members.seeds=[-1, 2]",),
         ("task.split_seed=-1",), ("members.seeds=-3",), ("train.steps=-1",), ("train.steps=abc",),
         ("optim.lr=-1",), ("optim.lr=0",), ("task.p=1",), ("task.frac=1.5",), ("task.frac=-0.1",),
         ("optim.name=lion",), ("loss.name=hinge",), ("model.name=resnet",), ("task.name=sorting",),
         ("optim.lrr=1",), ("trian.steps=1",), ("optim.lr",), ("=1",), ("optim.lr=[1e-3]",), ("optim.lr={a: 1}",),
         ("intervene.clamp.rho=0.5",), ("members.vary.train.steps=[1, 2]",),
         ("members.vary.optim.lr=[1e-3, 1e-2]", "members.vary.optim.wd=[1.0]"), ("members.vary.optim.lr=[]",),
         ("intervene.rescale.factor=2",), ("intervene.label_noise=1.0",), ("eval.mem_threshold=2",),
         ("optim.grokfast.alpha=1.0",), ("checkpoint.flush_seconds=0",), ("train.dtype=float8",),
         ("train.batch_size=0",), ("intervene.wd_off_step=-5",), ("optim.lr=1e-3 # comment", "optim.wd=x"),
         ("task.p=" + "9" * 400,), ("optim.lr=" + "[" * 5000 + "]" * 5000,), ("." * 5000 + "=1",),
         (".".join(["a"] * 5000) + "=1",), ("optim.lr=" + "[" * 100 + "1" + "]" * 100,)]


@pytest.mark.parametrize("sets", HAND, ids=[f"h{i}" for i in range(len(HAND))])
def test_hand_written_bad_set(sets, capsys, tmp_path):
    args = [a for s in ("train.steps=1", *sets) for a in ("--set", s)]
    o = cli(capsys, "run", "quick", "--out", tmp_path / "o", "--threads", "1", "-q", *args)
    assert_one_line(o, "error:")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir()), "a refused config wrote a run"


FILES = {
    "list.yaml": "- 1\n- 2\n", "scalar.yaml": "5\n", "bad.yaml": "task: [\n", "bad.toml": "task = [\n",
    "preset-list.yaml": "preset: [quick]\n", "preset-dict.yaml": "preset: {a: 1}\n",
    "preset-unknown.toml": 'preset = "quikc"\n', "name-escape.toml": 'preset = "quick"\nname = "../../x"\n',
    "name-abs.toml": 'preset = "quick"\nname = "/tmp/x"\n',
    "bool-wd-off.toml": 'preset = "quick"\n[intervene]\nwd_off_step = false\n',
    "inf-lr.toml": 'preset = "quick"\n[optim]\nlr = inf\n', "nan-wd.toml": 'preset = "quick"\n[optim]\nwd = nan\n',
    "section-scalar.yaml": "preset: quick\ntask: 5\n", "section-list.yaml": "preset: quick\noptim: [1, 2]\n",
    "laughs.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)) + "preset: quick\n",
    "nul.yaml": "preset: quick\nname: \"a\\0b\"\n", "binary.yaml": "\x00\x01\x02\xff",
    "deep.yaml": "preset: quick\nx: " + "[" * 3000 + "]" * 3000 + "\n",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_bad_config_file(name, capsys, tmp_path):
    f = tmp_path / name
    f.write_bytes(FILES[name].encode("utf-8", "surrogateescape") if name != "binary.yaml" else b"\x00\x01\x02\xff")
    o = cli(capsys, "run", f, "--out", tmp_path / "o", "--threads", "1", "-q", "--set", "train.steps=1")
    assert_one_line(o, "error:")


# -- Hypothesis: random values that are wrong by construction --------------------------------------------------
_bad_number = st.one_of(st.booleans().map(lambda b: str(b).lower()), st.sampled_from(NONFINITE),
                        st.text(string.ascii_letters, min_size=1, max_size=8).filter(
                            lambda s: s.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "y", "n")),
                        st.lists(st.integers(0, 9), max_size=3).map(str))
_bad_name = st.text(min_size=1, max_size=120).filter(
    lambda s: not __import__("re").fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", s) and "\n" not in s
    and not __import__("re").fullmatch(r"[-+]?[0-9._eE]+|true|false|null|~|yes|no|on|off", s.strip(), flags=2)
    and s.strip() == s and s.strip("'\"") == s and not s.startswith(("&", "*", "!", "%", "@", "`", "|", ">", "#")))
CASES = st.one_of(
    st.tuples(st.sampled_from(INT_KEYS + FLOAT_KEYS), _bad_number).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.tuples(st.sampled_from(BOOL_KEYS), st.one_of(st.integers(-5, 5).map(str),
                                                   st.floats(allow_nan=False, allow_infinity=False).map(repr))
              ).map(lambda kv: f"{kv[0]}={kv[1]}"),
    _bad_name.map(lambda n: f"name={n}"),
)
N_HYPOTHESIS = 30


@settings(max_examples=N_HYPOTHESIS, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(bad=CASES)
def test_hypothesis_bad_set(bad, capsys, tmp_path):
    o = cli(capsys, "run", "quick", "--out", tmp_path / "o", "--threads", "1", "-q", "--set", "train.steps=1",
            "--set", bad)
    assert_one_line(o, "error:")
