"""Data layer: the IMDB archive, tokenizer, vocabulary, padding, batching and user datasets."""

from polarity.data.batching import BucketBatchSampler, collate, truncate
from polarity.data.imdb import ImdbCorpus, ReviewSet, load_imdb, locate_dataset, validation_split
from polarity.data.sequence import pad_sequences
from polarity.data.tables import TableDataset, read_table
from polarity.data.tokenizer import Tokenizer
from polarity.data.vocab import Vocabulary

__all__ = [
    "BucketBatchSampler",
    "ImdbCorpus",
    "ReviewSet",
    "TableDataset",
    "Tokenizer",
    "Vocabulary",
    "collate",
    "load_imdb",
    "locate_dataset",
    "pad_sequences",
    "read_table",
    "truncate",
    "validation_split",
]
