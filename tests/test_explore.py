"""What a model learned, as users see it: nearest words and their distances, the suggestions for an
unknown word, the embedding map (its texts, dot colours and labelled words), explanations (labels,
probabilities, the words read) and their colours in a terminal."""

from __future__ import annotations

import math
import random

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import QuadMesh

from polarity.cli import main
from polarity.errors import PolarityError
from polarity.inference import Predictor
from polarity.inference.explore import colour_explanation, embedding_plot, explain, nearest_words
from polarity.training import load_recipe, train_recipe

from conftest import synthetic_reviews

QUIET = dict(progress=False, log=lambda *a: None)
POSITIVE, NEGATIVE = synthetic_reviews(60, True, 1), synthetic_reviews(60, False, 2)


def trained(folder, name: str, texts: list[str], labels: list[str], **overrides):
    train_recipe(load_recipe(name, overrides), folder, train=(texts, labels), **QUIET)
    return folder


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    """A mean-embedding model (negative/positive) that reads the last 12 ids of a text."""
    return trained(tmp_path_factory.mktemp("sentiment") / "model", "mean-embedding", POSITIVE + NEGATIVE,
                   ["positive"] * 60 + ["negative"] * 60, **{"model.mask_padding": True, "data.maxlen": 12,
                                                              "training.epochs": 5, "training.lr": 0.1})


@pytest.fixture(scope="module")
def three_labels(tmp_path_factory):
    """negative/neutral/positive; it reads the first 6 ids of a text (the start marker and 5 words)."""
    neutral = [" ".join(random.Random(i).choices(["the", "film", "story", "actors", "plot", "scene"], k=10))
               for i in range(60)]
    return trained(tmp_path_factory.mktemp("three") / "model", "mean-embedding", POSITIVE + NEGATIVE + neutral,
                   ["positive"] * 60 + ["negative"] * 60 + ["neutral"] * 60,
                   **{"model.mask_padding": True, "data.maxlen": 6, "data.truncating": "post",
                      "training.epochs": 10, "training.lr": 0.05})


PIVOT = (0.3, 0.4)
VECTORS = {"pivot": PIVOT, "across": (0.4, -0.3), "opposite": (-0.3, -0.4),
           **{f"twin{i}": (0.0, 0.5) for i in range(8)}, **{f"echo{i}": (0.5, 0.0) for i in range(8)}}


@pytest.fixture(scope="module")
def given_vectors(tmp_path_factory):
    """A model whose frozen embedding holds the vectors of VECTORS (eight words share one, eight another)."""
    root = tmp_path_factory.mktemp("vectors")
    (root / "vectors.txt").write_text("".join(f"{w} {x} {y}\n" for w, (x, y) in VECTORS.items()), encoding="utf-8")
    rng = random.Random(0)
    texts = [" ".join(rng.sample(sorted(VECTORS), 6)) for _ in range(40)]
    return trained(root / "model", "mean-embedding", texts, ["positive", "negative"] * 20,
                   **{"model.pretrained": str(root / "vectors.txt"), "model.embedding_dim": 2,
                      "model.freeze_embedding": True, "training.epochs": 1})


def test_config_counts_a_frozen_embedding_apart_from_the_trainable_weights(given_vectors):
    """config.json's ``parameters``: all of the network's weights, and those training changed."""
    from polarity.models.folder import ModelFolder

    model = Predictor.load(given_vectors).model
    total = sum(p.numel() for p in model.parameters())
    frozen = model.embedding.weight.numel()
    assert ModelFolder(given_vectors).config().parameters == {"total": total, "trainable": total - frozen}


# -- nearest words -----------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_neighbours_are_at_the_distance_of_their_vectors_and_ties_keep_the_vocabulary_order(given_vectors, metric):
    predictor = Predictor.load(given_vectors)
    rank = {w: r for r, w in enumerate(predictor.encoder.vocab.words)}

    def distance(word):
        (x, y), (a, b) = VECTORS[word], PIVOT
        if metric == "euclidean":
            return math.hypot(x - a, y - b)
        return 1 - (x * a + y * b) / (math.hypot(x, y) * math.hypot(a, b))

    expected = sorted(VECTORS, key=lambda w: (round(distance(w), 6), rank[w]))
    nearest = nearest_words(predictor, "pivot", k=len(VECTORS), metric=metric)
    assert [n["word"] for n in nearest] == expected  # the word itself, then the twins, then the echoes...
    assert [n["distance"] for n in nearest] == pytest.approx([distance(w) for w in expected], abs=1e-6)


def test_a_word_comes_first_among_the_words_that_share_its_vector(given_vectors):
    predictor = Predictor.load(given_vectors)
    rank = {w: r for r, w in enumerate(predictor.encoder.vocab.words)}
    twins = sorted((w for w in VECTORS if w.startswith("twin")), key=rank.get)
    for word in (twins[-1], twins[3]):
        nearest = nearest_words(predictor, word, k=len(twins))
        assert [n["word"] for n in nearest] == [word] + [w for w in twins if w != word]
        assert {n["distance"] for n in nearest} == {0.0}


def test_twenty_neighbours_by_default_and_a_bad_metric_is_refused(sentiment):
    predictor = Predictor.load(sentiment)
    assert len(nearest_words(predictor, "wonderful")) == 20
    with pytest.raises(PolarityError) as refused:
        nearest_words(predictor, "wonderful", metric="manhattan")
    assert str(refused.value) == "metric must be euclidean or cosine, got 'manhattan'"


def test_an_unknown_word_gets_the_five_closest_words_the_model_knows(tmp_path, capsys):
    """Nine film* words; num_words=11 keeps the first seven (ids 4 to 10), so filmh and filmi are unknown."""
    family = [f"film{c}" for c in "abcdefghi"]
    texts = [" ".join(family + ["good"])] * 20 + [" ".join(family + ["bad"])] * 20
    model = trained(tmp_path / "model", "mean-embedding", texts, ["positive"] * 20 + ["negative"] * 20,
                    **{"data.num_words": 11, "training.epochs": 1})
    assert main(["neighbors", str(model), "filmz"]) == 1
    assert capsys.readouterr().err == ("polarity: error: 'filmz' is not in the model's vocabulary (11 ids); "
                                       "did you mean filmg, filmf, filme, filmd, filmc?\n")
    assert main(["neighbors", str(model), "qqq"]) == 1
    assert capsys.readouterr().err == "polarity: error: 'qqq' is not in the model's vocabulary (11 ids)\n"


def test_a_model_without_word_embedding_says_which_models_have_one(tmp_path, capsys):
    model = trained(tmp_path / "model", "tfidf-lr", POSITIVE[:20] + NEGATIVE[:20],
                    ["positive"] * 20 + ["negative"] * 20)
    message = ("polarity: error: a tfidf-lr model has no word embedding: nearest words and embedding plots "
               "need an rnn, hybrid or mean-embedding model\n")
    assert main(["neighbors", str(model), "wonderful"]) == 1
    assert capsys.readouterr().err == message
    assert main(["embedding-plot", str(model), "--out", str(tmp_path / "map.png")]) == 1
    assert capsys.readouterr().err == message and not (tmp_path / "map.png").exists()


# -- the embedding map -------------------------------------------------------------------------------
def test_the_embedding_map_colours_each_word_by_its_positive_probability_and_names_the_extremes(
        sentiment, tmp_path, saved_figures):
    predictor = Predictor.load(sentiment)
    words = predictor.encoder.vocab.words
    out = tmp_path / "map.png"
    assert embedding_plot(predictor, out, labelled=12) == out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax, bar = saved_figures[-1].axes
    assert ax.get_title() == f"Learned embedding: the {len(words)} most frequent words (PCA)"
    assert (ax.get_xlabel(), ax.get_ylabel(), bar.get_ylabel()) == ("component 1", "component 2",
                                                                     "P(positive) of the word alone")
    positive = predictor.predict_proba(words)[:, 1]
    dots = ax.collections[0]
    np.testing.assert_allclose(dots.get_facecolors(), matplotlib.colormaps["RdYlGn"](positive))  # 0 red, 1 green
    scale = next(c for c in bar.collections if isinstance(c, QuadMesh))  # the colour scale beside the map
    assert scale.get_cmap().name == "RdYlGn" and bar.get_ylim() == (0, 1)
    points = dots.get_offsets()
    assert len(points) == len(words) and points[:, 0].var() > points[:, 1].var()  # component 1 spreads them most
    extremes = sorted(words, key=lambda w: -abs(positive[words.index(w)] - 0.5))[:12]
    assert sorted(text.get_text() for text in ax.texts) == sorted(extremes)
    assert {positive[words.index(w)] > 0.5 for w in extremes} == {True, False}  # both ends are named


def test_the_embedding_map_plots_the_top_words_and_needs_three(sentiment, tmp_path, saved_figures):
    predictor = Predictor.load(sentiment)
    embedding_plot(predictor, tmp_path / "ten.png", top=10)
    assert saved_figures[-1].axes[0].get_title() == "Learned embedding: the 10 most frequent words (PCA)"
    assert len(saved_figures[-1].axes[0].collections[0].get_offsets()) == 10
    embedding_plot(predictor, tmp_path / "three.png", top=3)
    assert saved_figures[-1].axes[0].get_title() == "Learned embedding: the 3 most frequent words (PCA)"
    with pytest.raises(PolarityError) as refused:
        embedding_plot(predictor, tmp_path / "two.png", top=2)
    assert str(refused.value) == "the model's vocabulary is too small to plot"
    assert not (tmp_path / "two.png").exists()


def test_the_embedding_map_shows_the_500_most_frequent_words_by_default(tmp_path, saved_figures):
    rng = random.Random(0)
    words = [f"w{i:03d}" for i in range(510)]
    texts = [" ".join(rng.sample(words, 30)) + (" great" if i % 2 else " awful") for i in range(200)]
    model = trained(tmp_path / "model", "mean-embedding", texts, ["negative", "positive"] * 100,
                    **{"training.epochs": 1})
    embedding_plot(Predictor.load(model), tmp_path / "map.png")
    assert saved_figures[-1].axes[0].get_title() == "Learned embedding: the 500 most frequent words (PCA)"


def test_the_map_of_more_labels_colours_by_the_last_one(three_labels, tmp_path, saved_figures):
    predictor = Predictor.load(three_labels)
    assert predictor.labels == ["negative", "neutral", "positive"]
    embedding_plot(predictor, tmp_path / "map.png")
    ax, bar = saved_figures[-1].axes
    assert bar.get_ylabel() == "P(positive) of the word alone"
    positive = predictor.predict_proba(predictor.encoder.vocab.words)[:, 2]
    np.testing.assert_allclose(ax.collections[0].get_facecolors(), matplotlib.colormaps["RdYlGn"](positive))


# -- explanations ------------------------------------------------------------------------------------
def test_a_negative_text_is_explained_by_its_positive_probability(sentiment):
    predictor = Predictor.load(sentiment)
    text = "awful terrible qqqzzz boring"
    result = explain(predictor, text)
    probabilities = predictor.predict_proba([text])[0]
    assert result["label"] == "negative" and result["explained_label"] == "positive"
    assert result["probability"] == pytest.approx(probabilities[1])
    assert result["probabilities"] == pytest.approx({"negative": probabilities[0], "positive": probabilities[1]})
    assert [(w["word"], w["known"]) for w in result["words"]] == [
        ("awful", True), ("terrible", True), ("qqqzzz", False), ("boring", True)]


def test_a_model_of_more_labels_explains_its_prediction(three_labels):
    predictor = Predictor.load(three_labels)
    result = explain(predictor, "awful terrible boring")
    probabilities = predictor.predict_proba(["awful terrible boring"])[0]
    assert result["label"] == result["explained_label"] == "negative"
    assert result["probability"] == pytest.approx(probabilities[0])


@pytest.mark.parametrize("model, read", [
    ("sentiment", [False] * 3 + [True] * 12),   # maxlen 12, truncating pre: the last 12 words
    ("three_labels", [True] * 5 + [False] * 10),  # maxlen 6, truncating post: the start marker and 5 words
])
def test_an_explanation_marks_the_words_the_model_reads(model, read, request):
    predictor = Predictor.load(request.getfixturevalue(model))
    text = "the film was a wonderful story with awful actors and a boring plot of scenes"
    result = explain(predictor, text)
    assert [w["read"] for w in result["words"]] == read
    assert all(w["contribution"] == 0 for w in result["words"] if not w["read"])  # leaving it out changes nothing


def test_explain_refuses_what_is_not_a_text_or_has_no_words(sentiment):
    predictor = Predictor.load(sentiment)
    with pytest.raises(PolarityError) as refused:
        explain(predictor, 5)
    assert str(refused.value) == "expected a text (str), got int"
    with pytest.raises(PolarityError) as refused:
        explain(predictor, " ... !")
    assert str(refused.value) == "the text has no words to explain"


# -- colours -----------------------------------------------------------------------------------------
def background(code: int, word: str) -> str:
    return f"\033[48;5;{code}m\033[97m{word}\033[0m"


def test_words_are_coloured_from_red_to_green_by_their_share_of_the_strongest_contribution():
    contributions = {"faint": 0.02, "best": 0.5, "good": 0.375, "fine": 0.25, "ok": 0.125, "edge": 0.025,
                     "zero": 0.0, "worst": -0.5, "bad": -0.375, "poor": -0.25, "meh": -0.125, "dim": -0.05,
                     "near": 0.45, "grim": -0.44}  # 4 x 0.9 and 4 x 0.88 round to the strongest shade
    result = {"words": [{"word": w, "contribution": c} for w, c in contributions.items()]}
    # strength = |contribution| / 0.5; below 0.05 no colour; level round(4 * strength) picks the shade
    assert colour_explanation(result) == " ".join([
        "faint", background(46, "best"), background(40, "good"), background(34, "fine"), background(28, "ok"),
        background(22, "edge"), "zero", background(196, "worst"), background(160, "bad"), background(124, "poor"),
        background(88, "meh"), background(52, "dim"), background(46, "near"), background(196, "grim")])
    assert colour_explanation(result, colour=False) == " ".join(contributions)
    nothing = {"words": [{"word": "the", "contribution": 0.0}, {"word": "film", "contribution": 0.0}]}
    assert colour_explanation(nothing) == "the film"


def test_explain_colours_a_terminal_unless_told_not_to(given_vectors, capsys, monkeypatch):
    """Colours on a terminal; none with --no-color, or where NO_COLOR is set (no-color.org)."""
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = {}
    for label, argv, env in (("terminal", [], None), ("flag", ["--no-color"], None), ("env", [], "1")):
        if env is not None:
            monkeypatch.setenv("NO_COLOR", env)
        assert main(["explain", str(given_vectors), "pivot twin1 echo1", *argv]) == 0
        coloured[label] = "\033[" in capsys.readouterr().out
    assert coloured == {"terminal": True, "flag": False, "env": False}


def test_words_a_model_skips_are_neither_neighbours_nor_suggestions_nor_on_the_map(tmp_path):
    """data.skip_top drops the most frequent words (their rows are never trained): exploration leaves them out."""
    folder = trained(tmp_path / "model", "mean-embedding", POSITIVE + NEGATIVE, ["positive"] * 60 + ["negative"] * 60,
                     **{"data.skip_top": 6, "training.epochs": 1})
    predictor = Predictor.load(folder)
    vocab = predictor.encoder.vocab
    skipped, kept = vocab.words[:2], vocab.words[2:]
    assert not any(word in vocab for word in skipped) and all(word in vocab for word in kept)
    neighbours = [n["word"] for n in nearest_words(predictor, kept[0], k=len(vocab.words))]
    assert neighbours[0] == kept[0] and sorted(neighbours) == sorted(kept)
    with pytest.raises(PolarityError) as error:
        nearest_words(predictor, skipped[0])
    assert skipped[0] not in str(error.value).split("did you mean")[-1].replace(",", " ").replace("?", " ").split()
    figure = embedding_plot(predictor, tmp_path / "map.png", top=500)
    assert figure.stat().st_size > 0


def test_a_hybrid_explores_the_words_its_rnn_embeds_and_names_the_others(tmp_path, saved_figures, capsys):
    """A hybrid's n-grams read every word, its RNN embeds only the ``model.words`` most frequent ids:
    nearest words and the map read those rows, and a rarer word gets a one-line answer (this was an
    internal IndexError on the default recipe)."""
    folder = trained(tmp_path / "h", "lstm-hybrid", POSITIVE + NEGATIVE, ["positive"] * 60 + ["negative"] * 60,
                     **{"model.words": 12, "model.window": 12, "model.units": 4, "model.embedding_dim": 4,
                        "training.epochs": 1, "data.valid_fraction": 0.3})
    predictor = Predictor.load(folder)
    vocab = predictor.encoder.vocab
    rows = predictor.model.embedding.num_embeddings
    assert rows == 12 and vocab.size > rows
    common = next(w for w in vocab.words if w in vocab and vocab.id_of(w) < rows)
    rare = next(w for w in vocab.words if w in vocab and vocab.id_of(w) >= rows)
    found = nearest_words(predictor, common, k=50)
    assert found[0] == {"word": common, "distance": 0.0}
    assert all(vocab.id_of(row["word"]) < rows for row in found) and len(found) == 8  # ids 4-11 (0-3: padding, start, unknown, unused)
    assert main(["neighbors", str(folder), rare]) == 1
    assert capsys.readouterr().err == (f"polarity: error: {rare!r} is not in the embedding, which holds the 12 most "
                                       "frequent ids (the others read as unknown)\n")
    embedding_plot(predictor, tmp_path / "map.png", top=500)
    assert saved_figures[-1].axes[0].get_title() == "Learned embedding: the 8 most frequent words (PCA)"
