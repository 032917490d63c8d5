"""Two user probes, loaded with ``--set eval.plugins=[examples/plugins/my_probes.py]`` (the README's example).

    grokscope run quick --set eval.plugins=[examples/plugins/my_probes.py] \\
        --set eval.probes=[accuracy,norms,mlp_dead_frac,update_path]
"""

from __future__ import annotations

import torch

from grokscope.probes import EvalContext, probe


def dead_frac(post: torch.Tensor) -> torch.Tensor:
    """``post [M, N, H]`` hidden activations -> ``[M]`` fraction that are <= 0 (a pure kernel: M = 1 works too)."""
    return (post <= 0).double().mean((1, 2))


@probe("mlp_dead_frac", hooks=lambda roles: roles.hidden[:1], uses_labels=False, every=2, cost="forward")
def mlp_dead_frac(ctx: EvalContext) -> dict[str, torch.Tensor]:
    """Asks for the model's first hidden activation by role (any model), at every 2nd evaluation."""
    post = ctx.cache[ctx.roles.hidden[0]]
    return {"mlp/dead_frac": dead_frac(post.flatten(1, -2))}


@probe("update_path", uses_labels=False)
class UpdatePath:
    """Σ_t ||θ_t - θ_{t-1}|| per member: state across evaluations, fed by a hook on every update."""

    def __init__(self) -> None:
        self.length: torch.Tensor | None = None

    def after_step(self, t: int, params: dict, grads: dict, delta: dict) -> None:
        d = torch.stack([v.double().pow(2).flatten(1).sum(1) for v in delta.values()]).sum(0).sqrt()
        self.length = d if self.length is None else self.length + d

    def __call__(self, ctx: EvalContext) -> dict[str, torch.Tensor]:
        M = ctx.logits.shape[0]
        return {"path/length": self.length.clone() if self.length is not None else torch.zeros(M, dtype=torch.float64)}

    def state_dict(self) -> dict:  # saved in the resume state: resume stays bit-identical
        return {"length": self.length}

    def load_state_dict(self, sd: dict) -> None:
        self.length = sd["length"]
