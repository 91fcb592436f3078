import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarity.data import Tokenizer, Vocabulary
from polarity.data.tokenizer import KERAS_FILTERS


def keras_text_to_word_sequence(text, filters=KERAS_FILTERS, lower=True, split=" "):
    """Reference: the body of keras.preprocessing.text.text_to_word_sequence."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


def test_tokenizer_matches_keras_defaults():
    tok = Tokenizer(strip_html_breaks=False)
    text = "Don't you DARE say it's \"bad\"!!! (10/10)\tgreat\nmovie... e-mail me@x.com"
    assert tok(text) == keras_text_to_word_sequence(text)
    assert tok(text) == ["don't", "you", "dare", "say", "it's", "bad", "10", "10", "great", "movie", "e", "mail", "me", "x", "com"]


@given(st.text())
def test_tokenizer_equals_keras_on_any_text(text):
    assert Tokenizer(strip_html_breaks=False)(text) == keras_text_to_word_sequence(text)


def test_tokenizer_turns_html_breaks_into_spaces():
    assert Tokenizer()("end.<br /><br />Next<BR>line<br/>x") == ["end", "next", "line", "x"]
    assert Tokenizer(strip_html_breaks=False)("a<br />b") == ["a", "br", "b"]


def test_tokenizer_rejects_non_text():
    with pytest.raises(TypeError, match=r"^expected a str, got bytes$"):
        Tokenizer()(b"bytes")
    with pytest.raises(TypeError, match=r"^expected a str, got NoneType$"):
        Tokenizer(stop_words=("the",)).tokenize(None)


def test_vocabulary_ranks_by_frequency_then_alphabet():
    vocab = Vocabulary.build([["b", "a", "c", "a"], ["c", "d"]])
    assert vocab.words == ["a", "c", "b", "d"]
    assert vocab.word_index() == {"a": 1, "c": 2, "b": 3, "d": 4}
    assert vocab.encode(["a", "d", "zzz"]) == [1, 4, 7, 2]
    assert vocab.size == 8


def test_vocabulary_num_words_and_skip_top_follow_keras():
    vocab = Vocabulary.build([["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"]], num_words=6)
    # ids: a=4, b=5, c=6, d=7; num_words=6 keeps ids < 6
    assert vocab.encode(["a", "b", "c", "d"]) == [1, 4, 5, 2, 2]
    assert vocab.size == 6
    skipping = vocab.with_options(skip_top=5)
    assert skipping.encode(["a", "b"]) == [2, 2, 5]  # the start char (1 < 5) becomes oov, as in Keras
    dropping = vocab.with_options(oov_char=None)
    assert dropping.encode(["a", "zzz", "b"]) == [1, 4, 5]


def test_decode_uses_the_tutorial_markers():
    vocab = Vocabulary.build([["great", "film"]])
    assert vocab.decode([0, 1, vocab.id_of("great"), 2, 3]) == ["<PAD>", "<START>", "great", "<UNK>", "<UNUSED>"]
    assert vocab.decode([0, 1, 2], skip_padding=True) == ["<START>", "<UNK>"]


words = st.text(alphabet="abcdefgh'", min_size=1, max_size=6)


@given(st.lists(st.lists(words, max_size=20), min_size=1, max_size=10), st.lists(words, max_size=30))
def test_encode_decode_round_trip_within_vocabulary(corpus, sentence):
    vocab = Vocabulary.build(corpus)
    ids = vocab.encode(sentence)
    decoded = vocab.decode(ids)
    assert decoded[0] == "<START>"
    assert decoded[1:] == [w if w in vocab else "<UNK>" for w in sentence]


@given(st.lists(st.lists(words, max_size=20), min_size=1, max_size=10), st.integers(4, 30))
def test_ids_stay_below_num_words(corpus, num_words):
    vocab = Vocabulary.build(corpus, num_words=num_words)
    for doc in corpus:
        assert all(0 <= i < vocab.size <= num_words for i in vocab.encode(doc))


def test_vocabulary_saves_and_loads_as_json(tmp_path):
    vocab = Vocabulary.build([["a", "b", "b", "c"]], num_words=5)
    vocab.save(tmp_path / "vocab.json")
    data = json.loads((tmp_path / "vocab.json").read_text())
    assert data["words"] == ["b"]  # only ids < num_words are kept on disk
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded.encode(["a", "b", "c"]) == vocab.encode(["a", "b", "c"])


def test_vocabulary_rejects_bad_options(tmp_path):
    with pytest.raises(ValueError, match="num_words"):
        Vocabulary(["a"], num_words=0)
    for options, message in [({"index_from": -1}, "index_from must be >= 0, got -1"),
                             ({"skip_top": -2}, "skip_top must be >= 0, got -2"),
                             ({"counts": [3]}, "2 words but 1 counts")]:
        with pytest.raises(ValueError, match=f"^{message}$"):
            Vocabulary(["a", "b"], **options)
    with pytest.raises(ValueError, match="^the vocabulary lists a word twice$"):
        Vocabulary(["a", "b", "a"])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a polarity vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")


def test_vocabulary_restricted_to_some_words_keeps_their_counts_and_options(tmp_path):
    vocab = Vocabulary.build([["a", "a", "a", "b", "b", "c"]], num_words=9, skip_top=1)
    kept = vocab.restrict({"a", "c"})
    assert kept.to_dict() == {"format": "polarity.vocabulary/1", "num_words": 9, "skip_top": 1, "index_from": 3,
                              "start_char": 1, "oov_char": 2, "words": ["a", "c"], "counts": [3, 1]}
    uncounted = Vocabulary(["x", "y", "z"]).restrict({"z"})  # e.g. a word list without counts
    assert uncounted.words == ["z"] and "counts" not in uncounted.to_dict()


def test_decode_marks_ids_beyond_the_vocabulary_unused():
    vocab = Vocabulary.build([["great", "film"]])  # ids 4 and 5
    assert vocab.decode([5, 6, 7]) == ["great", "<UNUSED>", "<UNUSED>"]


@pytest.mark.parametrize("text, marked", [
    ("not good, not bad", "not NEGgood, not NEGbad"),  # each cue marks its own clause
    ("fine. it is not good", "fine. it is not NEGgood"),  # the scope starts at the cue
    ("not good nor fun. never bad", "not NEGgood NEGnor NEGfun. never NEGbad"),  # a cue inside a scope is a word of it
    ("it isn't good; fun", "it isn't NEGgood; fun"),  # n't is a cue too
])
def test_negation_marks_each_clause_after_its_cue(text, marked):
    from polarity.data.tokenizer import mark_negation

    assert mark_negation(text) == marked


def test_fitted_encoder_keeps_its_options():
    from polarity.data import TextEncoder

    texts = ["the film the film the end", "a film"]
    encoder = TextEncoder.fit(texts)  # ids: film 4, the 5, a 6, end 7
    assert encoder.encode(["the film"]) == [[1, 5, 4]]
    assert TextEncoder.fit(texts, num_words=5).encode(["the film"]) == [[1, 2, 4]]
    assert TextEncoder.fit(texts, skip_top=5).encode(["the film"]) == [[2, 5, 2]]
    assert TextEncoder.fit(texts, maxlen=2, truncating="post").encode(["the film end"]) == [[1, 5]]
    assert encoder.decode([0, 1, 4]) == ["<PAD>", "<START>", "film"]
    assert encoder.decode([0, 1, 4], skip_padding=True) == ["<START>", "film"]


def test_a_vocabulary_with_other_options_keeps_the_rest():
    vocab = Vocabulary(["a", "b", "c"], [5, 3, 1], num_words=6, index_from=2, start_char=None, oov_char=1)
    changed = vocab.with_options(skip_top=4)
    assert changed.to_dict() == {"format": "polarity.vocabulary/1", "num_words": 6, "skip_top": 4, "index_from": 2,
                                 "start_char": None, "oov_char": 1, "words": ["a", "b", "c"], "counts": [5, 3, 1]}
    again = changed.with_options(num_words=7)
    assert (again.skip_top, again.index_from, again.start_char, again.oov_char, again.num_words) == (4, 2, None, 1, 7)


def test_encode_without_the_start_marker_and_a_vocabulary_that_keeps_no_word():
    vocab = Vocabulary.build([["good", "film"]])
    assert vocab.encode(["good", "dull"], add_start=False) == [vocab.id_of("good"), 2]
    none_kept = Vocabulary.build([["good", "film"]], num_words=4)  # ids below 4: the reserved ones only
    assert none_kept.to_dict()["words"] == [] and none_kept.to_dict()["counts"] == []


def test_encoder_preprocessing_config_round_trips_through_a_folder(tmp_path):
    from polarity.data import TextEncoder

    encoder = TextEncoder.fit(["one two three four", "four five"], maxlen=2, truncating="post")
    config = encoder.config()
    assert {k: config[k] for k in ("maxlen", "truncating", "padding")} == {"maxlen": 2, "truncating": "post",
                                                                          "padding": "pre"}
    encoder.save(tmp_path)
    loaded = TextEncoder.load(tmp_path, json.loads(json.dumps(config)))
    assert loaded.encode(["one two three"]) == encoder.encode(["one two three"]) == [[1, encoder.vocab.id_of("one")]]


def test_tokenizer_options_are_checked_with_one_line_messages():
    for split in ("", 3):
        with pytest.raises(ValueError, match=r"^Tokenizer\.split must be a non-empty string, e\.g\. ' '$"):
            Tokenizer(split=split)
    with pytest.raises(ValueError, match=r"^Tokenizer\.remove is not a regular expression: "):
        Tokenizer(remove="[a-")
    with pytest.raises(ValueError, match=r"^Tokenizer\.negation_scope reads the punctuation that Tokenizer\.remove "
                                         r"may delete: use one$"):
        Tokenizer(remove="[^a-z ]", negation_scope=True)


def test_tokenizer_options_change_the_words():
    text = "The <br />FILM was NOT good, said Ann."
    assert Tokenizer()(text) == ["the", "film", "was", "not", "good", "said", "ann"]
    assert Tokenizer(lower=False)(text) == ["The", "FILM", "was", "NOT", "good", "said", "Ann"]
    assert Tokenizer(strip_html_breaks=False)(text) == ["the", "br", "film", "was", "not", "good", "said", "ann"]
    assert Tokenizer(remove="[aeiou]")(text) == ["th", "flm", "ws", "nt", "gd", "sd", "nn"]
    assert Tokenizer(stop_words=("The", "was"))(text) == ["film", "not", "good", "said", "ann"]
    assert Tokenizer(stop_words=("The",), lower=False)(text) == ["FILM", "was", "NOT", "good", "said", "Ann"]
    assert Tokenizer(negation_scope=True)(text) == ["the", "film", "was", "not", "NEGgood", "said", "ann"]
    assert Tokenizer(split="|", filters="")("a b|c||d") == ["a b", "c", "d"]


@pytest.mark.parametrize("options", [{}, {"lower": False}, {"strip_html_breaks": False}, {"split": ","},
                                     {"split": "\t"}, {"filters": "é"}, {"stop_words": ("the",)},
                                     {"remove": "[0-9]"}, {"negation_scope": True}])
def test_utf8_words_are_the_encoded_words_and_options_survive_a_round_trip(options):
    tokenizer = Tokenizer(**options)
    texts = ["The café,\tisn't good<br/>at all 42 times.\x0bEnd\r\nthe end", "ÉTÉ  été", "one,two|three"]
    assert list(tokenizer.utf8_words(texts)) == [[w.encode("utf-8") for w in tokenizer(t)] for t in texts]
    plain = set(options) <= {"lower", "strip_html_breaks", "split"}
    assert tokenizer.works_on_bytes == plain
    assert Tokenizer.from_dict(json.loads(json.dumps(tokenizer.to_dict()))) == tokenizer
    with pytest.raises(TypeError, match=r"^expected a str, got int$"):
        list(tokenizer.utf8_words([3]))


def test_every_vocabulary_option_survives_the_file(tmp_path):
    vocab = Vocabulary(["a", "b", "c"], [3, 2, 1], num_words=20, skip_top=1, index_from=2, start_char=None, oov_char=1)
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded.to_dict() == vocab.to_dict() and loaded.counts == [3, 2, 1]
    assert Vocabulary.load(tmp_path / "vocab.json").with_options(num_words=5).to_dict()["num_words"] == 5
    message = r"^not a polarity vocabulary \(expected format 'polarity\.vocabulary/1'\)$"
    for data in ({"format": "other/1", "words": ["a"]}, {"format": "polarity.vocabulary/1", "words": "a b"}):
        with pytest.raises(ValueError, match=message):
            Vocabulary.from_dict(data)


def test_a_word_with_a_lone_surrogate_is_found_by_the_fast_encoder():
    from polarity.data import TextEncoder

    encoder = TextEncoder.fit(["odd \ud800word here", "odd"])
    assert encoder.encode(["\ud800word"]) == [[1, encoder.vocab.id_of("\ud800word")]]


def test_an_older_or_damaged_preprocessing_section(tmp_path):
    from polarity.data import TextEncoder

    encoder = TextEncoder.fit(["one two three"], maxlen=2)
    encoder.save(tmp_path)
    older = {k: v for k, v in encoder.config().items() if k != "truncating"}  # written before truncating existed
    assert TextEncoder.load(tmp_path, older).truncating == "pre"
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path))}: config\.json's preprocessing section is "
                                         r"incomplete or invalid \('maxlen'\)$"):
        TextEncoder.load(tmp_path, {"tokenizer": {}})
    with pytest.raises(ValueError, match=rf"^cannot read vocabulary {re.escape(str(tmp_path / 'none.json'))}: "):
        Vocabulary.load(tmp_path / "none.json")


def test_encoder_options_are_checked_and_pre_truncation_keeps_the_end_without_unknown_ids():
    from polarity.data import TextEncoder

    vocab = Vocabulary.build([["one", "two", "three"]])
    with pytest.raises(ValueError, match=r"^truncating must be 'pre' or 'post', got 'mid'$"):
        TextEncoder(vocab, truncating="mid")
    with pytest.raises(ValueError, match=r"^maxlen must be a positive integer or None, got 0$"):
        TextEncoder(vocab, maxlen=0)
    dropping = TextEncoder(vocab.with_options(oov_char=None), maxlen=2)  # unknown words dropped, not marked
    assert dropping.encode(["one zzz two three"]) == [[vocab.id_of("two"), vocab.id_of("three")]]
