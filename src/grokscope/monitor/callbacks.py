"""Training-framework adapters around ``Monitor`` (optional extras, imported lazily):

- ``lightning_callback(...)`` -> a ``lightning.pytorch.Callback`` (extra ``lightning``): measures after each
  optimizer step (``on_train_batch_end``, step = ``trainer.global_step``) on a fixed probe batch, closes at
  ``on_train_end``.
- ``hf_callback(...)`` -> a ``transformers.TrainerCallback`` (extra ``transformers``): measures at ``on_step_end``
  (step = ``state.global_step``), closes at ``on_train_end``.

Both take the Monitor's arguments (``unembed``, ``hidden``, ``probes``, ``out``, ``every``, ...) and
``inputs``: the probe batch (a tensor, or a dict of keyword arguments for the model, e.g. ``input_ids``).
The Monitor is created at train start on the framework's model (``pl_module`` / ``model``), so the callback can
be built before the model exists; ``callback.monitor`` is the Monitor once training started.
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError


def _import(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"this adapter needs {module.split('.')[0]}: pip install 'grokscope[{extra}]'") from None


def _to(inputs: Any, device: Any) -> Any:
    if isinstance(inputs, dict):
        return {k: (v.to(device) if hasattr(v, "to") else v) for k, v in inputs.items()}
    return inputs.to(device)


def lightning_callback(inputs: Any, **monitor_kwargs: Any) -> Any:
    """A Lightning ``Callback`` running a ``Monitor`` on the LightningModule (see the module docstring)."""
    pl = _import("lightning.pytorch", "lightning")
    from .monitor import Monitor

    class GrokscopeCallback(pl.Callback):
        def __init__(self) -> None:
            self.monitor: Monitor | None = None

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.monitor = Monitor(pl_module, **monitor_kwargs)

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            assert self.monitor is not None
            opts = trainer.optimizers
            step = trainer.global_step - 1  # the update just done (global_step counts optimizer steps)
            self.monitor.step(step, optimizer=opts[0] if opts else None, inputs=_to(inputs, pl_module.device))

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            if self.monitor is not None:
                self.monitor.close()

    return GrokscopeCallback()


def hf_callback(inputs: Any, **monitor_kwargs: Any) -> Any:
    """A Hugging Face ``TrainerCallback`` running a ``Monitor`` on the Trainer's model."""
    tr = _import("transformers", "transformers")
    from .monitor import Monitor

    class GrokscopeHFCallback(tr.TrainerCallback):
        def __init__(self) -> None:
            self.monitor: Monitor | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            self.monitor = Monitor(model, **monitor_kwargs)

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                        **kw: Any) -> None:
            assert self.monitor is not None
            device = next(model.parameters()).device
            self.monitor.step(state.global_step - 1, optimizer=optimizer, inputs=_to(inputs, device))

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.monitor is not None:
                self.monitor.close()

    return GrokscopeHFCallback()
