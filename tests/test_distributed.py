"""Training on several processes with torchrun (gloo on CPU): the same model as one process with the
whole batch, a folder that predicts, and an exact resume."""

import json
import subprocess
import sys

import torch
from safetensors.torch import load_file

from polarity.inference import Predictor

SETTINGS = {"data.num_words": 100, "data.maxlen": 60, "data.valid_fraction": 0.2, "model.embedding_dim": 16,
            "model.units": 16, "model.embedding_dropout": 0.0, "model.output_dropout": 0.0, "training.epochs": 2,
            "training.lr": 0.01, "training.batching": "exact"}

# One process of a launch: train, optionally stopping after STOP steps (as Ctrl-C would), or resume.
# After the run and distributed.shutdown(), the process leaves with os._exit: some interrupted
# 2-process runs (4 in about 40) aborted in C++ teardown at interpreter exit ("terminate called without an
# active exception"), after the checkpoint was written and the process group destroyed (cause not
# found; noted in docs/SCALING.md). What this module tests is done by then.
SCRIPT = """
import json, os, sys
from polarity.engine import distributed
from polarity.training import TrainingInterrupted, load_recipe, train_recipe

import pytest

pytestmark = pytest.mark.slow  # starts torchrun processes: left out of mutation runs
settings, data, out, stop, resume = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
distributed.init_from_env("cpu")
def stop_at(trainer, state):
    if stop and state.steps == stop:
        trainer.request_stop()
try:
    train_recipe(load_recipe("lstm-dropout", settings), out, data=data, strict=False, device="cpu", resume=resume,
                 progress=False, log=lambda *a: None, callbacks=[stop_at])
except TrainingInterrupted:
    pass
distributed.shutdown()
sys.stdout.flush(); sys.stderr.flush()
os._exit(0)
"""


def launch(tmp_path, processes: int, settings: dict, archive, out, stop: int = 0, resume: bool = False) -> None:
    script = tmp_path / "one_process.py"
    script.write_text(SCRIPT)
    args = [json.dumps(settings), str(archive), str(out), str(stop), "1" if resume else "0"]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
               "--standalone", str(script), *args] if processes > 1 else [sys.executable, str(script), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_two_processes_equal_one_with_the_whole_batch(tmp_path, sentiment_archive):
    """With per-process batch B, 2 processes take the same steps as 1 process with batch 2B: the
    same seeded plan of 2B-review batches, each process the half its rank is dealt, gradients
    averaged with each half weighted by its size. Exact batching pads every review to maxlen, so
    the halves compute what the whole batch does; what remains is float rounding (sums in another
    order on each process and in the all-reduce), 1e-7 here, so the tolerance is 1e-5. With
    bucketed batching an unmasked LSTM reads each half's own padding and the runs differ more."""
    launch(tmp_path, 2, {**SETTINGS, "training.batch_size": 7}, sentiment_archive, tmp_path / "two")
    launch(tmp_path, 1, {**SETTINGS, "training.batch_size": 14}, sentiment_archive, tmp_path / "one")
    two, one = weights(tmp_path / "two"), weights(tmp_path / "one")
    for name, tensor in one.items():
        torch.testing.assert_close(two[name], tensor, rtol=0, atol=1e-5)
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["test"]["reviews"] == 240  # every test review, gathered from both processes
    texts = ["wonderful brilliant film", "awful boring film", "a film"]
    from_two = Predictor.load(tmp_path / "two").predict_proba(texts)  # the folder the first process wrote
    torch.testing.assert_close(torch.as_tensor(from_two), torch.as_tensor(Predictor.load(tmp_path / "one").predict_proba(texts)),
                               rtol=0, atol=1e-5)
    assert not (tmp_path / "two" / "checkpoint.safetensors").exists()


def test_two_processes_resume_exactly(tmp_path, sentiment_archive):
    settings = {**SETTINGS, "training.batch_size": 8, "model.embedding_dropout": 0.2, "training.batching": "bucketed"}
    launch(tmp_path, 2, settings, sentiment_archive, tmp_path / "straight")
    launch(tmp_path, 2, settings, sentiment_archive, tmp_path / "resumed", stop=5)  # mid-epoch
    assert (tmp_path / "resumed" / "checkpoint.safetensors").is_file()
    launch(tmp_path, 2, settings, sentiment_archive, tmp_path / "resumed", resume=True)
    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert all(torch.equal(resumed[name], tensor) for name, tensor in straight.items())


def test_a_checkpoint_of_two_processes_refuses_one(tmp_path, sentiment_archive):
    settings = {**SETTINGS, "training.batch_size": 8}
    launch(tmp_path, 2, settings, sentiment_archive, tmp_path / "run", stop=3)
    script = tmp_path / "one_process.py"
    done = subprocess.run([sys.executable, str(script), json.dumps(settings), str(sentiment_archive),
                           str(tmp_path / "run"), "0", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "written by 2 process(es)" in done.stderr
