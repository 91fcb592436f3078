"""What a model learned: nearest words in its embedding, a 2-D map of words, per-word contributions."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from polarity.errors import PolarityError
from polarity.files import atomic_path


def embedding_matrix(predictor) -> np.ndarray:
    embedding = getattr(predictor.model, "embedding", None)
    if embedding is None:
        raise PolarityError(f"a {predictor.config.model.get('type', 'model')} model has no word "
                            "embedding: nearest words and embedding plots need an rnn, hybrid or mean-embedding model")
    return embedding.weight.detach().cpu().numpy()


def kept_words(vocab, rows: int | None = None) -> list[str]:
    """The words that encode to their own id (``num_words`` and ``skip_top`` applied), most frequent
    first; with ``rows``, only those with an embedding row (a hybrid's RNN embeds its ``words`` most
    frequent ids and reads the others as unknown)."""
    return [w for w in vocab.words if w in vocab and (rows is None or vocab.id_of(w) < rows)]


def nearest_words(predictor, word: str, k: int = 20, metric: str = "euclidean") -> list[dict]:
    """The ``k`` words closest to ``word`` in the learned embedding (the word itself first, distance 0)."""
    vocab = predictor.encoder.vocab
    query = word.lower() if predictor.encoder.tokenizer.lower else word
    idx = vocab.id_of(query)
    weights = embedding_matrix(predictor)
    known = kept_words(vocab, len(weights))
    if idx is None or idx >= len(weights):
        close = difflib.get_close_matches(query, known, n=5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        where = (f"the model's vocabulary ({vocab.size:,} ids)" if idx is None else
                 f"the embedding, which holds the {len(weights):,} most frequent ids (the others read as unknown)")
        raise PolarityError(f"{word!r} is not in {where}{hint}")
    if metric not in ("euclidean", "cosine"):
        raise PolarityError(f"metric must be euclidean or cosine, got {metric!r}")
    ids = np.array([vocab.id_of(w) for w in known])
    candidates, target = weights[ids], weights[idx]
    if metric == "euclidean":
        distances = np.sqrt(((candidates - target) ** 2).sum(axis=1))
    else:
        norms = np.linalg.norm(candidates, axis=1) * np.linalg.norm(target)
        distances = 1.0 - (candidates @ target) / np.maximum(norms, 1e-12)
    order = np.lexsort((ids != idx, distances))[:k]  # by distance, the word itself first, then by frequency
    return [{"word": known[i], "distance": float(distances[i])} for i in order]


def word_probabilities(predictor, words: list[str]) -> np.ndarray:
    """The probability of the model's last label (``positive`` for sentiment) for each word alone."""
    return predictor.predict_proba(words)[:, -1]


def embedding_plot(predictor, out: Path, top: int = 500, labelled: int = 60) -> Path:
    """PCA of the ``top`` most frequent words' embeddings, coloured by each word's probability alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    vocab, weights = predictor.encoder.vocab, embedding_matrix(predictor)
    words = kept_words(vocab, len(weights))[:top]
    n = len(words)
    if n < 3:
        raise PolarityError("the model's vocabulary is too small to plot")
    ids = [vocab.id_of(w) for w in words]
    points = PCA(n_components=2).fit_transform(weights[ids])
    probs = word_probabilities(predictor, words)
    fig, ax = plt.subplots(figsize=(11, 9))
    scatter = ax.scatter(points[:, 0], points[:, 1], c=probs, cmap="RdYlGn", vmin=0, vmax=1, s=14)
    extremes = np.argsort(np.abs(probs - 0.5))[::-1][:labelled]
    for i in extremes:
        ax.annotate(words[i], points[i], fontsize=8, alpha=0.85)
    fig.colorbar(scatter, ax=ax, label=f"P({predictor.labels[-1]}) of the word alone")
    ax.set_title(f"Learned embedding: the {n} most frequent words (PCA)")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out


def explain(predictor, text: str) -> dict:
    """Occlusion: each word's contribution is the drop in the probability of the explained label
    when that word is removed. A two-label model explains its second label (``positive``), so
    that a positive contribution pushes towards it; a model of more labels explains its prediction."""
    if not isinstance(text, str):
        raise PolarityError(f"expected a text (str), got {type(text).__name__}")
    encoder = predictor.encoder
    tokens = encoder.tokenize(text)
    if not tokens:
        raise PolarityError("the text has no words to explain")
    variants = [tokens] + [tokens[:i] + tokens[i + 1 :] for i in range(len(tokens))]
    probs = predictor.predict_proba_ids(encoder.encode_tokens(variants))
    predicted = int(predictor.decide(probs[:1])[0])
    explained = 1 if predictor.binary else predicted
    base = float(probs[0, explained])
    read = reading_mask(len(tokens), encoder.maxlen, encoder.truncating, encoder.vocab.start_char is not None)
    words = [{"word": w, "contribution": base - float(p), "read": r, "known": w in encoder.vocab}
             for w, p, r in zip(tokens, probs[1:, explained], read)]
    return {"text": text, "label": predictor.labels[predicted], "explained_label": predictor.labels[explained],
            "probability": base, "probabilities": dict(zip(map(str, predictor.labels), map(float, probs[0]))),
            "words": words}


def reading_mask(n: int, maxlen: int | None, truncating: str, start_marker: bool) -> list[bool]:
    """Which of ``n`` words the model reads after truncation to ``maxlen`` ids (start marker included)."""
    total = n + int(start_marker)
    if maxlen is None or total <= maxlen:
        return [True] * n
    if truncating == "pre":  # keeps the end
        return [i >= total - maxlen - int(start_marker) for i in range(n)]
    return [i + int(start_marker) < maxlen for i in range(n)]


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
