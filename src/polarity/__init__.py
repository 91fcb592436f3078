"""polarity: LSTM-family sentiment classifiers for movie reviews."""

__version__ = "0.1.0"
