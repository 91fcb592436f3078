"""The fast raw-text path (``TextEncoder.encode`` on UTF-8 bytes) gives exactly the ids of the
original per-text path, whatever the text and the tokenizer and vocabulary settings."""

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from polarity.data import TextEncoder, Tokenizer, Vocabulary
from polarity.data.tokenizer import KERAS_FILTERS

# -- the reference: the code of TextEncoder.encode before the fast path, frozen here ------------------
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def reference_tokenize(text, filters, lower, split, strip_html_breaks):
    if strip_html_breaks:
        text = _BR.sub(" ", text)
    if lower:
        text = text.lower()
    return [w for w in text.translate(str.maketrans({c: split for c in filters})).split(split) if w]


def reference_ids(tokens, vocab, kept):
    oov = vocab.oov_char
    ids = [kept[w] for w in tokens if w in kept] if oov is None else [kept.get(w, oov) for w in tokens]
    if vocab.start_char is not None:
        start = vocab.start_char if vocab._keeps(vocab.start_char) else oov
        if start is not None:
            ids.insert(0, start)
    return ids


def reference_encode(texts, encoder):
    tok, vocab = encoder.tokenizer, encoder.vocab
    kept = {w: i for w, i in vocab._word_to_id.items() if vocab._keeps(i)}
    seqs = [reference_ids(reference_tokenize(t, tok.filters, tok.lower, tok.split, tok.strip_html_breaks), vocab, kept)
            for t in texts]
    if encoder.maxlen is None:
        return seqs
    if encoder.truncating == "pre":
        return [s[-encoder.maxlen:] if len(s) > encoder.maxlen else s for s in seqs]
    return [s[:encoder.maxlen] for s in seqs]


# -- strategies -----------------------------------------------------------------------------------------
# pieces that exercise the tricky parts: HTML breaks, whitespace that str.split() and bytes.split()
# treat differently, case mappings that change length or depend on context (final sigma), lone
# surrogates, characters whose UTF-8 holds bytes >= 0x80 only
FRAGMENTS = ["<br />", "<BR/>", "<br>", "<bR \t\n/>", "<br/ >", "<br", "/>", " ", "  ", "\t", "\n", "\r", "\r\n",
             "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2003", "\u3000", "\u2028", "ΑΣ", "Σ", "ΌΣΟΣ.", "σς",
             "İ", "I", "ẞ", "ß", "ﬃ", "Ǆ", "ǅ", "Ω", "K", "Å", "É", "ÉCOLE", "Straße", "ΣΑΣ'", "'Σ", "\u0307", "\u0345",
             "\ud800", "\udfff", "😀", "Ünïcödé", "DON'T", "e-mail", "10/10", "x", "ab", "A", "é", ".", "!"]
texts = st.lists(st.one_of(st.text(), st.sampled_from(FRAGMENTS)), max_size=12).map("".join)
filters = st.one_of(st.sampled_from([KERAS_FILTERS, "", " ", "\r\x0b\x0c", KERAS_FILTERS + "\r", "aeiou", "é!",
                                     "ΣI", "\u0307", "<>/"]), st.text(max_size=6))
splits = st.one_of(st.sampled_from([" ", "\t", "\r", "\x0b", "x", "A", ".", "é", "\u3000", "\xa0", "ab", "  "]),
                   st.text(min_size=1, max_size=2))
tokenizers = st.builds(Tokenizer, filters=filters, lower=st.booleans(), split=splits, strip_html_breaks=st.booleans())


@st.composite
def encoders(draw):
    tokenizer = draw(tokenizers)
    corpus = draw(st.lists(texts, max_size=6))
    extra = draw(st.lists(st.lists(st.sampled_from(["x", "é", "σς", "ﬃ", "i̇", "\ud800", "a b", ""]) | st.text(max_size=4),
                                   max_size=5), max_size=3))
    options = dict(num_words=draw(st.none() | st.integers(1, 12)), skip_top=draw(st.integers(0, 5)),
                   index_from=draw(st.integers(0, 4)), start_char=draw(st.sampled_from([1, None, 3])),
                   oov_char=draw(st.sampled_from([2, None, 0, -1])))
    vocab = Vocabulary.build([tokenizer(t) for t in corpus] + extra, **options)
    return TextEncoder(vocab, tokenizer, draw(st.none() | st.integers(1, 8)), draw(st.sampled_from(["pre", "post"])))


# -- tests -----------------------------------------------------------------------------------------------
@given(encoders(), st.lists(texts, max_size=8))
@example(TextEncoder.fit(["The film ΑΣ was great"], maxlen=3), ["THE FILM ΑΣ<br />WAS\rGREAT!\x0bok\x0c", ""])
def test_fast_encode_equals_the_original_path(encoder, batch):
    assert encoder.encode(batch) == reference_encode(batch, encoder)
    assert encoder.encode(batch) == encoder.encode_tokens([encoder.tokenizer(t) for t in batch])


@given(tokenizers, texts)
def test_utf8_words_are_the_encoded_words(tokenizer, text):
    expected = reference_tokenize(text, tokenizer.filters, tokenizer.lower, tokenizer.split, tokenizer.strip_html_breaks)
    assert tokenizer(text) == expected
    assert list(tokenizer.utf8_words([text])) == [[w.encode("utf-8", "surrogatepass") for w in expected]]


@given(st.lists(texts, max_size=8), st.sampled_from([None, 1, 5, 500]), st.sampled_from(["pre", "post"]))
def test_default_settings_on_any_text(batch, maxlen, truncating):
    encoder = TextEncoder.fit(batch + ["the film was great σς ﬃ"], num_words=8, maxlen=maxlen, truncating=truncating)
    assert encoder.tokenizer.works_on_bytes
    assert encoder.encode(batch) == reference_encode(batch, encoder)


def test_which_settings_run_on_bytes():
    assert Tokenizer().works_on_bytes
    assert Tokenizer(filters="!?", split="\t", lower=False).works_on_bytes
    assert not Tokenizer(filters="é").works_on_bytes       # non-ASCII filter: the str path
    assert not Tokenizer(split="\u3000").works_on_bytes    # non-ASCII split
    assert not Tokenizer(split="ab").works_on_bytes        # split on a string, not a character


def test_encode_rejects_non_text():
    encoder = TextEncoder.fit(["a b"])
    for bad in ([b"bytes"], ["ok", None]):
        with pytest.raises(TypeError, match="expected a str"):
            encoder.encode(bad)


def test_encode_keeps_the_end_and_the_start_marker_like_before():
    encoder = TextEncoder.fit(["a b c d e"], maxlen=3)
    assert encoder.encode(["a b", "a b c", "a b c d e"]) == [[1, 4, 5], [4, 5, 6], [6, 7, 8]]
    post = TextEncoder(encoder.vocab, maxlen=3, truncating="post")
    assert post.encode(["a b c d e"]) == [[1, 4, 5]]


def test_case_mappings_never_produce_a_filter_byte_inside_a_character():
    # The byte path is exact because every byte of a non-ASCII character's UTF-8 is >= 0x80; the
    # characters that lower() turns into ASCII ones (e.g. the Kelvin sign) are lowered before encoding.
    assert Tokenizer()("\u212a\u0130!X") == [w.decode("utf-8") for w in next(Tokenizer().utf8_words(["\u212a\u0130!X"]))]
    assert all(b >= 0x80 for c in ("é", "😀", "\ud800", "\u3000") for b in c.encode("utf-8", "surrogatepass"))


@pytest.mark.real_data
def test_fast_encode_equals_the_original_on_imdb(real_archive):
    from polarity.data import load_imdb

    corpus = load_imdb(real_archive)
    encoder = TextEncoder.fit(corpus.train.texts[:5000], num_words=5000, maxlen=500)
    assert encoder.encode(corpus.test.texts) == reference_encode(corpus.test.texts, encoder)
