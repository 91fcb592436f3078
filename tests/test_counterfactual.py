"""Training that reads the difference: review pairs (CAD and a user's own file), holding reviews out
of training, and rule-made counterfactuals that flip what they claim."""

import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarity.data.counterfactual import (
    KINDS,
    LEXICON,
    augment,
    contrast,
    flip,
    sentence_pools,
    swap_antonyms,
    toggle_negation,
)
from polarity.data.labelled import LabelledTexts
from polarity.data.pairs import (
    excluded_texts,
    load_cad,
    read_pairs,
    resolve_pairs,
    with_pairs,
    without_texts,
)
from polarity.errors import ConfigError, DataError

CAD = Path(os.environ.get("POLARITY_CAD") or Path(__file__).resolve().parents[2] / "shared" / "data" / "cad")
WORDS = st.sampled_from(["the", "film", "plot", "was", "is", "not", "great", "boring", "loved", "it", "Great",
                         "HATED", "acting", "isn't", "wasn't", "very", "good", "bad", "fun", "were", ".", ",", "!",
                         "a", "never", "WAS", "so"])
TEXTS = st.lists(WORDS, min_size=1, max_size=20).map(" ".join)


# -- rule-made counterfactuals ---------------------------------------------------------------------------
@given(TEXTS)
def test_an_antonym_swap_changes_exactly_the_words_it_lists_and_undoes_itself(text):
    edit = swap_antonyms(text)
    assert len(edit.changes) == sum(1 for w in re.findall(r"[A-Za-z]+", text) if w.lower() in LEXICON)
    for before, after in edit.changes:
        assert LEXICON[before.lower()] == after.lower()
    assert re.findall(r"[^A-Za-z]+", edit.text) == re.findall(r"[^A-Za-z]+", text)  # nothing else moved
    assert swap_antonyms(edit.text).text == text  # the lexicon is symmetric


def negations(text: str) -> int:
    return len(re.findall(r"\bnot\b|n't|\bnever\b", text, re.IGNORECASE))


@given(TEXTS, st.booleans())
def test_a_negation_toggle_adds_or_removes_a_negation_where_it_says_and_undoes_itself(text, contract):
    edit = toggle_negation(text, contract=contract)
    added = sum(len(after) > len(before) for before, after in edit.changes)
    removed = len(edit.changes) - added
    assert negations(edit.text) == negations(text) + added - removed
    assert all(after.lower().endswith("n't" if contract else " not")
               for before, after in edit.changes if len(after) > len(before))
    if edit.changes and not re.search(r"n't|never", text, re.IGNORECASE):  # "isn't" comes back as "is not"
        assert toggle_negation(edit.text).text == text


def test_flip_examples():
    assert flip("The film was boring and the acting is not good.").text == "The film was not boring and the acting is good."
    assert flip("A great movie, I loved it!").text == "A terrible movie, I hated it!"
    assert flip("It wasn't funny.").text == "It was funny."
    assert flip("It was never boring, it is the best film and a very good one.").text == \
        "It was boring, it is not the best film and a very good one."
    assert flip("This is a truly great movie.", contract=True).text == "This isn't a truly great movie."
    assert flip("The acting WAS boring.", "negation", contract=True).text == "The acting WASN'T boring."
    assert flip("It was Great.", "negation").text == "It was not Great."  # a word of the lexicon in any case
    assert flip("The film was good.", "antonyms").text == "The film was bad."  # no negation toggled
    assert toggle_negation("It was good.").text == "It was not good."  # "wasn't" only when asked
    assert flip("THE PLOT WAS BORING.", "negation", contract=True).text == "THE PLOT WASN'T BORING."
    assert flip("The cast was weak.") is None and flip("The cast was weak.", words={"weak"}).text == "The cast was not weak."
    assert flip("Nothing to see here.") is None
    with pytest.raises(ValueError, match="kind"):
        flip("good", "sarcasm")


def test_augment_adds_review_sentences_beside_their_flips_with_opposite_labels():
    data = LabelledTexts.from_lists(["A great film. I loved the music and the cast.", "The plot was boring here.",
                                     "It is a film about a dog.", "An awful film with a stupid end."] * 25,
                                    ["positive", "negative", "positive", "negative"] * 25)
    joined, added = augment(data, "both", 0.5, seed=0)
    assert added == 50 and joined.texts[:100] == data.texts
    for i in range(100, 150, 2):
        sentence, flipped = joined.texts[i], joined.texts[i + 1]
        assert flipped in (flip(sentence).text, flip(sentence, contract=True).text)
        assert joined.labels[i + 1] == 1 - joined.labels[i]
        own = [t for t, y in zip(data.texts, data.labels) if sentence in t]
        assert own and all(y == joined.labels[i] for t, y in zip(data.texts, data.labels) if sentence in t)
    same, none = augment(data, "both", 0.0, seed=0)
    assert none == 0 and same is data
    assert augment(data, "both", 0.5, seed=1)[0].texts == augment(data, "both", 0.5, seed=1)[0].texts  # seeded


# -- pairs -----------------------------------------------------------------------------------------------
def write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_plain_pairs_file_and_its_errors(tmp_path):
    good = write(tmp_path, "p.csv", "text,label,pair_id\nA good film,positive,1\nA bad film,negative,1\n"
                                     "Loved it,positive,b\nHated it,negative,b\n")
    pairs = read_pairs(good)
    assert len(pairs) == 4 and pairs.members() == [(0, 1), (2, 3)] and pairs.data.names == ["negative", "positive"]
    cases = {
        "text,label,pair_id\nA,positive,1\nB,positive,1\nC,negative,2\nD,positive,2\n":
            "line 3: the two texts of pair '1' have the same label",
        "text,label,pair_id\nA,positive,1\nB,negative,1\nC,negative,1\n": "pair '1' has 3 rows",
        "text,label,pair_id\nA,positive,1\nB,negative,\n": "line 3: no pair id",
        "text,label\nA,positive\n": "pair",
    }
    for content, message in cases.items():
        with pytest.raises(DataError, match=re.escape(message)) as info:
            read_pairs(write(tmp_path, "bad.csv", content))
        assert "\n" not in str(info.value)


@pytest.mark.skipif(not CAD.is_dir(), reason="the CAD pairs are not beside the project")
def test_the_cad_layout_reads_as_pairs(monkeypatch):
    monkeypatch.setenv("POLARITY_CAD", str(CAD))
    dev = load_cad("dev")
    assert len(dev) == 490 and len(dev.members()) == 245 and dev.data.names == ["negative", "positive"]
    assert all(dev.data.labels[a] != dev.data.labels[b] for a, b in dev.members())
    with pytest.raises(DataError, match="train or dev"):
        load_cad("test")
    monkeypatch.setenv("POLARITY_CAD", str(CAD.parent))
    with pytest.raises(DataError, match="has no dev_paired.tsv"):
        load_cad("dev")


@pytest.mark.real_data
@pytest.mark.skipif(not CAD.is_dir(), reason="the CAD pairs are not beside the project")
def test_every_cad_dev_pair_holds_one_aclimdb_training_review(real_archive, monkeypatch):
    """The CAD files quote texts that hold a quote CSV-style; read as written, 109 of the 245 dev
    originals matched no training review, and holding out cad-dev left them in training."""
    from polarity.data.imdb import load_imdb
    from polarity.data.pairs import excluded_texts

    monkeypatch.setenv("POLARITY_CAD", str(CAD))
    train = set(load_imdb(real_archive).train.texts)
    dev = load_cad("dev")
    originals = dev.originals(train)
    assert all(originals[a] != originals[b] for a, b in dev.members())  # one original a pair, all 245
    assert len(excluded_texts("cad-dev") & train) == 245


def test_pairs_know_their_originals():
    data = LabelledTexts.from_lists(["orig good", "edit bad", "orig bad", "edit good"], [1, 0, 0, 1])
    from polarity.data.pairs import Pairs

    pairs = Pairs(data, ["a", "a", "b", "b"])
    assert pairs.originals({"orig good", "orig bad", "other"}).tolist() == [True, False, True, False]
    assert np.asarray(pairs.texts)[pairs.originals({"orig good", "orig bad"})].tolist() == ["orig good", "orig bad"]
    assert np.array_equal(pairs.subset([2, 3]).data.labels, [0, 1])


# -- in training -----------------------------------------------------------------------------------------
def test_held_out_texts_never_reach_training_or_validation(sentiment_archive, tmp_path):
    from polarity.data.imdb import load_imdb
    from polarity.training import load_recipe
    from polarity.training.pipeline import prepare_data

    corpus = load_imdb(sentiment_archive, strict=False)
    held = corpus.train.texts[::3]
    exclude = write(tmp_path, "held.txt", "\n".join(held) + "\n")
    recipe = load_recipe("mean-embedding", {"data.exclude": str(exclude)})
    splits = prepare_data(recipe, corpus=corpus)
    assert not set(held) & (set(splits.fit.texts) | set(splits.valid.texts))
    assert splits.origin["excluded"] == len(set(held)) and len(splits.fit) + len(splits.valid) == len(corpus.train) - len(set(held))
    assert set(held) <= set(corpus.test.texts) | set(corpus.train.texts)  # they were there to leave out


def test_held_out_texts_leave_a_given_validation_file_too(tmp_path):
    from polarity.training import load_recipe
    from polarity.training.pipeline import prepare_data

    texts = [f"a good film {i}" for i in range(10)] + [f"a bad film {i}" for i in range(10)]
    labels = ["positive"] * 10 + ["negative"] * 10
    valid = (["fine work", "poor work", "held out here"], ["positive", "negative", "positive"])
    exclude = write(tmp_path, "held.txt", "held out here\na good film 3\n")
    splits = prepare_data(load_recipe("mean-embedding", {"data.exclude": str(exclude)}), train=(texts, labels),
                          valid=valid)
    assert splits.valid.texts == ["fine work", "poor work"] and "a good film 3" not in splits.fit.texts
    assert len(splits.fit) == 19


def test_pairs_and_counterfactuals_join_the_training_texts_only(sentiment_archive, tmp_path):
    from polarity.data.imdb import load_imdb
    from polarity.training import load_recipe
    from polarity.training.pipeline import prepare_data

    pairs = write(tmp_path, "pairs.csv", "text,label,pair_id\nWorth every minute,positive,1\nNot worth a minute,negative,1\n")
    recipe = load_recipe("mean-embedding", {"data.pairs": str(pairs), "data.pair_repeat": 3, "data.augment": "both",
                                            "data.augment_fraction": 1.0})
    corpus = load_imdb(sentiment_archive, strict=False)
    plain = prepare_data(load_recipe("mean-embedding"), corpus=corpus)
    splits = prepare_data(recipe, corpus=corpus)
    assert splits.fit.texts.count("Worth every minute") == 3 and "Worth every minute" not in splits.valid.texts
    assert splits.origin["pairs"] == {"source": str(pairs), "texts": 2, "repeat": 3}
    assert len(splits.fit) == len(plain.fit) + 6 + splits.origin["augmented"] and splits.origin["augmented"] > 0
    assert splits.fit.texts.count("Worth every minute") == 3
    assert splits.valid.texts == plain.valid.texts and splits.test.texts == plain.test.texts


def test_the_cli_trains_with_pairs_and_negation_scope_travels_in_the_folder(sentiment_archive, tmp_path, capsys):
    from polarity.cli import main
    from polarity.inference import Predictor

    pairs = write(tmp_path, "pairs.csv", "text,label,pair_id\nNot bad at all,positive,1\nBad at all,negative,1\n")
    out = tmp_path / "m"
    assert main(["train", "mean-embedding", "--data", str(sentiment_archive), "--no-strict", "--out", str(out),
                 "--quiet", "--epochs", "1", "--pairs", str(pairs), "--set", "data.negation_scope=true"]) == 0
    predictor = Predictor.load(out)
    assert predictor.encoder.tokenizer.negation_scope
    assert predictor.encoder.tokenize("not bad, good") == ["not", "NEGbad", "good"]
    assert predictor.config.data["pairs"]["texts"] == 2 and predictor.config.recipe["data"]["pairs"] == str(pairs)


def test_the_pair_term_pushes_a_pairs_texts_apart_and_resumes_exactly(tmp_path):
    """With training.pair_weight, the two texts of each pair move apart in the direction of their
    labels more than without it; a run stopped midway and resumed ends with the same weights."""
    import torch

    from polarity.inference import Predictor
    from polarity.training import TrainingInterrupted, load_recipe, train_recipe

    sys_texts = [f"{word} film number {i}" for i in range(30) for word in ("nice", "poor")]
    pairs = write(tmp_path, "pairs.csv", "text,label,pair_id\n" + "".join(
        f"the plot was {w} {i},{lab},{i}\n" for i in range(20) for w, lab in (("fine", "positive"), ("meh", "negative"))))
    data = (sys_texts, ["positive", "negative"] * 30)
    base = {"data.num_words": 100, "training.epochs": 3, "training.lr": 0.05, "data.pairs": str(pairs),
            "model.mask_padding": True}
    gaps = {}
    for weight in (0.0, 5.0):
        out = tmp_path / f"w{weight}"
        train_recipe(load_recipe("mean-embedding", {**base, "training.pair_weight": weight}), out, train=data,
                     progress=False, log=lambda *a: None)
        p = Predictor.load(out).predict_proba([f"the plot was {w} {i}" for i in range(20) for w in ("fine", "meh")])[:, 1]
        gaps[weight] = float((p[0::2] - p[1::2]).mean())
    assert gaps[5.0] > gaps[0.0] + 0.05, gaps

    recipe = load_recipe("mean-embedding", {**base, "training.pair_weight": 5.0})
    train_recipe(recipe, tmp_path / "straight", train=data, progress=False, log=lambda *a: None)

    def stop(trainer, state):
        if state.steps == 3:
            trainer.request_stop()

    with pytest.raises(TrainingInterrupted):
        train_recipe(recipe, tmp_path / "resumed", train=data, progress=False, log=lambda *a: None, callbacks=[stop])
    train_recipe(recipe, tmp_path / "resumed", train=data, progress=False, log=lambda *a: None, resume=True)
    a, b = (Predictor.load(tmp_path / d).model.state_dict() for d in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def main_clause(text: str) -> str:
    """The clause that carries the verdict of a contrast example."""
    if ", but " in text:
        return text.split(", but ")[-1]
    return text.split(", ", 1)[1] if text.startswith("Although ") else text.split(", although ")[0]


def test_contrast_examples_carry_their_label_in_the_main_clause():
    from polarity.data.counterfactual import NEGATIVE, POSITIVE, contrast

    data = LabelledTexts.from_lists(
        ["A great film. I loved the music and the cast.", "The plot was boring. The acting was awful here.",
         "It was wonderful to watch.", "What a terrible and stupid ending."] * 10,
        ["positive", "negative", "positive", "negative"] * 10)
    joined, added = contrast(data, 0.5, seed=0)
    assert added == 20 and joined.texts[:40] == data.texts
    for text, label in zip(joined.texts[40:], joined.labels[40:]):
        words = set(re.findall(r"[a-z]+", main_clause(text).lower()))
        assert words & (POSITIVE if label == 1 else NEGATIVE) and not words & (NEGATIVE if label == 1 else POSITIVE)
        assert text.startswith("Although ") or ", but " in text or ", although " in text
    assert contrast(data, 0.5, seed=0)[0].texts == joined.texts  # seeded


def test_a_hybrids_mix_can_be_fitted_with_counterfactual_sentences_beside_validation(sentiment_archive, tmp_path):
    from polarity.data.imdb import load_imdb
    from polarity.models.folder import ModelFolder
    from polarity.training import load_recipe, train_recipe
    from polarity.training.pipeline import prepare_data

    corpus = load_imdb(sentiment_archive, strict=False)
    options = {"training.mix_counterfactuals": 1.0, "model.words": 100, "model.window": 30, "model.units": 8,
               "model.embedding_dim": 8, "training.epochs": 1, "data.valid_fraction": 0.3}
    splits = prepare_data(load_recipe("lstm-hybrid", options), corpus=corpus)
    assert splits.mix_extra is not None and len(splits.mix_extra) == splits.origin["mix_counterfactuals"] > 0
    assert not set(splits.mix_extra.texts) & set(splits.fit.texts)  # made of validation reviews only
    plain = train_recipe(load_recipe("lstm-hybrid", {**options, "training.mix_counterfactuals": 0.0}), tmp_path / "a",
                         corpus=corpus, progress=False, log=lambda *a: None)
    tilted = train_recipe(load_recipe("lstm-hybrid", options), tmp_path / "b", corpus=corpus, progress=False,
                          log=lambda *a: None)
    assert tilted["valid"]["reviews"] == plain["valid"]["reviews"]  # validation figures stay the reviews'
    assert tilted["parts"]["mix_weights"] != plain["parts"]["mix_weights"]
    assert ModelFolder(tmp_path / "b").config().data["mix_counterfactuals"] == len(splits.mix_extra)


def clause_label(clause: str) -> int:
    """1 for "good"/"great" and 0 for "bad"/"awful", the other way round after a negation."""
    positive = bool(re.search(r"\b(good|great)\b", clause, re.IGNORECASE))
    return int(positive != bool(re.search(r"\bnot\b|n't", clause, re.IGNORECASE)))


def made_label(text: str) -> int:
    """The label a reader gives a flipped or contrast sentence made of :func:`clause_label`'s words:
    the main clause's ("A, but B": B; "Although A, B": B; "B, although A": B)."""
    if text.startswith("Although "):
        return clause_label(text.split(", ", 1)[1])
    if ", although " in text:
        return clause_label(text.split(", although ")[0])
    return clause_label(text.split(", but ")[-1])


def test_the_sentences_a_mix_is_fitted_on_carry_the_label_a_reader_gives_them():
    from polarity.training import load_recipe
    from polarity.training.pipeline import prepare_data

    positive = ["The film was good. The cast was great.", "The story was great. It was good fun."]
    negative = ["The film was bad. The cast was awful.", "The story was awful. It was bad fun."]
    texts, labels = (positive + negative) * 15, (["pos"] * 2 + ["neg"] * 2) * 15
    recipe = load_recipe("mean-embedding", {"training.mix_counterfactuals": 1.0, "data.valid_fraction": 0.5})
    extra = prepare_data(recipe, train=(texts, labels)).mix_extra
    made = list(zip(extra.texts, extra.labels.tolist()))
    assert {text.startswith("Although ") or ", but " in text for text, _ in made} == {True, False}  # both kinds
    assert {label for _, label in made} == {0, 1}
    assert [label for _, label in made] == [made_label(text) for text, _ in made]


def test_a_hybrids_ngrams_fit_the_texts_people_wrote_and_its_rnn_every_text(sentiment_archive, tmp_path, monkeypatch):
    from polarity.data.imdb import load_imdb
    from polarity.models.folder import ModelFolder
    from polarity.training import fitting, load_recipe, train_recipe

    seen = {}
    ngrams_fit, loop = fitting.fit_bag_of_ngrams, fitting.train_on_loop

    def ngrams_spy(model, fit, *args, **kwargs):
        seen["ngrams"] = fit
        return ngrams_fit(model, fit, *args, **kwargs)

    def loop_spy(context, *args, **kwargs):
        seen["rnn"] = context.encoded["fit"]
        return loop(context, *args, **kwargs)

    monkeypatch.setattr(fitting, "fit_bag_of_ngrams", ngrams_spy)
    monkeypatch.setattr(fitting, "train_on_loop", loop_spy)
    corpus = load_imdb(sentiment_archive, strict=False)
    options = {"model.words": 100, "model.window": 30, "model.units": 8, "model.embedding_dim": 8, "training.epochs": 1,
               "data.augment": "both", "data.augment_fraction": 1.0, "data.contrast_fraction": 0.5}
    lines = []
    train_recipe(load_recipe("lstm-hybrid", options), tmp_path / "h", corpus=corpus, progress=False, log=lines.append)
    made = ModelFolder(tmp_path / "h").config().data
    fit = len(corpus.train.texts) - round(0.1 * len(corpus.train.texts))  # data.valid_fraction 0.1
    assert made["augmented"] > 0 and made["contrast_examples"] > 0
    assert len(seen["rnn"]) == fit + made["augmented"] + made["contrast_examples"]
    assert seen["ngrams"].sequences == seen["rnn"].sequences[:fit]
    assert seen["ngrams"].labels.tolist() == seen["rnn"].labels[:fit].tolist()
    written = [line for line in lines if line.startswith("NBSVM part: ")]
    assert len(written) == 1 and written[0].endswith(f" on the {fit:,} texts people wrote")
    lines.clear()
    train_recipe(load_recipe("lstm-hybrid", {**options, "data.augment": "none", "data.contrast_fraction": 0.0}),
                 tmp_path / "p", corpus=corpus, progress=False, log=lines.append)
    assert [line for line in lines if line.startswith("NBSVM part: ")][0].endswith(" s")  # every text: nothing said
    assert seen["ngrams"].sequences == seen["rnn"].sequences


def test_a_hybrids_ngrams_can_read_the_pairs_more_often_than_its_rnn(sentiment_archive, tmp_path, monkeypatch):
    from polarity.data.imdb import load_imdb
    from polarity.training import fitting, load_recipe, train_recipe

    seen = {}
    ngrams_fit, loop = fitting.fit_bag_of_ngrams, fitting.train_on_loop
    monkeypatch.setattr(fitting, "fit_bag_of_ngrams", lambda model, fit, *a, **k: seen.update(ngrams=fit) or
                        ngrams_fit(model, fit, *a, **k))
    monkeypatch.setattr(fitting, "train_on_loop", lambda context, *a, **k: seen.update(rnn=context.encoded["fit"]) or
                        loop(context, *a, **k))
    pairs = write(tmp_path, "pairs.csv", "text,label,pair_id\nWorth every minute,positive,1\nNot worth a minute,negative,1\n")
    corpus = load_imdb(sentiment_archive, strict=False)
    options = {"model.words": 100, "model.window": 30, "model.units": 8, "model.embedding_dim": 8, "training.epochs": 1,
               "data.pairs": str(pairs), "data.pair_repeat": 2, "data.augment": "negation", "data.augment_fraction": 1.0}
    train_recipe(load_recipe("lstm-hybrid", {**options, "training.ngram_pair_repeat": 3}), tmp_path / "h",
                 corpus=corpus, progress=False, log=lambda *a: None)
    rnn, ngrams = seen["rnn"], seen["ngrams"]
    reviews = len(corpus.train.texts) - round(0.1 * len(corpus.train.texts))
    pair = rnn.sequences[reviews:reviews + 2]  # the pair's two texts follow the reviews, twice
    assert rnn.sequences[reviews:reviews + 4] == pair * 2 and len(rnn) > reviews + 4  # then rule-made sentences
    assert ngrams.sequences[:reviews + 4] == rnn.sequences[:reviews + 4] and len(ngrams) == reviews + 3 * 2
    assert sorted(map(tuple, ngrams.sequences[reviews:])) == sorted(map(tuple, pair * 3))  # once more than the RNN
    assert sorted(ngrams.labels[reviews:].tolist()) == [0] * 3 + [1] * 3
    train_recipe(load_recipe("lstm-hybrid", {**options, "training.ngram_pair_repeat": 1}), tmp_path / "x",
                 corpus=corpus, progress=False, log=lambda *a: None)  # fewer than data.pair_repeat: as often
    assert seen["ngrams"].sequences == seen["rnn"].sequences[:reviews + 4]


def test_each_kind_of_flip_says_what_it_changed():
    assert flip("It was good.", "antonyms").text == "It was bad."
    assert flip("It was good.", "negation").text == "It was not good."
    assert flip("It was good.", "both").text == "It was not good."  # negation first, antonyms where none applies
    assert flip("A GOOD film, Great fun.", "both").changes == [("GOOD", "BAD"), ("Great", "Terrible"), ("fun", "tedious")]
    assert flip("The film was boring and the acting is not good.").changes == [("was", "was not"), ("is not", "is")]
    assert flip("It wasn't funny.").changes == [("wasn't", "was")]
    assert flip("It was a film.", "negation") is None and flip("Nice.", "antonyms") is None
    with pytest.raises(ValueError, match="kind must be one of antonyms, negation, both, got 'sarcasm'"):
        flip("good", "sarcasm")


def test_held_out_texts_come_from_cad_dev_a_table_or_lines(tmp_path, monkeypatch):
    from polarity.data.pairs import excluded_texts

    lines = write(tmp_path, "held.txt", "first text\nsecond, with a comma\n")
    assert excluded_texts(str(lines)) == {"first text", "second, with a comma"}
    table = write(tmp_path, "held.csv", "review,sentiment\nfirst text,positive\n\"second, with a comma\",negative\n")
    assert excluded_texts(str(table)) == {"first text", "second, with a comma"}
    with pytest.raises(DataError, match=re.escape(f"data.exclude names {tmp_path / 'nope.txt'}, which is not a file "
                                                  "(or cad-dev)")):
        excluded_texts(str(tmp_path / "nope.txt"))
    if CAD.is_dir():
        monkeypatch.setenv("POLARITY_CAD", str(CAD))
        held = excluded_texts("cad-dev")
        assert len(held) == 490 and held == set(load_cad("dev").texts)


def test_texts_are_held_out_when_exactly_equal():
    """A held-out text leaves out the training texts equal to it, and no text that differs in a space or a case."""
    data = LabelledTexts.from_lists(["A fine film.", "A fine film. ", "a fine film.", "Dull."], ["pos", "pos", "pos", "neg"])
    kept, left_out = without_texts(data, {"A fine film.", "Not in the data."})
    assert (kept.texts, left_out) == (["A fine film. ", "a fine film.", "Dull."], 1)
    assert without_texts(data, set()) == (data, 0)


def test_a_subset_of_pairs_keeps_their_ids():
    from polarity.data.pairs import Pairs

    pairs = Pairs(LabelledTexts.from_lists(["a+", "a-", "b+", "b-"], [1, 0, 1, 0]), ["a", "a", "b", "b"])
    part = pairs.subset([3, 2])
    assert part.pair_ids == ["b", "b"] and part.texts == ["b-", "b+"] and part.data.labels.tolist() == [0, 1]
    assert part.members() == [(0, 1)]


def test_the_cad_files_come_from_the_cache_or_one_checked_download(tmp_path, monkeypatch):
    """Without $POLARITY_CAD: the cache folder's copy; with none there, a download of the authors' file
    checked by SHA-256 into the cache (pooch), or, when downloads are off, a one-line error."""
    import pooch

    from polarity.data import pairs

    monkeypatch.delenv("POLARITY_CAD", raising=False)
    monkeypatch.setenv("POLARITY_CACHE", str(tmp_path / "cache"))
    content = "Sentiment\tText\tbatch_id\nPositive\tA good film\t1\nNegative\tA bad film\t1\n"
    with pytest.raises(DataError, match=r"set POLARITY_CAD to a folder holding dev_paired\.tsv, or allow the download "
                                        r"into .*cache[/\\]cad$"):
        load_cad("dev", download=False)
    asked = []

    def retrieve(url, known_hash, fname, path, progressbar):
        asked.append((url, known_hash, fname, Path(path), bool(progressbar)))
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / fname).write_text(content, encoding="utf-8")
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    assert load_cad("dev").texts == ["A good film", "A bad film"]
    assert asked == [(pairs.CAD_URL.format(split="dev"), f"sha256:{pairs.CAD_SHA256['dev']}", "dev_paired.tsv",
                      tmp_path / "cache" / "cad", False)]  # no progress bar on stderr
    asked.clear()
    assert load_cad("dev", download=False).texts == ["A good film", "A bad film"]  # now from the cache
    assert asked == []
    assert pairs.locate_cad("train") == tmp_path / "cache" / "cad" / "train_paired.tsv"  # downloads by default
    assert [fname for _, _, fname, _, _ in asked] == ["train_paired.tsv"]


def test_held_out_texts_that_match_nothing_hold_nothing_out_and_a_table_needs_a_text_column(tmp_path):
    from polarity.data.pairs import excluded_texts, without_texts

    data = LabelledTexts.from_lists(["a", "b"], [0, 1])
    kept, count = without_texts(data, {"z"})
    assert count == 0 and kept.texts == ["a", "b"]
    table = tmp_path / "held.csv"
    table.write_text("id,label\n1,pos\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"held\.csv: no text column found"):
        excluded_texts(str(table))


# -- rule-made counterfactuals: what they draw and how --------------------------------------------------------
def test_sentence_pools_hold_the_short_sentences_that_lean_their_reviews_way():
    """4 to 18 words, every lexicon word of the review's side, IMDB's line breaks read as spaces."""
    eighteen = "I loved every minute of this film and I would watch it again with all my friends soon."
    positive = ("This was a great film.<br /><br />We loved the music and the cast. Great fun here! We loved this film. "
                "It is a film about dogs. The start was good but the end was bad. The villain was truly awful. "
                f"{eighteen} {eighteen.replace('my friends', 'my old friends')}")
    negative = "The plot was boring.<br />Awful acting all round. A great cast could not save it."
    pools = sentence_pools(LabelledTexts.from_lists([positive, negative], ["positive", "negative"]))
    assert pools == {1: ["This was a great film.", "We loved the music and the cast.", "We loved this film.", eighteen],
                     0: ["The plot was boring.", "Awful acting all round."]}


REVIEWS = ["The film was good and the cast was great.", "I loved the music and the songs.",
           "The plot was boring from start to end.", "An awful film with a stupid ending."]


@pytest.mark.parametrize("kind", KINDS)
def test_augment_draws_sentences_of_both_labels_beside_their_flip_of_its_kind(kind):
    data = LabelledTexts.from_lists(REVIEWS * 5, ["positive", "positive", "negative", "negative"] * 5,
                                    source="reviews.csv")
    joined, added = augment(data, kind, 1.0, seed=0)
    assert added == 20 and joined.texts[:20] == data.texts
    assert joined.names == ["negative", "positive"] and joined.source == "reviews.csv"
    drawn = list(zip(joined.texts[20::2], joined.texts[21::2], joined.labels[20::2], joined.labels[21::2]))
    for sentence, flipped, label, other in drawn:
        assert flipped in (flip(sentence, kind).text, flip(sentence, kind, contract=True).text) and other == 1 - label
    assert {int(label) for _, _, label, _ in drawn} == {0, 1}
    if kind != "antonyms":  # inserted negations come both ways
        flips = [flipped for _, flipped, _, _ in drawn]
        assert any(" was not " in f for f in flips) and any(" wasn't " in f for f in flips)


def test_augment_adds_about_its_fraction_of_the_data_and_at_least_one_pair():
    data = LabelledTexts.from_lists(REVIEWS, ["positive", "positive", "negative", "negative"])
    assert augment(data, "both", 0.5, seed=0)[1] == 2  # half of 4 texts: one sentence and its flip
    assert augment(data, "both", 0.1, seed=0)[1] == 2


def test_augment_and_contrast_need_two_labels():
    data = LabelledTexts.from_lists(["A good book.", "A good film.", "Good music."], ["books", "films", "music"])
    hint = r" \(for more labels, train a recipe without it, e\.g\. lstm-dropout\)$"
    with pytest.raises(DataError, match=r"^data\.augment flips one label into the other: it needs two labels, not 3" + hint):
        augment(data, "both", 0.5, seed=0)
    with pytest.raises(DataError, match=r"^data\.contrast_fraction joins sentences of two opposite labels: it needs two "
                                        r"labels, not 3" + hint):
        contrast(data, 0.5, seed=0)


def test_contrast_joins_a_sentence_of_each_label_with_but_or_although_either_side():
    data = LabelledTexts.from_lists(["We loved the film about Malcolm X.", "The plot was boring here."] * 10,
                                    ["positive", "negative"] * 10, source="reviews.csv")
    joined, added = contrast(data, 1.0, seed=0)
    assert added == 20 and joined.texts[:20] == data.texts
    assert joined.names == ["negative", "positive"] and joined.source == "reviews.csv"
    expected = {"The plot was boring here, but we loved the film about Malcolm X.": 1,
                "Although the plot was boring here, we loved the film about Malcolm X.": 1,
                "We loved the film about Malcolm X, but the plot was boring here.": 0,
                "Although we loved the film about Malcolm X, the plot was boring here.": 0,
                "We loved the film about Malcolm X, although the plot was boring here.": 1,
                "The plot was boring here, although we loved the film about Malcolm X.": 0}
    made = list(zip(joined.texts[20:], joined.labels[20:].tolist()))
    assert all(expected.get(text) == label for text, label in made)
    assert {text for text, _ in made} == set(expected)  # both labels, the three shapes


def test_contrast_ends_with_the_main_clause_s_own_punctuation():
    data = LabelledTexts.from_lists(["What a wonderful film this was!", "The plot was boring here."] * 10,
                                    ["positive", "negative"] * 10)
    joined, _ = contrast(data, 1.0, seed=0)
    made = list(zip(joined.texts[20:], joined.labels[20:].tolist()))
    assert {text[-1] for text, label in made if label == 1} == {"!"}
    assert {text[-1] for text, label in made if label == 0} == {"."}
    assert "The plot was boring here, but what a wonderful film this was!" in {text for text, _ in made}


def test_contrast_without_sentences_of_one_label_adds_nothing():
    data = LabelledTexts.from_lists(["We loved this film.", "Meh."] * 4, ["positive", "negative"] * 4)
    joined, added = contrast(data, 0.5, seed=0)
    assert added == 0 and joined.texts == data.texts


# -- pairs files: columns and errors ----------------------------------------------------------------------
def test_a_pairs_file_reads_the_columns_it_is_given(tmp_path):
    path = write(tmp_path, "mine.csv", "review_text,verdict,couple\nA good film,positive,1\nA bad film,negative,1\n")
    pairs = read_pairs(path, text_column="review_text", label_column="verdict", pair_column="couple")
    assert pairs.texts == ["A good film", "A bad film"] and pairs.pair_ids == ["1", "1"] and pairs.members() == [(0, 1)]
    assert pairs.data.labels.tolist() == [1, 0] and pairs.data.source == str(path)


def test_pair_ids_match_whatever_spacing_or_type_the_file_gives_them(tmp_path):
    path = write(tmp_path, "spaced.jsonl", '{"text": "A good film", "label": "positive", "pair_id": 7}\n'
                                           '{"text": "A bad film", "label": "negative", "pair_id": " 7 "}\n')
    pairs = read_pairs(path)
    assert pairs.pair_ids == ["7", "7"] and pairs.members() == [(0, 1)]


def test_a_pairs_file_without_a_column_or_with_a_bad_pair_says_so_in_one_line(tmp_path):
    missing = {
        "text": ("words,label,pair_id\nA,positive,1\n", ["words", "label", "pair_id"],
                 "text, review, sentence, content, body, comment"),
        "label": ("text,verdict,pair_id\nA,positive,1\n", ["text", "verdict", "pair_id"],
                  "label, sentiment, polarity, target, rating, stars, class, category"),
        "pair": ("text,label\nA,positive\n", ["text", "label"], "pair_id, batch_id, pair"),
    }
    for kind, (content, columns, looked) in missing.items():
        path = write(tmp_path, f"no-{kind}.csv", content)
        with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: no {kind} column found among "
                                            rf"{re.escape(repr(columns))} \(looked for {looked}\); rename the column in the pairs file$"):
            read_pairs(path)
    rows = {
        "three.csv": ("text,label,pair_id\nA,positive,1\nB,negative,1\nC,negative,1\n",
                      "line 2: pair '1' has 3 rows; a pair has 2"),
        "lonely.csv": ("text,label,pair_id\nA,positive,1\nB,negative,1\nC,positive,2\n",
                       "line 4: pair '2' has 1 row; a pair has 2"),
        "unpaired.jsonl": (('{"text": "A", "label": "positive", "pair_id": "a"}\n'
                            '{"text": "B", "label": "negative", "pair_id": "a"}\n{"text": "C", "label": "positive"}\n'),
                           "line 3: no pair id"),
    }
    for name, (content, message) in rows.items():
        path = write(tmp_path, name, content)
        with pytest.raises(DataError, match=rf"^{re.escape(str(path))}, {re.escape(message)}$"):
            read_pairs(path)
    nulls = write(tmp_path, "nulls.jsonl", '{"text": "A", "label": "positive", "pair_id": null}\n'
                                           '{"text": "B", "label": "negative", "pair_id": null}\n')
    with pytest.raises(DataError, match=rf"^{re.escape(str(nulls))}, line 1: no pair id$"):
        read_pairs(nulls)  # a null id pairs nothing (it is not the pair "None")
    empty_label = write(tmp_path, "empty.csv", "text,label,pair_id\nA,positive,1\nB,,1\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(empty_label))}, line 3: the label \(column 'label'\) is empty"):
        read_pairs(empty_label)
    lines = write(tmp_path, "pairs.txt", "A good film\nA bad film\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(lines))}: a plain text file has no labels \(line 1 has no "
                                        r"tab-separated label; use text<TAB>label lines, CSV, TSV or JSONL\)$"):
        read_pairs(lines)


def test_a_pairs_file_joins_training_data_with_its_label_names(tmp_path):
    path = write(tmp_path, "pairs.jsonl", '{"text": "Worth it", "label": 1, "pair_id": "a"}\n'
                                          '{"text": "Not worth it", "label": 0, "pair_id": "a"}\n')
    fit = LabelledTexts.from_lists(["A good one", "A bad one"], ["positive", "negative"], source="train.csv")
    pairs = resolve_pairs(str(path), fit.names)
    assert pairs.data.names == ["negative", "positive"] and pairs.data.labels.tolist() == [1, 0]
    joined = with_pairs(fit, pairs)
    assert joined.texts == ["A good one", "A bad one", "Worth it", "Not worth it"] and joined.labels.tolist() == [1, 0, 1, 0]
    assert joined.names == ["negative", "positive"] and joined.source == "train.csv"
    assert with_pairs(fit, pairs, 3).texts == fit.texts + ["Worth it", "Not worth it"] * 3
    numbered = LabelledTexts.from_lists(["A good one", "A bad one"], [1, 0])
    with pytest.raises(DataError, match=r"^the labels of the pairs \(data\.pairs, --pairs\) \['negative', 'positive'\] "
                                        r"differ from the training data's \[0, 1\]$"):
        with_pairs(numbered, pairs)


# -- the CAD files from $POLARITY_CAD ---------------------------------------------------------------------
def test_the_cad_pairs_come_from_the_polarity_cad_folder(tmp_path, monkeypatch):
    """A folder of the authors' layout (labels Positive/Negative) read as negative/positive pairs: the
    training pairs for data.pairs = "cad", both texts of the dev pairs for data.exclude = "cad-dev"."""
    import pooch

    def no_download(*args, **kwargs):
        raise OSError("no download in this test")

    monkeypatch.setattr(pooch, "retrieve", no_download)
    cad = tmp_path / "cad"
    cad.mkdir()
    write(cad, "train_paired.tsv", "Sentiment\tText\tbatch_id\nPositive\tA good film\t1\nNegative\tA bad film\t1\n"
                                   "Negative\tI hated it\t2\nPositive\tI loved it\t2\n")
    write(cad, "dev_paired.tsv", "Sentiment\tText\tbatch_id\nNegative\tDull, sadly\t7\nPositive\tFun, happily\t7\n")
    monkeypatch.setenv("POLARITY_CAD", str(cad))
    dev = load_cad("dev")
    assert dev.texts == ["Dull, sadly", "Fun, happily"] and dev.data.names == ["negative", "positive"]
    assert dev.data.labels.tolist() == [0, 1] and dev.members() == [(0, 1)]
    train = resolve_pairs("cad", ["negative", "positive"])
    assert train.texts == ["A good film", "A bad film", "I hated it", "I loved it"] and train.data.labels.tolist() == [1, 0, 0, 1]
    assert excluded_texts("cad-dev") == {"Dull, sadly", "Fun, happily"}
    with pytest.raises(DataError, match=r"^the CAD pairs come as train or dev, got 'test'$"):
        load_cad("test")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("POLARITY_CAD", str(empty))
    with pytest.raises(DataError, match=rf"^POLARITY_CAD points to {re.escape(str(empty))}, which has no dev_paired\.tsv$"):
        load_cad("dev")


def test_a_failed_cad_download_says_why_in_one_line(tmp_path, monkeypatch):
    import pooch

    from polarity.data import pairs

    monkeypatch.delenv("POLARITY_CAD", raising=False)
    monkeypatch.setenv("POLARITY_CACHE", str(tmp_path / "cache"))
    failures = {ValueError("SHA256 hash of downloaded file (abc) does not match the known hash"):
                (r"the downloaded CAD file failed its SHA-256 check: SHA256 hash of downloaded file \(abc\) does not "
                 r"match the known hash"),
                OSError("network unreachable"):
                rf"could not download {re.escape(pairs.CAD_URL.format(split='dev'))}: network unreachable"}
    for error, message in failures.items():
        def retrieve(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(pooch, "retrieve", retrieve)
        with pytest.raises(DataError, match=rf"^{message}$"):
            load_cad("dev")


# -- words the data shows lean one way -------------------------------------------------------------------
def leaning_reviews(copies: int = 10, negative: str = "The plot was weak.") -> LabelledTexts:
    """'weak' in ``copies`` negative reviews and 1 positive one, 'moving' in ``copies`` positive ones,
    'the', 'plot' and 'was' on both sides, 'dreary' in one review only."""
    negatives = [negative] * copies + ["A dreary thing."]
    positives = ["The plot was moving."] * copies + ["Weak start, fine plot."]
    return LabelledTexts.from_lists(negatives + positives, ["negative"] * len(negatives) + ["positive"] * len(positives))


def test_polar_words_are_common_words_far_more_frequent_on_one_side():
    from polarity.data.counterfactual import polar_words

    assert polar_words(leaning_reviews(), least=5) == {0: frozenset({"weak"}), 1: frozenset({"moving"})}
    assert polar_words(leaning_reviews(), least=12) == {0: frozenset(), 1: frozenset()}  # in 11 and 10 reviews
    assert polar_words(leaning_reviews(), ratio=20, least=5) == {0: frozenset(), 1: frozenset()}  # 5.5 and 11 times
    assert polar_words(leaning_reviews(100)) == {0: frozenset({"weak"}), 1: frozenset({"moving"})}
    assert polar_words(leaning_reviews(5)) == {0: frozenset(), 1: frozenset()}  # in fewer than 20 reviews
    assert polar_words(leaning_reviews(100), share=0.6) == {0: frozenset(), 1: frozenset()}  # in fewer than 60 %


def test_polar_words_need_three_letters_and_0_4_percent_of_the_texts():
    """The floor is 20 texts or 0.4 % of them, whichever is more: on 6,000 texts a word must be in 24."""
    from polarity.data.counterfactual import polar_words

    assert polar_words(leaning_reviews(100, negative="The plot was ok.")) == {0: frozenset(), 1: frozenset({"moving"})}
    negatives = ["Grim."] * 24 + ["Dank."] * 23 + ["A film."] * 2953
    positives = ["Lush."] * 30 + ["A film."] * 2970
    data = LabelledTexts.from_lists(negatives + positives, ["neg"] * 3000 + ["pos"] * 3000)
    assert polar_words(data) == {0: frozenset({"grim"}), 1: frozenset({"lush"})}  # "dank": in 23 of 6,000


def test_polar_words_compare_each_label_s_share_of_texts_not_counts():
    """300 negative texts and 100 positive ones: 'grim' is in 40 and 10 (13 % and 10 %: no lean,
    though 4 times as many negative texts hold it); 'lush' in 36 and 30 (12 % and 30 %: 2.5 times)."""
    from polarity.data.counterfactual import polar_words

    negatives = ["Grim."] * 40 + ["Lush."] * 36 + ["A film."] * 224
    positives = ["Grim."] * 10 + ["Lush."] * 30 + ["A film."] * 60
    data = LabelledTexts.from_lists(negatives + positives, ["neg"] * 300 + ["pos"] * 100)
    assert polar_words(data) == {0: frozenset(), 1: frozenset({"lush"})}
    assert polar_words(data, ratio=3) == {0: frozenset(), 1: frozenset()}


def test_polar_words_at_exactly_the_ratio_lean():
    """99 texts a side, one added to each count and total: 'lush' in 19 positive and 9 negative texts
    is (20 / 100) / (10 / 100) = exactly twice as frequent on one side, 'grim' the other way round;
    'dank' (in 18 and 9) falls short."""
    from polarity.data.counterfactual import polar_words

    negatives = ["Lush."] * 9 + ["Grim."] * 19 + ["Dank."] * 9 + ["A film."] * 62
    positives = ["Lush."] * 19 + ["Grim."] * 9 + ["Dank."] * 18 + ["A film."] * 53
    data = LabelledTexts.from_lists(negatives + positives, ["neg"] * 99 + ["pos"] * 99)
    assert polar_words(data) == {0: frozenset({"grim"}), 1: frozenset({"lush"})}


def test_learned_sides_add_the_data_s_words_and_keep_the_lexicon_s_side():
    from polarity.data.counterfactual import LEXICON_SIDES, learned_sides

    sides = learned_sides(leaning_reviews(30, negative="The plot was weak, not good."))
    assert sides[0] == LEXICON_SIDES[0] | {"weak", "not"} and sides[1] == LEXICON_SIDES[1] | {"moving"}
    assert "good" in sides[1] and "good" not in sides[0]


def test_augment_with_learned_sides_flips_sentences_the_lexicon_does_not_know():
    from polarity.data.counterfactual import learned_sides

    reviews = leaning_reviews(20)
    assert augment(reviews, "negation", 0.5, seed=0)[1] == 0  # no word of the lexicon: nothing to flip
    joined, added = augment(reviews, "negation", 0.5, seed=0, sides=learned_sides(reviews))
    made = set(zip(joined.texts[len(reviews):], joined.labels[len(reviews):].tolist()))
    assert added == 20 and made <= {("The plot was weak.", 0), ("The plot was not weak.", 1), ("The plot wasn't weak.", 1),
                                    ("The plot was moving.", 1), ("The plot was not moving.", 0),
                                    ("The plot wasn't moving.", 0)}
    assert {label for _, label in made} == {0, 1}


def test_a_recipe_with_learned_augment_words_records_them(sentiment_archive):
    from polarity.data.imdb import load_imdb
    from polarity.training import load_recipe
    from polarity.training.pipeline import prepare_data

    corpus = load_imdb(sentiment_archive, strict=False)
    settings = {"data.augment": "negation", "data.augment_fraction": 1.0, "data.contrast_fraction": 0.5}
    lexicon = prepare_data(load_recipe("mean-embedding", settings), corpus=corpus)
    learned = prepare_data(load_recipe("mean-embedding", {**settings, "data.augment_words": "learned"}), corpus=corpus)
    assert "augment_words" not in lexicon.origin
    counts = learned.origin["augment_words"]
    assert min(counts.values()) >= 36 and sum(counts.values()) > 72  # the lexicon's 36 a side and the archive's
    reviews = len(lexicon.fit) - lexicon.origin["augmented"] - lexicon.origin["contrast_examples"]
    assert learned.fit.texts[:reviews] == lexicon.fit.texts[:reviews] and learned.valid.texts == lexicon.valid.texts
    assert learned.fit.texts[reviews:] != lexicon.fit.texts[reviews:]
    with pytest.raises(ConfigError, match=r"data\.augment_words"):
        load_recipe("mean-embedding", {"data.augment_words": "wordnet"})


def test_own_files_leave_the_imdb_review_pairs_of_a_recipe_out(tmp_path, monkeypatch):
    """The default recipe names the CAD pairs (IMDB reviews): trained on your own files, they are left
    out, and the run says so, instead of reading IMDB's pairs into your data."""
    from polarity.training import load_recipe
    from polarity.training.pipeline import prepare_data

    monkeypatch.setenv("POLARITY_CAD", str(tmp_path / "nowhere"))  # reading the pairs would fail
    texts = ["A good film.", "A bad film.", "Great fun.", "Awful stuff."] * 5
    labels = ["pos", "neg", "pos", "neg"] * 5
    lines = []
    splits = prepare_data(load_recipe("mean-embedding", {"data.pairs": "cad", "data.exclude": "cad-dev"}),
                          train=(texts, labels), log=lines.append)
    assert splits.origin["skipped"] == ["data.pairs = cad", "data.exclude = cad-dev"]
    assert lines == ["data.pairs = cad and data.exclude = cad-dev name IMDB's review pairs: left out for your own data "
                     "(give the CAD files' paths to use them)"]
    assert len(splits.fit) + len(splits.valid) == 20 and "pairs" not in splits.origin
    only = prepare_data(load_recipe("mean-embedding", {"data.exclude": "cad-dev"}), train=(texts, labels))
    assert only.origin["skipped"] == ["data.exclude = cad-dev"]
    with pytest.raises(DataError, match="not a file"):  # a file of the user's own is read as ever
        prepare_data(load_recipe("mean-embedding", {"data.exclude": str(tmp_path / "mine.txt")}), train=(texts, labels))


def test_own_labels_that_are_not_a_polarity_pair_get_no_sentences_made_by_rule(tmp_path, monkeypatch, capsys):
    """Flips and "but" clauses turn negative into positive: on labels such as happy/sad (or topics) the
    default recipe's rule-made sentences are left out, the run says so, and the folder records the
    recipe as it trained, so that evaluating it later reads no CAD file either."""
    from polarity.cli import main
    from polarity.models.folder import ModelFolder
    from polarity.training import load_recipe
    from polarity.training.pipeline import prepare_data

    monkeypatch.setenv("POLARITY_CAD", str(tmp_path / "nowhere"))  # reading the pairs would fail
    texts = ["A good film, it was great.", "A bad film, it was boring.", "Great fun, it was wonderful.",
             "Awful stuff, it was dull."] * 10
    labels = ["happy", "sad", "happy", "sad"] * 10
    settings = {"data.pairs": "cad", "data.exclude": "cad-dev", "data.augment": "negation", "data.augment_fraction": 1.0,
                "data.contrast_fraction": 0.5, "training.mix_counterfactuals": 0.5}
    lines = []
    splits = prepare_data(load_recipe("mean-embedding", settings), train=(texts, labels), log=lines.append)
    assert splits.origin["skipped"] == ["data.pairs = cad", "data.exclude = cad-dev", "data.augment",
                                        "data.contrast_fraction", "training.mix_counterfactuals"]
    assert lines[1] == ("data.augment, data.contrast_fraction, training.mix_counterfactuals make sentences that turn "
                        "negative into positive: left out, as the labels (happy, sad) are not a negative/positive pair")
    assert len(splits.fit) + len(splits.valid) == 40 and splits.mix_extra is None
    polar = prepare_data(load_recipe("mean-embedding", settings), train=(texts, [{"happy": "pos", "sad": "neg"}[y]
                                                                                 for y in labels]))
    assert polar.origin["skipped"] == ["data.pairs = cad", "data.exclude = cad-dev"] and polar.origin["augmented"] > 0

    data = write(tmp_path, "moods.csv", "text,label\n" + "".join(f'"{t}",{y}\n' for t, y in zip(texts, labels)))
    out = tmp_path / "moods"
    args = ["train", "mean-embedding", "--train", str(data), "--out", str(out), "--quiet", "--epochs", "1"]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    recipe = ModelFolder(out).config().recipe
    assert recipe["data"]["pairs"] == "" and recipe["data"]["exclude"] == "" and recipe["data"]["augment"] == "none"
    assert recipe["data"]["contrast_fraction"] == 0.0 and recipe["training"]["mix_counterfactuals"] == 0.0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--split", "valid"]) == 0  # no CAD file read
    assert "on the valid split: 4 texts" in capsys.readouterr().out


def test_the_pair_term_needs_two_labels_and_one_process(tmp_path):
    from polarity.errors import ConfigError
    from polarity.training import load_recipe, train_recipe

    pairs = write(tmp_path, "pairs.csv", "text,label,pair_id\n" + "".join(
        f"the plot was {w} {i},{lab},{i}\n" for i in range(10) for w, lab in (("fine", "positive"), ("meh", "negative"))))
    base = {"data.num_words": 100, "training.epochs": 1, "data.pairs": str(pairs), "training.pair_weight": 1.0}
    two = ([f"{word} film number {i}" for i in range(20) for word in ("nice", "poor")], ["positive", "negative"] * 20)
    three = ([f"{word} film number {i}" for i in range(20) for word in ("nice", "poor", "so-so")],
             ["positive", "negative", "neutral"] * 20)
    for data, overrides, message in (
            (two, {"training.shards": 2}, "training.pair_weight runs in one process: use training.shards = 1, without torchrun"),
            (three, {}, "training.pair_weight is for two-label models")):
        with pytest.raises(ConfigError) as info:
            train_recipe(load_recipe("mean-embedding", {**base, **overrides}), tmp_path / "m", train=data,
                         progress=False, log=lambda *a: None)
        assert str(info.value) == message
    # without the pair term, pairs are training texts like the others: shards and three labels train
    for data, overrides in ((two, {"training.shards": 2}), (three, {})):
        plain = {**base, "training.pair_weight": 0.0, **overrides}
        metrics = train_recipe(load_recipe("mean-embedding", plain), tmp_path / "plain", train=data, progress=False,
                               log=lambda *a: None)
        assert metrics["epochs_run"] == 1


def test_the_pair_term_reads_each_pair_by_its_labels_not_its_order(tmp_path):
    """Pairs listed negative text first are pushed apart in the direction of their labels too."""
    from polarity.inference import Predictor
    from polarity.training import load_recipe, train_recipe

    sys_texts = [f"{word} film number {i}" for i in range(30) for word in ("nice", "poor")]
    pairs = write(tmp_path, "pairs.csv", "text,label,pair_id\n" + "".join(
        f"the plot was {w} {i},{lab},{i}\n" for i in range(20) for w, lab in (("meh", "negative"), ("fine", "positive"))))
    base = {"data.num_words": 100, "training.epochs": 3, "training.lr": 0.05, "data.pairs": str(pairs),
            "model.mask_padding": True}
    gaps = {}
    for weight in (0.0, 5.0):
        out = tmp_path / f"w{weight}"
        train_recipe(load_recipe("mean-embedding", {**base, "training.pair_weight": weight}), out,
                     train=(sys_texts, ["positive", "negative"] * 30), progress=False, log=lambda *a: None)
        p = Predictor.load(out).predict_proba([f"the plot was {w} {i}" for i in range(20) for w in ("fine", "meh")])[:, 1]
        gaps[weight] = float((p[0::2] - p[1::2]).mean())
    assert gaps[5.0] > gaps[0.0] + 0.05, gaps
