import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polarity.data import pad_sequences
from polarity.preprocessing.sequence import pad_sequences as keras_path_pad


def reference_pad(sequences, maxlen, padding, truncating, value=0):
    """Straightforward restatement of Keras's semantics, for comparison."""
    maxlen = max((len(s) for s in sequences), default=0) if maxlen is None else maxlen
    out = np.full((len(sequences), maxlen), value, dtype="int32")
    for row, seq in enumerate(sequences):
        seq = list(seq)
        kept = (seq[-maxlen:] if maxlen else []) if truncating == "pre" else seq[:maxlen]
        if not kept:
            continue
        if padding == "pre":
            out[row, maxlen - len(kept):] = kept
        else:
            out[row, : len(kept)] = kept
    return out


def test_known_keras_outputs():
    seqs = [[1, 2, 3], [4, 5], [6], []]
    assert pad_sequences(seqs).tolist() == [[1, 2, 3], [0, 4, 5], [0, 0, 6], [0, 0, 0]]
    assert pad_sequences(seqs, maxlen=2).tolist() == [[2, 3], [4, 5], [0, 6], [0, 0]]
    assert pad_sequences(seqs, maxlen=2, truncating="post").tolist() == [[1, 2], [4, 5], [0, 6], [0, 0]]
    assert pad_sequences(seqs, maxlen=4, padding="post", value=9).tolist() == [[1, 2, 3, 9], [4, 5, 9, 9], [6, 9, 9, 9], [9] * 4]
    assert pad_sequences(seqs).dtype == np.int32
    assert pad_sequences([[0.5, 1.5]], dtype="float32").tolist() == [[0.5, 1.5]]
    assert keras_path_pad is pad_sequences


@given(
    st.lists(st.lists(st.integers(1, 1000), max_size=12), max_size=8),
    st.one_of(st.none(), st.integers(0, 15)),
    st.sampled_from(["pre", "post"]),
    st.sampled_from(["pre", "post"]),
)
def test_every_combination_matches_reference(seqs, maxlen, padding, truncating):
    if not seqs and maxlen is None:
        with pytest.raises(ValueError, match="maxlen"):
            pad_sequences(seqs)
        return
    out = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating)
    assert out.shape == (len(seqs), maxlen if maxlen is not None else max(len(s) for s in seqs))
    np.testing.assert_array_equal(out, reference_pad(seqs, maxlen, padding, truncating))


def test_multidimensional_samples():
    out = pad_sequences([np.ones((2, 3)), np.zeros((1, 3))], maxlen=3)
    assert out.shape == (2, 3, 3)
    with pytest.raises(ValueError, match="shape of sample"):
        pad_sequences([np.ones((2, 3)), np.ones((1, 4))])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(padding="middle"), "padding must be \"pre\" or \"post\", got 'middle'"),
        (dict(truncating="both"), "truncating must be \"pre\" or \"post\", got 'both'"),
        (dict(maxlen=-1), "maxlen must be a non-negative integer or None, got -1"),
        (dict(maxlen=2.5), "maxlen must be a non-negative integer or None, got 2.5"),
        (dict(maxlen=True), "maxlen must be a non-negative integer or None, got True"),
        (dict(value="x"), "`dtype` int32 is not compatible with `value`'s type str; use dtype=object for "
                          "variable-length strings"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError) as caught:
        pad_sequences([[1, 2]], **kwargs)
    assert str(caught.value) == message


def test_non_iterable_items_are_explained():
    with pytest.raises(ValueError, match=r"^`sequences` must be a list of iterables; item 1 is int: 5$"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match=r"^`sequences` must be a list of iterables; item 0 is str: 'ab'$"):
        pad_sequences(["ab"])
    with pytest.raises(ValueError, match=r"^`sequences` must be a list of sequences \(e\.g\. a list of lists of ints\)$"):
        pad_sequences(7)
    with pytest.raises(ValueError, match=r"^cannot infer maxlen from an empty list of sequences; pass maxlen$"):
        pad_sequences([])
    with pytest.raises(ValueError, match=r"^shape of sample \(3,\) of sequence at position 1 is different from "
                                         r"expected shape \(2,\)$"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])


def test_strings_pad_with_a_string_dtype_or_objects():
    assert pad_sequences([["a"], ["b", "c"]], dtype="<U3", value="-").tolist() == [["-", "a"], ["b", "c"]]
    assert pad_sequences([["long word"]], maxlen=2, dtype=object, value="").tolist() == [["", "long word"]]
