"""Summary statistics of the dataset, as `polarity data stats` prints them."""

from __future__ import annotations

import numpy as np

from polarity.data.imdb import SPLITS, ImdbCorpus
from polarity.data.tokenizer import Tokenizer
from polarity.data.vocab import Vocabulary


def length_summary(lengths: np.ndarray) -> dict:
    if len(lengths) == 0:
        return {"mean": 0.0, "median": 0.0, "p90": 0.0, "max": 0}
    return {
        "mean": round(float(lengths.mean()), 1),
        "median": float(np.median(lengths)),
        "p90": float(np.percentile(lengths, 90)),
        "max": int(lengths.max()),
    }


def corpus_stats(corpus: ImdbCorpus, tokenizer: Tokenizer | None = None) -> dict:
    """Counts per split and label, review length in tokens, and the training vocabulary's size."""
    tokenizer = tokenizer or Tokenizer()
    splits = {}
    vocab_size = 0
    for name in SPLITS:
        reviews = corpus.split(name)
        tokens = [tokenizer(t) for t in reviews.texts]
        if name == "train":
            vocab_size = len(Vocabulary.build(tokens))
        lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
        splits[name] = {
            "reviews": len(reviews),
            "positive": int((reviews.labels == 1).sum()),
            "negative": int((reviews.labels == 0).sum()),
            "unlabelled": int((reviews.labels == -1).sum()),
            "length": length_summary(lengths),
        }
    return {"source": corpus.source, "splits": splits, "vocabulary_size": vocab_size, "tokenizer": tokenizer.to_dict()}


def format_stats(stats: dict) -> str:
    lines = [f"source: {stats['source']}", ""]
    header = f"{'split':<7}{'reviews':>9}{'pos':>8}{'neg':>8}{'unlab.':>8}   tokens: {'mean':>7}{'median':>8}{'p90':>8}{'max':>7}"
    lines.append(header)
    for name, s in stats["splits"].items():
        ln = s["length"]
        lines.append(
            f"{name:<7}{s['reviews']:>9,}{s['positive']:>8,}{s['negative']:>8,}{s['unlabelled']:>8,}"
            f"           {ln['mean']:>7.1f}{ln['median']:>8.0f}{ln['p90']:>8.0f}{ln['max']:>7,}"
        )
    lines += ["", f"vocabulary (training split): {stats['vocabulary_size']:,} words"]
    return "\n".join(lines)
