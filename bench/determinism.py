"""Do fresh processes take the same first training steps? (docs/PERFORMANCE.md, "Open").

    python -m bench.determinism [--recipe default] [--processes 20] [--steps 1] [--set KEY=VALUE]

Runs ``--processes`` fresh Python processes one after another; each trains the recipe (seed fixed by
the recipe) for ``--steps`` optimizer steps on the full dataset and saves its weights. Every
process is compared with the first: which tensors differ, in how many elements, and where. A
process takes about 10-15 s on 2 cores (most of it loading and tokenising the reviews).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch


class _Stop(Exception):
    pass


def worker(recipe_name: str, steps: int, overrides: list[str], out: Path) -> None:
    """Train ``steps`` steps, then save the weights to ``out`` (safetensors)."""
    from safetensors.torch import save_file

    from polarity.training import load_recipe
    from polarity.training.pipeline import train_recipe
    from polarity.training.recipes import parse_assignment

    recipe = load_recipe(recipe_name, dict(parse_assignment(item) for item in overrides))

    def stop_after(trainer, state) -> None:
        if state.steps >= steps:
            save_file({k: v.detach().contiguous() for k, v in trainer.model.state_dict().items()}, str(out))
            raise _Stop

    with tempfile.TemporaryDirectory() as folder:
        try:
            train_recipe(recipe, folder, progress=False, callbacks=[stop_after], log=lambda *_: None)
        except _Stop:
            pass


def differences(first: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> list[str]:
    """One line per tensor that differs: elements that differ, their first and last flat index, largest gap."""
    lines = []
    for name, a in first.items():
        b = other[name]
        if torch.equal(a, b):
            continue
        where = (a != b).flatten().nonzero().flatten()
        gap = (a.double() - b.double()).abs().max().item()
        lines.append(f"{name}: {len(where):,} of {a.numel():,} elements (flat {where.min().item()}-{where.max().item()}), "
                     f"largest difference {gap:.3g}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.recipe, args.steps, args.set, args.worker)
        return

    from safetensors.torch import load_file

    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "bench.determinism", "--recipe", args.recipe, "--steps", str(args.steps)]
        command += [f"--set={item}" for item in args.set]
        first, differing = None, 0
        for k in range(args.processes):
            out = Path(folder) / f"{k}.safetensors"
            subprocess.run(command + ["--worker", str(out)], check=True)
            weights = load_file(str(out))
            if first is None:
                first = weights
                print("process 0: reference", flush=True)
                continue
            lines = differences(first, weights)
            differing += bool(lines)
            print(f"process {k}: " + ("same weights" if not lines else "DIFFERENT\n  " + "\n  ".join(lines)), flush=True)
        print(f"{differing} of {args.processes - 1} processes differ from process 0 after {args.steps} step(s)")


if __name__ == "__main__":
    main()
