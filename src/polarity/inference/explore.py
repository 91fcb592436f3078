"""What a model learned: nearest words in its embedding, a 2-D map of words, per-word contributions."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from polarity.errors import PolarityError


def embedding_matrix(predictor) -> np.ndarray:
    return predictor.model.embedding.weight.detach().cpu().numpy()


def nearest_words(predictor, word: str, k: int = 20, metric: str = "euclidean") -> list[dict]:
    """The ``k`` words closest to ``word`` in the learned embedding (the word itself first, distance 0)."""
    vocab = predictor.vocab
    query = word.lower() if predictor.tokenizer.lower else word
    idx = vocab.id_of(query)
    if idx is None:
        known = [w for w in vocab.words[: max(vocab.size - vocab.index_from - 1, 0)]]
        close = difflib.get_close_matches(query, known, n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PolarityError(f"{word!r} is not in the model's vocabulary ({vocab.size:,} ids){hint}")
    if metric not in ("euclidean", "cosine"):
        raise PolarityError(f"metric must be euclidean or cosine, got {metric!r}")
    weights = embedding_matrix(predictor)
    first_word = vocab.index_from + 1
    candidates = weights[first_word:]
    target = weights[idx]
    if metric == "euclidean":
        distances = np.sqrt(((candidates - target) ** 2).sum(axis=1))
    else:
        norms = np.linalg.norm(candidates, axis=1) * np.linalg.norm(target)
        distances = 1.0 - (candidates @ target) / np.maximum(norms, 1e-12)
    order = np.argsort(distances, kind="stable")[:k]
    words = vocab.decode(order + first_word)
    return [{"word": w, "distance": float(distances[i])} for w, i in zip(words, order)]


def word_probabilities(predictor, words: list[str]) -> np.ndarray:
    """How positive the model finds each word alone."""
    return predictor.predict(words)


def embedding_plot(predictor, out: Path, top: int = 500, labelled: int = 60) -> Path:
    """PCA of the ``top`` most frequent words' embeddings, coloured by each word's probability alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    vocab = predictor.vocab
    n = min(top, len(vocab.words), vocab.size - vocab.index_from - 1)
    if n < 3:
        raise PolarityError("the model's vocabulary is too small to plot")
    words = vocab.words[:n]
    ids = [vocab.id_of(w) for w in words]
    points = PCA(n_components=2).fit_transform(embedding_matrix(predictor)[ids])
    probs = word_probabilities(predictor, words)
    fig, ax = plt.subplots(figsize=(11, 9))
    scatter = ax.scatter(points[:, 0], points[:, 1], c=probs, cmap="RdYlGn", vmin=0, vmax=1, s=14)
    extremes = np.argsort(np.abs(probs - 0.5))[::-1][:labelled]
    for i in extremes:
        ax.annotate(words[i], points[i], fontsize=8, alpha=0.85)
    fig.colorbar(scatter, ax=ax, label="P(positive) of the word alone")
    ax.set_title(f"Learned embedding: the {n} most frequent words (PCA)")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def explain(predictor, text: str) -> dict:
    """Occlusion: each word's contribution is the drop in P(positive) when that word is removed."""
    tokens = predictor.tokenizer(text)
    if not tokens:
        raise PolarityError("the text has no words to explain")
    variants = [" ".join(tokens)] + [" ".join(tokens[:i] + tokens[i + 1 :]) for i in range(len(tokens))]
    probs = predictor.predict(variants)
    base = float(probs[0])
    kept_from = 0
    if predictor.maxlen is not None and len(tokens) + 1 > predictor.maxlen:
        kept_from = len(tokens) + 1 - predictor.maxlen  # truncation keeps the end ("pre")
    words = [{"word": w, "contribution": base - float(p), "read": i >= kept_from, "known": w in predictor.vocab}
             for i, (w, p) in enumerate(zip(tokens, probs[1:]))]
    return {"text": text, "probability": base, "label": "positive" if base >= 0.5 else "negative", "words": words}


def colour_explanation(result: dict, colour: bool = True) -> str:
    """The words with a background from red (pushes negative) to green (pushes positive)."""
    scale = max((abs(w["contribution"]) for w in result["words"]), default=0) or 1.0
    out = []
    for w in result["words"]:
        strength = abs(w["contribution"]) / scale
        if not colour or strength < 0.05:
            out.append(w["word"])
            continue
        level = int(round(strength * 4))
        code = (22, 28, 34, 40, 46)[level] if w["contribution"] > 0 else (52, 88, 124, 160, 196)[level]
        out.append(f"\033[48;5;{code}m\033[97m{w['word']}\033[0m")
    return " ".join(out)
