"""Lightning and Hugging Face adapters, each on a tiny locally built model (nothing downloaded)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from grokscope.api import Run


class Tiny(nn.Module):
    def __init__(self, V=20, d=16):
        super().__init__()
        self.emb, self.ln_f, self.lm_head = nn.Embedding(V, d), nn.LayerNorm(d), nn.Linear(d, V)

    def forward(self, x):
        return self.lm_head(self.ln_f(self.emb(x).mean(1)))


def _data(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 20, (n, 3), generator=g)
    return x, x.sum(1) % 20


@pytest.mark.long  # importing lightning alone took 30 s on the shared 2-core machine; run with --run-long
def test_lightning_callback_writes_a_run(tmp_path):
    L = pytest.importorskip("lightning.pytorch")
    from grokscope.monitor.callbacks import lightning_callback

    x, y = _data()

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = Tiny()

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, i):
            return nn.functional.cross_entropy(self(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), 1e-2)

    cb = lightning_callback(x[:16], unembed="net.lm_head", hidden="net.ln_f", probes=["norms"], out=tmp_path / "pl")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    trainer = L.Trainer(max_steps=8, callbacks=[cb], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(Module(), loader)
    r = Run(tmp_path / "pl")
    assert r.complete and sorted(r.metrics(wide=True).step) == list(range(8))


@pytest.mark.long  # importing transformers' Trainer took ~15 s on the shared 2-core machine; run with --run-long
def test_hf_callback_writes_a_run(tmp_path):
    tr = pytest.importorskip("transformers")
    from grokscope.monitor.callbacks import hf_callback

    x, y = _data()

    class HFTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.ln_f, self.lm_head = nn.Embedding(20, 16), nn.LayerNorm(16), nn.Linear(16, 20)

        def forward(self, input_ids=None, labels=None):
            logits = self.lm_head(self.ln_f(self.emb(input_ids).mean(1)))
            loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
            return {"loss": loss, "logits": logits}

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return {"input_ids": x[i], "labels": y[i]}

    cb = hf_callback({"input_ids": x[:16]}, unembed="lm_head", hidden="ln_f", probes=["norms"], out=tmp_path / "hf",
                     every=2)
    args = tr.TrainingArguments(output_dir=str(tmp_path / "hf_out"), max_steps=6, per_device_train_batch_size=16,
                                report_to=[], save_strategy="no", use_cpu=True, logging_strategy="no",
                                disable_tqdm=True)
    tr.Trainer(model=HFTiny(), args=args, train_dataset=DS(), callbacks=[cb]).train()
    r = Run(tmp_path / "hf")
    assert r.complete and sorted(r.metrics(wide=True).step) == [0, 2, 4]


def test_missing_extra_is_one_line(monkeypatch):
    import builtins

    from grokscope.errors import UserError
    from grokscope.monitor import callbacks

    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("lightning"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    monkeypatch.setattr(callbacks, "_import", callbacks._import)
    import importlib

    monkeypatch.setattr(importlib, "import_module", lambda n: fake(n))
    with pytest.raises(UserError, match="pip install 'grokscope\\[lightning\\]'"):
        callbacks.lightning_callback(torch.zeros(1))
