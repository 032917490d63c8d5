"""Named LM training presets (``grokscope lm train CORPUS --preset NAME``); sizes for a 2-core CPU, one thread."""

from __future__ import annotations

from typing import Any

from ..errors import UserError

LM_PRESETS: dict[str, dict[str, Any]] = {
    "lm-tiny": {  # ~0.5M parameters (vocab ~1.6k): a few steps/s on one thread
        "name": "lm-tiny", "model": {"n_layers": 2, "d_model": 64, "n_heads": 4, "d_mlp": 256, "seq_len": 32},
        "steps": 1500, "batch": 32, "lr": 3e-3, "warmup": 50, "wd": 0.01, "eval_points": 30, "checkpoints": 14,
    },
    "lm-small": {  # ~1.7M parameters
        "name": "lm-small", "model": {"n_layers": 2, "d_model": 128, "n_heads": 4, "d_mlp": 512, "seq_len": 32},
        "steps": 4000, "batch": 32, "lr": 1e-3, "warmup": 100, "wd": 0.01, "eval_points": 40, "checkpoints": 16,
    },
}


def lm_preset(name: str) -> dict[str, Any]:
    if name not in LM_PRESETS:
        raise UserError(f"unknown LM preset {name!r} (choose from: {', '.join(LM_PRESETS)})")
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in LM_PRESETS[name].items()}
