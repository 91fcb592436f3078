import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarity.data import BucketBatchSampler, collate, read_table, truncate
from polarity.errors import DataError


@given(st.lists(st.integers(1, 500), min_size=1, max_size=300), st.integers(1, 40), st.integers(0, 5))
def test_bucket_batches_cover_every_index_once(lengths, batch_size, epoch):
    sampler = BucketBatchSampler(lengths, batch_size, seed=7, pool_batches=4)
    batches = sampler.batches(epoch)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert len(batches) == len(sampler)
    assert all(1 <= len(b) <= batch_size for b in batches)


def test_buckets_reduce_padding_and_are_seeded():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 1000, size=5000)
    sampler = BucketBatchSampler(lengths, 64, seed=1)
    waste = sum(lengths[b].max() * len(b) - lengths[b].sum() for b in sampler.batches(0)) / lengths.sum()
    assert waste < 0.05
    assert all((a == b).all() for a, b in zip(sampler.batches(3), BucketBatchSampler(lengths, 64, seed=1).batches(3)))
    assert not all((a == b).all() for a, b in zip(sampler.batches(0), sampler.batches(1)))


def test_collate_pre_pads_to_batch_length():
    seqs = [[1, 5, 6], [1, 7], [1, 8, 9, 10, 11]]
    ids, lengths = collate(seqs, np.array([0, 1]))
    assert ids.tolist() == [[1, 5, 6], [0, 1, 7]] and lengths.tolist() == [3, 2]
    ids, lengths = collate(seqs, np.array([2]), maxlen=3)
    assert ids.tolist() == [[9, 10, 11]] and lengths.tolist() == [3]
    assert truncate(seqs, 2) == [[5, 6], [1, 7], [10, 11]]


def test_read_csv_with_header_names_like_the_kaggle_file(tmp_path):
    path = tmp_path / "IMDB Dataset.csv"
    path.write_text('review,sentiment\n"Great, really great.",positive\nAwful.,negative\n', encoding="utf-8")
    data = read_table(path)
    assert data.texts == ["Great, really great.", "Awful."] and data.labels.tolist() == [1, 0]


def test_read_tsv_and_jsonl_with_various_labels(tmp_path):
    tsv = tmp_path / "d.tsv"
    tsv.write_text("text\tlabel\nfine\t1\nbad\t0\n")
    assert read_table(tsv).labels.tolist() == [1, 0]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [{"text": "a", "y": True}, {"text": "b", "y": "neg"}]) + "\n")
    data = read_table(jsonl, label_column="y")
    assert data.labels.tolist() == [1, 0] and data.rows[0]["y"] is True


def test_malformed_rows_name_their_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nok,1\nmissing label\n")
    with pytest.raises(DataError, match="line 3"):
        read_table(path)
    path.write_text("text,label\nok,1\nfine,maybe\n")
    with pytest.raises(DataError, match=r"line 3: cannot read 'maybe'"):
        read_table(path)
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "a", "label": 1}\n{broken\n')
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        read_table(jsonl)
    with pytest.raises(DataError, match="no column 'body'"):
        read_table(path, text_column="body")


def test_headerless_text_tab_label_files_like_the_uci_sentences(tmp_path):
    path = tmp_path / "yelp_labelled.txt"
    path.write_bytes('Wow... Loved this place.\t1\n"Crust is not good.  \t0\nNEL\u0085inside\t1\n'.encode())
    data = read_table(path)
    assert data.texts == ['Wow... Loved this place.', '"Crust is not good.  ', "NEL\u0085inside"]
    assert data.labels.tolist() == [1, 0, 1]
    plain = tmp_path / "reviews.txt"
    plain.write_text("just a review\nanother\tone with a tab\n")
    with pytest.raises(DataError, match="no labels"):
        read_table(plain)


@pytest.mark.parametrize("drop_last", [False, True])
def test_bucket_sampler_iterates_its_current_epoch_and_counts_its_batches(drop_last):
    sampler = BucketBatchSampler(list(range(1, 24)), 5, seed=3, drop_last=drop_last)
    first = [b.tolist() for b in sampler]
    sampler.set_epoch(4)
    fourth = [b.tolist() for b in sampler]
    assert fourth == [b.tolist() for b in sampler.batches(4)] and fourth != first
    assert len(sampler) == len(first) == (4 if drop_last else 5)
    assert all(len(b) == 5 for b in first) or not drop_last


def test_bucket_sampler_options_are_checked_and_one_pool_batch_is_allowed():
    with pytest.raises(ValueError, match=r"^batch_size must be >= 1, got 0$"):
        BucketBatchSampler([3, 4], 0)
    with pytest.raises(ValueError, match=r"^pool_batches must be >= 1, got 0$"):
        BucketBatchSampler([3, 4], 1, pool_batches=0)
    batches = BucketBatchSampler([5, 1, 4, 2], 2, pool_batches=1).batches()
    assert sorted(np.concatenate(batches).tolist()) == [0, 1, 2, 3]


def test_sequential_batches_in_order_or_in_a_seeded_shuffle():
    from polarity.data.batching import sequential_batches

    assert [b.tolist() for b in sequential_batches(5, 2)] == [[0, 1], [2, 3], [4]]
    shuffled = [b.tolist() for b in sequential_batches(40, 16, seed=3, epoch=1)]
    assert [len(b) for b in shuffled] == [16, 16, 8] and sorted(sum(shuffled, [])) == list(range(40))
    assert shuffled != [list(range(0, 16)), list(range(16, 32)), list(range(32, 40))]
    assert shuffled == [b.tolist() for b in sequential_batches(40, 16, seed=3, epoch=1)]
    assert shuffled != [b.tolist() for b in sequential_batches(40, 16, seed=3, epoch=2)]


def test_unshuffled_buckets_are_the_reviews_by_length_ties_in_order():
    sampler = BucketBatchSampler([5, 2, 9, 2, 5, 1, 7], 3, shuffle=False)
    assert [b.tolist() for b in sampler] == [[5, 1, 3], [0, 4, 6], [2]]
    assert [b.tolist() for b in BucketBatchSampler([3, 3], 1, shuffle=False, drop_last=True)] == [[0], [1]]


def test_a_new_sampler_starts_at_epoch_zero():
    sampler = BucketBatchSampler(list(range(1, 40)), 4, seed=2)
    assert [b.tolist() for b in sampler] == [b.tolist() for b in sampler.batches(0)]
    assert [b.tolist() for b in sampler] != [b.tolist() for b in sampler.batches(1)]


def test_collate_pads_a_batch_to_its_longest_review_with_integer_ids():
    sequences = [[4, 5, 6], [7], [], [8, 9]]
    ids, lengths = collate(sequences, np.array([1, 3]))
    assert ids.tolist() == [[0, 7], [8, 9]] and lengths.tolist() == [1, 2]
    assert ids.dtype.kind == "i" and lengths.dtype.kind == "i"  # embedding rows and packing lengths
    ids, lengths = collate(sequences, np.array([1]))
    assert ids.tolist() == [[7]] and lengths.tolist() == [1]  # one word: one column
    ids, lengths = collate(sequences, np.array([2]))
    assert ids.tolist() == [[0]] and lengths.tolist() == [0]  # an empty review still has a column
    ids, lengths = collate(sequences, np.array([], dtype=np.int64))
    assert ids.shape == (0, 1) and lengths.tolist() == []
    assert collate(sequences, np.array([0, 1]), maxlen=2)[0].tolist() == [[5, 6], [0, 7]]
