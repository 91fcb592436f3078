from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci_command = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line][-1]
    assert ci_command.strip() in readme
