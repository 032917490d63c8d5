"""The causal LM: forward against the core transformer, training in the run store, resume after kill -9, CLI."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from grokscope.lm.corpus import CorpusConfig, write_corpus
from grokscope.lm.model import LMModelConfig, lm_forward, make_lm, next_token_loss
from grokscope.lm.train import LMTrainConfig, Stream, checkpoints, load_model, train
from grokscope.store import checkpoint
from grokscope.store.run_dir import open_run

TINY = {"name": "t", "model": {"n_layers": 1, "d_model": 16, "n_heads": 2, "d_mlp": 32, "seq_len": 8},
        "steps": 24, "batch": 4, "lr": 3e-3, "warmup": 5, "eval_points": 8, "checkpoints": 5, "save_every": 5,
        "val_tokens": 300}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(CorpusConfig(tokens=3000, seed=1), tmp_path_factory.mktemp("lm") / "corpus")


def test_lm_forward_is_the_core_transformer_at_every_position():
    m = make_lm(LMModelConfig(n_layers=2, d_model=16, n_heads=2, d_mlp=32, seq_len=6), 30, M=2,
                dtype=torch.float64)
    m.init_members([3, 4])
    x = torch.randint(0, 30, (1, 5, 6))
    cap: dict = {}
    logits = lm_forward(m, x, cap)
    assert logits.shape == (2, 5, 6, 30)
    assert torch.allclose(logits, lm_forward(m, x), atol=1e-12)  # explicit pattern == SDPA
    for S in (3, 6):  # the core reference forward reads the last position of a prefix: causal LM == core
        assert torch.allclose(m(x[..., :S], cache={}), logits[:, :, S - 1], atol=1e-10)
    assert torch.allclose(cap["pattern.0"].sum(-1), torch.ones(2, 5, 2, 6, dtype=torch.float64))
    assert float(cap["pattern.1"][..., 0, 1:].detach().abs().max()) == 0.0  # causal: position 0 sees itself only
    y = torch.randint(0, 30, (1, 5, 6))
    assert next_token_loss(logits, y).shape == (2,)


def test_stream_order_is_logged_and_wraps(corpus):
    from grokscope.lm.corpus import load_corpus

    c = load_corpus(corpus)
    s = Stream(c, LMTrainConfig(**{**TINY, "train_tokens": 100}))
    assert s.n_windows == (100 - 1) // 8
    assert torch.equal(s.batch(1)[0], torch.from_numpy(c.tokens[:9].astype("int64")))
    assert s.windows(4).tolist() == [0, 1, 2, 3]  # 12 windows, 4 per step: step 4 starts a new pass


def _metrics(run) -> list[tuple]:
    df = open_run(run).read_metrics().to_pandas().sort_values(["step", "metric"])
    return list(df.itertuples(index=False, name=None))


def test_resume_after_kill_9_is_bit_identical(corpus, tmp_path):
    cfg = LMTrainConfig(**TINY)
    ref = train(corpus, cfg, tmp_path / "ref")
    def progress(step: int, total: int) -> None:
        if step == 13:  # a real kill -9 of the training process, mid-run (between two saved states)
            os.kill(os.getpid(), signal.SIGKILL)

    pid = os.fork()  # the child inherits the imported modules (a fresh interpreter would re-import torch)
    if pid == 0:
        try:
            train(corpus, cfg, tmp_path / "cut", progress)
        finally:
            os._exit(3)  # never reached: the child is killed at step 13
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    cut = tmp_path / "cut" / ref.path.name
    assert open_run(cut).read_json("meta.json")["steps_done"] == 10  # the last state before the kill
    resumed = train(corpus, cfg, tmp_path / "cut")
    assert resumed.read_json("meta.json")["status"] == "complete"
    assert _metrics(resumed.path) == _metrics(ref.path)
    assert checkpoints(resumed) == checkpoints(ref) and checkpoints(ref)[-1] == 24
    for step in checkpoints(ref):
        a = checkpoint.load(checkpoint.ckpt_path(ref.ckpt_dir, step))["model"]
        b = checkpoint.load(checkpoint.ckpt_path(resumed.ckpt_dir, step))["model"]
        assert all(torch.equal(a[k], b[k]) for k in a), step
    model, tok = load_model(*_run_and_cfg(resumed.path), 24)
    assert len(tok) == model.P["W_U"].shape[-1]


def _run_and_cfg(path):
    from grokscope.lm.train import load_run

    return load_run(path)


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    """The real entry point in-process: (exit code, stdout, stderr) of this call only."""
    from tests.hardening.cli_inproc import cli

    capsys.readouterr()
    o = cli(capsys, *args)
    return o.code, o.out, o.err


def test_cli_blimp_and_errors(corpus, tmp_path, capsys):
    import gzip
    import json

    from grokscope.lm import blimp

    pairs = tmp_path / "pairs"
    pairs.mkdir()
    lines = gzip.decompress((blimp.packaged() / "anaphor_gender_agreement.jsonl.gz").read_bytes()).splitlines()
    (pairs / "anaphor_gender_agreement.jsonl").write_bytes(b"\n".join(lines[:30]) + b"\n")
    run = train(corpus, LMTrainConfig(**{**TINY, "steps": 6, "checkpoints": 2}), tmp_path / "runs")
    code, out, err = _cli(capsys, "lm", "blimp", run.path, "--pairs", pairs, "--paradigms",
                          "anaphor_gender_agreement", "--json")
    assert code == 0, err
    r = json.loads(out)["paradigms"]["anaphor_gender_agreement"]
    assert r["n_pairs"] == 30 and r["n_scored"] + r["n_oov"] + r["n_long"] == 30 and r["steps"] == [1, 6]
    assert all(0.0 <= a <= 1.0 for a in r["accuracy"])
    for args, msg in ((("lm", "blimp", run.path, "--pairs", pairs, "--paradigms", "nope"), "no BLiMP file"),
                      (("lm", "blimp", tmp_path), "not a grokscope run"),
                      (("lm", "blimp", run.path, "--steps", "7"), "no checkpoint at step"),
                      (("lm", "corpus", "--out", tmp_path / "c", "--tokens", "3x"), "--tokens"),
                      (("lm", "corpus", "--out", tmp_path / "c", "--phenomena", "9"), "--phenomena"),
                      (("lm", "train", tmp_path, "--preset", "lm-tiny"), "not a grokscope corpus"),
                      (("lm", "train", corpus, "--preset", "huge"), "unknown LM preset")):
        code, _, err = _cli(capsys, *args)
        assert code == 2 and msg in err and err.count("\n") == 1, (args, err)
    assert not (tmp_path / "c").exists()


def test_core_resume_command_continues_an_lm_run(corpus, tmp_path, capsys):
    """``grokscope resume RUN`` works on a language-model run as on every run (it hands over to ``lm resume``)."""
    cfg = LMTrainConfig(**{**TINY, "steps": 12, "checkpoints": 2})
    ref = train(corpus, cfg, tmp_path / "ref")
    cut = train(corpus, cfg, tmp_path / "cut", stop_after=5)
    assert cut.read_json("meta.json")["status"] != "complete"
    code, out, err = _cli(capsys, "resume", cut.path)
    assert code == 0, err
    assert open_run(cut.path).read_json("meta.json")["status"] == "complete"
    assert _metrics(cut.path) == _metrics(ref.path)
    code, _, err = _cli(capsys, "resume", cut.path, "--steps", "20")
    assert code == 2 and "not supported for language-model runs" in err
