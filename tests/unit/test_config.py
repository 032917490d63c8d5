"""Config loading: presets, overrides (type-checked), one-line errors with suggestions, TOML/YAML files."""

from __future__ import annotations

import pytest

from grokscope.config import RunConfig, load_config, validate
from grokscope.errors import UserError
from grokscope.presets import PRESETS


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg
    return msg


def test_defaults_validate():
    cfg = load_config()
    assert isinstance(cfg, RunConfig)
    assert cfg.optim.name == "adamw" and cfg.train.dtype == "float32"
    assert cfg.members.seed_list() == [0]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates(name):
    cfg = load_config(name)
    assert cfg.name == name


def test_override_preset():
    cfg = load_config("quick", ["optim.lr=3e-3"])
    assert cfg.optim.lr == 3e-3 and isinstance(cfg.optim.lr, float)
    base = load_config("quick")
    assert cfg.task == base.task and cfg.model == base.model and cfg.optim.wd == base.optim.wd
    assert base.optim.lr != 3e-3  # the override changed something
    cfg = load_config("quick", ["train.steps=100", "train.dtype=float64", "eval.loss_rule={below: 0.1, k: 3}",
                                "members.seeds=[3, 5]", "intervene.clamp.target=2.5"])
    assert cfg.train.steps == 100 and cfg.train.dtype == "float64"
    assert cfg.eval.loss_rule is not None and cfg.eval.loss_rule.k == 3
    assert cfg.members.seed_list() == [3, 5]
    assert cfg.intervene.clamp is not None and cfg.intervene.clamp.target == 2.5


def test_override_switches_task_and_model_family():
    cfg = load_config("quick", ["task.name=parity", "task.n=10", "model.name=onehot_mlp", "model.d_hidden=8"])
    assert cfg.task.name == "parity" and cfg.task.n == 10
    assert cfg.model.name == "onehot_mlp" and cfg.model.d_hidden == 8


def test_override_vary():
    cfg = load_config("quick", ["members.vary.optim.lr=[1e-3, 1e-2]", "members.seeds=2"])
    assert cfg.members.vary == {"optim.lr": [1e-3, 1e-2]}
    assert len(cfg.member_table()) == 4


@pytest.mark.parametrize("override,suggestion", [("optim.lrr=1e-3", "optim.lr"), ("trian.steps=5", "train.steps"),
                                                 ("model.d_embd=8", "model.d_embed")])
def test_unknown_override_key_suggests(override, suggestion):
    with pytest.raises(UserError) as e:
        load_config("quick", [override])
    msg = one_line(e)
    assert "unknown config key" in msg and f"did you mean '{suggestion}'" in msg


def test_unknown_key_in_dict_suggests():
    with pytest.raises(UserError) as e:
        validate({"optim": {"lrr": 1e-3}})
    msg = one_line(e)
    assert "unknown config key" in msg and "did you mean" in msg and "lr" in msg


def test_model_key_of_other_family_rejected():
    with pytest.raises(UserError, match="unknown config key"):
        load_config("quick", ["model.n_heads=4"])  # quick uses the mlp, which has no heads


@pytest.mark.parametrize("override,field", [("optim.lr=abc", "optim.lr"), ("train.steps=many", "train.steps"),
                                            ("train.dtype=float16", "train.dtype"), ("task.p=[1, 2]", "task")])
def test_wrong_type(override, field):
    with pytest.raises(UserError) as e:
        load_config("quick", [override])
    assert field in one_line(e)


@pytest.mark.parametrize("override", ["optim.lr=-1e-3", "optim.lr=0", "optim.wd=-1", "train.steps=0",
                                      "optim.beta2=1.0", "loss.tau=0", "intervene.label_noise=1.0"])
def test_out_of_range(override):
    with pytest.raises(UserError) as e:
        load_config("quick", [override])
    assert one_line(e).startswith("invalid config")


def test_negative_lr_message():
    with pytest.raises(UserError, match=r"optim\.lr.*greater than 0.*-0\.001"):
        load_config("quick", ["optim.lr=-1e-3"])


def test_override_without_equals():
    with pytest.raises(UserError, match="key=value"):
        load_config("quick", ["optim.lr"])


def test_vary_non_packable_key():
    with pytest.raises(UserError) as e:
        load_config("quick", ["members.vary.optim.beta1=[0.9, 0.95]"])
    assert "cannot vary per member" in one_line(e)
    with pytest.raises(UserError, match="did you mean 'optim.lr'"):
        validate({"members": {"vary": {"optim.lrr": [1e-3]}}})


def test_vary_unequal_lengths():
    with pytest.raises(UserError) as e:
        validate({"members": {"vary": {"optim.lr": [1e-3, 1e-2], "optim.wd": [0.1, 0.2, 0.3]}}})
    assert "equal lengths" in one_line(e)


def test_vary_values_validated():
    with pytest.raises(UserError, match="members.vary"):
        validate({"members": {"vary": {"optim.lr": [1e-3, -1.0]}}})
    with pytest.raises(UserError, match="empty"):
        validate({"members": {"vary": {"optim.lr": []}}})
    with pytest.raises(UserError, match="w_c"):  # rho needs the critical norm
        validate({"members": {"vary": {"intervene.clamp.rho": [0.5]}}})
    ok = validate({"intervene": {"clamp": {"rho": 1.0, "w_c": 3.0}},
                   "members": {"vary": {"intervene.clamp.rho": [None, 0.5]}}})
    assert ok.member_table() == [{"seed": 0, "intervene.clamp.rho": None}, {"seed": 0, "intervene.clamp.rho": 0.5}]


def test_seeds_validation():
    for seeds in (0, [], [1, 1]):
        with pytest.raises(UserError):
            validate({"members": {"seeds": seeds}})


def test_unknown_task_and_preset():
    with pytest.raises(UserError) as e:
        validate({"task": {"name": "modulr"}})
    assert "task" in one_line(e)
    with pytest.raises(UserError, match="did you mean 'quick'"):
        load_config("quik")


# -- files -------------------------------------------------------------------------------------------------------------
TOML = """
name = "from-toml"

[task]
name = "modular"
op = "mul"
p = 13
frac = 0.4
exclude_zero = true

[model]
name = "transformer"
n_layers = 2
d_model = 16
n_heads = 2

[optim]
lr = 3e-3

[members]
seeds = [4, 5]
vary = { "optim.wd" = [0.1, 1.0] }
"""

YAML = """
name: from-yaml
task: {name: modular, op: sub, p: 11, frac: 0.5}
model:
  name: mlp
  d_embed: 8
  d_hidden: 16
optim:
  lr: 0.003
  grokfast: {kind: ema, lamb: 1.5}
train:
  steps: 50
"""


def test_toml_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(TOML)
    cfg = load_config(f)
    assert cfg.name == "from-toml" and cfg.task.op == "mul" and cfg.task.exclude_zero and cfg.task.p == 13
    assert cfg.model.name == "transformer" and cfg.model.n_layers == 2 and cfg.model.d_mlp == 512
    assert cfg.optim.lr == 3e-3 and cfg.members.seed_list() == [4, 5]
    assert len(cfg.member_table()) == 4
    assert load_config(str(f), ["optim.lr=1e-2"]).optim.lr == 1e-2


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_yaml_file(tmp_path, suffix):
    f = tmp_path / f"c{suffix}"
    f.write_text(YAML)
    cfg = load_config(f)
    assert cfg.name == "from-yaml" and cfg.task.op == "sub" and cfg.model.d_embed == 8
    assert cfg.optim.grokfast.kind == "ema" and cfg.optim.grokfast.lamb == 1.5 and cfg.optim.grokfast.alpha == 0.98
    assert cfg.train.steps == 50


def test_file_inherits_preset(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('preset = "quick"\nname = "mine"\n\n[optim]\nlr = 5e-3\n\n[task]\np = 31\n')
    cfg = load_config(f)
    quick = load_config("quick")
    assert cfg.name == "mine" and cfg.optim.lr == 5e-3
    assert cfg.optim.wd == quick.optim.wd and cfg.optim.beta2 == quick.optim.beta2  # merged section
    assert cfg.task.p == 31 and cfg.task.frac == quick.task.frac and cfg.task.op == quick.task.op
    assert cfg.model == quick.model and cfg.members == quick.members and cfg.train == quick.train
    y = tmp_path / "c.yaml"
    y.write_text("preset: quick\nmodel: {name: onehot_mlp, d_hidden: 8}\n")
    cfg = load_config(y)
    assert cfg.model.name == "onehot_mlp" and cfg.model.d_hidden == 8  # a new model family replaces the section
    assert cfg.task == quick.task


def test_file_unknown_preset(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('preset = "nandaa"\n')
    with pytest.raises(UserError, match="did you mean 'nanda'"):
        load_config(f)


def test_file_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n  - x: {\n")
    with pytest.raises(UserError) as e:
        load_config(bad)
    assert one_line(e).startswith("cannot parse")
    badt = tmp_path / "bad.toml"
    badt.write_text("[task\nname = 1\n")
    with pytest.raises(UserError, match="cannot parse"):
        load_config(badt)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(UserError, match="mapping"):
        load_config(lst)
    typo = tmp_path / "typo.yaml"
    typo.write_text("optim: {lr: 1e-3, wdd: 1}\n")
    with pytest.raises(UserError, match="did you mean"):
        load_config(typo)


def test_empty_yaml_is_defaults(tmp_path):
    f = tmp_path / "empty.yaml"
    f.write_text("")
    assert load_config(f) == load_config()


def test_exponent_floats_are_numbers(tmp_path):
    """``1e-3`` is a float in YAML files and --set values (PyYAML's YAML 1.1 rules would make it a string)."""
    y = tmp_path / "c.yaml"
    y.write_text("optim: {lr: 1e-3, wd: 2E-1}\nmembers: {vary: {optim.lr: [1e-3, 3e-3], loss.tau: [1, .5e1]}}\n")
    t = tmp_path / "c.toml"
    t.write_text('[optim]\nlr = 1e-3\nwd = 0.2\n\n[members.vary]\n"optim.lr" = [0.001, 0.003]\n"loss.tau" = [1, 5.0]\n')
    cy, ct = load_config(y), load_config(t)
    assert cy.members.vary == {"optim.lr": [1e-3, 3e-3], "loss.tau": [1, 5.0]}
    assert all(isinstance(v, float) for v in cy.members.vary["optim.lr"])
    assert cy.run_id() == ct.run_id()
    cs = load_config(None, ["optim.lr=1e-3", "optim.wd=0.2", "members.vary.optim.lr=[1e-3, 3e-3]",
                            "members.vary.loss.tau=[1, 5.0]"])
    assert cs.run_id() == ct.run_id()
    assert load_config(None, ["name=e5"]).name == "e5"  # strings that only look numeric-ish stay strings


def test_file_on_preset_merges_same_family_and_replaces_another(tmp_path):
    same = tmp_path / "same.toml"
    same.write_text('preset = "quick"\n[model]\nd_hidden = 64\n')
    cfg = load_config(same)
    assert (cfg.model.name, cfg.model.d_hidden, cfg.model.d_embed) == ("mlp", 64, 32)  # d_embed from the preset
    other = tmp_path / "other.toml"
    other.write_text('preset = "quick"\n[model]\nname = "onehot_mlp"\nd_hidden = 64\n')
    cfg = load_config(other)
    assert (cfg.model.name, cfg.model.d_hidden, cfg.model.act) == ("onehot_mlp", 64, "quadratic")  # not mlp's gelu
