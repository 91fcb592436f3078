"""Data flows one way: base modules (errors, files, settings) -> data (and its Keras-shaped views)
-> engine (device, threads,
batches, prediction) -> models -> training -> inference (Predictor, backends, export, evaluation,
exploration, checks) -> integrations (Spark, Ray) -> server -> cli. A layer imports itself and the
layers before it, never one after it, and never another layer's private (underscore) names. The
``__main__`` modules are entry points: they may start the command line."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "polarity"
BASE = ["errors", "files", "settings"]
# datasets and preprocessing are the Keras-shaped views of the data layer (keras.datasets.imdb, pad_sequences)
ORDER = ["data", "datasets", "preprocessing", "engine", "models", "training", "inference", "integrations", "server", "cli"]


def layer_of(module: str) -> str | None:
    """The layer of ``polarity.X...`` (None for the base modules and the package itself)."""
    parts = module.split(".")
    if parts[0] != "polarity" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in ORDER else None


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for every polarity import of a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("polarity"):
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("polarity")]
    return found


def files() -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if path.name != "__main__.py"]


def own_layer(path: Path) -> str | None:
    return layer_of("polarity." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))


def test_every_module_has_a_layer_or_is_a_base_module():
    unplaced = [path.relative_to(PACKAGE) for path in files()
                if own_layer(path) is None and path.stem not in BASE + ["__init__"]]
    assert not unplaced, f"modules outside every layer: {unplaced}"


@pytest.mark.parametrize("layer", ORDER)
def test_no_layer_imports_a_later_one(layer):
    later = set(ORDER[ORDER.index(layer) + 1:])
    for path in files():
        if own_layer(path) != layer:
            continue
        used = {layer_of(module) for module, _ in imports(path)} & later
        assert not used, f"{path.relative_to(PACKAGE)} imports the later layer(s) {used}"


def test_base_modules_import_no_layer():
    for name in BASE:
        used = {layer_of(module) for module, _ in imports(PACKAGE / f"{name}.py")} - {None}
        assert not used, f"polarity/{name}.py imports {used}"


def test_no_module_imports_another_layers_private_names():
    for path in PACKAGE.rglob("*.py"):
        mine = own_layer(path)
        for module, names in imports(path):
            private = [n for n in names + module.split(".") if n.startswith("_") and not n.endswith("__")]
            if private and layer_of(module) != mine:
                raise AssertionError(f"{path.relative_to(PACKAGE)} imports private {private} from {module}")


def test_the_layer_test_sees_the_layers():
    """The rules above are not vacuous: every layer has modules, and the later ones do import earlier ones."""
    layers = {own_layer(path) for path in files()}
    assert set(ORDER) <= layers
    cli_imports = {layer_of(module) for path in (PACKAGE / "cli").rglob("*.py") for module, _ in imports(path)}
    assert {"inference", "training", "server"} <= cli_imports
