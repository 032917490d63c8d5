"""Config sections of the weight-surgery interventions (``intervene.reinit_heads``, ``intervene.clip_norm``).

Kept out of ``config.py`` (its size limit); the kernels are ``grokscope.train.surgery``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HeadReinitConfig(Section):
    """Re-initialise chosen attention heads once, after a given step (paper 9's arm B; ``train.surgery``)."""

    step: int = Field(..., ge=1, description="after this optimizer step")
    layer: int = Field(0, ge=0, description="attention layer (transformer block) whose heads are re-drawn")
    heads: list[int] = Field(..., min_length=1, description="head indices re-drawn from the model's init "
                             "(their W_Q/W_K/W_V columns, W_O rows, Q/K/V bias entries); all else unchanged")


class NormClipConfig(Section):
    """Rescale all weights once, after a given step, so that ||W|| hits a target exactly (paper 9's arm C)."""

    step: int = Field(..., ge=1, description="after this optimizer step")
    target: float | None = Field(None, gt=0.0, description="absolute target ||W||")
    match_heads: list[int] | None = Field(None, min_length=1, description="target = the norm the member's weights "
                                          "would have after re-initialising these heads at this step with the "
                                          "same draw as intervene.reinit_heads (the matched control)")
    layer: int = Field(0, ge=0, description="the layer of match_heads")

    @model_validator(mode="after")
    def _one(self) -> NormClipConfig:
        if (self.target is None) == (self.match_heads is None):
            raise ValueError("intervene.clip_norm needs exactly one of target, match_heads")
        return self

