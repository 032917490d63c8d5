"""``grokscope lm``: generated corpus, LM training, BLiMP scoring and exposure analysis (papers/02 §6-7).

Registered on the main app by ``grokscope.cli._register_extensions``; heavy imports inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli_json import print_json
from .errors import UserError

lm_app = typer.Typer(help="Language-model grokking: corpus, training, BLiMP minimal pairs, exposure.",
                     no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(lm_app, name="lm")


def _paradigms(text: Optional[str]) -> Optional[list[str]]:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


@lm_app.command("corpus")
def corpus(
    out: Path = typer.Option(..., "--out", help="new corpus directory"),
    phenomena: int = typer.Option(5, "--phenomena", help="how many phenomena (the first N of the grammar's list)"),
    tokens: str = typer.Option("200k", "--tokens", help="stream length: 200000, 200k, 5M"),
    seed: int = typer.Option(0, "--seed"),
    holdout: float = typer.Option(0.3, "--holdout", help="share of each phenomenon's keys never shown in it"),
    frames: float = typer.Option(0.5, "--frames", help="share of phenomenon sentences copied from BLiMP frames"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Generate a corpus with controlled exposure; the stream order is the training order (tokens.npy)."""
    from pydantic import ValidationError

    from .lm.corpus import CorpusConfig, parse_tokens, phenomena_first, write_corpus

    try:
        cfg = CorpusConfig(phenomena=phenomena_first(phenomena), tokens=parse_tokens(tokens), seed=seed,
                           holdout=holdout, frames=frames)
    except ValidationError as e:
        raise UserError(f"corpus options: {e.errors()[0]['msg']}") from None
    path = write_corpus(cfg, out)
    import json

    manifest = json.loads((path / "manifest.json").read_text())
    if as_json:
        print_json(manifest)
        return
    typer.echo(f"wrote {path}: {manifest['n_tokens']} tokens, {manifest['n_sentences']} sentences, vocabulary "
               f"{manifest['vocab_size']} words")
    for p, n in manifest["sentences_per_phenomenon"].items():
        typer.echo(f"  {p:14s} {n:8d} sentences, {len(manifest['held_out'][p]):4d} keys held out")


@lm_app.command("train")
def train(
    corpus_dir: Path = typer.Argument(..., help="a corpus made by `grokscope lm corpus`"),
    preset: str = typer.Option("lm-tiny", "--preset", help="lm-tiny or lm-small"),
    out: Path = typer.Option(Path("runs"), "--out", help="parent directory of the run"),
    steps: Optional[int] = typer.Option(None, "--steps", help="override the preset's steps"),
    seed: Optional[int] = typer.Option(None, "--seed", help="one member with this seed"),
    threads: int = typer.Option(1, "--threads"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Train (or resume: the same command continues an interrupted run) a causal LM on the corpus."""
    from .lm.presets import lm_preset
    from .lm.train import LMTrainConfig
    from .lm.train import train as run_train

    spec = lm_preset(preset)
    if steps is not None:
        if steps < 1:
            raise UserError("--steps must be >= 1")
        spec["steps"] = steps
    if seed is not None:
        spec["seeds"] = [seed]
    cfg = LMTrainConfig(**spec, threads=threads)
    run = run_train(corpus_dir, cfg, out)
    meta = run.read_json("meta.json")
    if as_json:
        print_json({"run": str(run.path), **meta})
    else:
        typer.echo(f"{run.path}: {meta['status']}, {meta['steps_done']} steps, {meta.get('params')} parameters")


@lm_app.command("resume")
def resume(run_dir: Path = typer.Argument(...), threads: int = typer.Option(1, "--threads")) -> None:
    """Continue an interrupted LM run from its last saved state."""
    from .lm.train import LMTrainConfig, load_run
    from .lm.train import train as run_train

    run, cfg = load_run(run_dir)
    lm = LMTrainConfig(**{**cfg["lm"], "threads": threads})
    done = run_train(cfg["corpus"], lm, run.path.parent)
    typer.echo(f"{done.path}: {done.read_json('meta.json')['status']}")


@lm_app.command("blimp")
def blimp_cmd(
    run_dir: Path = typer.Argument(..., help="an LM run"),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="directory of BLiMP *.jsonl files (or one file); "
                                         "default: the mirrored paradigms shipped with grokscope"),
    paradigms: Optional[str] = typer.Option(None, "--paradigms", help="comma-separated paradigm names"),
    steps: Optional[str] = typer.Option(None, "--steps", help="checkpoint steps, comma-separated (default: all)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Per-paradigm minimal-pair accuracy over the run's checkpoints (pairs with unknown words counted)."""
    from .lm import blimp
    from .lm.evaluate import score_run

    try:
        st = [int(s) for s in steps.split(",")] if steps else None
    except ValueError:
        raise UserError(f"--steps: expected integers, got {steps!r}") from None
    res = score_run(run_dir, blimp.load(pairs or blimp.packaged(), _paradigms(paradigms)), st)
    if as_json:
        print_json(res)
        return
    for name, r in res["paradigms"].items():
        typer.echo(f"{name}: {r['n_scored']}/{r['n_pairs']} scored ({r['n_oov']} with unknown words, "
                   f"{r['n_long']} too long)")
        typer.echo("  " + "  ".join(f"{s}:{_fmt(a)}" for s, a in zip(r["steps"], r["accuracy"])))


@lm_app.command("exposure")
def exposure_cmd(
    corpus_dir: Path = typer.Argument(...),
    run_dir: Path = typer.Argument(...),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="directory of BLiMP *.jsonl files (default: shipped)"),
    theta: float = typer.Option(0.8, "--theta", help="accuracy threshold for t_fit / t_gen"),
    threshold: int = typer.Option(1, "--threshold", help="occurrences that make a pair proxy-train"),
    max_pairs: Optional[int] = typer.Option(None, "--max-pairs", help="first N pairs per paradigm (speed)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Exposure index over the stream, proxy-train / proxy-val split, and the delay per phenomenon."""
    from .lm import blimp
    from .lm.corpus import load_corpus
    from .lm.evaluate import exposure_run

    if not 0 < theta <= 1 or threshold < 1:
        raise UserError("--theta must be in (0, 1] and --threshold >= 1")
    corpus = load_corpus(corpus_dir)
    names = list(corpus.manifest["paradigms"].values())
    loaded = blimp.load(pairs or blimp.packaged(), names)
    if max_pairs:
        loaded = {k: v[:max_pairs] for k, v in loaded.items()}
    res = exposure_run(corpus, run_dir, loaded, theta, threshold)
    if as_json:
        print_json(res)
        return
    for phen, r in res["phenomena"].items():
        d = "censored" if r["t_gen"] is None else r["delay"]
        typer.echo(f"{phen:14s} train {r['n_proxy_train']:4d} val {r['n_proxy_val']:4d}  t_fit {r['t_fit']}  "
                   f"t_gen {r['t_gen']}  delay {d}  final acc train {_fmt(r['acc_proxy_train'][-1])} val "
                   f"{_fmt(r['acc_proxy_val'][-1])}")


