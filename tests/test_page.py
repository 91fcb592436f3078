"""The page at / in a real browser: headless Chromium (Debian's) driven by Playwright, against a real
server. Skipped where Playwright or a Chromium executable is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from polarity.data import load_imdb
from polarity.inference import Predictor
from polarity.inference.explore import explain
from polarity.training import load_recipe, train_recipe

pytest.importorskip("fastapi", reason="the serve extra (FastAPI, uvicorn, httpx) is not installed")
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip("the playwright package is not installed (pip install playwright)", allow_module_level=True)

from polarity.server.process import ServerProcess  # noqa: E402

pytestmark = pytest.mark.slow  # drives a browser: left out of mutation runs

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REVIEW = "A wonderful film, the actors were brilliant, the music superb. Only the plot was a bit boring."


def chromium_executable() -> str:
    for candidate in (os.environ.get("POLARITY_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no Chromium executable (apt-get install -y chromium, or set POLARITY_CHROMIUM)")


@pytest.fixture(scope="module")
def model(sentiment_archive, tmp_path_factory) -> Path:
    small = {"data.num_words": 100, "data.maxlen": 60, "data.valid_fraction": 0.2, "model.embedding_dim": 16,
             "model.units": 16, "model.embedding_dropout": 0.0, "model.output_dropout": 0.0,
             "training.batch_size": 16, "training.epochs": 8, "training.lr": 0.03}
    folder = tmp_path_factory.mktemp("page") / "sentiment"
    train_recipe(load_recipe("lstm-dropout", small), folder, corpus=load_imdb(sentiment_archive, strict=False),
                 progress=False, log=lambda *a: None)
    return folder


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def save_screenshot(page, path: Path, also_to_env: bool = False) -> None:
    """A full-page screenshot at ``path`` and, with ``also_to_env``, at $POLARITY_SCREENSHOT if set."""
    page.screenshot(path=str(path), full_page=True)
    if also_to_env and os.environ.get("POLARITY_SCREENSHOT"):
        target = Path(os.environ["POLARITY_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)


def classify_on_page(page, url: str, text: str) -> None:
    page.goto(url)
    page.fill("#text", text)
    page.click("#submit")


def words_coloured(page) -> list[tuple[str, float, str]]:
    return page.eval_on_selector_all(
        "#words .word", "spans => spans.map(s => [s.textContent, Number(s.dataset.contribution), "
        "getComputedStyle(s).backgroundColor])")


def test_page_classifies_and_colours_words(model, browser, tmp_path):
    predictor = Predictor.load(model)
    expected, reference = predictor.classify([REVIEW])[0], explain(predictor, REVIEW)
    requests_elsewhere: list[str] = []
    with ServerProcess([model], args=["--log-level", "warning"], log=tmp_path / "server.log") as server:
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.on("request", lambda r: r.url.startswith(server.url) or requests_elsewhere.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        classify_on_page(page, server.url, REVIEW)
        expect(page.locator("#label")).to_have_text(expected.label, timeout=15_000)
        expect(page.locator("#model option")).to_have_text(["sentiment (lstm-dropout)"])
        expect(page.locator("#bars .bar")).to_have_count(2)
        words = words_coloured(page)
        assert [w[0] for w in words] == [w["word"] for w in reference["words"]]
        for (word, contribution, background), truth in zip(words, reference["words"]):
            assert contribution == pytest.approx(truth["contribution"], abs=1e-6)
            r, g = (float(x) for x in background[background.index("(") + 1:-1].split(",")[:2])
            assert (g > r) == (contribution >= 0), (word, contribution, background)  # green pushes up, red down
        signs = {contribution > 0 for _, contribution, _ in words}
        assert signs == {True, False}  # both colours on the page
        assert page.get_attribute("nav a[href='/docs']", "href") == "/docs"
        page.click("button.example >> nth=1")  # an example fills the box
        assert page.input_value("#text").startswith("I wanted to like it")
        classify_on_page(page, server.url, REVIEW)
        expect(page.locator("#label")).to_have_text(expected.label, timeout=15_000)
        save_screenshot(page, tmp_path / "page.png", also_to_env=True)
        assert not errors and not requests_elsewhere
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_page_with_an_api_key(model, browser, tmp_path):
    with ServerProcess([model], args=["--log-level", "warning"], env={"POLARITY_API_KEY": "page-key"},
                       log=tmp_path / "server.log") as server:
        page = browser.new_page()
        text = "An awful film, the plot was boring."
        classify_on_page(page, server.url, text)
        expect(page.locator("#status")).to_contain_text("API key", timeout=15_000)
        assert page.locator("#result").is_hidden()
        page.fill("#api-key", "page-key")
        page.click("#submit")
        expect(page.locator("#label")).to_have_text(Predictor.load(model).predict([text])[0], timeout=15_000)
        expect(page.locator("#words .word")).to_have_count(7)
        save_screenshot(page, tmp_path / "page-key.png")
