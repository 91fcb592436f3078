"""A text of any length costs what the part the model reads costs, with the same ids."""

import random

from hypothesis import given
from hypothesis import strategies as st

import polarity.data.encoder as encoder_module
from polarity.data import TextEncoder

WORDS = ["good", "bad", "<br />", "<BR/>", "film", "ΣΑΣ", "İstanbul", "naïve", "a,b", "x.", "\t", "\n", "  ", "😀"]
ENCODER = TextEncoder.fit(["good bad film naïve a b x ΣΑΣ σας istanbul i̇stanbul 😀"], maxlen=7)


def slow(encoder: TextEncoder, text: str) -> list[int]:
    return encoder.encode_tokens([encoder.tokenize(text)])[0]


@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=5), max_size=60).map(" ".join))
def test_the_tail_gives_the_whole_texts_ids(text):
    old = encoder_module.LONG_TEXT
    encoder_module.LONG_TEXT = 0  # every text takes the long-text path
    try:
        assert ENCODER.encode([text]) == [slow(ENCODER, text)]
    finally:
        encoder_module.LONG_TEXT = old


def test_a_long_single_line_is_fast_and_exact():
    rng = random.Random(0)
    text = " ".join(rng.choice(WORDS) for _ in range(1_500_000))  # about 8 MB
    encoder = TextEncoder.fit(["good bad film naïve"], maxlen=500)
    assert len(text) > encoder_module.LONG_TEXT
    assert encoder.encode([text]) == [slow(encoder, text)]


def test_a_long_text_of_long_words_widens_its_tail_until_it_holds_maxlen_words():
    words = [f"{i:06d}" * 30 for i in range(6000)]  # 180 characters each: the first tail holds about 58
    text = " ".join(words)
    encoder = TextEncoder.fit([text], maxlen=100)
    assert len(text) > encoder_module.LONG_TEXT
    ids = encoder.encode([text])[0]
    assert ids == slow(encoder, text) and encoder.decode(ids) == words[-100:]
