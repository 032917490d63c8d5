"""Hook points of a reference forward pass: read (cache) and edit activations by name.

A reference forward calls ``h = hook(name, h)`` at every hook point. With ``edit[name]`` the activation is
replaced by ``edit[name](h)`` (same shape) and the rest of the forward uses the edited value; with a ``cache``
the (edited) activation is stored under ``name`` when ``keep`` is None or holds the name. Storing only kept names
matters: a probe evaluated over all N examples asks for the one or two activations it reads, not for every
``[M, N, H, S, S]`` pattern of the model. Names follow TransformerLens (``blocks.0.attn.hook_pattern``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from torch import Tensor

from ..errors import UserError
from ..registry import suggest

Edit = Callable[[Tensor], Tensor]


class HookPoints:
    """The ``hook(name, h)`` callable a reference forward threads through its hook points."""

    def __init__(self, cache: dict | None = None, keep: Collection[str] | None = None,
                 edit: Mapping[str, Edit] | None = None) -> None:
        self.cache = cache
        self.keep = None if keep is None else frozenset(keep)
        self.edit = dict(edit or {})

    def __call__(self, name: str, h: Tensor) -> Tensor:
        fn = self.edit.get(name)
        if fn is not None:
            out = fn(h)
            if not isinstance(out, Tensor) or out.shape != h.shape:
                got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise UserError(f"edit[{name!r}] returned {got}; the hook's activation has shape {tuple(h.shape)}")
            h = out
        if self.cache is not None and (self.keep is None or name in self.keep):
            self.cache[name] = h
        return h

    def check(self, names: Collection[str]) -> None:
        """One ``UserError`` line for a kept or edited name that is not a hook point of the model."""
        for kind, asked in (("keep", self.keep or ()), ("edit", self.edit)):
            for name in sorted(asked):
                if name not in names:
                    raise UserError(f"{kind}: unknown hook {name!r}{suggest(name, names)}")


class NameRecorder(HookPoints):
    """Records the hook names a forward passes through, in order (for ``MemberModel.hook_names``)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __call__(self, name: str, h: Tensor) -> Tensor:
        self.names.append(name)
        return h

