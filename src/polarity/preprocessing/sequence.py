"""Mirror of ``keras.preprocessing.sequence``: ``from polarity.preprocessing.sequence import pad_sequences``."""

from polarity.data.sequence import pad_sequences

__all__ = ["pad_sequences"]
