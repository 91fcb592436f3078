"""Hand-written mutants of the core modules: does the test suite notice a wrong change?

    python -m bench.mutants                     # every mutant, each against its own fast test files
    python -m bench.mutants --list              # names, files and tests, nothing run
    python -m bench.mutants --only adam-eps     # one mutant (repeat --only for more)
    python -m bench.mutants --without tests/test_mutation_guards.py   # the suite without the guards

Each mutant replaces one exact piece of text in one file of ``src/polarity``. The text must occur
exactly once (checked for every mutant before anything runs), so a change of the code that moves
a mutant's target fails loudly instead of silently testing nothing. Each mutant is applied to a
fresh copy of ``src/`` in a temporary folder, and pytest runs with ``PYTHONPATH`` pointing at the
copy (checked: ``polarity.__file__`` must lie in the copy); the working tree is never written.
A mutant is *caught* when its tests fail (or time out), *survived* when they pass.
``tests/test_mutation_guards.py`` runs with every mutant (unless ``--without`` leaves it out).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
GUARDS = "tests/test_mutation_guards.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to src/polarity
    old: str
    new: str
    tests: tuple[str, ...]  # test files or node ids, relative to the repository root


TOK = ("tests/test_tokenizer_vocab.py",)
SEQ = ("tests/test_sequence.py",)
LAB = ("tests/test_labelled.py",)
MOD = ("tests/test_models.py", "tests/test_layers.py")
REC = ("tests/test_recipes.py",)
METRICS = ("tests/test_inference.py::test_metric_helpers",)
INFER = ("tests/test_inference.py",)
LOOP = ("tests/test_training.py::test_early_stopping_and_limit",
        "tests/test_training.py::test_adam_and_adagrad_use_fused_kernels_on_cpu",
        "tests/test_training.py::test_interrupted_then_resumed_equals_uninterrupted[5-1]")

MUTANTS: list[Mutant] = [
    # -- tokenizer ------------------------------------------------------------------------------
    Mutant("tokenizer-filter-drops-tilde", "data/tokenizer.py",
           r"""KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'""",
           r"""KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}\t\n'""", TOK),
    Mutant("tokenizer-no-lower", "data/tokenizer.py",
           "        if self.lower:\n            text = text.lower()\n        if self._removed",
           "        if False:\n            text = text.lower()\n        if self._removed", TOK),
    Mutant("tokenizer-bytes-path-no-lower", "data/tokenizer.py",
           "            if lower:\n                text = text.lower()",
           "            if False:\n                text = text.lower()", TOK + ("tests/test_encoder_speed_equivalence.py",)),
    Mutant("tokenizer-br-needs-slash", "data/tokenizer.py", r'r"<br\s*/?>"', r'r"<br\s*/>"', TOK),
    Mutant("tokenizer-br-glues-words", "data/tokenizer.py",
           '            text = BR_TAG.sub(" ", text)\n        if self.lower', '            text = BR_TAG.sub("", text)\n        if self.lower', TOK),
    # -- vocabulary -----------------------------------------------------------------------------
    Mutant("vocab-ids-rank-plus-2", "data/vocab.py",
           "rank + index_from for rank, w in enumerate(self.words, start=1)",
           "rank + index_from for rank, w in enumerate(self.words, start=0)", TOK),
    Mutant("vocab-num-words-inclusive", "data/vocab.py",
           "idx < self.num_words)", "idx <= self.num_words)", TOK),
    Mutant("vocab-skip-top-off-by-one", "data/vocab.py",
           "return idx >= self.skip_top and", "return idx > self.skip_top and", TOK),
    Mutant("vocab-oov-dropped", "data/vocab.py",
           "ids = list(map(get, tokens, repeat(oov)))", "ids = list(filter(None, map(get, tokens)))", TOK),
    Mutant("vocab-ties-not-alphabetical", "data/vocab.py",
           "key=lambda wc: (-wc[1], wc[0])", "key=lambda wc: -wc[1]", TOK),
    # -- pad_sequences --------------------------------------------------------------------------
    Mutant("pad-pre-post-swapped", "data/sequence.py",
           'if padding == "post":', 'if padding == "pre":', SEQ),
    Mutant("truncate-pre-post-swapped", "data/sequence.py",
           'kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]',
           'kept = seq[:maxlen] if truncating == "pre" else seq[-maxlen:]', SEQ),
    Mutant("truncate-one-short", "data/sequence.py",
           "kept = seq[-maxlen:] if", "kept = seq[-maxlen + 1:] if", SEQ),
    # -- splits ---------------------------------------------------------------------------------
    Mutant("split-unstratified", "data/labelled.py",
           "        members = np.flatnonzero(labels == label)", "        members = np.arange(len(labels))", LAB),
    Mutant("split-floor-not-round", "data/labelled.py",
           "rounded = [int(round(fraction * count)) for count in counts]",
           "rounded = [int(fraction * count) for count in counts]", LAB),
    Mutant("fit-valid-limit-samples-all-train", "data/splits.py",
           "fit = sample(fit, max(1, limit - len(valid)), seed)",
           "fit = sample(train, max(1, limit - len(valid)), seed)", LAB + ("tests/test_own_data.py",)),
    Mutant("fit-valid-swapped", "data/splits.py",
           "fit, valid = split_labelled(train, valid_fraction, seed)",
           "valid, fit = split_labelled(train, valid_fraction, seed)", LAB),
    # -- models ---------------------------------------------------------------------------------
    Mutant("lstm-two-biases", "models/classifiers.py",
           "use_single_bias(rnn)  #", "(rnn)  #", MOD),
    Mutant("lstm-forget-bias-on-input-gate", "models/init.py",
           "tensor[hidden : 2 * hidden] = 1.0", "tensor[:hidden] = 1.0", MOD),
    Mutant("masking-reads-last-column", "models/classifiers.py",
           "outputs, _ = self._run_rnn(x)\n        return at_last_step(outputs, ends)",
           "outputs, _ = self._run_rnn(x)\n        return outputs[:, -1]", MOD),
    Mutant("bidirectional-forward-twice", "models/classifiers.py",
           "torch.cat([hidden[-2], hidden[-1]], dim=-1)", "torch.cat([hidden[-1], hidden[-1]], dim=-1)", MOD),
    Mutant("binary-not-squeezed", "models/classifiers.py",
           "return logits.squeeze(-1) if logits.shape[-1] == 1 else logits", "return logits", MOD),
    Mutant("mean-embedding-ignores-padding", "models/classifiers.py",
           "pads = (self.maxlen - count).clamp(min=0.0)", "pads = 0.0 * count", MOD),
    # -- engine.predict: loss and probabilities -------------------------------------------------
    Mutant("multiclass-loss-margin", "engine/predict.py",
           "loss = F.cross_entropy(logits, labels)", "loss = F.multi_margin_loss(logits, labels)", MOD),
    Mutant("binary-correct-inverted", "engine/predict.py",
           "predicted = (logits.detach() > 0).long()", "predicted = (logits.detach() < 0).long()", MOD),
    Mutant("sigmoid-columns-swapped", "engine/predict.py",
           "np.stack([1.0 - positive, positive], axis=1)", "np.stack([positive, 1.0 - positive], axis=1)", METRICS),
    Mutant("softmax-global-sum", "engine/predict.py",
           "shifted / shifted.sum(axis=1, keepdims=True)", "shifted / shifted.sum()", METRICS),
    # -- training loop ----------------------------------------------------------------------------
    Mutant("restore-best-disabled", "training/loop.py",
           "if self.best is not None and self.best.restore and self.best_weights is not None:",
           "if False and self.best_weights is not None:", LOOP),
    Mutant("adam-eps-1e-8", "training/loop.py",
           "torch.optim.Adam(params, lr=lr, eps=1e-7, fused=fused)",
           "torch.optim.Adam(params, lr=lr, eps=1e-8, fused=fused)", LOOP),
    Mutant("early-stopping-one-late", "training/loop.py",
           "s.stale_epochs >= best.patience", "s.stale_epochs > best.patience", LOOP),
    Mutant("best-epoch-ties-move-later", "training/loop.py",
           "if score > s.best_score:", "if score >= s.best_score:", LOOP),
    Mutant("stale-count-not-reset", "training/loop.py",
           "s.best_score, s.best_epoch, s.stale_epochs = score, s.epoch, 0",
           "s.best_score, s.best_epoch = score, s.epoch", LOOP),
    Mutant("resume-forgets-rng", "training/loop.py",
           "torch.set_rng_state(tensors[rng_key(self.rank)])", "pass", LOOP),
    # -- predictor ----------------------------------------------------------------------------------
    Mutant("default-threshold-0.6", "inference/predictor.py",
           "    if threshold is None:\n        return 0.5", "    if threshold is None:\n        return 0.6", INFER),
    Mutant("threshold-strict", "inference/predictor.py",
           "(probs[:, 1] >= threshold)", "(probs[:, 1] > threshold)", INFER),
    Mutant("decision-reads-first-column", "inference/predictor.py",
           "(probs[:, 1] >= threshold)", "(probs[:, 0] < threshold)", INFER),
    Mutant("threshold-range-to-2", "inference/predictor.py",
           "not 0.0 <= threshold <= 1.0", "not 0.0 <= threshold <= 2.0", INFER),
    # -- evaluation ---------------------------------------------------------------------------------
    Mutant("precision-is-recall", "inference/evaluation.py",
           "precision=float(metrics.precision_score(", "precision=float(metrics.recall_score(", METRICS),
    Mutant("f1-is-accuracy", "inference/evaluation.py",
           "f1=float(metrics.f1_score(labels, predicted, zero_division=0))",
           "f1=float(metrics.accuracy_score(labels, predicted))", METRICS),
    Mutant("confusion-transposed", "inference/evaluation.py",
           "metrics.confusion_matrix(labels, predicted, labels=indices)",
           "metrics.confusion_matrix(predicted, labels, labels=indices)", METRICS),
    Mutant("roc-auc-of-first-column", "inference/evaluation.py",
           "roc_auc_score(labels, probs[:, 1])", "roc_auc_score(labels, probs[:, 0])", METRICS),
    Mutant("length-buckets-boundaries", "inference/evaluation.py",
           "inside = (lengths >= low) & ((lengths < high)", "inside = (lengths > low) & ((lengths <= high)", METRICS),
    # -- recipes ------------------------------------------------------------------------------------
    Mutant("recipe-unknown-keys-accepted", "settings.py",
           "        if key not in valid:\n            raise unknown(",
           "        if False:\n            raise unknown(", REC),
    Mutant("recipe-valid-fraction-allows-1", "training/recipes.py",
           "lambda v: 0 <= v < 1))", "lambda v: 0 <= v <= 1))", REC),
    Mutant("recipe-lr-allows-0", "training/recipes.py",
           'lr: float = rule(0.001, number("a positive number", lambda v: v > 0))',
           'lr: float = rule(0.001, number("a positive number", lambda v: v >= 0))', REC),
    Mutant("recipe-early-stopping-negative", "training/recipes.py",
           'integer(0, "an integer >= 0 (0: off)")', 'integer(None, "an integer >= 0 (0: off)")', REC),
]


def check_targets(mutants: list[Mutant]) -> list[str]:
    """Problems: a mutant whose old text is not in its file exactly once, or that changes nothing."""
    problems = []
    for m in mutants:
        path = SRC / "polarity" / m.file
        if not path.is_file():
            problems.append(f"{m.name}: {m.file} not found")
            continue
        count = path.read_text(encoding="utf-8").count(m.old)
        if count != 1:
            problems.append(f"{m.name}: old text occurs {count} times in {m.file} (expected exactly once)")
        if m.old == m.new:
            problems.append(f"{m.name}: old and new text are the same")
    names = [m.name for m in mutants]
    problems += [f"{n}: name used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    return problems


def run_mutant(m: Mutant, extra: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    """('caught' | 'survived' | 'timeout', seconds, last output line) for one mutant."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{m.name}-") as tmp:
        copy = Path(tmp) / "src"
        shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        target = copy / "polarity" / m.file
        text = target.read_text(encoding="utf-8")
        assert text.count(m.old) == 1
        target.write_text(text.replace(m.old, m.new), encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(copy) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   PYTHONDONTWRITEBYTECODE="1")
        where = subprocess.run([sys.executable, "-c", "import polarity; print(polarity.__file__)"], env=env, cwd=ROOT,
                               capture_output=True, text=True)
        if not where.stdout.strip().startswith(str(copy)):
            raise SystemExit(f"{m.name}: the copy is not what gets imported ({where.stdout.strip()} {where.stderr})")
        tests = list(dict.fromkeys(extra + m.tests))  # the guards first: fast, and -x stops there
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout", time.perf_counter() - started, f"over {timeout:.0f} s"
        seconds = time.perf_counter() - started
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        last = lines[-1] if lines else done.stderr.strip()[-200:]
        if done.returncode in (0, 5):  # 5: no tests collected counts as passing (nothing noticed)
            return "survived", seconds, last
        return "caught", seconds, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this mutant (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--without", action="append", default=[], metavar="TESTS",
                        help=f"leave these tests out (e.g. {GUARDS}: the score of the suite without the guards)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per mutant (a timeout counts as caught)")
    args = parser.parse_args(argv)

    problems = check_targets(MUTANTS)
    if problems:
        print("mutant targets no longer match the code:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    chosen = MUTANTS
    if args.only:
        unknown = sorted(set(args.only) - {m.name for m in MUTANTS})
        if unknown:
            print(f"unknown mutant(s): {', '.join(unknown)}; see --list", file=sys.stderr)
            return 2
        chosen = [m for m in MUTANTS if m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name:36} {m.file:26} {' '.join(m.tests)}")
        print(f"{len(chosen)} mutants")
        return 0

    leave_out = set(args.without)
    extra = () if GUARDS in leave_out or not (ROOT / GUARDS).is_file() else (GUARDS,)
    results = []
    started = time.perf_counter()
    for m in chosen:
        m_tests = Mutant(m.name, m.file, m.old, m.new, tuple(t for t in m.tests if t not in leave_out))
        verdict, seconds, last = run_mutant(m_tests, extra, args.timeout)
        results.append((m, verdict))
        print(f"{verdict:9} {seconds:6.1f} s  {m.name:36} {m.file:26} {last[:90]}", flush=True)
    caught = sum(v != "survived" for _, v in results)
    print(f"\n{caught}/{len(results)} mutants caught ({100 * caught / len(results):.0f} %) in "
          f"{time.perf_counter() - started:.0f} s" + (f"; tests left out: {', '.join(sorted(leave_out))}" if leave_out else ""))
    survivors = [m.name for m, v in results if v == "survived"]
    if survivors:
        print("survived: " + ", ".join(survivors))
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
