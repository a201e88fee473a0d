"""Training: one engine for every neural surrogate (epochs over data or steps over a batch
source, optional L-BFGS phase), losses, normalisers, checkpoints and the metrics log."""

from pdeml.training.config import TrainerConfig
from pdeml.training.guard import TrainingDiverged
from pdeml.training.losses import make_loss, relative_h1, relative_lp
from pdeml.training.steps import BatchSource, StepConfig
from pdeml.training.trainer import Trainer

__all__ = [
    "BatchSource",
    "StepConfig",
    "Trainer",
    "TrainerConfig",
    "TrainingDiverged",
    "make_loss",
    "relative_h1",
    "relative_lp",
]
