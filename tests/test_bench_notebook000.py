"""bench.notebook000's Keras model (the bench extra: Keras 3 on TensorFlow) on a tiny batch."""

import numpy as np
import pytest

keras = pytest.importorskip("keras", reason='the notebook-000 Keras model needs the bench extra: pip install -e ".[bench]"')
pytest.importorskip("tensorflow", reason='the notebook-000 Keras model needs the bench extra: pip install -e ".[bench]"')

from bench.notebook000 import keras2_hard_sigmoid, keras22_adagrad, keras_notebook_model  # noqa: E402


def test_the_notebooks_model_masks_padding_and_keeps_the_embedding_frozen():
    matrix = np.random.default_rng(0).normal(size=(30, 50)).astype(np.float32)
    matrix[0] = 0.0
    model = keras_notebook_model(matrix, maxlen=12, seed=0)
    assert [type(layer).__name__ for layer in model.layers] == ["Embedding", "LSTM", "Dense"]
    embedding, lstm, _ = model.layers
    assert not embedding.trainable and embedding.mask_zero and lstm.units == 64
    assert (lstm.dropout, lstm.recurrent_dropout) == (0.3, 0.1)
    np.testing.assert_array_equal(embedding.embeddings.numpy(), matrix)
    review = [3, 4, 5, 6, 7]
    wide = model.predict(np.array([[0] * 7 + review], dtype=np.int32), verbose=0)
    narrow = keras_notebook_model(matrix, maxlen=8, seed=0).predict(np.array([[0] * 3 + review], dtype=np.int32), verbose=0)
    np.testing.assert_allclose(wide, narrow, rtol=1e-5)  # the padding is masked: its amount changes nothing
    model.fit(np.array([[0] * 7 + review, [0] * 10 + [8, 9]], dtype=np.int32), np.array([1, 0]), batch_size=2,
              epochs=1, verbose=0)
    np.testing.assert_array_equal(embedding.embeddings.numpy(), matrix)  # frozen through a training step


def test_keras2_gates_and_keras22_adagrad():
    from keras import ops

    assert ops.convert_to_numpy(keras2_hard_sigmoid(ops.convert_to_tensor([-3.0, 0.0, 1.0, 3.0]))).tolist() == \
        pytest.approx([0.0, 0.5, 0.7, 1.0])
    variable = keras.Variable(np.array([1.0], dtype=np.float32))
    optimizer = keras22_adagrad(0.01)
    optimizer.apply_gradients([(ops.convert_to_tensor([1e-4]), variable)])
    # Keras 2.2: w -= lr g / (sqrt(g^2) + 1e-7): the first step is about lr whatever g's size
    assert float(variable.numpy()[0]) == pytest.approx(1.0 - 0.01 * 1e-4 / (1e-4 + 1e-7), rel=1e-6)
