"""``polarity export``: a model folder's network as ONNX or TorchScript, with its preprocessing as JSON."""

from __future__ import annotations

import argparse

from polarity.cli.common import command, print_json
from polarity.inference.export import FORMATS, OPSET, export_model


def register(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    parser = command(commands, "export", "write the network as ONNX or TorchScript, with its preprocessing as JSON",
                     "polarity export runs/default --format onnx --out model.onnx", reads_model=True)
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (default) or torchscript")
    parser.add_argument("--out", required=True, metavar="FILE", help="e.g. model.onnx; the preprocessing goes "
                        "to FILE with suffix .preprocessing.json")
    parser.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default {OPSET})")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> None:
    result = export_model(args.model, args.out, args.format, opset=args.opset)
    if args.json:
        print_json(result)
        return
    print(describe(result))


def describe(result: dict) -> str:
    kind = f"ONNX opset {result['opset']}" if result["format"] == "onnx" else "TorchScript"
    labels = ", ".join(map(str, result["labels"]))
    first = (f"wrote {result['model']} ({kind}, {result['bytes'] / 1e6:.1f} MB): ids int64 (batch, time), "
             f"lengths int64 (batch,) -> probabilities float32 (batch, {len(result['labels'])}) [{labels}]")
    lines = [first]
    check = result["check"]
    if check.get("runtime"):
        lines.append(f"  checked with {check['runtime']} against PyTorch on {check['rows']} reviews: "
                     f"max abs difference {check['max_abs_diff']:.1e}")
    else:
        lines.append(f"  not run: {check['note']}")
    lines.append(f"wrote {result['preprocessing']} (tokenizer, {result['vocabulary_words']:,} words, "
                 f"maxlen {result['maxlen']}, pre-padding, labels)")
    return "\n".join(lines)
