"""Data flows one way: data -> engine (device, batches, prediction) -> models -> training -> inference ->
integrations (Spark, Ray) -> interfaces."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "polarity"
# A layer may import itself and the layers before it, never one after it.
ORDER = ["data", "engine", "models", "training", "inference", "integrations"]


def imported_layers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in getattr(node, "names", [])]
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= {name.split(".")[1] for name in names if name.startswith("polarity.") and name.count(".") >= 1}
    return found & set(ORDER)


@pytest.mark.parametrize("layer", ORDER)
def test_no_layer_imports_a_later_one(layer):
    later = set(ORDER[ORDER.index(layer) + 1:])
    for path in (PACKAGE / layer).rglob("*.py"):
        assert not imported_layers(path) & later, f"{path.relative_to(PACKAGE)} imports {imported_layers(path) & later}"
