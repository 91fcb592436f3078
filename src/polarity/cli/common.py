"""What the command groups share: options, data loading, JSON printing, model loading and
warnings about rows; and how a subcommand is added (its one-line description and example)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from polarity.files import json_text


Handler = Callable[[argparse.Namespace], int | None]


def command(commands: argparse._SubParsersAction, name: str, help: str, example: str,
            parents: tuple[argparse.ArgumentParser, ...] = (), reads_model: bool = False) -> argparse.ArgumentParser:
    """A subcommand whose --help has a one-line description and ends with ``example``; ``reads_model``:
    its first argument is a model folder."""
    parser = commands.add_parser(name, parents=list(parents), help=help, description=help[:1].upper() + help[1:] + ".",
                                 epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(parser=parser)  # errors show this subcommand's usage
    if reads_model:
        parser.add_argument("model", metavar="MODEL_DIR", help="a model folder written by polarity train")
    return parser


def print_json(data) -> None:
    print(json_text(data, indent=2))


def data_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--data", metavar="PATH", help="aclImdb_v1.tar.gz or an extracted aclImdb/ folder "
                        "(default: $POLARITY_DATA, the cache folder, or the official download)")
    parent.add_argument("--no-strict", dest="strict", action="store_false",
                        help="accept a partial copy of the dataset (official layout, other counts)")
    parent.add_argument("--no-download", dest="download", action="store_false", help="never download the dataset")
    return parent


def load_corpus(args: argparse.Namespace):
    from polarity.data.imdb import load_imdb

    return load_imdb(args.data, strict=args.strict, download=args.download)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def load_predictor(args: argparse.Namespace):
    from polarity.inference import Predictor

    return Predictor.load(args.model, device=getattr(args, "device", "cpu"), precision=getattr(args, "precision", "float32"),
                          backend=getattr(args, "backend", "torch"))


def precision_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                        help="bfloat16: faster on CPUs with native bfloat16 (AVX-512 BF16, AMX); "
                             "elsewhere a warning and float32")
    parser.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                        help="onnxruntime: run the network on ONNX Runtime (CPU; rnn models without pooling and "
                             "mean-embedding models; needs the export extra)")


def threshold_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold", type=float, metavar="P",
                        help="two-label models: predict the second label when its probability is at least P "
                             "(default 0.5)")


def training_options(parser: argparse.ArgumentParser) -> None:
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


def overrides(args: argparse.Namespace) -> dict:
    from polarity.training.recipes import parse_assignment

    flags = {"epochs": "training.epochs", "batch_size": "training.batch_size", "lr": "training.lr",
             "seed": "training.seed", "batching": "training.batching", "early_stopping": "training.early_stopping",
             "maxlen": "data.maxlen", "num_words": "data.num_words", "valid_fraction": "data.valid_fraction",
             "pairs": "data.pairs", "exclude": "data.exclude"}
    overrides = {key: getattr(args, flag) for flag, key in flags.items() if getattr(args, flag, None) is not None}
    overrides.update(parse_assignment(item) for item in args.set or [])
    return overrides


class Warnings:
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
