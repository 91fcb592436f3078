"""The ``polarity`` command line: one obvious command per job."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence

from polarity import __version__
from polarity.engine.threads import choose_wait_policy, set_torch_threads
from polarity.errors import PolarityError

Handler = Callable[[argparse.Namespace], int | None]


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _data_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--data", metavar="PATH", help="aclImdb_v1.tar.gz or an extracted aclImdb/ folder "
                        "(default: $POLARITY_DATA, the cache folder, or the official download)")
    parent.add_argument("--no-strict", dest="strict", action="store_false",
                        help="accept a partial copy of the dataset (official layout, other counts)")
    parent.add_argument("--no-download", dest="download", action="store_false", help="never download the dataset")
    return parent


def _load_corpus(args: argparse.Namespace):
    from polarity.data.imdb import load_imdb

    return load_imdb(args.data, strict=args.strict, download=args.download)


# -- data ------------------------------------------------------------------------------------------------
def cmd_data_stats(args: argparse.Namespace) -> None:
    from polarity.data.stats import corpus_stats, format_stats

    stats = corpus_stats(_load_corpus(args))
    if args.json:
        _print_json(stats)
    else:
        print(format_stats(stats))


def cmd_data_show(args: argparse.Namespace) -> None:
    corpus = _load_corpus(args)
    reviews = corpus.split(args.split)
    if not 0 <= args.index < len(reviews):
        raise PolarityError(f"review {args.index} does not exist: the {args.split} split has {len(reviews):,} (0 to {len(reviews) - 1:,})")
    predictor = None
    if args.model:
        from polarity.inference import Predictor

        predictor = Predictor.load(args.model)
        encoder = predictor.encoder
    else:
        from polarity.data.encoder import TextEncoder
        from polarity.data.splits import fit_valid_split

        fit, _ = fit_valid_split(corpus.train.labelled(), 0.1, 0)  # the default recipe's training texts
        encoder = TextEncoder.fit(fit.texts, num_words=args.num_words)
    text = reviews.texts[args.index]
    ids = encoder.encode([text])[0]
    label = {1: "positive", 0: "negative", -1: "unlabelled"}[int(reviews.labels[args.index])]
    result = {
        "split": args.split,
        "index": args.index,
        "file": f"{int(reviews.ids[args.index])}_{int(reviews.ratings[args.index])}.txt",
        "label": label,
        "rating": int(reviews.ratings[args.index]),
        "text": text,
        "ids": ids,
        "decoded": " ".join(encoder.decode(ids)),
    }
    if predictor is not None:
        prediction = predictor.classify([text])[0]
        result["prediction"] = {"label": prediction.label, "score": prediction.score,
                                "probabilities": prediction.probabilities}
    if args.json:
        _print_json(result)
        return
    if predictor is not None:
        p = result["prediction"]
        mark = f", {'right' if p['label'] == label else 'wrong'}" if predictor.labels == ["negative", "positive"] else ""
        print(f"model {args.model}: {p['label']} (score {p['score']:.3f}){mark}")
    print(f"{args.split}[{args.index}]  file {result['file']}  label {label}  rating {result['rating']}/10\n")
    print(text, "\n")
    source = f"model {args.model}" if predictor is not None else f"num_words={args.num_words}"
    print(f"ids ({len(ids)}, {source}):", ids[:40], "..." if len(ids) > 40 else "")
    print("\ndecoded:", result["decoded"])


# -- recipes and training ---------------------------------------------------------------------------------
def _overrides(args: argparse.Namespace) -> dict:
    from polarity.training.recipes import parse_assignment

    flags = {"epochs": "training.epochs", "batch_size": "training.batch_size", "lr": "training.lr",
             "seed": "training.seed", "batching": "training.batching", "early_stopping": "training.early_stopping",
             "maxlen": "data.maxlen", "num_words": "data.num_words", "valid_fraction": "data.valid_fraction"}
    overrides = {key: getattr(args, flag) for flag, key in flags.items() if getattr(args, flag, None) is not None}
    overrides.update(parse_assignment(item) for item in args.set or [])
    return overrides


def cmd_recipes(args: argparse.Namespace) -> None:
    from polarity.training.recipes import load_recipe, recipe_names

    recipes = [load_recipe(name) for name in recipe_names()]
    if args.json:
        _print_json([r.to_dict() for r in recipes])
        return
    print(f"{'recipe':<30}{'nb':<5}{'words':>7}{'maxlen':>7}  {'model':<34}{'training':<26}reported")
    for r in recipes:
        d, m, t = r.data, r.model, r.training
        words = "GloVe" if d.pretrained_vocabulary else f"{d.num_words:,}" if d.num_words else "all"
        model = m["type"] if m["type"] != "rnn" else f"{m.get('cell', 'lstm')} {m.get('units', 100)}, emb {m.get('embedding_dim', 32)}"
        if m.get("pretrained"):
            model += " (GloVe" + (", frozen)" if m.get("freeze_embedding") else ")")
        training = f"{t.optimizer}, batch {t.batch_size}, {t.epochs} ep"
        reported = f"{r.reported_accuracy:.2f} %" if r.reported_accuracy is not None else (
            "per epoch " + ", ".join(f"{x:.2f}" for x in r.reported_per_epoch) if r.reported_per_epoch else "none")
        label = r.name + (f" -> {r.extends}" if r.extends else "")
        print(f"{label:<30}{r.notebook or '':<5}{words:>7}{d.maxlen or '-':>7}  {model:<34}{training:<26}{reported}")


def cmd_summary(args: argparse.Namespace) -> None:
    from polarity.data.splits import RATING_BANDS
    from polarity.models.folder import model_options, num_outputs
    from polarity.models.registry import build_model
    from polarity.training.recipes import load_recipe
    from polarity.training.summary import summary_table

    recipe = load_recipe(args.recipe, _overrides(args))
    d = recipe.data
    labels = list(RATING_BANDS) if d.target == "rating-bands" else ["negative", "positive"]
    if d.num_words and not recipe.model.get("pretrained"):
        vocab_size = d.num_words
    else:
        from polarity.data.tokenizer import Tokenizer
        from polarity.training.pipeline import fit_encoder, prepare_data

        splits = prepare_data(recipe, corpus=_load_corpus(args))
        tokenizer = Tokenizer()
        vocab_size = fit_encoder(recipe, [tokenizer(t) for t in splits.fit.texts], tokenizer)[0].vocab_size
    model = build_model(model_options(recipe.model, d.maxlen or None), vocab_size=vocab_size, num_outputs=num_outputs(labels))
    text, data = summary_table(model, d.maxlen or None, recipe.name)
    if args.json:
        _print_json(data)
    else:
        print(text)


def _data_sources(args: argparse.Namespace) -> dict:
    return {"train": args.train, "valid": args.valid, "test": args.test, "text_column": args.text_column,
            "label_column": args.label_column}


def cmd_train(args: argparse.Namespace) -> int:
    from polarity.training.loop import TrainingInterrupted
    from polarity.training.pipeline import train_recipe
    from polarity.training.recipes import load_recipe

    if args.resume and _overrides(args):
        raise PolarityError("--resume continues a run with the recipe it started with; drop the recipe overrides")
    if (args.valid or args.test) and not args.train:
        raise PolarityError("--valid and --test go with --train FILE (without it, the IMDB splits are used)")
    from polarity.engine import distributed

    recipe = load_recipe(args.recipe, _overrides(args))
    out = args.out or f"runs/{recipe.name}"
    device = distributed.init_from_env(args.device)  # one process of a torchrun launch, or nothing
    main_process = distributed.is_main()
    try:
        metrics = train_recipe(recipe, out, data=args.data, strict=args.strict, device=device, limit=args.limit,
                               resume=args.resume, progress=not args.quiet,
                               log=(lambda *_: None) if args.quiet else print, **_data_sources(args))
    except TrainingInterrupted as exc:
        if main_process:
            print(f"polarity: {exc}", file=sys.stderr)
        return 130
    finally:
        distributed.shutdown()
    if not main_process:
        return 0
    on = metrics["reported_on"]
    final = metrics[on]
    where = "test" if on == "test" else "validation (no --test file given)"
    print(f"{where} accuracy: {100 * final['accuracy']:.2f} % on {final['reviews']:,} texts "
          f"(loss {final['loss']:.4f}, best epoch {metrics['best_epoch']}); model folder: {out}")
    return 0


PRETRAIN_FLAGS = ("words", "embedding_dim", "units", "window", "batch_size", "lr", "vectors", "seed", "limit")


def cmd_pretrain(args: argparse.Namespace) -> int:
    from polarity.training.loop import TrainingInterrupted
    from polarity.training.encoders import encoders_dir
    from polarity.training.pretrain import PretrainSettings, pretrain

    out = args.out or encoders_dir() / args.name
    chosen = {key: getattr(args, key) for key in PRETRAIN_FLAGS if getattr(args, key) is not None}
    if args.forward_only:
        chosen["bidirectional"] = False
    if args.resume and chosen:
        flags = ", ".join("--" + key.replace("_", "-") for key in chosen)
        raise PolarityError(f"--resume continues the run with its own settings; drop {flags}")
    settings = None if args.resume else PretrainSettings(**dict(chosen, epochs=args.epochs or 3))
    try:
        config = pretrain(settings, out, data=args.data, strict=args.strict, device=args.device, resume=args.resume,
                          epochs=args.epochs)
    except TrainingInterrupted as exc:
        print(f"polarity: {exc}", file=sys.stderr)
        return 130
    last = config["history"][-1]
    ppl = ", ".join(f"{k} {v}" for k, v in last["held_out_perplexity"].items())
    print(f"held-out perplexity {ppl} after {config['epochs_done']} epochs "
          f"({config['pretraining_seconds'] / 60:.1f} min); encoder folder: {out}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> None:
    from polarity.training.reproduce import reproduce

    if args.seeds < 1:
        raise PolarityError(f"--seeds must be at least 1, got {args.seeds}")
    overrides = _overrides(args)
    first_seed = overrides.pop("training.seed", overrides.pop("seed", 0))
    report = reproduce(args.recipe, seeds=range(first_seed, first_seed + args.seeds), out=args.out, data=args.data,
                       strict=args.strict, device=args.device, limit=args.limit, overrides=overrides)
    if args.json:
        _print_json(report)


def _training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?", default="default", help="recipe name (see `polarity recipes`) or a .toml file")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--limit", type=int, metavar="N", help="train (and test) on N reviews for a quick look")
    group = parser.add_argument_group("recipe overrides")
    group.add_argument("--epochs", type=int, help="training.epochs")
    group.add_argument("--batch-size", type=int, help="training.batch_size (per process under torchrun)")
    group.add_argument("--lr", type=float, help="training.lr, the learning rate")
    group.add_argument("--seed", type=int, help="training.seed (split, initial weights, order, dropout)")
    group.add_argument("--maxlen", type=int, help="data.maxlen, ids kept per review (0: all)")
    group.add_argument("--num-words", type=int, help="data.num_words, vocabulary size (0: all)")
    group.add_argument("--valid-fraction", type=float, help="data.valid_fraction, the validation part of the training data")
    group.add_argument("--batching", choices=["exact", "bucketed"], help="training.batching: pad to maxlen (exact, as "
                       "Keras) or to each batch's longest review (bucketed)")
    group.add_argument("--early-stopping", type=int, metavar="PATIENCE", help="stop after PATIENCE epochs without progress")
    group.add_argument("--set", action="append", metavar="KEY=VALUE", help="any recipe field, e.g. model.units=64")


# -- using a model ------------------------------------------------------------------------------------------
def _predictor(args: argparse.Namespace):
    from polarity.inference import Predictor

    return Predictor.load(args.model, device=getattr(args, "device", "cpu"), precision=getattr(args, "precision", "float32"),
                          backend=getattr(args, "backend", "torch"))


def _precision_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                        help="bfloat16: faster on CPUs with native bfloat16 (AVX-512 BF16, AMX); "
                             "elsewhere a warning and float32")
    parser.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                        help="onnxruntime: run the network on ONNX Runtime (CPU; rnn models without pooling and "
                             "mean-embedding models; needs the export extra)")


def _threshold_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold", type=float, metavar="P",
                        help="two-label models: predict the second label when its probability is at least P "
                             "(default 0.5)")


def _stdin_texts() -> list[str]:
    from polarity.data.tables import split_lines

    return [text for _, text in split_lines(sys.stdin.buffer.read(), "stdin")]


def _input_texts(args: argparse.Namespace) -> tuple[list[str], list[dict], str]:
    """Texts to predict, each row's other fields, and how to name a row in messages ('line' or 'text')."""
    from polarity.data.tables import read_table

    if args.file:
        table = read_table(args.file, text_column=args.text_column, require_labels=False)
        return table.texts, table.rows, f"{args.file}, row"
    if args.texts == ["-"]:
        texts = _stdin_texts()
        return texts, [{} for _ in texts], "stdin, line"
    if not args.texts:
        raise PolarityError("give texts to classify, --file FILE, or - to read lines from standard input")
    return list(args.texts), [{} for _ in args.texts], "text"


def _check_output(args: argparse.Namespace) -> None:
    """Refuse a bad --output before any work: unknown format, the input file itself, --json beside it."""
    from pathlib import Path

    from polarity.inference.stream import OUTPUT_FORMATS

    if not args.output:
        return
    target = Path(args.output)
    if target.suffix.lower() not in OUTPUT_FORMATS:
        raise PolarityError(f"--output must end in .csv, .tsv or .jsonl, got {target.name}")
    if args.json:
        raise PolarityError("--json prints to the terminal and --output writes a file: choose one")
    if args.file and target.resolve() == Path(args.file).resolve():
        raise PolarityError(f"--output {args.output} is the input file: choose another name, the input is kept as it is")


class _Warnings:
    """Prints the first warnings about rows, then only counts them."""

    SHOWN = 20

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, message: str) -> None:
        self.count += 1
        if self.count <= self.SHOWN:
            print(f"polarity: warning: {message}", file=sys.stderr)

    def summary(self) -> None:
        if self.count > self.SHOWN:
            print(f"polarity: warning: {self.count - self.SHOWN:,} more rows with warnings (see pred_warning)",
                  file=sys.stderr)


def _stream_predictions(args: argparse.Namespace, predictor) -> int:
    """--output: read, predict and write a chunk of rows at a time."""
    from polarity.inference.stream import predict_file, predict_rows

    warn = _Warnings()
    options = dict(threshold=args.threshold, batch_size=args.batch_size, progress=not args.quiet, warn=warn)
    if args.file:
        result = predict_file(predictor, args.file, args.output, text_column=args.text_column, **options)
    else:
        texts = _stdin_texts() if args.texts == ["-"] else list(args.texts)
        if not texts:
            raise PolarityError("give texts to classify, --file FILE, or - to read lines from standard input")
        where = "stdin, line" if args.texts == ["-"] else "text"
        result = predict_rows(predictor, ((i, {"text": t}) for i, t in enumerate(texts, 1)), args.output,
                              where=where, text_column="text", **options)
    warn.summary()
    if result.interrupted:
        print(f"polarity: interrupted: {args.output} holds the first {result.rows:,} rows, complete", file=sys.stderr)
        return 130
    print(f"wrote {result.rows:,} predictions to {args.output}", file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if args.engine:
        from polarity.integrations.cli import predict_with_engine

        return predict_with_engine(args)
    _check_output(args)
    predictor = _predictor(args)
    if args.output:
        return _stream_predictions(args, predictor)
    texts, rows, where = _input_texts(args)
    results = predictor.classify(texts, batch_size=args.batch_size, threshold=args.threshold)
    warn = _Warnings()
    for number, result in enumerate(results, start=1):
        if result.warning:
            warn(f"{where} {number}: {result.warning}")
    warn.summary()
    if args.json:
        _print_json([r.to_dict() for r in results])
    else:
        width = max(9, *(len(str(label)) + 2 for label in predictor.labels))
        print(f"{'label':<{width}}{'score':>7}  text")
        for r in results:
            text = " ".join(r.text.split())
            print(f"{r.label!s:<{width}}{r.score:>7.3f}  {text[:70] + ('...' if len(text) > 70 else '')}")
    return 0


def _labelled_texts(args: argparse.Namespace, predictor) -> tuple[list[str], "numpy.ndarray", str]:
    """Texts and label indices to evaluate on: --dataset FILE, or a split of the model's own data."""
    if args.dataset:
        from polarity.data.labelled import read_labelled

        data = read_labelled(args.dataset, text_column=args.text_column, label_column=args.label_column,
                             names=predictor.labels)
        return data.texts, data.labels, args.dataset
    from polarity.inference.evaluation import model_split

    return model_split(predictor.config, args.split, lambda: _load_corpus(args))


def _validation_threshold(model_dir: str) -> dict | None:
    from polarity.models.folder import ModelFolder

    try:
        return (ModelFolder(model_dir).metrics() or {}).get("valid", {}).get("best_f1_threshold")
    except (OSError, PolarityError, AttributeError):
        return None


def cmd_evaluate(args: argparse.Namespace) -> None:
    from pathlib import Path

    from polarity.inference.evaluation import evaluate_texts, format_report, save_plots

    predictor = _predictor(args)
    texts, labels, name = _labelled_texts(args, predictor)
    report, probs = evaluate_texts(predictor, texts, labels, threshold=args.threshold)
    report["model"], report["data"] = args.model, name
    if predictor.binary:
        report["best_f1_threshold_on_validation"] = _validation_threshold(args.model)
    if args.plots:
        predicted = predictor.decide(probs, args.threshold)
        report["plots"] = save_plots(labels, probs, predicted, predictor.labels, Path(args.plots),
                                     f"{Path(args.model).name} on {name}")
    if args.json:
        _print_json(report)
        return
    print(format_report(report, f"{args.model} on the {name}"))
    best = report.get("best_f1_threshold_on_validation")
    if best:
        print(f"  threshold with the best F1 on the validation split: {best['threshold']:.3f} (F1 {best['f1']:.4f}); "
              "use it with --threshold")
    for plot in report.get("plots", []):
        print(f"  wrote {plot}")


def cmd_compare(args: argparse.Namespace) -> None:
    from polarity.inference import Predictor
    from polarity.inference.evaluation import classification_metrics, mcnemar

    if len(args.models) < 2:
        raise PolarityError("compare needs at least two model folders")
    predictors = [Predictor.load(m) for m in args.models]
    for folder, predictor in zip(args.models[1:], predictors[1:]):
        if predictor.labels != predictors[0].labels:
            raise PolarityError(f"{folder} predicts {predictor.labels}, {args.models[0]} predicts {predictors[0].labels}: "
                                "compare models of the same labels")
    texts, labels, name = _labelled_texts(args, predictors[0])
    rows, correct = [], []
    for folder, predictor in zip(args.models, predictors):
        probs = predictor.predict_proba(texts)
        predicted = predictor.decide(probs)
        metrics = classification_metrics(labels, probs, predicted, predictor.labels)
        correct.append(predicted == labels)
        rows.append({"model": folder, **{k: metrics[k] for k in ("accuracy", "macro_f1", "log_loss")},
                     "roc_auc": metrics.get("roc_auc")})
    for row, right in zip(rows[1:], correct[1:]):
        row["vs_first"] = mcnemar(correct[0], right)
    if args.json:
        _print_json({"data": name, "reviews": len(texts), "models": rows})
        return
    print(f"{len(texts):,} texts ({name}); McNemar's exact test against the first model")
    print(f"{'model':<40}{'accuracy':>10}{'macro F1':>10}{'AUC':>8}{'logloss':>9}{'p (vs 1st)':>12}")
    for row in rows:
        p = f"{row['vs_first']['p_value']:.3g}" if "vs_first" in row else "-"
        auc = f"{row['roc_auc']:.4f}" if row["roc_auc"] is not None else "n/a"
        print(f"{row['model'][-39:]:<40}{100 * row['accuracy']:>9.2f}%{row['macro_f1']:>10.4f}{auc:>8}"
              f"{row['log_loss']:>9.4f}{p:>12}")


def cmd_neighbors(args: argparse.Namespace) -> None:
    from polarity.inference.explore import nearest_words

    result = nearest_words(_predictor(args), args.word, k=args.k, metric=args.metric)
    if args.json:
        _print_json(result)
        return
    for row in result:
        print(f"{row['word']:<20}{row['distance']:.4f}")


def cmd_embedding_plot(args: argparse.Namespace) -> None:
    from pathlib import Path

    from polarity.inference.explore import embedding_plot

    print(f"wrote {embedding_plot(_predictor(args), Path(args.out), top=args.top)}")


def cmd_explain(args: argparse.Namespace) -> None:
    from polarity.inference.explore import colour_explanation, explain

    predictor = _predictor(args)
    results = [explain(predictor, text) for text in args.texts]
    if args.json:
        _print_json(results if len(results) > 1 else results[0])
        return
    colour = sys.stdout.isatty() and not args.no_color and not os.environ.get("NO_COLOR")
    for result in results:
        print(f"{result['label']} (P({result['explained_label']}) = {result['probability']:.3f})")
        print(colour_explanation(result, colour))
        ranked = sorted(result["words"], key=lambda w: -abs(w["contribution"]))[:8]
        print("  strongest: " + ", ".join(f"{w['word']} {w['contribution']:+.4f}" for w in ranked))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# -- parser ------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polarity", description="LSTM-family sentiment classifiers for movie reviews.")
    parser.add_argument("--version", action="version", version=f"polarity {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of unexpected errors")
    parser.add_argument("--threads", type=int, metavar="N", help="PyTorch CPU threads (default: one per core); "
                        "1 when other work shares the cores")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_opts = _data_options()

    data = commands.add_parser("data", help="inspect the IMDB dataset")
    data_commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    stats = data_commands.add_parser("stats", parents=[data_opts], help="counts and review lengths per split")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=cmd_data_stats)
    show = data_commands.add_parser("show", parents=[data_opts], help="one review, its ids and their decoding")
    show.add_argument("index", type=int, metavar="N", help="position of the review in the split")
    show.add_argument("--split", default="train", choices=["train", "test", "unsup", "valid"], help="which split (default train)")
    show.add_argument("--num-words", type=int, default=None, help="keep the N most frequent words (as Keras)")
    show.add_argument("--model", metavar="MODEL_DIR", help="also show this model's prediction")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_data_show)
    data.set_defaults(handler=lambda a: data.print_help())

    recipes = commands.add_parser("recipes", help="list the recipes and their reported accuracy")
    recipes.add_argument("--json", action="store_true", help="print JSON")
    recipes.set_defaults(handler=cmd_recipes)

    summary = commands.add_parser("summary", parents=[data_opts], help="layers, output shapes and parameter counts")
    summary.add_argument("recipe", help="recipe name or .toml file")
    summary.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe field")
    summary.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(handler=cmd_summary)

    train = commands.add_parser("train", parents=[data_opts], help="train a recipe into a model folder")
    _training_options(train)
    files = train.add_argument_group("your own data (instead of IMDB)")
    files.add_argument("--train", metavar="FILE", help="labelled CSV/TSV/JSONL/Parquet file, or a folder with one "
                       "sub-folder of .txt files per label")
    files.add_argument("--valid", metavar="FILE", help="validation data (default: a seeded, stratified part of --train)")
    files.add_argument("--test", metavar="FILE", help="test data (default: none; the final report is on validation)")
    files.add_argument("--text-column", help="column holding the text (default: text, review, sentence, ...)")
    files.add_argument("--label-column", help="column holding the label (default: label, sentiment, rating, ...)")
    train.add_argument("--out", metavar="DIR", help="model folder (default: runs/RECIPE)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument("--quiet", action="store_true", help="print only the final result line")
    train.set_defaults(handler=cmd_train)

    pre = commands.add_parser("pretrain", parents=[data_opts],
                              help="pretrain a language model on unlabelled reviews (an encoder for recipes)")
    pre.add_argument("--name", default="imdb-bilm", help="folder name under the user cache's encoders/, the "
                     "name recipes give as model.encoder (default imdb-bilm)")
    pre.add_argument("--out", metavar="DIR", help="encoder folder (default: the cache's encoders/NAME)")
    pre.add_argument("--epochs", type=_positive_int, help="passes over the texts (default 3; with --resume, "
                     "the total to reach: a finished run is extended)")
    pre.add_argument("--words", type=_positive_int, help="vocabulary of the model (default 20000)")
    pre.add_argument("--embedding-dim", type=_positive_int, help="default 50 (GloVe 6B 50d)")
    pre.add_argument("--units", type=_positive_int, help="LSTM units per direction (default 128)")
    pre.add_argument("--forward-only", action="store_true", help="one direction (default: a biLM, as ELMo)")
    pre.add_argument("--window", type=_positive_int, help="words per training window (default 100)")
    pre.add_argument("--batch-size", type=_positive_int, help="windows per step (default 64)")
    pre.add_argument("--lr", type=float, help="Adam learning rate (default 0.002)")
    pre.add_argument("--vectors", help="initial word vectors, or none (default glove-6b-50d)")
    pre.add_argument("--seed", type=int, help="default 0")
    pre.add_argument("--limit", type=_positive_int, help="read only N texts (a quick trial)")
    pre.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    pre.add_argument("--resume", action="store_true", help="continue an interrupted run in --out with its settings")
    pre.set_defaults(handler=cmd_pretrain)

    reproduce = commands.add_parser("reproduce", parents=[data_opts],
                                    help="train with the notebook's settings and compare with its reported accuracy")
    _training_options(reproduce)
    reproduce.add_argument("--seeds", type=int, default=1, help="number of seeds to train: --seed, --seed + 1, ... "
                           "(default: 1 seed, from 0)")
    reproduce.add_argument("--out", metavar="DIR", default="runs/reproduce", help="parent folder of the model folders")
    reproduce.add_argument("--json", action="store_true", help="also print the report as JSON")
    reproduce.set_defaults(handler=cmd_reproduce)

    predict = commands.add_parser("predict", help="classify raw text with a model folder")
    predict.add_argument("model", metavar="MODEL_DIR", help="a model folder written by polarity train")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify, or - to read lines from stdin")
    predict.add_argument("--file", help="one review per line (.txt), or a CSV/TSV/JSONL file")
    predict.add_argument("--text-column", help="column holding the text (CSV/TSV/JSONL)")
    predict.add_argument("--output", metavar="FILE", help="write CSV/TSV or JSONL: the input's columns, then "
                         "pred_label, pred_score, prob_<label> and pred_warning")
    _threshold_option(predict)
    predict.add_argument("--batch-size", type=_positive_int, default=256, help="texts per model call (default 256)")
    predict.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    _precision_option(predict)
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.add_argument("--engine", choices=["spark", "ray"], help="score --file on Spark or Ray (the spark or ray "
                         "extra): --file is a .parquet or .csv file or a folder of them; --output a new folder of part "
                         "files, CSV when its name ends in .csv, else Parquet; one PyTorch thread per task unless --threads N")
    predict.set_defaults(handler=cmd_predict)

    for name, handler, help_text in (("evaluate", cmd_evaluate, "accuracy, precision, recall, F1, AUC, log loss, by length"),
                                     ("compare", cmd_compare, "compare models on the same reviews, with McNemar's test")):
        sub = commands.add_parser(name, parents=[data_opts], help=help_text)
        if name == "evaluate":
            sub.add_argument("model", metavar="MODEL_DIR", help="a model folder written by polarity train")
            sub.add_argument("--plots", metavar="DIR", help="write roc.png and confusion.png there")
            _precision_option(sub)
            _threshold_option(sub)
        else:
            sub.add_argument("models", nargs="+", metavar="MODEL_DIR", help="model folders; the first is the reference")
        sub.add_argument("--split", default="test", choices=["test", "valid", "train"],
                         help="which split of the model's own data (default test; valid: the reviews it was validated on)")
        sub.add_argument("--dataset", metavar="FILE", help="a labelled file or folder instead of a split of the "
                         "model's own data")
        sub.add_argument("--text-column", help="text column of --dataset (default: found by name)")
        sub.add_argument("--label-column", help="label column of --dataset (default: found by name)")
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(handler=handler)

    neighbors = commands.add_parser("neighbors", help="nearest words in a model's learned embedding")
    neighbors.add_argument("model", metavar="MODEL_DIR", help="a model folder written by polarity train")
    neighbors.add_argument("word", help="a word of the model's vocabulary")
    neighbors.add_argument("-k", type=int, default=20, help="how many (default 20)")
    neighbors.add_argument("--metric", choices=["euclidean", "cosine"], default="euclidean",
                           help="distance between word vectors (default euclidean)")
    neighbors.add_argument("--json", action="store_true", help="print JSON")
    neighbors.set_defaults(handler=cmd_neighbors)

    plot = commands.add_parser("embedding-plot", help="2-D map (PCA) of frequent words, coloured by sentiment")
    plot.add_argument("model", metavar="MODEL_DIR", help="a model folder written by polarity train")
    plot.add_argument("--out", required=True, metavar="FILE.png", help="where to write the PNG")
    plot.add_argument("--top", type=int, default=500, help="how many of the most frequent words (default 500)")
    plot.set_defaults(handler=cmd_embedding_plot)

    explain = commands.add_parser("explain", help="each word's contribution to the prediction (occlusion)")
    explain.add_argument("model", metavar="MODEL_DIR", help="a model folder written by polarity train")
    explain.add_argument("texts", nargs="+", metavar="TEXT", help="texts to explain")
    explain.add_argument("--no-color", "--no-colour", dest="no_color", action="store_true",
                         help="no colours (also when NO_COLOR is set)")
    explain.add_argument("--json", action="store_true", help="print JSON")
    explain.set_defaults(handler=cmd_explain)

    from polarity.cli_check import add_check_parser
    from polarity.inference.export import add_export_parser
    from polarity.server.cli import add_serve_parser

    add_export_parser(commands)
    add_serve_parser(commands)
    add_check_parser(commands)
    return parser


def one_line(message: str) -> str:
    """``message`` on one line: line breaks (from a quoted path, say) shown as \\n and \\r."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"polarity: warning: {one_line(str(message))}", file=sys.stderr)


EXAMPLES = {
    "data": "polarity data stats",
    "stats": "polarity data stats --data aclImdb_v1.tar.gz",
    "show": "polarity data show 12 --split test --model runs/default",
    "recipes": "polarity recipes",
    "summary": "polarity summary lstm-dropout",
    "train": "polarity train lstm-dropout --epochs 3\n  polarity train --train reviews.csv --test test.csv --out runs/mine",
    "reproduce": "polarity reproduce mean-embedding --seeds 3",
    "pretrain": "polarity pretrain\n  polarity pretrain --resume --epochs 8",
    "predict": 'polarity predict runs/default "A wonderful film."\n'
               "  polarity predict runs/default --file reviews.csv --output predictions.csv\n"
               "  polarity predict runs/default --engine spark --file reviews.parquet --output scored.parquet",
    "evaluate": "polarity evaluate runs/default --plots runs/default/plots",
    "compare": "polarity compare runs/default runs/mean-embedding",
    "neighbors": "polarity neighbors runs/default great -k 10",
    "embedding-plot": "polarity embedding-plot runs/default --out words.png",
    "explain": 'polarity explain runs/default "The plot is thin but the cast is wonderful."',
    "serve": "polarity serve runs/default --port 8000",
    "export": "polarity export runs/default --format onnx --out model.onnx",
    "check": "polarity check runs/default --fail-above 0.5\n  polarity check runs/default --suite my-cases.jsonl --json",
}


def _remember_parsers(parser: argparse.ArgumentParser) -> None:
    """Each subcommand's parser in its namespace (errors show that subcommand's usage), with its
    one-line description and an example in its --help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                sub.set_defaults(parser=sub)
                sub.description = sub.description or (helps.get(name, "").capitalize() + ".")
                if name in EXAMPLES and not sub.epilog:
                    sub.epilog = f"example:\n  {EXAMPLES[name]}"
                    sub.formatter_class = argparse.RawDescriptionHelpFormatter
                _remember_parsers(sub)


def _check_single_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error where a required positional got no value: argparse (before Python 3.13) gives an
    empty list for ``polarity neighbors DIR -- --``, the second ``--`` taken and then dropped."""
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings and action.nargs in (None, "+") and value == []:
            parser.error(f"the following arguments are required: {action.metavar or action.dest}")


def main(argv: Sequence[str] | None = None) -> int:
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    if words[:1] in (["train"], ["reproduce"]) and choose_wait_policy():  # before anything imports PyTorch
        print("polarity: other processes are using the CPU: PyTorch's threads will wait without spinning",
              file=sys.stderr)
    parser = build_parser()
    _remember_parsers(parser)
    args, extra = parser.parse_known_args(argv)
    if extra:
        if isinstance(getattr(args, "texts", None), list) and not any(e.startswith("-") and e != "-" for e in extra):
            args.texts += extra  # texts after options: `polarity predict DIR --json "A fine film."`
        else:
            getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    _check_single_values(getattr(args, "parser", parser), args)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    warnings.showwarning = _one_line_warning
    if args.threads is not None:
        if args.threads < 1:
            getattr(args, "parser", parser).error(f"--threads must be at least 1, got {args.threads}")
        set_torch_threads(args.threads)
    try:
        return int(handler(args) or 0)
    except PolarityError as exc:
        print(f"polarity: error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("polarity: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `polarity ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug, not a user mistake: one line unless --debug asks for the traceback
        if args.debug:
            raise
        print(f"polarity: internal error: {type(exc).__name__}: {one_line(str(exc))} (a bug in polarity: run again with --debug "
              "for the traceback and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
