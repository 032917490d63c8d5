"""Task registry: each task is one file with a pydantic config and a builder registered in ``TASKS``."""

from .base import TASKS, TaskData
from .modular import ModularTask
from .parity import ParityTask
from .permutation import PermutationTask
from .teacher import TeacherTask

TASK_CONFIGS = (ModularTask, ParityTask, PermutationTask, TeacherTask)

__all__ = ["TASKS", "TASK_CONFIGS", "TaskData", "ModularTask", "ParityTask", "PermutationTask", "TeacherTask"]
