"""Labelled data sets with any label set: tables, label folders, label names and stratified splits."""

import errno
import json
import re
from pathlib import Path

import numpy as np
import pytest

from polarity.data import LabelledTexts, label_names, read_labelled, split_labelled, stratified_indices
from polarity.data.splits import fit_valid_split, sample
from polarity.errors import DataError

UNICODE = ["Très bien ! Le café était délicieux.", "とても良い映画でした", "Awful 😡🎬", "Ça va\u00a0?"]


def old_validation_split(labels, fraction, seed):
    """The algorithm of imdb.validation_split before this module existed (published splits depend on it)."""
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = int(round(fraction * len(members)))
        chosen[rng.permutation(members)[:take]] = True
    return np.flatnonzero(~chosen), np.flatnonzero(chosen)


# -- label names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "names"),
    [
        (["positive", "negative", "positive"], ["negative", "positive"]),
        (["Positive", "negative"], ["negative", "Positive"]),
        (["+", "-"], ["-", "+"]),
        (["yes", "no"], ["no", "yes"]),
        (["good", "bad"], ["bad", "good"]),
        ([True, False], [0, 1]),
        (["1", "0"], [0, 1]),
        (["10", "2", "1.0", 2], [1, 2, 10]),
        (["-1", "+1", "-1"], [-1, 1]),  # signed integers are numbers: -1 before 1
        (["3", "-2", "0", "-10"], [-10, -2, 0, 3]),
        (["b", 3, "a", " c ", "1"], [1, 3, "a", "b", "c"]),
        (["neg", "negative"], ["neg", "negative"]),
    ],
)
def test_label_names_order(values, names):
    assert label_names(values) == names


def test_label_names_need_two_labels():
    with pytest.raises(DataError, match="needs at least two labels, found only 'x'"):
        label_names(["x", " x "])


def test_from_lists_encodes_and_checks():
    data = LabelledTexts.from_lists(["a", "b", "c"], ["pos", "neg", "pos"])
    assert data.names == ["neg", "pos"] and data.labels.tolist() == [1, 0, 1] and data.labels.dtype == np.int64
    given = LabelledTexts.from_lists(["a", "b"], ["1", 0], names=["0", "1"])
    assert given.names == [0, 1] and given.labels.tolist() == [1, 0]
    with pytest.raises(DataError, match=r"item 1: unknown label 'maybe'; the known labels are \[0, 1\]"):
        LabelledTexts.from_lists(["a", "b"], [1, "maybe"], names=[0, 1])
    capitalised = LabelledTexts.from_lists(["a", "b", "c", "d"], [0, "POS", "neg", True], names=["Negative", "Positive"])
    assert capitalised.labels.tolist() == [0, 1, 0, 1]  # any spelling of a polarity maps onto the pair's names
    with pytest.raises(DataError, match="text 1 is None"):
        LabelledTexts.from_lists(["a", None], [0, 1])
    with pytest.raises(DataError, match="2 texts but 1 labels"):
        LabelledTexts.from_lists(["a", "b"], [0])
    with pytest.raises(DataError, match="no texts"):
        LabelledTexts.from_lists([], [], names=[0, 1])


# -- tables -----------------------------------------------------------------------------------------------
def test_csv_with_quoted_comma_and_newline(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('review,sentiment\n"Great, really great.",positive\n"Two\nlines",negative\nMeh,negative\n')
    data = read_labelled(path)
    assert data.texts == ["Great, really great.", "Two\nlines", "Meh"]
    assert data.names == ["negative", "positive"] and data.labels.tolist() == [1, 0, 0]
    assert data.source == str(path)


def test_tsv_four_labels(tmp_path):
    path = tmp_path / "stars.tsv"
    rows = [("awful", "1-2"), ("poor", "3-4"), ("good", "7-8"), ('"best" ever', "9-10"), ("bad", "1-2")]
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows))
    data = read_labelled(path)
    assert data.names == ["1-2", "3-4", "7-8", "9-10"]
    assert data.labels.tolist() == [0, 1, 2, 3, 0] and data.texts[3] == '"best" ever'


def test_jsonl_int_labels_ascending(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"content": "a", "stars": 10}, {"content": "b", "stars": "2"}, {"content": "c", "stars": 1.0}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = read_labelled(path)
    assert data.names == [1, 2, 10] and data.labels.tolist() == [2, 1, 0] and data.texts == ["a", "b", "c"]


def test_headerless_text_tab_label_with_any_labels(tmp_path):
    path = tmp_path / "topics.txt"
    path.write_text("a goal\tsport\nan election\tpolitics\n\na match\tsport\n")
    data = read_labelled(path)
    assert data.names == ["politics", "sport"] and data.labels.tolist() == [1, 0, 1]
    plain = tmp_path / "plain.txt"
    plain.write_text("one review\nanother\n")
    with pytest.raises(DataError, match="line 1 has no tab-separated label"):
        read_labelled(plain)


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"Body": ["x", "y", "z"], "Category": ["b", "a", "c"]}), path)
    data = read_labelled(path)
    assert data.texts == ["x", "y", "z"] and data.names == ["a", "b", "c"] and data.labels.tolist() == [1, 0, 2]
    pq.write_table(pa.table({"text": ["x", "y"], "label": [1, None]}), path)
    with pytest.raises(DataError, match="row 2: the label"):
        read_labelled(path)


def test_parquet_without_pyarrow_says_how_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(DataError, match="pip install pyarrow"):
        read_labelled(path)


def test_columns_found_by_other_names_and_given(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,Comment,Rating,topic\n1,nice,5,x\n2,poor,1,y\n")
    data = read_labelled(path)
    assert data.texts == ["nice", "poor"] and data.names == [1, 5] and data.labels.tolist() == [1, 0]
    explicit = read_labelled(path, text_column="Comment", label_column="topic")
    assert explicit.names == ["x", "y"] and explicit.labels.tolist() == [0, 1]
    with pytest.raises(DataError, match=r"no column 'review'; the columns are \['id', 'Comment', 'Rating', 'topic'\]"):
        read_labelled(path, text_column="review")
    path.write_text("id,words,score\n1,nice,5\n")
    with pytest.raises(DataError, match=r"no text column found among \['id', 'words', 'score'\]"):
        read_labelled(path)


def test_names_given_rejects_unknown_label_with_line(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text("text,label\ngood,positive\nok,neutral\n")
    with pytest.raises(DataError, match=r"test.csv, line 3: unknown label 'neutral'.*\['negative', 'positive'\]"):
        read_labelled(path, names=["negative", "positive"])
    path.write_text("text,label\ngood,positive\n")
    data = read_labelled(path, names=["negative", "positive"])  # one label is enough when the set is given
    assert data.names == ["negative", "positive"] and data.labels.tolist() == [1]


def test_empty_label_and_empty_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,pos\nb,  \nc,neg\n")
    with pytest.raises(DataError, match=r"d.csv, line 3: the label \(column 'label'\) is empty"):
        read_labelled(path)
    path.write_text("text,label\n")
    with pytest.raises(DataError, match="holds no rows"):
        read_labelled(path)
    path.write_text("text,label\na,pos\nb,pos\n")
    with pytest.raises(DataError, match="needs at least two labels, found only 'pos'"):
        read_labelled(path)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\nfine,1\ncaf\u00e9,0\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.csv, line 3: not valid UTF-8"):
        read_labelled(path)


def test_unicode_round_trip(tmp_path):
    path = tmp_path / "u.csv"
    lines = "".join(f'"{t}",{label}\n' for t, label in zip(UNICODE, ["gut", "良い", "gut", "良い"]))
    path.write_bytes(("\ufefftext,label\n" + lines).encode("utf-8"))
    data = read_labelled(path)
    assert data.texts == UNICODE and data.names == ["gut", "良い"] and data.labels.tolist() == [0, 1, 0, 1]
    jsonl = tmp_path / "u.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, t in enumerate(UNICODE)))
    assert read_labelled(jsonl).texts == UNICODE


# -- label folders ----------------------------------------------------------------------------------------
def write_folders(root, files):
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)


def test_folder_layout_like_aclimdb(tmp_path):
    write_folders(tmp_path, {
        "pos/0_9.txt": "Loved it 😀", "pos/1_8.txt": "Great", "neg/0_2.txt": "Awful",
        "unsup/0_0.txt": "unlabelled", "neg/.hidden.txt": "skip me", ".git/x.txt": "skip", "empty/notes.md": "x",
    })
    data = read_labelled(tmp_path)
    assert data.names == ["neg", "pos"] and data.labels.tolist() == [0, 1, 1]
    assert data.texts == ["Awful", "Loved it 😀", "Great"]


def test_folder_text_files_are_found_whatever_the_case_of_their_suffix(tmp_path):
    write_folders(tmp_path, {"pos/a.TXT": "Great", "pos/b.Txt": "Fine", "neg/c.txt": "Awful", "neg/d.md": "notes"})
    data = read_labelled(tmp_path)
    assert data.texts == ["Awful", "Great", "Fine"] and data.labels.tolist() == [0, 1, 1]


def test_folder_with_four_labels_and_errors(tmp_path):
    write_folders(tmp_path, {f"{label}/{i}.txt": f"{label} {i}" for label in ("1", "3", "7", "10") for i in range(2)})
    data = read_labelled(tmp_path)
    assert data.names == [1, 3, 7, 10] and data.labels.tolist() == [0, 0, 3, 3, 1, 1, 2, 2]  # folders by name
    assert data.texts[2] == "10 0"
    (tmp_path / "3" / "bad.txt").write_bytes(b"caf\xe9")
    with pytest.raises(DataError, match=r"bad.txt: not valid UTF-8"):
        read_labelled(tmp_path)
    only = tmp_path / "only"
    write_folders(only, {"pos/a.txt": "x", "unsup/b.txt": "y"})
    with pytest.raises(DataError, match=r"at least two sub-folders .* found \['pos'\]"):
        read_labelled(only)


# -- splits -----------------------------------------------------------------------------------------------
def test_stratified_indices_match_the_old_algorithm_and_keep_proportions():
    labels = np.array([0] * 100 + [1] * 300)
    np.random.default_rng(5).shuffle(labels)
    rest, held = stratified_indices(labels, 0.1, seed=0)
    old_rest, old_held = old_validation_split(labels, 0.1, seed=0)
    assert np.array_equal(rest, old_rest) and np.array_equal(held, old_held)
    assert (labels[held] == 0).sum() == 10 and (labels[held] == 1).sum() == 30
    assert np.all(np.diff(held) > 0) and sorted(rest.tolist() + held.tolist()) == list(range(400))
    unstratified = np.sort(np.random.default_rng(0).permutation(400)[:40])
    assert (labels[unstratified] == 0).sum() != 10  # so the check above would catch an unstratified split
    with pytest.raises(DataError, match="fraction"):
        stratified_indices(labels, 1.0, seed=0)


def test_split_labelled_keeps_names_and_labels():
    data = LabelledTexts.from_lists([f"t{i}" for i in range(40)], ["a", "b", "c", "d"] * 10, source="x.csv")
    rest, held = split_labelled(data, 0.2, seed=1)
    assert len(rest) == 32 and len(held) == 8 and held.names == ["a", "b", "c", "d"] and held.source == "x.csv"
    assert np.bincount(held.labels).tolist() == [2, 2, 2, 2]
    assert all(data.texts[int(t[1:])] == t and data.labels[int(t[1:])] == y for t, y in zip(held.texts, held.labels))


def test_review_set_labelled(tiny_archive):
    from polarity.data import load_imdb

    corpus = load_imdb(tiny_archive, strict=False)
    data = corpus.test.labelled()
    assert data.names == ["negative", "positive"] and data.source == "test" and data.labels.dtype == np.int64
    assert data.texts == corpus.test.texts and data.labels.tolist() == corpus.test.labels.tolist()
    with pytest.raises(DataError, match="unlabelled"):
        corpus.unsup.labelled()


# -- messages a user reads --------------------------------------------------------------------------------
def test_bad_label_values_are_named_by_place(tmp_path):
    with pytest.raises(DataError, match=r"^label 1: cannot use None as a label \(give a word or a number\)$"):
        label_names(["a", None])
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,1\nb,0\n")
    message = rf"^{re.escape(str(path))}: label name 1: cannot use None as a label \(give a word or a number\)$"
    with pytest.raises(DataError, match=message):
        read_labelled(path, names=[0, None])


def test_given_label_names_must_be_two_distinct_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,x\nb,x\n")
    message = rf"^{re.escape(str(path))}: the label names must be at least two distinct labels, got \['x', ' x '\]$"
    with pytest.raises(DataError, match=message):
        read_labelled(path, names=["x", " x "])
    with pytest.raises(DataError, match=r"^<memory>: the label names must be at least two distinct labels, got \['pos'\]$"):
        LabelledTexts.from_lists(["a"], ["pos"], names=["pos"])


def test_a_file_with_one_label_is_named_in_the_message(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,pos\nb,pos\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: needs at least two labels, found only 'pos'$"):
        read_labelled(path)


def test_table_column_errors(tmp_path):
    where = re.escape(str(tmp_path))
    path = tmp_path / "n.csv"
    path.write_text("text,id\na,1\n")
    with pytest.raises(DataError, match=(
        rf"^{where}/n\.csv: no label column found among \['text', 'id'\] \(looked for label, sentiment, polarity, "
        r"target, rating, stars, class, category\); name it with --label-column$"
    )):
        read_labelled(path)
    path.write_text("id,words,label\n1,nice,5\n")
    with pytest.raises(DataError, match=(
        rf"^{where}/n\.csv: no text column found among \['id', 'words', 'label'\] \(looked for text, review, "
        r"sentence, content, body, comment\); name it with --text-column$"
    )):
        read_labelled(path)
    path.write_text("text,label\na,1\nb,0\n")
    with pytest.raises(DataError, match=rf"^{where}/n\.csv: the text and the label cannot both be column 'text'$"):
        read_labelled(path, text_column="text", label_column="text")
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "a", "label": "pos"}\n{"text": "b"}\n')
    with pytest.raises(DataError, match=rf"^{where}/d\.jsonl, line 2: the label column 'label' is missing$"):
        read_labelled(jsonl)


# -- label folders: layouts and messages ------------------------------------------------------------------
def test_folder_has_no_columns_to_name(tmp_path):
    write_folders(tmp_path, {"pos/a.txt": "good", "neg/b.txt": "bad"})
    message = rf"^{re.escape(str(tmp_path))} is a folder of label folders: it has no columns to name$"
    for columns in ({"text_column": "text"}, {"label_column": "label"}):
        with pytest.raises(DataError, match=message):
            read_labelled(tmp_path, **columns)


def test_folder_of_an_aclimdb_split_with_files_beside_the_label_folders(tmp_path):
    write_folders(tmp_path, {
        "labeledBow.feat": "0 0:1\n", "neg/0_2.txt": "Awful", "pos/0_9.txt": "Great", "unsup/0_0.txt": "unlabelled",
        "urls_neg.txt": "http://x\n", "urls_pos.txt": "http://y\n",
    })
    data = read_labelled(tmp_path)
    assert data.names == ["neg", "pos"] and data.texts == ["Awful", "Great"] and data.labels.tolist() == [0, 1]


def test_folder_without_label_folders_says_none_found(tmp_path):
    write_folders(tmp_path, {"notes.txt": "x", "unsup/a.txt": "y", "empty/readme.md": "z"})
    message = (rf"^{re.escape(str(tmp_path))}: needs at least two sub-folders of \.txt files, one per label "
               r"\(such as pos/ and neg/\), found none$")
    with pytest.raises(DataError, match=message):
        read_labelled(tmp_path)


def test_folder_unknown_label_names_the_file(tmp_path):
    write_folders(tmp_path, {"neg/a.txt": "bad", "neutral/b.txt": "so-so", "pos/c.txt": "good"})
    file = re.escape(str(tmp_path / "neutral" / "b.txt"))
    with pytest.raises(DataError, match=rf"^{file}: unknown label 'neutral'; the known labels are \['neg', 'pos'\]$"):
        read_labelled(tmp_path, names=["neg", "pos"])


def test_folder_text_files_lose_their_byte_order_mark(tmp_path):
    write_folders(tmp_path, {"neg/a.txt": "\ufeffAwful \ufeff", "pos/b.txt": "\ufeffGreat"})
    assert read_labelled(tmp_path).texts == ["Awful \ufeff", "Great"]


def test_unreadable_text_file_is_named(tmp_path, monkeypatch):
    write_folders(tmp_path, {"neg/a.txt": "bad", "pos/locked.txt": "good"})
    locked = tmp_path / "pos" / "locked.txt"
    read_bytes = Path.read_bytes

    def refuse(self):  # as for a file without read permission (chmod has no effect for root)
        if self == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    where = re.escape(str(locked))
    with pytest.raises(DataError, match=rf"^cannot read {where}: \[Errno 13\] Permission denied: '{where}'$"):
        read_labelled(tmp_path)


# -- limited and sampled splits ---------------------------------------------------------------------------
def test_limit_as_large_as_the_data_keeps_every_text():
    data = LabelledTexts.from_lists([f"t{i}" for i in range(10)], ["a", "b"] * 5)
    full_fit, full_valid = fit_valid_split(data, 0.2, seed=0)
    fit, valid = fit_valid_split(data, 0.2, seed=0, limit=10)
    assert fit.texts == full_fit.texts and valid.texts == full_valid.texts and len(valid) == 2
    assert sample(data, 10, seed=0).texts == data.texts


@pytest.mark.parametrize("limit, valid", [(19, 2), (14, 1), (16, 2), (10, 1)])
def test_a_limited_run_holds_out_the_nearest_whole_share_of_its_texts(limit, valid):
    """``--limit N`` with ``valid_fraction`` 0.1: round(N / 10) validation texts, the rest for fitting."""
    data = LabelledTexts.from_lists([f"t{i}" for i in range(400)], ["a", "b"] * 200)
    fit, held = fit_valid_split(data, 0.1, seed=0, limit=limit)
    assert (len(fit), len(held)) == (limit - valid, valid)


def test_sample_is_seeded_and_keeps_the_label_balance():
    data = LabelledTexts.from_lists([f"t{i}" for i in range(400)], ["a"] * 100 + ["b"] * 300)
    first, again = sample(data, 40, seed=7), sample(data, 40, seed=7)
    assert first.texts == again.texts and np.bincount(first.labels).tolist() == [10, 30]
    assert fit_valid_split(data, 0.1, seed=3, limit=50)[1].texts == fit_valid_split(data, 0.1, seed=3, limit=50)[1].texts


def test_imdb_reviews_labelled_by_sentiment_or_rating_band(tiny_archive):
    from polarity.data.imdb import load_imdb
    from polarity.data.splits import imdb_labelled, imdb_splits

    corpus = load_imdb(tiny_archive, strict=False)
    data = corpus.test.labelled()
    assert [data.names[i] for i in data.labels][5:7] == ["negative", "positive"]  # labels index the names
    train, test = imdb_splits(corpus)
    assert train.names == test.names == ["negative", "positive"] and test.source == "test"
    train, test = imdb_splits(corpus, "rating-bands")
    assert train.names == test.names == ["1-2", "3-4", "7-8", "9-10"] and test.source == "test"
    assert test.labels.tolist()[:6] == [0, 0, 1, 1, 0, 0]  # ratings 1, 2, 3, 4, 1, 2
    with pytest.raises(DataError, match=r"^unknown target 'stars'; choose from sentiment, rating-bands$"):
        imdb_labelled(corpus.test, "stars")


# -- labels given in Python, label names, and what as_labelled accepts -------------------------------------
def test_labels_from_lists_name_their_item_and_index_the_names():
    with pytest.raises(DataError, match=r"^<memory>: needs at least two labels, found only 'x'$"):
        LabelledTexts.from_lists(["a", "b"], ["x", "x"])
    with pytest.raises(DataError, match=r"^<memory>: label name 1: cannot use None as a label"):
        LabelledTexts.from_lists(["a"], ["x"], names=["x", None])
    with pytest.raises(DataError, match=r"^<memory>, item 1: cannot use None as a label \(give a word or a number\)$"):
        LabelledTexts.from_lists(["a", "b"], ["x", None], names=["x", "y"])
    with pytest.raises(DataError, match=r"^needs at least two labels, found only 'a'$"):
        label_names(["a", " a"])
    data = LabelledTexts.from_lists(["a", "b", "c"], ["Cats", "Dogs", "Cats"])
    assert [data.names[i] for i in data.labels] == ["Cats", "Dogs", "Cats"]  # labels index the names


def test_fractional_and_infinite_labels():
    assert label_names([1.5, 2.5, 2.0]) == [2, "1.5", "2.5"]
    with pytest.raises(DataError, match=r"^label 1: cannot use inf as a label"):
        label_names([1.0, float("inf")])


def test_polarity_spellings_map_only_onto_a_negative_positive_pair():
    words = LabelledTexts.from_lists(["a", "b"], ["negative", "positive"])
    assert LabelledTexts.from_lists(["c", "d"], ["pos", 0], names=words.names).labels.tolist() == [1, 0]
    for names in (["bad", "meh"], ["cats", "dogs"]):
        with pytest.raises(DataError, match=rf"^<memory>, item 0: unknown label 'pos'; the known labels are {re.escape(str(names))}$"):
            LabelledTexts.from_lists(["c"], ["pos"], names=names)


def test_as_labelled_takes_paths_pairs_and_labelled_texts(tmp_path):
    from polarity.data.splits import as_labelled

    data = LabelledTexts.from_lists(["a", "b"], ["neg", "pos"], source="x.csv")
    for same in (as_labelled(data), as_labelled(data, names=["neg", "pos"])):
        assert (same.texts, same.labels.tolist(), same.names, same.source) == (["a", "b"], [0, 1], ["neg", "pos"], "x.csv")
    renamed = as_labelled(data, names=["negative", "positive"])
    assert (renamed.texts, renamed.labels.tolist(), renamed.names, renamed.source) == (
        ["a", "b"], [0, 1], ["negative", "positive"], "x.csv")
    path = tmp_path / "mine.csv"
    path.write_text("words,verdict\nFine,yes\nDull,no\n", encoding="utf-8")
    read = as_labelled(path, text_column="words", label_column="verdict")
    assert (read.texts, read.names, read.labels.tolist()) == (["Fine", "Dull"], ["no", "yes"], [1, 0])
    given = as_labelled((["a", "b"], ["x", "y"]), names=["y", "x"])
    assert given.labels.tolist() == [1, 0] and given.names == ["y", "x"]
    with pytest.raises(DataError, match=r"^expected a file or folder path, a \(texts, labels\) pair or LabelledTexts, "
                                        r"got list$"):
        as_labelled([["a", "b"], ["x", "y"]])


def test_labelled_texts_hold_integer_labels_and_count_their_texts():
    data = LabelledTexts(["a", "b"], np.array([1.0, 0.0]), ["neg", "pos"], source="frame")  # e.g. a float column
    assert [data.names[i] for i in data.labels] == ["pos", "neg"]
    empty = data.subset([])
    assert (empty.texts, empty.labels.tolist(), empty.names) == ([], [], ["neg", "pos"])
    with pytest.raises(DataError, match=r"^frame: 2 texts but 3 labels$"):
        LabelledTexts(["a", "b"], [0, 1, 1], ["neg", "pos"], source="frame")


def test_a_limited_split_is_seeded_in_both_parts_and_keeps_at_least_one_text():
    data = LabelledTexts.from_lists([f"t{i}" for i in range(40)], ["a", "b"] * 20)
    first, again = fit_valid_split(data, 0.2, seed=5, limit=10), fit_valid_split(data, 0.2, seed=5, limit=10)
    assert first[0].texts == again[0].texts and first[1].texts == again[1].texts
    assert (len(first[0]), len(first[1])) == (8, 2)
    fit, valid = fit_valid_split(data, 0.2, seed=5, limit=1)  # a smoke run
    assert (len(fit), len(valid)) == (1, 0)  # one text, not none: a share of 1 for one label
    assert [len(sample(data, n, seed=0)) for n in (1, 3, 5, 39)] == [1, 3, 5, 39]  # exactly n, odd n too


def test_no_labels_at_all(tmp_path):
    with pytest.raises(DataError, match=r"^needs at least two labels, found none$"):
        label_names([])
    path = tmp_path / "empty.csv"
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))} holds no rows$"):
        read_labelled(path)


def test_an_exact_sample_gives_the_extra_text_to_the_label_with_the_largest_remainder():
    data = LabelledTexts.from_lists([f"t{i}" for i in range(16)], ["a"] * 5 + ["b"] * 5 + ["c"] * 6)
    assert [data.names[i] for i in sample(data, 1, seed=0).labels] == ["c"]  # 6/16 of a text beats 5/16
    five = np.bincount(sample(data, 5, seed=0).labels, minlength=3).tolist()  # shares 1.56, 1.56, 1.88
    assert sum(five) == 5 and five[2] == 2  # c, with the largest remainder, gets one of the two extra texts


def test_a_label_folder_is_the_source_of_its_texts(tmp_path):
    write_folders(tmp_path, {"neg/a.txt": "bad", "pos/b.txt": "good"})
    assert read_labelled(tmp_path).source == str(tmp_path)
