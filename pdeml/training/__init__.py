"""Training: one Trainer for every neural surrogate, losses, normalisers, checkpoints."""

from pdeml.training.losses import make_loss, relative_h1, relative_lp
from pdeml.training.trainer import Trainer, TrainerConfig, TrainingDiverged

__all__ = [
    "Trainer",
    "TrainerConfig",
    "TrainingDiverged",
    "make_loss",
    "relative_h1",
    "relative_lp",
]
