"""Behaviour that must not move: short seeded runs of every model kind (mean-embedding, exact and
bucketed LSTM, masked BiLSTM, pooled GRU, tfidf-lr, nbsvm, a hybrid, a tiny pretraining epoch and a
fine-tune from it, two torchrun processes) give the weights, metrics and predict / explain /
evaluate / export answers recorded on this machine, bit for bit.

The record is per machine (CPU model and features, threads, library versions: see
``golden.machine_key``): float results are exact only there. Elsewhere the test skips, saying so;
``python -m tests.golden`` records the machine it runs on.
"""

import json

import pytest

import golden

pytestmark = pytest.mark.slow  # trains every model kind: left out of mutation runs


def test_every_model_kind_gives_its_recorded_results(tmp_path):
    record = golden.record_path()
    if not record.is_file():
        pytest.skip(f"no golden record for this machine ({record.name}; exact float results are per CPU and "
                    "library versions): python -m tests.golden records one")
    expected = json.loads(record.read_text(encoding="utf-8"))
    found = golden.fingerprints(tmp_path)
    for kind in expected:
        assert found.get(kind) == expected[kind], f"{kind} moved"
    assert sorted(found) == sorted(expected)
