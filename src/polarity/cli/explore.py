"""``polarity neighbors|embedding-plot|explain``: what a model learned and why it answers as it does."""

from __future__ import annotations

import argparse
import os
import sys

from polarity.cli.common import command, load_predictor, print_json


def register(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    neighbors = command(commands, "neighbors", "nearest words in a model's learned embedding",
                        "polarity neighbors runs/default great -k 10", reads_model=True)
    neighbors.add_argument("word", help="a word of the model's vocabulary")
    neighbors.add_argument("-k", type=int, default=20, help="how many (default 20)")
    neighbors.add_argument("--metric", choices=["euclidean", "cosine"], default="euclidean",
                           help="distance between word vectors (default euclidean)")
    neighbors.add_argument("--json", action="store_true", help="print JSON")
    neighbors.set_defaults(handler=cmd_neighbors)
    plot = command(commands, "embedding-plot", "2-D map (PCA) of frequent words, coloured by sentiment",
                   "polarity embedding-plot runs/default --out words.png", reads_model=True)
    plot.add_argument("--out", required=True, metavar="FILE.png", help="where to write the PNG")
    plot.add_argument("--top", type=int, default=500, help="how many of the most frequent words (default 500)")
    plot.set_defaults(handler=cmd_embedding_plot)
    explain = command(commands, "explain", "each word's contribution to the prediction (occlusion)",
                      'polarity explain runs/default "The plot is thin but the cast is wonderful."', reads_model=True)
    explain.add_argument("texts", nargs="+", metavar="TEXT", help="texts to explain")
    explain.add_argument("--no-color", "--no-colour", dest="no_color", action="store_true",
                         help="no colours (also when NO_COLOR is set)")
    explain.add_argument("--json", action="store_true", help="print JSON")
    explain.set_defaults(handler=cmd_explain)


def cmd_neighbors(args: argparse.Namespace) -> None:
    from polarity.inference.explore import nearest_words

    result = nearest_words(load_predictor(args), args.word, k=args.k, metric=args.metric)
    if args.json:
        print_json(result)
        return
    for row in result:
        print(f"{row['word']:<20}{row['distance']:.4f}")


def cmd_embedding_plot(args: argparse.Namespace) -> None:
    from pathlib import Path

    from polarity.inference.explore import embedding_plot

    print(f"wrote {embedding_plot(load_predictor(args), Path(args.out), top=args.top)}")


def cmd_explain(args: argparse.Namespace) -> None:
    from polarity.inference.explore import colour_explanation, explain

    predictor = load_predictor(args)
    results = [explain(predictor, text) for text in args.texts]
    if args.json:
        print_json(results if len(results) > 1 else results[0])
        return
    colour = sys.stdout.isatty() and not args.no_color and not os.environ.get("NO_COLOR")
    for result in results:
        print(f"{result['label']} (P({result['explained_label']}) = {result['probability']:.3f})")
        print(colour_explanation(result, colour))
        ranked = sorted(result["words"], key=lambda w: -abs(w["contribution"]))[:8]
        print("  strongest: " + ", ".join(f"{w['word']} {w['contribution']:+.4f}" for w in ranked))
