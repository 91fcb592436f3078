"""Keras-style import paths: ``from polarity.preprocessing import sequence``."""
