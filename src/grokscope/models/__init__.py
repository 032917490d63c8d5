"""Model registry: each model is one file with a pydantic config and a ``MemberModel`` registered in ``MODELS``."""

from .base import MODELS, MemberModel, ModelRoles, TaskShape, gather_rows
from .deeplinear import DeepLinearConfig
from .hooks import HookPoints
from .mlp import MLPConfig
from .onehot_mlp import OneHotMLPConfig
from .transformer import TransformerConfig

MODEL_CONFIGS = (TransformerConfig, MLPConfig, OneHotMLPConfig, DeepLinearConfig)

__all__ = ["MODELS", "MODEL_CONFIGS", "MemberModel", "ModelRoles", "HookPoints", "TaskShape", "gather_rows",
           "TransformerConfig", "MLPConfig", "OneHotMLPConfig", "DeepLinearConfig"]
