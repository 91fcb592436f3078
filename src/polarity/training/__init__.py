"""Training: recipes, the fit loop, checkpoints and the pipeline that writes a model folder."""

from polarity.training.loop import TrainingInterrupted
from polarity.training.trainer import Trainer
from polarity.training.pipeline import train_recipe
from polarity.training.recipes import load_recipe, recipe_names

__all__ = ["Trainer", "TrainingInterrupted", "load_recipe", "recipe_names", "train_recipe"]
