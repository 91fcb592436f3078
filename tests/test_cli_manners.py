"""The command line as a new user meets it: help with an example everywhere, usage of the right subcommand."""

import argparse
import re

import pytest

from polarity.cli import build_parser, main


def subcommands(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from subcommands(sub, (*prefix, name))


def test_every_subcommand_has_a_description_an_example_and_helped_options():
    parser = build_parser()
    found = list(subcommands(parser))
    assert {"train", "predict", "evaluate", "explain"} <= {path[-1] for path, _ in found}
    for path, sub in found:
        assert sub.description and len(sub.description.splitlines()) == 1, path
        assert "example:" in sub.format_help() and "polarity " in sub.epilog, path
        for action in sub._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"{' '.join(path)} {action.option_strings or action.dest} has no help"


def test_help_lists_each_command_and_describes_the_model_folder_where_one_is_read(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    parser = build_parser()
    assert re.search(r"^    predict +classify raw text with a model folder$", parser.format_help(), re.M)
    parsers = dict(subcommands(parser))
    for name in ("predict", "evaluate", "neighbors", "embedding-plot", "explain", "export", "check"):
        text = parsers[(name,)].format_help()
        assert re.search(r"^  MODEL_DIR +a model folder written by polarity train$", text, re.M), name
    predict = parsers[("predict",)].format_help()
    assert "\nClassify raw text with a model folder.\n" in predict
    example = '\nexample:\n  polarity predict runs/default "A wonderful film."\n  polarity predict runs/default --file'
    assert example in predict  # kept as written, not reflowed


@pytest.mark.parametrize("argv, usage", [(["predict", "m", "--bogus"], "polarity predict"),
                                         (["train", "--nope"], "polarity train"),
                                         (["data", "stats", "--what"], "polarity data stats")])
def test_an_unknown_option_shows_the_subcommands_usage(argv, usage, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {usage}") and "unrecognized arguments" in err


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, capsys):
    import polarity.cli.train as train

    def broken(args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(train, "cmd_recipes", broken)
    assert main(["recipes"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: boom" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "recipes"])


def test_threads_option_sets_torchs_threads(capsys, thread_settings_kept):
    import torch

    assert main(["--threads", "1", "recipes"]) == 0 and torch.get_num_threads() == 1
    with pytest.raises(SystemExit):
        main(["--threads", "0", "recipes"])


def test_threads_wait_without_spinning_when_other_processes_use_the_cpu():
    import os
    import subprocess
    import sys

    probe = "import sys; from polarity.cli import choose_wait_policy; print(choose_wait_policy(), 'torch' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.5)
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env).stdout.split()
        assert out == ["PASSIVE", "False"]  # decided before PyTorch is imported
        mine = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              env={**env, "OMP_WAIT_POLICY": "ACTIVE"}).stdout.split()
        assert mine == ["None", "False"]  # the user's setting wins
    finally:
        busy.kill()


@pytest.mark.parametrize("busy, policy", [(0.5, "PASSIVE"), (0.45, "None")])
def test_threads_sleep_from_half_a_busy_core(busy, policy):
    import os
    import subprocess
    import sys

    probe = ("import polarity.engine.threads as threads; threads.busy_cores = lambda seconds=0.25: %r; "
             "print(threads.choose_wait_policy())" % busy)
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env).stdout.split() == [policy]


def test_thread_counts_set_for_a_block_or_a_pool_of_workers_come_back_after_it(thread_settings_kept):
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from polarity.engine.threads import ShardPool, threads_for

    torch.set_num_threads(2)
    with pytest.raises(KeyError), threads_for(1):
        assert torch.get_num_threads() == 1
        raise KeyError("an error inside the block")
    assert torch.get_num_threads() == 2
    with ShardPool(2) as pool:
        assert pool.map(lambda _: torch.get_num_threads(), range(4)) == [1, 1, 1, 1]  # each worker on one thread
    assert torch.get_num_threads() == 2
    with ThreadPoolExecutor(1) as later:  # a thread started after the pool closed: the caller's count, not the workers'
        assert later.submit(torch.get_num_threads).result() == 2


def test_a_server_process_runs_torch_on_one_thread_and_its_batches_on_every_core(thread_settings_kept):
    import sys

    import torch

    from polarity.engine.threads import available_cores, serving_process

    assert serving_process(None) == available_cores() and serving_process(3) == 3
    assert torch.get_num_threads() == 1 and sys.getswitchinterval() == pytest.approx(0.0005)


@pytest.mark.parametrize("argv, missing", [(["neighbors", "MODEL", "--", "--"], "word"),
                                           (["explain", "MODEL", "--", "--"], "TEXT")])
def test_a_positional_swallowed_by_double_dashes_is_a_usage_error(tiny_model, argv, missing, capsys):
    """argparse (Python < 3.13) hands an empty list to a positional whose only value was ``--``."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(tiny_model) if a == "MODEL" else a for a in argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: the following arguments are required: {missing}" in err and "Traceback" not in err


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_a_gpu_asked_for_where_pytorch_sees_none_is_refused_in_one_line(tiny_model, device, monkeypatch, capsys):
    """On a machine without CUDA (or with PyTorch's CPU build), any CUDA device, numbered or not, is
    refused before anything runs, rather than failing inside PyTorch."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["predict", str(tiny_model), "--device", device, "a fine film"]) == 1
    assert capsys.readouterr().err == f"polarity: error: --device {device} was asked for, but PyTorch sees no CUDA device\n"
