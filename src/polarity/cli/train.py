"""``polarity recipes|summary|train|pretrain|reproduce``: the recipes, and training them."""

from __future__ import annotations

import argparse
import sys

from polarity.cli.common import command, load_corpus, overrides, positive_int, print_json, training_options
from polarity.errors import PolarityError


def register(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    recipes = command(commands, "recipes", "list the recipes and their reported accuracy", "polarity recipes")
    recipes.add_argument("--json", action="store_true", help="print JSON")
    recipes.set_defaults(handler=cmd_recipes)
    summary = command(commands, "summary", "layers, output shapes and parameter counts", "polarity summary lstm-dropout",
                      (data_opts,))
    summary.add_argument("recipe", help="recipe name or .toml file")
    summary.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe field")
    summary.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(handler=cmd_summary)
    _train_parser(commands, data_opts)
    _pretrain_parser(commands, data_opts)
    reproduce = command(commands, "reproduce", "train with the notebook's settings and compare with its reported accuracy",
                        "polarity reproduce mean-embedding --seeds 3", (data_opts,))
    training_options(reproduce)
    reproduce.add_argument("--seeds", type=int, default=1, help="number of seeds to train: --seed, --seed + 1, ... "
                           "(default: 1 seed, from 0)")
    reproduce.add_argument("--out", metavar="DIR", default="runs/reproduce", help="parent folder of the model folders")
    reproduce.add_argument("--json", action="store_true", help="also print the report as JSON")
    reproduce.set_defaults(handler=cmd_reproduce)


def _train_parser(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    train = command(commands, "train", "train a recipe into a model folder", "polarity train lstm-dropout --epochs 3\n"
                    "  polarity train --train reviews.csv --test test.csv --out runs/mine", (data_opts,))
    training_options(train)
    files = train.add_argument_group("your own data (instead of IMDB)")
    files.add_argument("--train", metavar="FILE", help="labelled CSV/TSV/JSONL/Parquet file, or a folder with one "
                       "sub-folder of .txt files per label")
    files.add_argument("--valid", metavar="FILE", help="validation data (default: a seeded, stratified part of --train)")
    files.add_argument("--test", metavar="FILE", help="test data (default: none; the final report is on validation)")
    files.add_argument("--text-column", help="column holding the text (default: text, review, sentence, ...)")
    files.add_argument("--label-column", help="column holding the label (default: label, sentiment, rating, ...)")
    files.add_argument("--pairs", metavar="FILE", help="review pairs that join the training texts (data.pairs): cad "
                       "(the counterfactually-augmented IMDb pairs) or a file with text, label and pair_id columns")
    files.add_argument("--exclude", metavar="FILE", help="texts held out of training and validation (data.exclude): "
                       "cad-dev (the CAD dev pairs) or a file (its text column, or one text a line)")
    train.add_argument("--out", metavar="DIR", help="model folder (default: runs/RECIPE)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument("--quiet", action="store_true", help="print only the final result line")
    train.set_defaults(handler=cmd_train)


def _pretrain_parser(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    pre = command(commands, "pretrain", "pretrain a language model on unlabelled reviews (an encoder for recipes)",
                  "polarity pretrain\n  polarity pretrain --resume --epochs 8", (data_opts,))
    pre.add_argument("--name", default="imdb-bilm", help="folder name under the user cache's encoders/, the "
                     "name recipes give as model.encoder (default imdb-bilm)")
    pre.add_argument("--out", metavar="DIR", help="encoder folder (default: the cache's encoders/NAME)")
    pre.add_argument("--epochs", type=positive_int, help="passes over the texts (default 3; with --resume, "
                     "the total to reach: a finished run is extended)")
    pre.add_argument("--words", type=positive_int, help="vocabulary of the model (default 20000)")
    pre.add_argument("--embedding-dim", type=positive_int, help="default 50 (GloVe 6B 50d)")
    pre.add_argument("--units", type=positive_int, help="LSTM units per direction (default 128)")
    pre.add_argument("--forward-only", action="store_true", help="one direction (default: a biLM, as ELMo)")
    pre.add_argument("--window", type=positive_int, help="words per training window (default 100)")
    pre.add_argument("--batch-size", type=positive_int, help="windows per step (default 64)")
    pre.add_argument("--lr", type=float, help="Adam learning rate (default 0.002)")
    pre.add_argument("--vectors", help="initial word vectors, or none (default glove-6b-50d)")
    pre.add_argument("--seed", type=int, help="default 0")
    pre.add_argument("--limit", type=positive_int, help="read only N texts (a quick trial)")
    pre.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    pre.add_argument("--resume", action="store_true", help="continue an interrupted run in --out with its settings")
    pre.set_defaults(handler=cmd_pretrain)


def cmd_recipes(args: argparse.Namespace) -> None:
    from polarity.training.recipes import load_recipe, recipe_names

    recipes = [load_recipe(name) for name in recipe_names()]
    if args.json:
        print_json([r.to_dict() for r in recipes])
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

    recipe = load_recipe(args.recipe, overrides(args))
    d = recipe.data
    labels = list(RATING_BANDS) if d.target == "rating-bands" else ["negative", "positive"]
    if d.num_words and not recipe.model.get("pretrained"):
        vocab_size = d.num_words
    else:
        from polarity.data.tokenizer import Tokenizer
        from polarity.training.pipeline import fit_encoder, prepare_data

        splits = prepare_data(recipe, corpus=load_corpus(args))
        tokenizer = Tokenizer()
        vocab_size = fit_encoder(recipe, [tokenizer(t) for t in splits.fit.texts], tokenizer)[0].vocab_size
    model = build_model(model_options(recipe.model, d.maxlen or None), vocab_size=vocab_size, num_outputs=num_outputs(labels))
    text, data = summary_table(model, d.maxlen or None, recipe.name)
    if args.json:
        print_json(data)
    else:
        print(text)


def cmd_train(args: argparse.Namespace) -> int:
    from polarity.training.loop import TrainingInterrupted
    from polarity.training.pipeline import train_recipe
    from polarity.training.recipes import load_recipe

    if args.resume and overrides(args):
        raise PolarityError("--resume continues a run with the recipe it started with; drop the recipe overrides")
    if (args.valid or args.test) and not args.train:
        raise PolarityError("--valid and --test go with --train FILE (without it, the IMDB splits are used)")
    from polarity.engine import distributed

    recipe = load_recipe(args.recipe, overrides(args))
    out = args.out or f"runs/{recipe.name}"
    device = distributed.init_from_env(args.device)  # one process of a torchrun launch, or nothing
    main_process = distributed.is_main()
    try:
        metrics = train_recipe(recipe, out, data=args.data, strict=args.strict, device=device, limit=args.limit,
                               resume=args.resume, progress=not args.quiet,
                               log=(lambda *_: None) if args.quiet else print, train=args.train, valid=args.valid,
                               test=args.test, text_column=args.text_column, label_column=args.label_column)
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
    chosen = overrides(args)
    first_seed = chosen.pop("training.seed", chosen.pop("seed", 0))
    report = reproduce(args.recipe, seeds=range(first_seed, first_seed + args.seeds), out=args.out, data=args.data,
                       strict=args.strict, device=args.device, limit=args.limit, overrides=chosen)
    if args.json:
        print_json(report)
