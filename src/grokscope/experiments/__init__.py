"""Reproductions: one module per published claim (stages of sweeps + an analysis -> a claim table).

``load_all()`` imports every module here, so a new experiment is one new file with an ``@experiment`` class.
"""

from .base import EXPERIMENTS, Context, Experiment, Stage, StageResult, experiment, load_all

__all__ = ["EXPERIMENTS", "Context", "Experiment", "Stage", "StageResult", "experiment", "load_all"]
