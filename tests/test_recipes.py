"""Typed recipes: loading, defaults, overrides and one-line errors for user mistakes."""

from __future__ import annotations

import copy
import tomllib
import typing
from importlib import resources

import pytest

from polarity.errors import ConfigError
from polarity.training.recipes import (
    DataConfig,
    Recipe,
    TrainingConfig,
    load_recipe,
    parse_assignment,
    recipe_names,
)

# The defaults of the dict-based recipes this module replaced, frozen here to check that every
# built-in recipe still gives the same effective values.
OLD_DEFAULTS = {
    "data": {"num_words": 0, "skip_top": 0, "maxlen": 0, "truncating": "pre", "valid_fraction": 0.1,
             "pretrained_vocabulary": False, "target": "sentiment", "remove_characters": "", "stop_words": [],
             "unknown_vector": "random", "negation_scope": False, "pairs": "", "pair_repeat": 1, "exclude": "",
             "augment": "none", "augment_fraction": 0.5, "augment_words": "lexicon",
             "contrast_fraction": 0.0},
    "model": {},
    "training": {"optimizer": "adam", "lr": 0.001, "initial_accumulator": 0.1, "batch_size": 64, "epochs": 3,
                 "batching": "bucketed", "precision": "float32", "shards": 1, "seed": 0, "early_stopping": 0,
                 "restore_best": True, "eval_test_each_epoch": False, "unfreeze": "none", "lr_decay": 1.0,
                 "pair_weight": 0.0, "pairs_per_step": 8, "mix_counterfactuals": 0.0,
                 "ngram_pair_repeat": 0},
}


def _text(name: str) -> str:
    return (resources.files("polarity") / "recipes" / f"{name}.toml").read_text(encoding="utf-8")


def old_merge(name: str) -> dict:
    """The old loader's result: defaults, then each layer from the root of ``extends`` down."""
    folder = resources.files("polarity") / "recipes"
    chain = [tomllib.loads((folder / f"{name}.toml").read_text(encoding="utf-8"))]
    while "extends" in chain[-1]:
        chain.append(tomllib.loads((folder / f"{chain[-1]['extends']}.toml").read_text(encoding="utf-8")))
    merged = copy.deepcopy(OLD_DEFAULTS)
    for layer in reversed(chain):
        for key, value in layer.items():
            if key in merged and isinstance(value, dict):
                merged[key].update(value)
            elif key != "extends":
                merged[key] = value
    if "extends" in chain[0]:
        merged["extends"] = chain[0]["extends"]
    return merged


def error(name_or_path: str, overrides: dict | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_recipe(name_or_path, overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", recipe_names())
def test_every_builtin_recipe_loads_with_its_old_values(name):
    recipe = load_recipe(name)
    assert isinstance(recipe.data, DataConfig) and isinstance(recipe.training, TrainingConfig)
    assert recipe.name == name
    old, new = old_merge(name), recipe.to_dict()
    assert all(new[section] == old[section] for section in ("data", "model", "training"))  # same settings as before
    assert new.get("reported_accuracy") == tomllib.loads(_text(name)).get("reported_accuracy")  # not inherited


def test_builtin_values():
    glove = load_recipe("glove-lstm")
    assert glove.training.optimizer == "adagrad" and glove.training.initial_accumulator == 0.0
    assert glove.model["pretrained"] == "glove-6b-50d" and glove.data.pretrained_vocabulary is True
    default = load_recipe("default")
    assert default.extends == "bilstm-hybrid" and default.training.epochs == 2 and default.model["units"] == 64
    assert default.model["type"] == "hybrid" and default.model["bidirectional"] is True
    assert load_recipe("lstm-20k").reported_per_epoch == [85.13, 84.88, 82.54, 83.15, 82.93]


def test_overrides():
    recipe = load_recipe("default", {"epochs": 7, "model.units": 3, "layers": 2, "data.maxlen": 80})
    assert recipe.training.epochs == 7 and recipe.data.maxlen == 80
    assert recipe.model["units"] == 3 and recipe.model["layers"] == 2
    assert parse_assignment("model.units=64") == ("model.units", 64)
    assert parse_assignment("training.optimizer=adagrad") == ("training.optimizer", "adagrad")


def test_ints_accepted_for_floats(tmp_path):
    recipe = load_recipe("lstm-dropout", {"lr": 1, "model.input_dropout": 0})
    assert recipe.training.lr == 1.0 and isinstance(recipe.training.lr, float)
    assert isinstance(recipe.model["input_dropout"], float)
    path = write(tmp_path, "ints.toml", 'extends = "mean-embedding"\n[training]\nlr = 2\n')
    assert isinstance(load_recipe(path).training.lr, float)


def test_typo_in_override_key_suggests_the_closest():
    message = error("lstm-dropout", {"training.epoch": 5})
    assert message == "unknown key 'epoch' in [training] (recipe lstm-dropout); did you mean 'epochs'?"
    assert "did you mean 'training.epochs'" in error("lstm-dropout", {"epoch": 5})
    assert "valid keys: optimizer, lr," in error("lstm-dropout", {"training.zzzzzz": 1})


def test_bare_key_in_no_section_asks_for_section_key():
    message = error("lstm-dropout", {"name": "x"})
    assert "cannot place 'name'" in message and "section.key" in message


def test_unknown_section():
    assert "unknown section [trainig]" in error("default", {"trainig.epochs": 2})
    assert "did you mean [training]?" in error("default", {"trainig.epochs": 2})


def test_typos_in_a_toml_file(tmp_path):
    top = write(tmp_path, "top.toml", 'extends = "lstm-dropout"\ntitel = "x"\n')
    assert "unknown key 'titel' at the top level" in error(top) and "did you mean 'title'?" in error(top)
    data = write(tmp_path, "data.toml", 'extends = "lstm-dropout"\n[data]\nmax_len = 100\n')
    assert "unknown key 'max_len' in [data]" in error(data) and "did you mean 'maxlen'?" in error(data)
    model = write(tmp_path, "model.toml", 'name = "mine"\n[model]\ntype = "rnn"\nunit = 64\n')
    assert error(model) == "unknown key 'unit' in [model] of type 'rnn' (recipe mine); did you mean 'units'?"
    section = write(tmp_path, "section.toml", 'extends = "lstm-dropout"\n[trainin]\nepochs = 2\n')
    assert "unknown section [trainin]" in error(section) and "did you mean [training]?" in error(section)
    assert "invalid TOML" in error(write(tmp_path, "bad.toml", "epochs 2\n"))


@pytest.mark.parametrize(("overrides", "message"), [
    ({"training.batch_size": "x"}, "training.batch_size must be a positive integer, got 'x'"),
    ({"epochs": 2.5}, "training.epochs must be a positive integer, got 2.5"),
    ({"epochs": 5.0}, "training.epochs must be a positive integer, got 5.0"),
    ({"restore_best": "yes"}, "training.restore_best must be true or false, got 'yes'"),
    ({"lr": 0}, "training.lr must be a positive number, got 0"),
    ({"lr": "fast"}, "training.lr must be a positive number, got 'fast'"),
    ({"lr": float("inf")}, "training.lr must be a positive number, got inf"),  # TOML's inf and nan are floats
    ({"training.pair_weight": float("nan")}, "training.pair_weight must be a number >= 0, got nan"),
    ({"valid_fraction": 1.0}, "data.valid_fraction must be a number in [0, 1), got 1.0"),
    ({"epochs": 0}, "training.epochs must be a positive integer, got 0"),
    ({"epochs": True}, "training.epochs must be a positive integer, got True"),  # TOML's true is no 1
    ({"lr": True}, "training.lr must be a positive number, got True"),
    ({"num_words": -1}, "data.num_words must be an integer >= 0 (0: no limit), got -1"),
    ({"batching": "fast"}, "training.batching must be one of exact, bucketed, got 'fast'"),
    ({"optimizer": "adamw"}, "training.optimizer must be one of adam, adagrad, rmsprop, sgd, got 'adamw'"),
    ({"target": "stars"}, "data.target must be one of sentiment, rating-bands, got 'stars'"),
    ({"pretrained_vocabulary": 1}, "data.pretrained_vocabulary must be false, true/\"train\""),
    ({"remove_characters": 5}, "data.remove_characters must be a string, got 5"),
    ({"remove_characters": "[a-"}, "data.remove_characters must be a regular expression, got '[a-' ("),
])
def test_wrong_types_ranges_and_choices(overrides, message):
    assert error("lstm-dropout", overrides).startswith(message)


def test_model_options():
    assert error("lstm-dropout", {"units": "many"}) == "model.units must be an integer, got 'many'"
    assert error("lstm-dropout", {"units": True}) == "model.units must be an integer, got True"
    assert error("lstm-dropout", {"model.embedding_dropout": True}) == "model.embedding_dropout must be a number, got True"
    assert error("lstm-dropout", {"model.mask_padding": 1}) == "model.mask_padding must be true or false, got 1"
    assert error("lstm-dropout", {"model.cell": 3}) == "model.cell must be a string, got 3"
    assert error("lstm-dropout", {"model.type": "lstm"}) == ("model.type must be one of hybrid, mean-embedding, nbsvm, rnn, "
                                                                "tfidf-lr, got 'lstm'")
    assert "model.pretrained must name the vectors" in error("lstm-dropout", {"model.pretrained": True})
    for key in ("vocab_size", "maxlen", "num_outputs"):
        assert error("lstm-dropout", {f"model.{key}": 3}).startswith(f"model.{key} is supplied by the program")


def test_a_hybrid_checks_its_own_options_and_those_it_passes_to_its_rnn():
    assert error("bilstm-hybrid", {"model.words": "many"}) == "model.words must be an integer, got 'many'"
    assert error("bilstm-hybrid", {"model.units": "many"}) == "model.units must be an integer, got 'many'"
    assert error("bilstm-hybrid", {"model.unit": 3}) == (
        "unknown key 'unit' in [model] of type 'hybrid' (recipe bilstm-hybrid); did you mean 'units'?")


def test_model_needs_a_type(tmp_path):
    path = write(tmp_path, "notype.toml", "[model]\nunits = 3\n")
    assert error(path).startswith("[model] needs a type (recipe notype): one of")


def test_extends_chain_and_names(tmp_path):
    write(tmp_path, "base.toml", 'extends = "mean-embedding"\n[training]\nepochs = 1\nlr = 0.01\n')
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\n[training]\nepochs = 2\n')
    recipe = load_recipe(child)
    assert recipe.name == "child" and recipe.extends == "base.toml"
    assert recipe.model["type"] == "mean-embedding" and recipe.data.maxlen == 100
    assert recipe.training.epochs == 2 and recipe.training.lr == 0.01
    assert recipe.title is None  # what a file says of its own experiment is not inherited


def test_extends_cycle(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    message = error(str(tmp_path / "a.toml"))
    assert "goes round in circles" in message and "a.toml -> b.toml -> a.toml" in message


def test_missing_recipes(tmp_path):
    assert error("nope").startswith("unknown recipe 'nope'; available: bilstm-hybrid, bilstm-pretrained, default,")
    assert error(str(tmp_path / "missing.toml")) == f"recipe file {tmp_path / 'missing.toml'} not found"


def test_to_dict_from_dict_round_trip():
    for name in recipe_names():
        recipe = load_recipe(name, {"epochs": 2})
        data = recipe.to_dict()
        assert Recipe.from_dict(data) == recipe
        assert None not in data.values() and data["training"]["epochs"] == 2


def test_from_dict_validates():
    with pytest.raises(ConfigError, match="unknown key 'epoch' in \\[training\\] \\(recipe x\\)"):
        Recipe.from_dict({"name": "x", "model": {"type": "rnn"}, "training": {"epoch": 3}})
    with pytest.raises(ConfigError, match="recipe x has no \\[model\\] section"):
        Recipe.from_dict({"name": "x"})
    with pytest.raises(ConfigError, match="recipe name must be a non-empty string"):
        Recipe.from_dict({"model": {"type": "rnn"}})


def test_with_overrides_leaves_the_original_unchanged():
    recipe = load_recipe("lstm-dropout")
    before = recipe.to_dict()
    changed = recipe.with_overrides({"epochs": 9, "model.units": 7})
    assert changed.training.epochs == 9 and changed.model["units"] == 7
    assert recipe.to_dict() == before and recipe.training.epochs == 3 and recipe.model["units"] == 100
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        recipe.with_overrides({"training.epoch": 1})
    with pytest.raises(ConfigError) as info:
        recipe.with_overrides({"zzz": 1})
    assert str(info.value) == "cannot place 'zzz': no section of recipe lstm-dropout has it; name it as section.key"


def test_set_reads_key_equals_value_and_says_what_it_expects():
    with pytest.raises(ConfigError) as info:
        parse_assignment("epochs")
    assert str(info.value) == "--set expects KEY=VALUE, got 'epochs'"
    assert parse_assignment("data.text_column=a=b") == ("data.text_column", "a=b")  # the first = splits
    assert parse_assignment(" training.epochs =3") == ("training.epochs", 3)


def test_override_keys_are_placed_or_refused_with_a_hint(tmp_path):
    """How `--set KEY=VALUE` finds the section of KEY, and what it says when it cannot."""
    assert error("lstm-dropout", {"training.x.y": 1}).startswith(
        "unknown key 'x.y' in [training] (recipe lstm-dropout); valid keys: optimizer, lr,")  # section.rest
    assert error("default", {"trainig.epochs": 2}) == (
        "unknown section [trainig] in 'trainig.epochs' (recipe default); did you mean [training]?")
    assert error("lstm-dropout", {"epoch": 5}) == (
        "cannot place 'epoch': no section of recipe lstm-dropout has it; did you mean 'training.epochs'?")
    assert error("lstm-dropout", {"zzzzqq": 1}) == (
        "cannot place 'zzzzqq': no section of recipe lstm-dropout has it; name it as section.key")
    untyped = write(tmp_path, "untyped.toml", 'name = "mine"\n[model]\nepochs = 3\n')
    assert error(untyped, {"epochs": 2}) == (
        "cannot place 'epochs': it is in [model] and [training]; name it as section.key (e.g. model.epochs)")
    assert error(untyped, {"model.epochs": 2}) == (
        "[model] needs a type (recipe mine): one of hybrid, mean-embedding, nbsvm, rnn, tfidf-lr")
    assert error(untyped, {"zzz": 1}) == (  # a file's recipe is named by its name, or by its path without one
        "cannot place 'zzz': no section of recipe mine has it; name it as section.key")
    unnamed = write(tmp_path, "unnamed.toml", 'name = 5\n[model]\ntype = "rnn"\n')
    assert error(unnamed, {"zzz": 1}) == f"cannot place 'zzz': no section of recipe {unnamed} has it; name it as section.key"


def test_set_type_gives_a_type_to_a_model_without_one(tmp_path):
    no_type = write(tmp_path, "no-type.toml", 'name = "mine"\n[model]\nunits = 4\n')
    model = load_recipe(no_type, {"type": "rnn", "units": 8}).model
    assert (model["type"], model["units"]) == ("rnn", 8)


def test_a_model_type_override_applies_before_the_options_of_that_type():
    """`--set units=16 --set type=rnn` on a mean-embedding recipe: units is an option of the new type."""
    for type_key in ("type", "model.type"):
        recipe = load_recipe("mean-embedding", {"units": 16, type_key: "rnn"})
        assert recipe.model["type"] == "rnn" and recipe.model["units"] == 16


def test_reported_per_epoch_must_be_a_list_of_numbers(tmp_path):
    assert load_recipe(write(tmp_path, "ok.toml", 'extends = "mean-embedding"\nreported_per_epoch = [80, 85.5]\n')
                       ).reported_per_epoch == [80.0, 85.5]
    for value, shown in (('"high"', "'high'"), ('[80, "x"]', "'x'")):
        path = write(tmp_path, "bad.toml", f'extends = "mean-embedding"\nreported_per_epoch = {value}\n')
        kind = "a list of numbers"
        assert error(path) == f"reported_per_epoch must be {kind}, got {shown}"


def test_recipe_files_named_from_the_working_folder(tmp_path, monkeypatch):
    """Messages name a recipe file as the user typed it; a relative name that is not there is refused."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "top.toml", 'extends = "lstm-dropout"\ntitel = "x"\n')
    write(tmp_path, "data.toml", 'extends = "lstm-dropout"\n[data]\nmax_len = 100\n')
    write(tmp_path, "bad.toml", "epochs 2\n")
    assert error("top.toml") == "unknown key 'titel' at the top level (recipe top.toml); did you mean 'title'?"
    assert error("data.toml") == "unknown key 'max_len' in [data] (recipe data.toml); did you mean 'maxlen'?"
    assert error("bad.toml").startswith("recipe bad.toml: invalid TOML: Expected '=' after a key")
    assert error("nothere.toml") == "recipe file nothere.toml not found"


class _NewKind:
    """A model kind as a user adds one (docs/ARCHITECTURE.md): its keyword arguments are the recipe's keys."""

    def __init__(self, vocab_size: int, maxlen: int, num_outputs: int, *, width: int | None = None,
                 rate: float = 0.5, name: str = "x", plain=0.25, sizes: list[list[int]] | None = None,
                 either: int | str = 1, **more) -> None:
        pass


class _PlainKind:
    """The same, written without postponed annotations: the annotations are types, not strings."""

    def __init__(self, vocab_size, maxlen, num_outputs, *, width=None, rate=0.5, flag=None, plain=2, shape=None,
                 extra=None):
        pass


_PlainKind.__init__.__annotations__ = {"width": int | None, "rate": float, "flag": bool | None,
                                       "shape": typing.Optional["Shape"]}  # a forward reference: not checked


@pytest.mark.parametrize("kind", [_NewKind, _PlainKind])
def test_a_new_model_kind_is_checked_by_its_constructors_arguments(monkeypatch, tmp_path, kind):
    """Each keyword argument is a [model] key checked by its annotation (else its default's type): an
    int for a float becomes a float, None is accepted where the annotation allows it."""
    from polarity.models import registry

    monkeypatch.setitem(registry._REGISTRY, "new", kind)
    mine = write(tmp_path, "new.toml", 'name = "mine"\n[model]\ntype = "new"\n')
    model = load_recipe(mine, {"width": None, "rate": 1, "plain": 3}).model
    assert model == {"type": "new", "width": None, "rate": 1.0, "plain": 3.0 if kind is _NewKind else 3}
    assert isinstance(model["rate"], float)
    assert load_recipe(mine, {"width": 8}).model["width"] == 8
    assert error(mine, {"width": "wide"}) == "model.width must be an integer, got 'wide'"
    assert error(mine, {"rate": "x"}) == "model.rate must be a number, got 'x'"
    assert error(mine, {"rate": None}) == "model.rate must be a number, got None"
    assert error(mine, {"model.maxlen": 9}).startswith("model.maxlen is supplied by the program")
    assert error(mine, {"plain": None}) == "model.plain must be " + ("a number" if kind is _NewKind else "an integer") + \
        ", got None"  # a default's type does not allow None
    if kind is _NewKind:  # **more takes any other key as it is; a list annotation is not checked
        assert error(mine, {"plain": "x"}) == "model.plain must be a number, got 'x'"
        sizes = [[3, 4]]
        depth = {"a": [1]}
        recipe = load_recipe(mine, {"model.depth": depth, "sizes": sizes, "rate": 2})
        depth["a"].append(2)  # the recipe holds its own copies of what it was given
        sizes[0].append(5)
        assert (recipe.model["depth"], recipe.model["sizes"], recipe.model["rate"]) == ({"a": [1]}, [[3, 4]], 2.0)
        recipe.to_dict()["model"]["sizes"][0].append(5)  # to_dict's copy is the caller's own
        assert recipe.model["sizes"] == [[3, 4]]
        assert error(mine, {"name": 1}) == "model.name must be a string, got 1"
        for value in (3, "three"):  # a union of two types is not checked
            assert load_recipe(mine, {"either": value}).model["either"] == value
    else:
        assert load_recipe(mine, {"flag": None}).model["flag"] is None
        assert error(mine, {"flag": 1}) == "model.flag must be true or false, got 1"
        assert error(mine, {"plain": 2.5}) == "model.plain must be an integer, got 2.5"
        assert load_recipe(mine, {"shape": [2, 3]}).model["shape"] == [2, 3]
        assert load_recipe(mine, {"extra": "any"}).model["extra"] == "any"  # no annotation, a None default
        assert error(mine, {"model.size": 1}).startswith(
            "unknown key 'size' in [model] of type 'new' (recipe mine); valid keys: width, rate, flag, plain, shape, extra")


def test_a_recipe_files_top_level_and_sections_are_checked(tmp_path, monkeypatch):
    """What each mistake at a recipe file's top level, or in a section's form, says."""
    monkeypatch.chdir(tmp_path)
    rnn = '[model]\ntype = "rnn"\n'
    cases = {
        'model = 3\n': "[model] must be a table (recipe r.toml), got 3",
        f'data = 3\n{rnn}': "[data] must be a table (recipe r.toml), got 3",
        f'zzzz = 1\n{rnn}': ("unknown key 'zzzz' at the top level (recipe r.toml); valid keys: name, extends, notebook, "
                             "title, description, reported_accuracy, reported_per_epoch, reported_note"),
        f'[zzzz]\na = 1\n{rnn}': "unknown section [zzzz] (recipe r.toml); valid sections: [data], [model], [training]",
        f'notebook = 3\n{rnn}': "notebook must be a string, got 3",
        f'reported_accuracy = "high"\n{rnn}': "reported_accuracy must be a number, got 'high'",
        f'name = " "\n{rnn}': "recipe name must be a non-empty string, got ' '",
        '[model]\ntype = 3\n': "model.type must be one of hybrid, mean-embedding, nbsvm, rnn, tfidf-lr, got 3",
        f'{rnn}[data]\nnegation_scope = true\nremove_characters = "[.]"\n': (
            "data.negation_scope marks words up to the next punctuation mark, which data.remove_characters deletes "
            "first: use one or the other"),
        f'{rnn}[data]\npretrained_vocabulary = "some"\n': (
            'data.pretrained_vocabulary must be false, true/"train" (training words with a vector) or "all" (every '
            "pretrained word), got 'some'"),
    }
    for text, message in cases.items():
        write(tmp_path, "r.toml", text)
        assert error("r.toml") == message, text
    for value in ("all", "train"):
        write(tmp_path, "r.toml", f'{rnn}[data]\npretrained_vocabulary = "{value}"\n')
        assert load_recipe("r.toml").data.pretrained_vocabulary == value


def test_a_recipe_read_back_from_a_dict_is_checked_as_a_file_is():
    """`Recipe.from_dict` (a model folder's run.json): the same checks and messages."""
    rnn = {"type": "rnn"}
    cases = [
        (3, "a recipe must be a table, got 3"),
        ({"name": 5, "zzz": 1, "model": rnn}, "unknown key 'zzz' at the top level (recipe ?); valid keys: name, "
         "extends, notebook, title, description, reported_accuracy, reported_per_epoch, reported_note"),
        ({"name": "x", "zzz": 1, "model": rnn}, "unknown key 'zzz' at the top level (recipe x); valid keys: name, "
         "extends, notebook, title, description, reported_accuracy, reported_per_epoch, reported_note"),
        ({"name": 5, "model": rnn}, "recipe name must be a non-empty string, got 5"),
        ({"name": "x"}, "recipe x has no [model] section"),
        ({"name": "x", "model": rnn, "training": {"epochs": 0}}, "training.epochs must be a positive integer, got 0"),
        ({"name": "x", "model": rnn, "data": "x"}, "[data] must be a table (recipe x), got 'x'"),
        ({"name": "x", "model": rnn, "notebook": 3}, "notebook must be a string, got 3"),
    ]
    for data, message in cases:
        with pytest.raises(ConfigError) as info:
            Recipe.from_dict(data)
        assert str(info.value) == message
    data = DataConfig(maxlen=7)
    recipe = Recipe(name="x", model=rnn, data=data)  # sections given as objects are checked copies
    assert recipe.data == data and recipe.data is not data
    for sections, message in (({"model": 3}, "[model] must be a table (recipe x), got 3"),
                              ({"data": 3}, "[data] must be a table (recipe x), got 3"),
                              ({"data": {"maxlen": 5, "zzzz": 1}}, "unknown key 'zzzz' in [data] (recipe x); valid keys: "
                                                                   "num_words, skip_top, maxlen,"),
                              ({"training": 3}, "[training] must be a table (recipe x), got 3"),
                              ({"training": {"epoch": 1}}, "unknown key 'epoch' in [training] (recipe x); did you mean "
                                                           "'epochs'?")):
        with pytest.raises(ConfigError) as info:
            Recipe(**{"name": "x", "model": rnn, **sections})
        assert str(info.value).startswith(message)


def test_extends_must_name_a_recipe_and_chains_stop_at_eight_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "base.toml", "extends = 3\n")
    write(tmp_path, "child.toml", 'extends = "base.toml"\n')
    write(tmp_path, "top.toml", 'extends = "child.toml"\n')
    for name in ("child.toml", "top.toml"):
        assert error(name) == "extends must be a string, got 3 (recipe base.toml)"  # the file that says it
    write(tmp_path, "r1.toml", 'extends = "mean-embedding"\n')
    for k in range(2, 10):
        write(tmp_path, f"r{k}.toml", f'extends = "r{k - 1}.toml"\n')
    assert load_recipe("r7.toml").model["type"] == "mean-embedding"  # 8 files with the built-in one
    assert error("r8.toml") == "recipe r8.toml: 'extends' chain deeper than 8 recipes"


def test_override_order_puts_the_model_type_first_whatever_the_keys_are_called():
    recipe = load_recipe("mean-embedding", {"layers": 2, "type": "rnn"})  # "layers" sorts before "type"
    assert (recipe.model["type"], recipe.model["layers"]) == ("rnn", 2)
