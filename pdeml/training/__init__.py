"""Training: one Trainer for every neural surrogate, losses, normalisers, checkpoints."""

from pdeml.training.config import TrainerConfig
from pdeml.training.losses import make_loss, relative_h1, relative_lp
from pdeml.training.trainer import Trainer, TrainingDiverged

__all__ = [
    "Trainer",
    "TrainerConfig",
    "TrainingDiverged",
    "make_loss",
    "relative_h1",
    "relative_lp",
]
