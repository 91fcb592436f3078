"""bench.mutmut_recheck: which of mutmut's mutants it rechecks, against which test files, and its
verdict on a real run of pytest with a mutant switched on."""

import json

from bench import mutmut_recheck as recheck


def fake_mutants(tmp_path, codes: dict, tested_by: dict):
    folder = tmp_path / "mutants"
    (folder / "src" / "pkg").mkdir(parents=True)
    (folder / "src" / "pkg" / "mod.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    (folder / "mutmut-stats.json").write_text(json.dumps({"tests_by_mangled_function_name": tested_by}))
    return folder


def test_it_rechecks_survivors_and_untested_mutants_against_whole_files(tmp_path):
    folder = fake_mutants(tmp_path, {"pkg.mod.x_f__mutmut_1": 0, "pkg.mod.x_f__mutmut_2": 1, "pkg.mod.x_g__mutmut_1": 33,
                                     "pkg.mod.x_g__mutmut_2": -24, "pkg.mod.x_g__mutmut_3": None}, {})
    assert sorted(recheck.candidates(folder, "pkg")) == ["pkg.mod.x_f__mutmut_1", "pkg.mod.x_g__mutmut_1"]
    stats = {"pkg.mod.x_f": ["tests/test_a.py::test_one", "tests/test_a.py::test_two[1]", "tests/test_b.py::t"]}
    assert recheck.test_files(stats, "pkg.mod.x_f__mutmut_1", ["tests/test_c.py"]) == [
        "tests/test_a.py", "tests/test_b.py", "tests/test_c.py"]
    assert recheck.test_files(stats, "pkg.mod.x_g__mutmut_1", []) == []


def with_test_file(tmp_path, source: str):
    """A fake mutants folder holding ``tests/test_switch.py``; (the folder, [that file])."""
    folder = fake_mutants(tmp_path, {}, {})
    (folder / "tests").mkdir()
    (folder / "tests" / "test_switch.py").write_text(source)
    return folder, ["tests/test_switch.py"]


def test_the_verdict_follows_the_switched_on_mutant(tmp_path):
    folder, files = with_test_file(
        tmp_path, "import os\n\ndef test_no_mutant():\n    assert os.environ['MUTANT_UNDER_TEST'] != 'pkg.mod.x_f__mutmut_1'\n")
    assert recheck.recheck(folder, "pkg.mod.x_f__mutmut_1", files, timeout=120) == "killed"
    assert recheck.recheck(folder, "pkg.mod.x_f__mutmut_2", files, timeout=120) == "survived"
    assert recheck.recheck(folder, "pkg.mod.x_f__mutmut_1", [], timeout=120) == "no tests"
    assert recheck.recheck(folder, "pkg.mod.x_f__mutmut_1", ["tests/missing.py"], timeout=120) == "error (pytest exit 4)"


def test_tests_left_out_by_keyword_give_no_verdict(tmp_path):
    """-k leaves out a test written for code changed after mutmut's run: it would fail on every mutant."""
    folder, files = with_test_file(
        tmp_path, "def test_of_new_code():\n    raise AssertionError('fails on the code mutmut mutated')\n\ndef test_passes():\n    pass\n")
    assert recheck.recheck(folder, "pkg.mod.x_f__mutmut_1", files, timeout=120) == "killed"
    assert recheck.recheck(folder, "pkg.mod.x_f__mutmut_1", files, timeout=120, keyword="not of_new_code") == "survived"


def test_a_sample_of_unrun_mutants_is_the_same_for_the_same_seed_and_grows_in_order(tmp_path, capsys):
    codes = {f"pkg.mod.x_f__mutmut_{i}": (None if i % 3 else 1) for i in range(1, 31)}
    folder = fake_mutants(tmp_path, codes, {})
    ten = recheck.sample(folder, "pkg.mod", 10, "s")
    assert len(ten) == 10 == len(set(ten)) and all(codes[name] is None for name in ten)
    assert recheck.sample(folder, "pkg.mod", 15, "s")[:10] == ten  # a larger sample begins with the smaller one
    assert recheck.sample(folder, "pkg.mod", 10, "other") != ten
    assert len(recheck.sample(folder, "pkg.mod", 100, "s")) == 20  # only the unrun ones
    assert recheck.main(["pkg.mod", "--mutants", str(folder), "--sample", "3", "--seed", "s"]) == 0
    assert capsys.readouterr().out.split() == ten[:3]
    assert sorted(recheck.candidates(folder, "pkg", unrun=True)) == sorted(n for n, c in codes.items() if c is None)
