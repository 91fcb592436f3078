"""Nothing is lost: a training process killed with SIGKILL at random moments resumes to exactly the
weights of an uninterrupted run."""

import os
import random
import signal
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

import pytest

pytestmark = pytest.mark.slow  # kills training processes: left out of mutation runs

ARGS = ["train", "lstm-dropout", "--no-strict", "--quiet", "--epochs", "30", "--batch-size", "16", "--lr", "0.03",
        "--set", "data.num_words=100", "--set", "data.maxlen=60", "--set", "data.valid_fraction=0.2",
        "--set", "model.embedding_dim=16", "--set", "model.units=16"]  # dropout on: the random state must resume too


def command(archive, out, *extra):
    if "--resume" in extra:  # the run's own settings come from its folder
        return [sys.executable, "-m", "polarity", "train", "--resume", "--quiet", "--no-strict", "--data", str(archive),
                "--out", str(out)]
    return [sys.executable, "-m", "polarity", *ARGS, "--data", str(archive), "--out", str(out), *extra]


def run(cmd) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_sigkill_at_random_moments_then_resume_gives_the_same_weights(tmp_path, sentiment_archive):
    # The first read of an archive also builds its cache: the run timed below, like the killed ones, finds it.
    assert run(command(sentiment_archive, tmp_path / "warm", "--epochs", "1")).returncode == 0
    started = time.perf_counter()
    done = run(command(sentiment_archive, tmp_path / "straight"))
    assert done.returncode == 0, done.stderr
    duration = time.perf_counter() - started
    expected = load_file(str(tmp_path / "straight" / "model.safetensors"))

    rng = random.Random(0)
    out = tmp_path / "killed"
    kills = 0
    for attempt in range(12):  # a kill at a random moment of each run (start-up and writing included)
        if kills == 5:
            break
        resume = ["--resume"] if (out / "run.json").exists() else []
        process = subprocess.Popen(command(sentiment_archive, out, *resume), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
        time.sleep(rng.uniform(0.3, 0.7) * duration)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        if (out / "config.json").exists() and not (out / "checkpoint.safetensors").exists():
            break  # it finished before the kill
    # a kill in the middle of an atomic write leaves only its temporary file behind
    (out / ".checkpoint.safetensors.abc123.tmp").write_bytes(b"half a checkpoint")
    while not ((out / "config.json").exists() and not (out / "checkpoint.safetensors").exists()):
        resume = ["--resume"] if (out / "run.json").exists() else []
        done = run(command(sentiment_archive, out, *resume))
        assert done.returncode == 0, done.stderr
    assert kills == 5
    resumed = load_file(str(out / "model.safetensors"))
    assert all(torch.equal(resumed[name], tensor) for name, tensor in expected.items())


def test_files_are_written_readable_by_everyone(tmp_path, sentiment_archive):
    done = run(command(sentiment_archive, tmp_path / "m", "--epochs", "1"))
    assert done.returncode == 0, done.stderr
    for path in (tmp_path / "m").iterdir():
        assert path.stat().st_mode & 0o777 == 0o644, path.name  # safetensors alone would write 0600
