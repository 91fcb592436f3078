"""The ``polarity`` command line: one obvious command per job."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from polarity import __version__
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
    _print_json(stats) if args.json else print(format_stats(stats))


def cmd_data_show(args: argparse.Namespace) -> None:
    from polarity.data.tokenizer import Tokenizer
    from polarity.data.vocab import Vocabulary

    corpus = _load_corpus(args)
    reviews = corpus.split(args.split)
    if not 0 <= args.index < len(reviews):
        raise PolarityError(f"review {args.index} does not exist: the {args.split} split has {len(reviews):,} (0 to {len(reviews) - 1:,})")
    tokenizer = Tokenizer()
    vocab = Vocabulary.build(tokenizer(t) for t in corpus.train.texts).with_options(num_words=args.num_words)
    text = reviews.texts[args.index]
    ids = vocab.encode(tokenizer(text))
    label = {1: "positive", 0: "negative", -1: "unlabelled"}[int(reviews.labels[args.index])]
    result = {
        "split": args.split,
        "index": args.index,
        "file": f"{int(reviews.ids[args.index])}_{int(reviews.ratings[args.index])}.txt",
        "label": label,
        "rating": int(reviews.ratings[args.index]),
        "text": text,
        "ids": ids,
        "decoded": " ".join(vocab.decode(ids)),
    }
    if args.json:
        _print_json(result)
        return
    print(f"{args.split}[{args.index}]  file {result['file']}  label {label}  rating {result['rating']}/10\n")
    print(text, "\n")
    print(f"ids ({len(ids)}, num_words={args.num_words}):", ids[:40], "..." if len(ids) > 40 else "")
    print("\ndecoded:", result["decoded"])


# -- parser ------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polarity", description="LSTM-family sentiment classifiers for movie reviews.")
    parser.add_argument("--version", action="version", version=f"polarity {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_opts = _data_options()

    data = commands.add_parser("data", help="inspect the IMDB dataset")
    data_commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    stats = data_commands.add_parser("stats", parents=[data_opts], help="counts and review lengths per split")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=cmd_data_stats)
    show = data_commands.add_parser("show", parents=[data_opts], help="one review, its ids and their decoding")
    show.add_argument("index", type=int, metavar="N", help="position of the review in the split")
    show.add_argument("--split", default="train", choices=["train", "test", "unsup", "valid"])
    show.add_argument("--num-words", type=int, default=None, help="keep the N most frequent words (as Keras)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_data_show)
    data.set_defaults(handler=lambda a: data.print_help())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except PolarityError as exc:
        print(f"polarity: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("polarity: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
