"""Keras-style dataset modules: ``from polarity.datasets import imdb``."""
