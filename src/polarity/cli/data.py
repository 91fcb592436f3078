"""``polarity data stats|show``: the IMDB dataset, its counts, one review and its ids."""

from __future__ import annotations

import argparse

from polarity.cli.common import command, load_corpus, print_json
from polarity.errors import PolarityError


def register(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    data = command(commands, "data", "inspect the IMDB dataset", "polarity data stats")
    data_commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    stats = command(data_commands, "stats", "counts and review lengths per split",
                    "polarity data stats --data aclImdb_v1.tar.gz", (data_opts,))
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=cmd_data_stats)
    show = command(data_commands, "show", "one review, its ids and their decoding",
                   "polarity data show 12 --split test --model runs/default", (data_opts,))
    show.add_argument("index", type=int, metavar="N", help="position of the review in the split")
    show.add_argument("--split", default="train", choices=["train", "test", "unsup", "valid"], help="which split (default train)")
    show.add_argument("--num-words", type=int, default=None, help="keep the N most frequent words (as Keras)")
    show.add_argument("--model", metavar="MODEL_DIR", help="also show this model's prediction")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_data_show)
    data.set_defaults(handler=lambda a: data.print_help())


def cmd_data_stats(args: argparse.Namespace) -> None:
    from polarity.data.stats import corpus_stats, format_stats

    stats = corpus_stats(load_corpus(args))
    if args.json:
        print_json(stats)
    else:
        print(format_stats(stats))


def cmd_data_show(args: argparse.Namespace) -> None:
    corpus = load_corpus(args)
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
        print_json(result)
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
