import json

from polarity.cli import main


def test_data_stats_json(tiny_archive, capsys):
    assert main(["data", "stats", "--data", str(tiny_archive), "--no-strict", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["splits"]["train"] == {
        "reviews": 12, "positive": 6, "negative": 6, "unlabelled": 0, "length": stats["splits"]["train"]["length"]
    }
    assert stats["splits"]["unsup"]["unlabelled"] == 3
    assert 8 < stats["splits"]["test"]["length"]["mean"] < 20
    assert stats["vocabulary_size"] > 50


def test_data_stats_table(tiny_folder, capsys):
    assert main(["data", "stats", "--data", str(tiny_folder), "--no-strict"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "vocabulary (training split)" in out


def test_data_show_decodes_like_the_tutorials(tiny_archive, capsys):
    assert main(["data", "show", "7", "--data", str(tiny_archive), "--no-strict", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["label"] == "positive" and shown["text"].startswith("Great movie!")
    assert shown["decoded"].startswith("<START> great movie the cast")
    assert len(shown["ids"]) == len(shown["decoded"].split())


def test_data_show_prints_the_review_its_ids_and_their_decoding(tiny_archive, capsys):
    base = ["data", "show", "7", "--data", str(tiny_archive), "--no-strict"]
    assert main([*base, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert main(base) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"train[7]  file {shown['file']}  label positive  rating {shown['rating']}/10"
    assert shown["file"] == f"{shown['file'].split('_')[0]}_{shown['rating']}.txt" and 7 <= shown["rating"] <= 10
    assert lines[2] == shown["text"] + " " and lines[-1] == "decoded: " + shown["decoded"]
    assert lines[4].startswith(f"ids ({len(shown['ids'])}, num_words=None): {shown['ids'][:40]}")
    assert main([*base, "--num-words", "6", "--json"]) == 0  # the 3 most frequent words (ids 3 to 5) and markers
    few = json.loads(capsys.readouterr().out)
    assert len(few["ids"]) == len(shown["ids"]) and all(i < 6 for i in few["ids"]) and 2 in few["ids"]
    assert main(["data", "show", "1", "--split", "unsup", "--data", str(tiny_archive), "--no-strict", "--json"]) == 0
    unlabelled = json.loads(capsys.readouterr().out)
    assert (unlabelled["split"], unlabelled["label"], unlabelled["rating"]) == ("unsup", "unlabelled", 0)
    assert unlabelled["file"].endswith("_0.txt")


def test_cli_errors_are_messages_not_tracebacks(tiny_archive, tmp_path, capsys):
    assert main(["data", "show", "99", "--data", str(tiny_archive), "--no-strict"]) == 1
    assert "does not exist" in capsys.readouterr().err
    for index in ("12", "-1"):  # one past the last review, and before the first
        assert main(["data", "show", index, "--data", str(tiny_archive), "--no-strict"]) == 1
        assert capsys.readouterr().err == f"polarity: error: review {index} does not exist: the train split has 12 (0 to 11)\n"
    assert main(["data", "stats", "--data", str(tiny_archive)]) == 1
    assert "expected 12,500 reviews" in capsys.readouterr().err
    assert main(["data", "stats", "--data", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err
