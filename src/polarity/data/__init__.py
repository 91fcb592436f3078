"""Data layer: the IMDB archive, tokenizer, vocabulary, padding, batching and user datasets."""

from polarity.data.batching import BucketBatchSampler, collate, truncate
from polarity.data.imdb import ImdbCorpus, ReviewSet, load_imdb, locate_dataset, validation_split
from polarity.data.labelled import LabelledTexts, label_names, read_labelled, split_labelled, stratified_indices
from polarity.data.sequence import pad_sequences
from polarity.data.tables import TableDataset, read_table
from polarity.data.tokenizer import Tokenizer
from polarity.data.encoder import TextEncoder
from polarity.data.vocab import Vocabulary

__all__ = [
    "BucketBatchSampler",
    "ImdbCorpus",
    "LabelledTexts",
    "ReviewSet",
    "TableDataset",
    "TextEncoder",
    "Tokenizer",
    "Vocabulary",
    "collate",
    "label_names",
    "load_imdb",
    "locate_dataset",
    "pad_sequences",
    "read_labelled",
    "read_table",
    "split_labelled",
    "stratified_indices",
    "truncate",
    "validation_split",
]
