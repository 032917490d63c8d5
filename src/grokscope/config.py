"""The typed run configuration: one documented field per knob, validated before anything runs.

A config is a nested mapping (TOML/YAML file, preset, or Python dict) with sections ``task``, ``model``,
``optim``, ``loss``, ``train``, ``eval``, ``intervene``, ``members`` and ``checkpoint``. ``task.name`` and
``model.name`` pick the registered task and model; their other fields are the ones that task/model declares.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .config_phases import ON_ALARM_DOC, PHASES_DOC, OnAlarmRule, PhaseConfig, check_phases, hash_view, phase_tasks
from .config_strict import non_finite, type_mismatch
from .config_surgery import HeadReinitConfig, NormClipConfig
from .config_text import MAX_NESTING, MAX_TEXT, _yaml_loader, check_bounded, read_file  # noqa: F401  (re-exported)
from .errors import UserError
from .models import MODEL_CONFIGS
from .tasks import TASK_CONFIGS

TaskConfig = Annotated[Union[TASK_CONFIGS], Field(discriminator="name")]  # type: ignore[valid-type]
ModelConfig = Annotated[Union[MODEL_CONFIGS], Field(discriminator="name")]  # type: ignore[valid-type]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrokfastConfig(Section):
    """Grokfast gradient filters (Lee et al. 2024): g <- g + lamb·filter(g)."""

    kind: Literal["none", "ema", "ma"] = Field("none", description="none, EMA filter, or moving-average filter")
    alpha: float = Field(0.98, ge=0.0, lt=1.0, description="EMA momentum: ema <- alpha·ema + (1-alpha)·g")
    lamb: float = Field(2.0, ge=0.0, description="amplification of the slow gradient")
    window: int = Field(100, ge=1, description="MA window length in steps")


class OptimConfig(Section):
    name: Literal["adamw", "adam", "sgd"] = Field("adamw", description="adamw: decoupled decay; adam/sgd: L2 in the gradient")
    lr: float = Field(1e-3, gt=0.0, description="learning rate (per member via members.vary)")
    wd: float = Field(1.0, ge=0.0, description="weight decay λ (per member via members.vary)")
    adamw_order: Literal["decay_then_adam", "adam_then_decay"] = Field(
        "decay_then_adam", description="adamw step order: decay p *= 1-lr·wd, then the Adam update (torch.optim.AdamW, "
        "paper 4's runner), or the Adam update, then the decay (paper 1's runner)")
    beta1: float = Field(0.9, ge=0.0, lt=1.0, description="Adam β1")
    beta2: float = Field(0.98, ge=0.0, lt=1.0, description="Adam β2 (Nanda: 0.98; paper 1: 0.999)")
    eps: float = Field(1e-8, gt=0.0, description="Adam ε")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="SGD momentum")
    warmup_steps: int = Field(0, ge=0, description="linear lr warm-up from 0 over this many steps")
    decay: Literal["weights", "all"] | list[str] = Field(
        "weights", description="decoupled decay on: weight matrices, every trainable parameter, or a list of weight groups")
    orthograd: bool = Field(False, description="⊥Grad (Prieto et al. 2025): drop the gradient component along each weight")
    orthograd_renorm: bool = Field(True, description="⊥Grad: rescale the projected gradient to the original norm [reconstructed]")
    grokfast: GrokfastConfig = Field(default_factory=GrokfastConfig)


class LossConfig(Section):
    name: Literal["ce", "mse", "mse_centered", "stablemax"] = Field(
        "ce", description="cross-entropy, MSE on one-hot, MSE of the class-centred output on the zero-mean one-hot "
        "(Tian 2025 / papers/03 §14: ‖z − mean_c z − (e_y − 1/C)‖²), or StableMax-CE")
    tau: float = Field(1.0, gt=0.0, description="output temperature: logits/τ in loss and eval; not a parameter, not in the norm")


class ForkConfig(Section):
    """Branch from another run's saved training state (its ``checkpoint.states = true``) at one of its checkpoint
    steps: parameters, optimizer moments, intervention state and noise streams are taken from it, its metric rows up
    to that step are copied, and training continues under this config (e.g. with an intervention switched on)."""

    run: str = Field(..., description="the parent run directory")
    step: int = Field(..., ge=0, description="a checkpoint step of the parent that has a saved state")


class TrainConfig(Section):
    steps: int = Field(10_000, ge=1, description="optimizer steps (budget; unfinished members are censored here)")
    batch_size: int | None = Field(None, ge=1, description="minibatch size; None = full batch (one step = one epoch)")
    dtype: Literal["float32", "float64"] = Field("float32", description="working precision (no AMP: saturation depends on it)")
    stop_on_grok: float | None = Field(None, ge=1.0, description="a member stops (its updates and rows end) once it "
                                       "grokked and its step >= this × its T_grok; packing never changes a member's stop")
    fork: ForkConfig | None = Field(None, description="branch from a parent run's saved state (each member takes "
                                    "the parent member with its seed)")


class LossRule(Section):
    """Alternative T_grok: test loss below ``below`` for ``k`` consecutive evals (T_grok = first step of the streak)."""

    below: float = Field(..., gt=0.0, description="test-loss threshold")
    k: int = Field(..., ge=1, description="consecutive evaluations below the threshold")


class EvalConfig(Section):
    grid: Literal["geometric", "linear"] = Field("geometric", description="geometric: dense early, sparse late")
    points: int = Field(200, ge=2, description="geometric grid size: unique(round(geomspace(1, steps, points))) ∪ {0}")
    every: int = Field(100, ge=1, description="linear grid spacing in steps")
    grok_threshold: float = Field(0.90, gt=0.0, le=1.0, description="T_grok: first eval with test acc >= this")
    mem_threshold: float = Field(0.99, gt=0.0, le=1.0, description="T_mem: first eval with train acc >= this")
    loss_rule: LossRule | None = Field(None, description="use the held-test-loss rule for T_grok instead")
    probes: list[str] = Field(default_factory=lambda: ["accuracy", "norms", "logits"], min_length=1,
                              description="registered probes to run (at least one: a run without metrics says nothing)")
    plugins: list[str] = Field(default_factory=list, description="modules (or .py files) imported before the probes are "
                               "looked up, wherever the run executes: a user's own probes")
    probe_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="keyword options per probe name, passed to a stateful probe's constructor, "
        "e.g. {first_passage = {calibration = \"my-cal.json\"}} (see each probe's reference)")


class ClampConfig(Section):
    """Global weight-norm clamp (papers 1 and 4): after each step t >= from_step, scale the weights to the target."""

    target: float | None = Field(None, gt=0.0, description="absolute target ||W||")
    rho: float | None = Field(None, gt=0.0, description="target = rho·w_c (needs w_c)")
    w_c: float | None = Field(None, gt=0.0, description="critical norm (median ||W|| at grokking of a free control)")
    relative: float | None = Field(None, gt=0.0, description="target = relative × the member's own ||W|| when the "
                                   "clamp first applies (after step from_step; in a branch, its first step)")
    from_step: int = Field(0, ge=0, description="first step the clamp applies (paper 1: 500 for CE)")
    groups: list[str] | None = Field(None, description="weight groups scaled together (None = all)")
    per_group: dict[str, float] | None = Field(None, description="per-group clamp: each group to its own absolute norm")

    MODES: ClassVar[tuple[str, ...]] = ("target", "rho", "relative", "per_group")

    @property
    def mode(self) -> str:
        """Which of MODES sets the target (validation guarantees exactly one)."""
        return next(m for m in self.MODES if getattr(self, m) is not None)

    @classmethod
    def set_field(cls, clamp: dict | None, field: str, value: Any) -> dict | None:
        """The one rule for setting ``intervene.clamp.<field>`` on a config mapping (members.vary, sweeps):
        ``None`` for a mode removes the clamp; setting one mode clears the others; other fields just set."""
        if field in cls.MODES and value is None:
            return None
        clamp = dict(clamp or {})
        if field in cls.MODES:
            clamp.update(dict.fromkeys(cls.MODES))
        clamp[field] = value
        return clamp


class RescaleConfig(Section):
    """One-shot rescale after one step (paper 4 §4.2 (6): rescale once, then release), by a factor or to a norm."""

    step: int = Field(..., ge=1, description="after this optimizer step")
    factor: float | None = Field(None, gt=0.0, description="multiply the weights by this")
    to_norm: float | None = Field(None, gt=0.0, description="scale each member's weights (or the group) to this norm")
    group: str | None = Field(None, description="one weight group, or None for all weights")

    @model_validator(mode="after")
    def _one(self) -> RescaleConfig:
        if (self.factor is None) == (self.to_norm is None):
            raise ValueError("intervene.rescale needs exactly one of factor, to_norm")
        return self


class InterveneConfig(Section):
    """Interventions between steps. None of them resets optimizer moments."""

    init_scale: float = Field(1.0, gt=0.0, description="α: initial weights are multiplied by this (Omnigrok)")
    clamp: ClampConfig | None = None
    rescale: RescaleConfig | None = None
    wd_off_step: int | None = Field(None, ge=0, description="set weight decay to 0 from this step on")
    wd_off_at_t_mem: bool = Field(False, description="set weight decay to 0 once the member memorised (T_mem)")
    freeze_norm_at_t_mem: bool = Field(False, description="clamp the norm at its value at T_mem from then on")
    label_noise: float = Field(0.0, ge=0.0, lt=1.0, description="fraction of training labels replaced by a random wrong class")
    langevin_T: float = Field(0.0, ge=0.0, description="Langevin temperature: add sqrt(2·lr·T)·ξ to the weights each step")
    reinit_heads: HeadReinitConfig | None = Field(None, description="re-initialise attention heads after a step")
    clip_norm: NormClipConfig | None = Field(None, description="rescale the weights to a (matched) norm after a step")
    on_alarm: list[OnAlarmRule] = Field(default_factory=list, description=ON_ALARM_DOC)

    @model_validator(mode="after")
    def _check(self) -> InterveneConfig:
        c = self.clamp
        if c is not None:
            modes = sum(getattr(c, m) is not None for m in c.MODES)
            if modes != 1:
                raise ValueError("intervene.clamp needs exactly one of target, rho (with w_c), relative, per_group")
            if c.rho is not None and c.w_c is None:
                raise ValueError("intervene.clamp.rho needs intervene.clamp.w_c (the critical norm)")
        return self


PACKABLE = ("optim.lr", "optim.wd", "loss.tau", "intervene.init_scale", "intervene.clamp.rho",
            "intervene.clamp.target", "intervene.clamp.relative", "intervene.label_noise", "intervene.langevin_T")


class MembersConfig(Section):
    """Members trained together on the member axis: every seed × every row of ``vary``."""

    seeds: int | list[int] = Field(1, description="n (seeds 0..n-1) or an explicit list of member seeds")
    vary: dict[str, list[Any]] = Field(default_factory=dict, description=f"per-member values, zipped; keys from {PACKABLE}")

    @model_validator(mode="after")
    def _check(self) -> MembersConfig:
        if isinstance(self.seeds, int) and self.seeds < 1:
            raise ValueError("members.seeds must be >= 1")
        if isinstance(self.seeds, list) and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError("members.seeds must be a non-empty list of distinct seeds")
        if isinstance(self.seeds, list) and min(self.seeds) < 0:  # the sweep rule too: torch seeds are >= 0
            raise ValueError(f"members.seeds must be non-negative, got {min(self.seeds)}")
        lengths = {len(v) for v in self.vary.values()}
        if len(lengths) > 1:
            raise ValueError(f"members.vary lists must have equal lengths, got {sorted(lengths)}")
        for key, values in self.vary.items():
            if key not in PACKABLE:
                raise ValueError(f"members.vary key {key!r} cannot vary per member{_did_you_mean(key, PACKABLE)}")
            if not values:
                raise ValueError(f"members.vary.{key} is empty")
        return self

    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


class CheckpointConfig(Section):
    count: int = Field(16, ge=0, description="weights-only checkpoints on a log-spaced schedule (snapped to eval steps)")
    at: list[int] = Field(default_factory=list, description="extra checkpoint steps (each snapped to the nearest eval "
                          "step), e.g. the Theorem-6 epochs 50, 100, 175, 250, 300 of papers/03 §14")
    flush_seconds: float = Field(5.0, gt=0.0, description="metrics chunk + resume state at most this often")
    states: bool = Field(False, description="also keep the full training state at each checkpoint "
                         "(ckpt/state_NNNNNNNN.pt), so that other runs can branch from it (train.fork)")


NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._=-]{0,99}"  # one safe path component (the sweep name rule, bounded; '='
# for names derived from overrides, config_names)


class RunConfig(Section):
    name: str = Field("run", description="a label shown in summaries and the run directory's prefix: letters, "
                      "digits, '.', '_', '-', '=', starting with a letter or digit, at most 100 characters")
    task: TaskConfig = Field(default_factory=lambda: TASK_CONFIGS[0]())
    model: ModelConfig = Field(default_factory=lambda: MODEL_CONFIGS[0]())
    optim: OptimConfig = Field(default_factory=OptimConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    intervene: InterveneConfig = Field(default_factory=InterveneConfig)
    members: MembersConfig = Field(default_factory=MembersConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    phases: list[PhaseConfig] = Field(default_factory=list, description=PHASES_DOC)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        # the run directory is out/<name>-<hash>: a name must never reach outside --out (issue 11)
        import re

        if not re.fullmatch(NAME_RE, v):
            raise ValueError("must be one path component: letters, digits, '.', '_', '-', '=', starting with a letter "
                             "or digit, at most 100 characters")
        return v

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        split_seed = getattr(self.task, "split_seed", None)
        if isinstance(split_seed, int) and split_seed < 0:  # else torch's "expected non-negative integer", no key
            raise ValueError(f"task.split_seed must be >= 0 (or null: one split per member seed), got {split_seed}")
        if self.train.batch_size is not None and self.train.batch_size < 1:
            raise ValueError("train.batch_size must be >= 1")
        for key, values in self.members.vary.items():
            for v in values:  # each per-member value must be valid where it lands
                member_config(self, {key: v})
        check_phases(self.phases, self.intervene.on_alarm, self.train.steps)
        for _, task in phase_tasks(self.task.model_dump(mode="json"), self.phases)[1:]:
            type(self).model_validate({"task": task})  # each phase's task is a valid task config
        return self

    # -- derived ---------------------------------------------------------------------------------------------
    def member_table(self) -> list[dict[str, Any]]:
        """One dict per member: its seed and its ``vary`` values (member m = vary row r, seed s; seeds inner)."""
        return member_rows(self.members.seeds, self.members.vary)

    def run_id(self) -> str:
        return stable_hash(hash_view(self.model_dump(mode="json")))[:12]


def member_rows(seeds: int | list[int], vary: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The one member-table builder: every seed × every zipped ``vary`` row (rows outer, seeds inner), each
    ``{"seed": s, key: value, ...}``. Also used on raw config JSON (the catalog, for a run without members.json)."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    n_rows = len(next(iter(vary.values()))) if vary else 1
    return [{"seed": s, **{k: v[r] for k, v in vary.items()}} for r in range(n_rows) for s in seed_list]


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def member_config(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """The config member m sees: the base config with its ``vary`` values applied (``None`` removes a clamp)."""
    data = cfg.model_dump(mode="python")
    data["members"] = {"seeds": 1, "vary": {}}
    for key, value in overrides.items():
        if key == "seed":
            continue
        if key.startswith("intervene.clamp."):
            clamp = data["intervene"]["clamp"]
            data["intervene"]["clamp"] = ClampConfig.set_field(clamp, key.removeprefix("intervene.clamp."), value)
            continue
        set_path(data, key, value)
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"members.vary value {overrides}: {format_validation_error(e)}") from None
    bad = type_mismatch(data, cfg)
    if bad:
        raise ValueError(f"members.vary value {overrides}: {bad}")
    return cfg


# -- loading and overriding ------------------------------------------------------------------------------------
def set_path(data: dict, dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _did_you_mean(key: str, options: Any) -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


OPTIONAL_SECTIONS = {"clamp": ClampConfig, "rescale": RescaleConfig, "loss_rule": LossRule, "fork": ForkConfig,
                     "reinit_heads": HeadReinitConfig, "clip_norm": NormClipConfig}


def known_keys(data: dict) -> list[str]:
    """Every dotted key valid for this config's task and model (for suggestions)."""
    cfg = RunConfig.model_validate(data)
    keys: list[str] = []

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name}"
            keys.append(key)
            if isinstance(value, BaseModel):
                walk(value, key + ".")
            elif value is None and name in OPTIONAL_SECTIONS:
                keys.extend(f"{key}.{n}" for n in OPTIONAL_SECTIONS[name].model_fields)

    walk(cfg, "")
    return keys


def parse_value(text: str) -> Any:
    """A --set value: YAML scalar/list syntax (``1e-3``, ``true``, ``[0, 1]``, ``null``), else the string."""
    import yaml

    check_bounded(text, "--set value")
    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict, overrides: list[str], switches: list | None = None) -> dict:
    """``key=value`` overrides applied in order. ``switches`` collects ``(section, old section, keys set after)``
    for each ``task.name`` / ``model.name`` switch (config_names.reset_note says what it reset)."""
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if len(key) > 200 or key.count(".") > MAX_NESTING:
            raise UserError(f"unknown config key {key[:60]!r}{'...' if len(key) > 60 else ''}")
        value = parse_value(text)
        # switching task/model family first, so the other keys are checked against the new family
        if key in ("task.name", "model.name"):
            section = key.split(".")[0]
            if switches is not None:
                switches.append((section, copy.deepcopy(data.get(section) or {}), set()))
            data[section] = {"name": value}
            continue
        for sec, _, kept in switches or []:
            if key.startswith(sec + "."):
                kept.add(key.removeprefix(sec + ".").split(".")[0])
        probe = copy.deepcopy(data)
        if key.startswith("members.vary."):
            probe.setdefault("members", {}).setdefault("vary", {})[key.removeprefix("members.vary.")] = value
        else:
            set_path(probe, key, value)
        try:
            valid = known_keys(data)
        except ValidationError:
            valid = []
        if valid and key not in valid and not key.startswith("members.vary."):
            raise UserError(f"unknown config key {key!r}{_did_you_mean(key, valid)}")
        data = probe
    return data


def format_validation_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-after", "tagged-union")))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"unknown config key {loc!r}"
    if err["type"] == "union_tag_invalid":
        return f"{loc}: {msg}"
    got = err.get("input")
    got_s = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    return f"{loc}: {msg}{got_s}" if loc else f"{msg}"


def validate(data: dict) -> RunConfig:
    bad = non_finite(data)
    if bad:
        raise UserError(f"invalid config: {bad}")
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        msg = format_validation_error(e)
        if msg.startswith("unknown config key"):
            key = msg.split("'")[1]
            probe = copy.deepcopy({k: v for k, v in data.items() if k in RunConfig.model_fields})
            node = probe
            for part in key.split(".")[:-1]:  # drop the unknown key itself, or known_keys fails on it too
                node = node[part] if isinstance(node.get(part), dict) else node
            node.pop(key.split(".")[-1], None)
            try:
                valid = known_keys(probe)
            except ValidationError:
                valid = []
            msg += _did_you_mean(key, valid)
        raise UserError(f"invalid config: {msg}") from None
    bad = type_mismatch(data, cfg)
    if bad:
        raise UserError(f"invalid config: {bad}")
    return cfg


def load_config(source: str | Path | dict | None = None, overrides: list[str] | None = None,
                notes: list[str] | None = None) -> RunConfig:
    """Build a validated config from a preset name, a TOML/YAML path or a dict, then apply ``key=value`` overrides.

    A file may name a preset to start from with a top-level ``preset = "nanda"``. A config that starts from a
    preset and changes its task or model is named by what differs (``quick-op=x2xyy2-p=31``) unless the user
    gives ``name``. ``notes`` (a list) receives one line per ``task.name``/``model.name`` switch that reset fields.
    """
    from .config_names import derived_name, differences, reset_note
    from .presets import PRESETS

    preset = str(source) if not isinstance(source, dict) and source is not None and str(source) in PRESETS else None

    if source is None:
        data: dict = {}
    elif isinstance(source, dict):
        data = copy.deepcopy(source)
    elif str(source) in PRESETS:
        data = copy.deepcopy(PRESETS[str(source)].config)
    elif Path(source).suffix in (".toml", ".yaml", ".yml", ".json") or Path(source).exists():
        data = read_file(source)
    else:
        raise UserError(f"unknown preset or config file {str(source)!r}{_did_you_mean(str(source), PRESETS)}")
    base = data.pop("preset", None)
    named = "name" in data and preset is None or any(o.split("=", 1)[0].strip() == "name" for o in overrides or [])
    preset = preset or (base if isinstance(base, str) else None)
    if base is not None:
        if not isinstance(base, str):
            raise UserError(f"preset must be a preset name (a string), got {type(base).__name__}")
        if base not in PRESETS:
            raise UserError(f"unknown preset {base!r}{_did_you_mean(str(base), PRESETS)}")
        merged = copy.deepcopy(PRESETS[base].config)
        _deep_update(merged, data)
        data = merged
    switches: list = []
    data = apply_overrides(data, overrides or [], switches)
    cfg = validate(data)
    if notes is not None:
        for section, old, kept in switches:
            note = reset_note(section, old, getattr(cfg, section).model_dump(mode="json"), kept)
            notes.extend([note] if note else [])
    if preset is not None and not named:
        parts = differences(validate(copy.deepcopy(PRESETS[preset].config)).model_dump(mode="json"),
                            cfg.model_dump(mode="json"))
        if parts:
            cfg = validate({**cfg.model_dump(mode="json"), "name": derived_name(cfg.name, parts)})
    return cfg


def _deep_update(dst: dict, src: dict) -> None:
    """Merge ``src`` into ``dst``; a task/model section that names another family replaces the preset's section."""
    for k, v in src.items():
        old = dst.get(k)
        mergeable = isinstance(v, dict) and isinstance(old, dict)
        if mergeable and k in ("task", "model"):
            mergeable = v.get("name", old.get("name")) == old.get("name")
        if mergeable:
            _deep_update(old, v)
        else:
            dst[k] = v
