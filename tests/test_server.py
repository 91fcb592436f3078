"""The HTTP server: every endpoint, batching, limits and their JSON errors, the API key, readiness,
and a graceful stop on SIGTERM (a real uvicorn process)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra (FastAPI, uvicorn, httpx) is not installed")
httpx = pytest.importorskip("httpx")
with warnings.catch_warnings():  # Starlette's TestClient now prefers httpx2; httpx still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from polarity.data import load_imdb  # noqa: E402
from polarity.errors import PolarityError  # noqa: E402
from polarity.inference import Predictor  # noqa: E402
from polarity.inference.explore import explain  # noqa: E402
from polarity.server import create_app  # noqa: E402
from polarity.server.batcher import Batcher, BatchStats  # noqa: E402
from polarity.cli.serve import register as add_serve_parser, settings_from_args  # noqa: E402
from polarity.server.process import ServerProcess, free_port  # noqa: E402
from polarity.training import load_recipe, train_recipe  # noqa: E402

QUIET = dict(progress=False, log=lambda *a: None)
TEXTS = ["A wonderful film, the actors were brilliant.", "An awful film, the plot was boring.", "great",
         "the story of a man and his dog, with some wonderful scenes and an awful ending that was too long", "",
         "qqq zzz", "superb and beautiful, loved it", "the worst, stupid and dull"]


@pytest.fixture(scope="module")
def models(sentiment_archive, tmp_path_factory) -> Path:
    """``sentiment/``: an LSTM without padding masks (its batches depend on padding); ``topics/``: 3 labels,
    one of them beyond ASCII."""
    root = tmp_path_factory.mktemp("served")
    small = {"data.num_words": 100, "data.maxlen": 60, "data.valid_fraction": 0.2, "model.embedding_dim": 16,
             "training.batch_size": 16, "training.epochs": 8, "training.lr": 0.03}
    lstm = load_recipe("lstm-dropout", {**small, "model.units": 16, "model.embedding_dropout": 0.0,
                                        "model.output_dropout": 0.0})
    train_recipe(lstm, root / "sentiment", corpus=load_imdb(sentiment_archive, strict=False), **QUIET)
    texts = ["the novel and its author", "a chapter too long", "great actors, fine director", "a dull scene",
             "the album's best song", "the singer and her guitar"] * 20
    labels = ["books", "books", "films", "films", "música", "música"] * 20  # a label beyond ASCII
    topics = load_recipe("mean-embedding", {"model.mask_padding": True, "training.epochs": 5, "training.lr": 0.05})
    train_recipe(topics, root / "topics", train=(texts, labels), **QUIET)
    return root


def server_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages the server logged."""
    return [r.getMessage() for r in caplog.records if r.name == "polarity.server"]


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.02)


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app([models / "sentiment", models / "topics"])) as client:
        wait_ready(client)
        yield client


def alone(predictor: Predictor, text: str, threshold: float | None = None) -> dict:
    """The unbatched reference: the text classified on its own, without its text field."""
    record = predictor.classify([text], threshold=threshold)[0].to_dict()
    del record["text"]
    return record


def assert_same(served: dict, reference: dict) -> None:
    assert served.keys() == reference.keys()
    assert served["label"] == reference["label"] and served.get("warning") == reference.get("warning")
    assert served["score"] == pytest.approx(reference["score"], abs=1e-6)
    assert served["probabilities"] == pytest.approx(reference["probabilities"], abs=1e-6)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code and body["error"]["message"], body
    return body["error"]


# -- endpoints --------------------------------------------------------------------------------------------
def test_probes(client, models):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "models": ["sentiment", "topics"]}


def test_readyz_is_503_until_the_models_are_loaded(models):
    app = create_app([models / "sentiment"])
    served = app.state.models  # create_app's defaults, as documented
    assert (served.max_batch, served.window, served.device, served.cores, served.backend) == (256, 0.005, "cpu", None,
                                                                                              "torch")
    client = TestClient(app)  # no `with`: the app never starts, so nothing loads
    assert client.get("/healthz").status_code == 200
    assert_error(client.get("/readyz"), 503, "not_ready")
    response = client.post("/v1/predict", json={"texts": ["great"]})
    error = assert_error(response, 503, "not_ready")
    assert error["message"] == "loading models: 0 of 1 ready" and response.headers["retry-after"] == "1"
    assert client.get("/v1/models").status_code == 200  # what the folders say is known before loading


def test_a_model_that_fails_to_load_is_reported_by_readyz_and_the_log(models, tmp_path, caplog):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(models / "topics", broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")  # passes the start-up check, fails to load
    app = create_app([models / "topics", broken])
    with caplog.at_level("INFO", logger="polarity.server"), TestClient(app) as client:
        deadline = time.monotonic() + 120
        while "failed" not in client.get("/readyz").text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        error = assert_error(client.get("/readyz"), 503, "not_ready")
        reason = f"ConfigError: {broken / 'model.safetensors'} does not fit the model in config.json: "
        assert error["message"].startswith(f"the models failed to load: {reason}")
        answer = client.post("/v1/predict", json={"texts": ["a"], "model": "broken"})
        assert assert_error(answer, 503, "not_ready")["message"] == error["message"]
        assert client.post("/v1/predict", json={"texts": ["a dull scene"]}).json()["results"][0]["label"] == "films"
    messages = server_log(caplog)
    [loaded] = [m for m in messages if m.startswith(f"model topics loaded from {(models / 'topics').resolve()} in ")]
    assert 0 <= float(loaded.split(" in ")[-1].removesuffix(" s")) < 60  # the seconds it took
    assert f"loading the models failed: {error['message'].removeprefix('the models failed to load: ')}" in messages
    # Stopped, the app starts afresh: until the next start has loaded them, it says it is loading.
    assert app.state.models.not_ready_message() == "loading models: 0 of 2 ready"


def test_models_reports_metrics_as_json_can_hold_them(models, tmp_path):
    """A metrics file without ``reported_on`` (older folders) reports its test split; NaN and
    infinities (a diverged run) become null, nested ones too."""
    import shutil

    older = tmp_path / "older"
    shutil.copytree(models / "topics", older)
    metrics = json.loads((older / "metrics.json").read_text())
    del metrics["reported_on"]
    metrics["test"] = {"loss": float("nan"), "accuracy": 0.5, "by_length": [{"accuracy": float("inf")}],
                       "per_label": {"books": {"f1": float("-inf")}}}
    (older / "metrics.json").write_text(json.dumps(metrics))
    none = tmp_path / "none"
    shutil.copytree(models / "topics", none)
    (none / "metrics.json").write_text(json.dumps({"recipe": "mean-embedding", "valid": {"accuracy": 1.0}}))
    missing = tmp_path / "missing"  # a folder without metrics.json (copied by hand, or trained elsewhere)
    shutil.copytree(models / "topics", missing)
    (missing / "metrics.json").unlink()
    info = {m["name"]: m for m in TestClient(create_app([older, none, missing])).get("/v1/models").json()["models"]}
    assert info["missing"]["metrics_split"] is None and info["missing"]["metrics"] is None
    assert info["older"]["metrics_split"] == "test"
    assert info["older"]["metrics"] == {"loss": None, "accuracy": 0.5, "by_length": [{"accuracy": None}],
                                        "per_label": {"books": {"f1": None}}}
    assert info["none"]["metrics_split"] is None and info["none"]["metrics"] is None


def test_models_lists_names_recipes_labels_and_test_metrics(client, models):
    listed = client.get("/v1/models").json()["models"]
    assert [m["name"] for m in listed] == ["sentiment", "topics"]
    sentiment, topics = listed
    metrics = json.loads((models / "sentiment" / "metrics.json").read_text())
    assert sentiment == {"name": "sentiment", "recipe": "lstm-dropout", "labels": ["negative", "positive"],
                         "default": True, "metrics_split": "test", "metrics": metrics["test"]}
    assert topics["labels"] == ["books", "films", "música"] and topics["recipe"] == "mean-embedding"
    assert topics["default"] is False and topics["metrics_split"] == "valid"


def test_predict_gives_what_the_predictor_gives(client, models):
    predictor = Predictor.load(models / "sentiment")
    body = client.post("/v1/predict", json={"texts": TEXTS}).json()
    assert body["model"] == "sentiment" and len(body["results"]) == len(TEXTS)
    for served, text in zip(body["results"], TEXTS):
        assert_same(served, alone(predictor, text))
    assert body["results"][4]["warning"].startswith("empty") and body["results"][5]["warning"].startswith("no known")
    assert "warning" not in body["results"][0]
    assert client.post("/v1/predict", json={"texts": []}).json() == {"model": "sentiment", "results": []}


def test_predict_with_threshold_and_another_model(client, models):
    text = "a film with some wonderful and some awful moments"
    p = Predictor.load(models / "sentiment").predict_proba([text])[0, 1]
    assert 0.0 < p < 1.0
    for threshold, label in ((max(p - 0.01, 0.0), "positive"), (min(p + 0.01, 1.0), "negative"),
                             (0.0, "positive"), (1.0, "negative")):  # both edges of [0, 1] are thresholds
        result = client.post("/v1/predict", json={"texts": [text], "threshold": threshold}).json()["results"][0]
        assert result["label"] == label
    topics = Predictor.load(models / "topics")
    body = client.post("/v1/predict", json={"texts": ["a song on the guitar", "the author"], "model": "topics"}).json()
    assert body["model"] == "topics" and set(body["results"][0]["probabilities"]) == {"books", "films", "música"}
    assert_same(body["results"][0], alone(topics, "a song on the guitar"))


def test_explain_gives_what_explain_gives(client, models):
    text = "A wonderful film, but the plot was boring."
    body = client.post("/v1/explain", json={"text": text}).json()
    reference = explain(Predictor.load(models / "sentiment"), text)
    assert body.pop("model") == "sentiment"
    del reference["text"]
    assert body.keys() == reference.keys() and body["label"] == reference["label"]
    assert [w["word"] for w in body["words"]] == [w["word"] for w in reference["words"]]
    assert [w["contribution"] for w in body["words"]] == pytest.approx([w["contribution"] for w in reference["words"]], abs=1e-6)
    assert client.post("/v1/explain", json={"text": "the author", "model": "topics"}).json()["model"] == "topics"


def test_page_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    kinds = {"/": "text/html", "/static/app.js": "text/javascript", "/static/style.css": "text/css"}
    for path, kind in kinds.items():  # the page and its assets: never sniffed as another type, never stale
        headers = client.get(path).headers
        assert headers["content-type"] == f"{kind}; charset=utf-8" and headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-cache" and "frame-ancestors 'none'" in headers["content-security-policy"]
    assets = [page.text, client.get("/static/app.js").text, client.get("/static/style.css").text]
    assert 'href="/docs"' in page.text and "/v1/explain" in assets[1]
    for asset in assets:  # self-contained: nothing fetched from elsewhere
        assert "http://" not in asset and "https://" not in asset and "@import" not in asset
    schema = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/explain", "/v1/models", "/healthz", "/readyz"} <= set(schema["paths"])
    assert not set(kinds) & set(schema["paths"])  # the page is no part of the API
    request = schema["components"]["schemas"]["PredictRequest"]["properties"]
    assert request["texts"]["maxItems"] == 256 and request["texts"]["items"]["maxLength"] == 100_000
    assert "ErrorResponse" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_the_openapi_description_lists_each_routes_errors_and_the_key(models):
    """What /docs shows: the title and version, every error a route can answer (as ErrorResponse),
    and, with an API key, the bearer scheme and 401 on every /v1/ route only."""
    import polarity

    plain = create_app([models / "topics"]).openapi()
    keyed = create_app([models / "topics"], api_key="k3y").openapi()
    assert (plain["info"]["title"], plain["info"]["version"]) == ("polarity", polarity.__version__)
    assert plain["info"]["description"] == ("Sentiment (and other labels) of raw text with polarity's LSTM-family "
                                            'models. Errors are `{"error": {"code": ..., "message": ...}}`.')
    assert keyed["info"]["description"] == (plain["info"]["description"]
                                            + " Everything under /v1/ needs `Authorization: Bearer KEY`.")
    routes = {("/v1/predict", "post"): {"200", "400", "404", "413", "422", "503"},
              ("/v1/explain", "post"): {"200", "400", "404", "413", "422", "503"},
              ("/v1/models", "get"): {"200"}, ("/healthz", "get"): {"200"}, ("/readyz", "get"): {"200", "503"}}
    for (path, method), statuses in routes.items():
        plain_route, keyed_route = plain["paths"][path][method], keyed["paths"][path][method]
        assert set(plain_route["responses"]) == statuses and "security" not in plain_route
        for status in statuses - {"200"}:
            schema = plain_route["responses"][status]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorResponse"), (path, status)
        if path.startswith("/v1/"):
            assert set(keyed_route["responses"]) == statuses | {"401"}
            assert keyed_route["security"] == [{"HTTPBearer": []}]
        else:
            assert set(keyed_route["responses"]) == statuses and "security" not in keyed_route


# -- batching ---------------------------------------------------------------------------------------------
def test_concurrent_requests_share_model_calls_and_match_the_predictor(models):
    """Requests in flight together are one model call; each text still gets what it gets alone,
    although this LSTM reads padding (a naive batch would shift short texts' probabilities)."""
    app = create_app([models / "sentiment"], batch_window=0.1)
    requests = [{"texts": [text]} for text in TEXTS] + [{"texts": TEXTS[:3], "threshold": 0.9}, {"texts": TEXTS[3:]}]

    async def scenario() -> tuple[list[httpx.Response], BatchStats]:
        async with app.router.lifespan_context(app):
            while not app.state.models.ready:
                await asyncio.sleep(0.01)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
                responses = await asyncio.gather(*(client.post("/v1/predict", json=r) for r in requests))
            return responses, app.state.models.loaded["sentiment"].batcher.stats

    responses, stats = asyncio.run(scenario())
    assert stats.requests == len(requests) and stats.items == 2 * len(TEXTS)
    assert stats.calls < len(requests) and stats.largest > 1
    predictor = Predictor.load(models / "sentiment")
    for request, response in zip(requests, responses):
        assert response.status_code == 200
        for served, text in zip(response.json()["results"], request["texts"]):
            assert_same(served, alone(predictor, text, request.get("threshold")))


def test_batcher_splits_by_max_batch_and_returns_each_its_own():
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        calls.append(items)
        time.sleep(0.01)
        return [10 * x for x in items]

    batcher = Batcher(run, ThreadPoolExecutor(1), max_batch=8, window=0.05)

    async def scenario() -> list:
        requests = [[3 * i, 3 * i + 1, 3 * i + 2] for i in range(10)]
        results = await asyncio.gather(*(batcher.submit(r) for r in requests))
        with pytest.raises(ValueError, match=r"^at most 8 items per request, got 9$"):
            await batcher.submit(list(range(9)))
        await batcher.stop()
        return list(zip(requests, results))

    for request, result in asyncio.run(scenario()):
        assert list(result) == [10 * x for x in request]
    assert all(len(call) <= 8 for call in calls) and len(calls) < 10
    assert sorted(x for call in calls for x in call) == list(range(30))
    stats = batcher.stats  # what it says it counted is what the model was given
    assert (stats.calls, stats.requests, stats.items) == (len(calls), 10, 30)
    assert stats.largest == max(len(call) for call in calls)


def test_a_batcher_of_one_item_runs_each_item_alone():
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        calls.append(items)
        return [-x for x in items]

    async def scenario() -> list:
        batcher = Batcher(run, ThreadPoolExecutor(1), max_batch=1, window=0.01)
        results = await asyncio.gather(*(batcher.submit([x]) for x in range(4)))
        await batcher.stop()
        return results

    assert asyncio.run(scenario()) == [[0], [-1], [-2], [-3]] and sorted(calls) == [[0], [1], [2], [3]]
    with pytest.raises(ValueError, match="max_batch must be >= 1, got 0"):
        Batcher(run, ThreadPoolExecutor(1), max_batch=0)


def test_batcher_fills_each_call_when_the_requests_fit_exactly(caplog):
    """Requests of 4 items with max_batch 8: two to a call, never one alone; at DEBUG, a log line per call."""
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        calls.append(items)
        return items

    async def scenario() -> None:
        batcher = Batcher(run, ThreadPoolExecutor(1), max_batch=8, window=0.2)
        await asyncio.gather(*(batcher.submit([4 * i + j for j in range(4)]) for i in range(6)))
        await batcher.stop()

    with caplog.at_level("DEBUG", logger="polarity.server"):
        asyncio.run(scenario())
    assert [len(call) for call in calls] == [8, 8, 8]
    lines = server_log(caplog)
    pattern = r"batch of 8 items from 2 requests: ([\d.]+) ms in the model, waited ([\d.]+) ms"
    times = [[float(ms) for ms in re.fullmatch(pattern, line).groups()] for line in lines]
    assert len(times) == 3 and all(0 <= ms < 5_000 for pair in times for ms in pair), lines  # durations, not clocks


def test_a_request_cancelled_while_its_batch_runs_leaves_the_others_their_own_outputs():
    """A client that goes away mid-batch (its request cancelled) takes no other request's outputs."""
    started, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        started.set()
        release.wait(10)
        return [10 * item for item in items]

    async def scenario() -> tuple:
        batcher = Batcher(run, ThreadPoolExecutor(1), max_batch=8, window=0.2)
        requests = [asyncio.create_task(batcher.submit(items)) for items in ([1, 2], [3], [4, 5])]
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        requests[1].cancel()
        release.set()
        outputs = await asyncio.gather(*requests, return_exceptions=True)
        await batcher.stop()
        return outputs

    first, cancelled, third = asyncio.run(scenario())
    assert (list(first), list(third)) == ([10, 20], [40, 50]) and isinstance(cancelled, asyncio.CancelledError)


def test_a_lone_request_waits_the_window_and_the_log_counts_from_the_oldest(caplog):
    async def scenario() -> float:
        batcher = Batcher(lambda items: items, ThreadPoolExecutor(1), max_batch=8, window=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        first = asyncio.ensure_future(batcher.submit([1]))
        await asyncio.sleep(0.15)
        await asyncio.gather(first, batcher.submit([2]))  # joins the batch the first one opened
        await batcher.stop()
        return loop.time() - started

    with caplog.at_level("DEBUG", logger="polarity.server"):
        elapsed = asyncio.run(scenario())
    [line] = server_log(caplog)
    waited = float(re.fullmatch(r"batch of 2 items from 2 requests: [\d.]+ ms in the model, waited ([\d.]+) ms",
                                line).group(1))
    assert 0.28 <= elapsed and 280 <= waited <= 1000 * elapsed, line


def test_stopping_a_batcher_tells_every_waiting_request_why():
    """The request in the model call and the one queued behind it both get "the server is shutting down"."""
    started, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        started.set()
        release.wait(5)
        return items

    async def scenario() -> list:
        batcher = Batcher(run, ThreadPoolExecutor(1), max_batch=1, window=0.0)
        running = asyncio.ensure_future(batcher.submit([1]))
        while not started.is_set():
            await asyncio.sleep(0.005)
        queued = asyncio.ensure_future(batcher.submit([2]))
        await asyncio.sleep(0.01)
        await batcher.stop()
        release.set()
        return await asyncio.gather(running, queued, return_exceptions=True)

    for outcome in asyncio.run(scenario()):
        assert isinstance(outcome, RuntimeError) and str(outcome) == "the server is shutting down"


def test_batcher_gives_a_failed_call_to_every_request_in_it():
    def run(items):
        raise RuntimeError("boom")

    async def scenario() -> list:
        batcher = Batcher(run, ThreadPoolExecutor(1), window=0.05)
        results = await asyncio.gather(batcher.submit([1]), batcher.submit([2]), return_exceptions=True)
        again = await asyncio.gather(batcher.submit([3]), return_exceptions=True)  # the batcher lives on
        await batcher.stop()
        return results + again

    assert all(isinstance(r, RuntimeError) and str(r) == "boom" for r in asyncio.run(scenario()))


def test_a_replayed_body_comes_once_then_what_the_client_sends():
    """Middlewares that read the body hand it on with ``replay``: the body once, then the rest of the stream."""
    from polarity.server.errors import replay

    later = [{"type": "http.request", "body": b"cd", "more_body": False}, {"type": "http.disconnect"}]

    async def receive() -> dict:
        return later.pop(0)

    async def scenario() -> list[dict]:
        replayed = replay(b"ab", receive, more=True)
        return [await replayed() for _ in range(3)]

    assert asyncio.run(scenario()) == [{"type": "http.request", "body": b"ab", "more_body": True},
                                       {"type": "http.request", "body": b"cd", "more_body": False},
                                       {"type": "http.disconnect"}]


def test_valid_predictions_take_the_fast_path_and_get_what_the_route_gives(client, monkeypatch):
    """Well-formed /v1/predict requests are answered below FastAPI's layers (server/fastpath.py), byte for
    byte as the FastAPI route answers them (reached here through a JSON type the fast path leaves alone)."""
    from polarity.server.fastpath import PredictFastPath

    taken = []
    accept = PredictFastPath._accept
    monkeypatch.setattr(PredictFastPath, "_accept", lambda self, body: taken.append(accept(self, body)) or taken[-1])
    bodies = [{"texts": TEXTS}, {"texts": ["great"], "threshold": 0.9}, {"texts": TEXTS[:3], "model": "topics"},
              {"texts": ["Ça a été génial ✨, vraiment"], "model": "sentiment", "threshold": None}]
    for body in bodies:
        fast = client.post("/v1/predict", json=body)
        route = client.post("/v1/predict", content=json.dumps(body), headers={"content-type": "application/problem+json"})
        assert fast.status_code == route.status_code == 200
        assert fast.content == route.content
        assert fast.headers["content-type"] == route.headers["content-type"] == "application/json"
        assert fast.headers["content-length"] == route.headers["content-length"] == str(len(fast.content))
        assert set(fast.headers) == set(route.headers)
    assert len(taken) == len(bodies) and all(taken)


def test_a_model_call_shares_its_batch_out_in_groups_of_equal_length():
    from hypothesis import given, strategies as st

    from polarity.engine.batches import deal_by_length

    @given(st.lists(st.integers(1, 500), min_size=1, max_size=100), st.integers(1, 4))
    def check(lengths, workers):
        groups = [g for g in deal_by_length(lengths, workers) if len(g)]
        assert sorted(np.concatenate(groups).tolist()) == list(range(len(lengths)))
        totals = [sum(lengths[i] for i in group) for group in groups]
        assert len(groups) == min(workers, len(lengths))
        assert max(totals) - min(totals) <= max(lengths)  # shortest first, one to each group in turn

    check()


# -- limits and errors ------------------------------------------------------------------------------------
def test_limits(client):
    assert_error(client.post("/v1/predict", json={"texts": ["a"] * 257}), 422, "too_many_texts")
    assert client.post("/v1/predict", json={"texts": ["a"] * 256}).status_code == 200
    assert_error(client.post("/v1/predict", json={"texts": ["a" * 100_001]}), 422, "text_too_long")
    assert client.post("/v1/predict", json={"texts": ["a " * 50_000]}).status_code == 200
    assert_error(client.post("/v1/explain", json={"text": "b" * 100_001}), 422, "text_too_long")
    assert_error(client.post("/v1/explain", json={"text": "word " * 1001}), 422, "text_too_long")
    longest = client.post("/v1/explain", json={"text": "word " * 1000, "model": "topics"})
    assert longest.status_code == 200 and len(longest.json()["words"]) == 1000
    assert set(longest.json()) == {"model", "label", "explained_label", "probability", "probabilities", "words"}
    huge = json.dumps({"texts": ["x" * 90_000] * 94}).encode()  # 8.07 MiB of valid JSON
    assert_error(client.post("/v1/predict", content=huge, headers={"content-type": "application/json"}),
                 413, "payload_too_large")


def test_body_limit_also_applies_to_a_body_without_content_length(models):
    app = create_app([models / "sentiment"], max_body_bytes=1000)
    with TestClient(app) as client:
        wait_ready(client)
        chunks = (b'{"texts": ["' + b"a" * 600, b"a" * 600 + b'"]}')
        response = client.post("/v1/predict", content=iter(chunks), headers={"content-type": "application/json"})
        assert_error(response, 413, "payload_too_large")
        assert_error(client.post("/v1/predict", json={"texts": ["a" * 2000]}), 413, "payload_too_large")


def test_body_limit_counts_every_chunk_of_a_streamed_body():
    """The ASGI messages of a body sent in parts (as uvicorn gives a chunked upload): their sum is limited."""
    from polarity.server.errors import BodyLimitMiddleware

    async def app(scope, receive, send) -> None:
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def post(*parts: bytes) -> int:
        messages = [{"type": "http.request", "body": part, "more_body": i < len(parts) - 1} for i, part in enumerate(parts)]
        sent: list[dict] = []

        async def receive() -> dict:
            return messages.pop(0)

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/predict", "headers": []}
        await BodyLimitMiddleware(app, max_bytes=1000)(scope, receive, send)
        return sent[0]["status"]

    seen: list[bytes] = []
    assert asyncio.run(post(b"a" * 600, b"b" * 600)) == 413 and seen == []
    assert asyncio.run(post(b"a" * 400, b"b" * 400, b"c" * 200)) == 200 and seen == [b"a" * 400 + b"b" * 400 + b"c" * 200]


@pytest.mark.parametrize(("body", "status", "code"), [
    (b'{"texts": ["a"', 400, "invalid_json"),
    (b'{"texts": ["caf\xe9"]}', 400, "invalid_json"),  # Latin-1, not UTF-8
    (b'{"texts": "one string"}', 422, "invalid_request"),
    (b'{"texts": [1, 2]}', 422, "invalid_request"),
    (b'{"texts": [null]}', 422, "invalid_request"),
    (b'{}', 422, "invalid_request"),
    (b'[]', 422, "invalid_request"),
    (b'{"texts": ["a"], "txt": 1}', 422, "invalid_request"),
    (b'{"texts": ["a"], "threshold": 1.5}', 422, "invalid_request"),
    (b'{"texts": ["a"], "threshold": NaN}', 422, "invalid_request"),
    (b'{"texts": ["a"], "threshold": "high"}', 422, "invalid_request"),
    (b'{"texts": ["a"], "model": 3}', 422, "invalid_request"),
    (b'{"texts": ["\\ud800"]}', 422, "invalid_request"),  # a lone surrogate is no Unicode text
    (b'{"texts": ["a"], "model": "nope"}', 404, "model_not_found"),
    (b'{"texts": ["a"], "model": ""}', 404, "model_not_found"),  # only a missing or null name means the default
    (b'{"texts": ["a"], "model": "../sentiment"}', 404, "model_not_found"),
    (b'{"texts": ["a"], "model": "topics", "threshold": 0.5}', 422, "invalid_threshold"),
])
def test_bad_requests_get_json_errors(client, body, status, code):
    response = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert_error(response, status, code)


def test_a_model_name_is_at_most_200_characters(client):
    assert_error(client.post("/v1/predict", json={"texts": ["a"], "model": "m" * 201}), 422, "invalid_request")
    assert_error(client.post("/v1/predict", json={"texts": ["a"], "model": "m" * 200}), 404, "model_not_found")
    assert_error(client.post("/v1/explain", json={"text": "a", "model": "m" * 201}), 422, "invalid_request")


def test_an_unknown_name_of_the_server_package_is_named_in_its_error():
    import polarity.server

    with pytest.raises(AttributeError, match="create_ap$"):
        polarity.server.create_ap  # noqa: B018


@pytest.mark.parametrize(("body", "content_type", "status", "message"), [
    (b'{"texts": ["a"', "application/json", 400, "the body is not valid JSON: Expecting ',' delimiter at position 14"),
    (b'{"texts": ["caf\xe9"]}', "application/json", 400, "the body is not valid UTF-8 JSON"),
    (b'{"texts": "one string"}', "application/json", 422, "texts: Input should be a valid list"),
    (b'{}', "application/json", 422, "texts: Field required"),
    (b'[]', "application/json", 422, "body: Input should be a valid dictionary or object to extract fields from"),
    (b'{"texts": ["a"], "threshold": 1.5}', "application/json", 422, "threshold: Input should be less than or equal to 1"),
    (b'{"texts": [1, 2, 3, 4, 5]}', "application/json", 422,
     "; ".join(f"texts.{i}: Input should be a valid string" for i in range(5))),  # five: all of them
    (b'{"texts": [1, 2, 3, 4, 5, 6]}', "application/json", 422,
     "; ".join(f"texts.{i}: Input should be a valid string" for i in range(5)) + " (and 1 more)"),
    (b'{"texts": ["a"]}', "text/plain", 422,
     "the body must be a JSON object sent as Content-Type: application/json (got text/plain)"),
    (b'{"texts": ["a"]}', None, 422,
     "the body must be a JSON object sent as Content-Type: application/json (got no Content-Type)"),
    (b'{"texts": ["ok", "\\ud800"]}', "application/json", 422,
     "texts.1: Input should be a valid string, unable to parse raw data as a unicode string"),
])
def test_error_messages_name_the_field_and_the_reason(client, body, content_type, status, message):
    headers = {"content-type": content_type} if content_type else {}
    error = assert_error(client.post("/v1/predict", content=body, headers=headers), status,
                         "invalid_json" if status == 400 else "invalid_request")
    assert error["message"] == message


def test_an_unknown_model_is_named_with_the_models_served(client):
    error = assert_error(client.post("/v1/predict", json={"texts": ["a"], "model": "nope"}), 404, "model_not_found")
    assert error["message"] == "no model named 'nope'; models: sentiment, topics"


def test_an_unexpected_error_is_a_logged_500_that_names_only_its_type(client, monkeypatch, caplog):
    from polarity.server.registry import ServedModel

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a secret detail")

    monkeypatch.setattr(ServedModel, "classify", broken)
    with caplog.at_level("ERROR", logger="polarity.server"):
        error = assert_error(client.post("/v1/predict", json={"texts": ["great"]}), 500, "internal_error")
    assert error["message"] == "unexpected error: ZeroDivisionError"
    [record] = [r for r in caplog.records if r.name == "polarity.server"]
    assert record.getMessage() == "unexpected error on POST /v1/predict"
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError  # the traceback goes to the log only


def test_a_library_error_is_a_422_with_its_message(client, monkeypatch):
    from polarity.server.registry import ServedModel

    def refuse(*args, **kwargs):
        raise PolarityError("the text is in no language this model knows")

    monkeypatch.setattr(ServedModel, "classify", refuse)
    error = assert_error(client.post("/v1/predict", json={"texts": ["great"]}), 422, "invalid_input")
    assert error["message"] == "the text is in no language this model knows"


def test_other_errors_are_json_too(client):
    assert_error(client.post("/v1/predict", content=b'{"texts": ["a"]}'), 422, "invalid_request")  # no Content-Type
    assert_error(client.post("/v1/explain", json={"text": "!!! ..."}), 422, "invalid_input")  # a PolarityError
    assert_error(client.post("/v1/explain", json={"text": "a", "model": "nope"}), 404, "model_not_found")
    assert_error(client.post("/v1/explain", json={"texts": ["a"]}), 422, "invalid_request")
    assert_error(client.get("/v1/nothing"), 404, "not_found")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")


# -- API key ----------------------------------------------------------------------------------------------
def test_api_key_protects_the_api_only(models):
    with TestClient(create_app([models / "sentiment"], api_key="s3cret")) as client:
        wait_ready(client)
        for method, path, body in (("POST", "/v1/predict", {"texts": ["great"]}), ("POST", "/v1/explain", {"text": "great"}),
                                   ("GET", "/v1/models", None)):
            response = client.request(method, path, json=body)
            assert_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
            assert assert_error(response, 401, "unauthorized")["message"] == "missing API key: send Authorization: Bearer KEY"
            for token in ("s3cre", "s3cretx", "S3CRET"):  # shorter, longer, another case: the key exactly or nothing
                wrong = client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
                assert assert_error(wrong, 401, "unauthorized")["message"] == "wrong API key"
            right = client.request(method, path, json=body, headers={"Authorization": "Bearer s3cret"})
            assert right.status_code == 200, right.text
        for given in ("Basic s3cret", "s3cret", "Bearer", "Bearers3cret"):  # not the bearer scheme
            error = assert_error(client.get("/v1/models", headers={"Authorization": given}), 401, "unauthorized")
            assert error["message"].startswith("missing API key"), given
        for scheme in ("bearer", "BEARER"):  # scheme names are case-insensitive (RFC 9110, 11.1)
            assert client.get("/v1/models", headers={"Authorization": f"{scheme} s3cret"}).status_code == 200
        assert_error(client.post("/v1/predict", content=b"{", headers={"content-type": "application/json"}), 401,
                     "unauthorized")  # before the body is even read
        for path in ("/healthz", "/readyz", "/", "/static/app.js", "/openapi.json"):
            assert client.get(path).status_code == 200, path
        assert "HTTPBearer" in client.get("/openapi.json").json()["components"]["securitySchemes"]


# -- command line -----------------------------------------------------------------------------------------
def serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="polarity")
    add_serve_parser(parser.add_subparsers(dest="command"), argparse.ArgumentParser(add_help=False))
    return parser.parse_args(["serve", *argv])


def test_serve_command_line(models, monkeypatch):
    monkeypatch.delenv("POLARITY_API_KEY", raising=False)
    args = serve_args(str(models / "sentiment"), str(models / "topics"))
    settings = settings_from_args(args)
    assert (settings.host, settings.port, settings.workers, settings.api_key) == ("127.0.0.1", 8000, 1, None)
    assert settings.url == "http://127.0.0.1:8000/" and args.handler.__name__ == "cmd_serve"
    ipv6 = settings_from_args(serve_args(str(models / "topics"), "--host", "::1", "--port", "8080"))
    assert ipv6.url == "http://[::1]:8080/"  # an IPv6 address in brackets, as URLs write it (RFC 3986)
    assert settings.models == [str((models / "sentiment").resolve()), str((models / "topics").resolve())]
    monkeypatch.setenv("POLARITY_API_KEY", "from-env")
    assert settings_from_args(args).api_key == "from-env"
    assert settings_from_args(serve_args(str(models / "topics"), "--api-key", "flag")).api_key == "flag"
    with pytest.raises(PolarityError, match="not a polarity model folder"):
        settings_from_args(serve_args(str(models / "missing")))
    folder = (models / "sentiment").resolve()
    with pytest.raises(PolarityError, match=re.escape(f"two models named 'sentiment' ({folder} and {folder}): models are "
                                                      "served under their folder names, rename one")):
        settings_from_args(serve_args(str(models / "sentiment"), str(models / "sentiment")))
    with pytest.raises(PolarityError, match="^no model folder given$"):
        create_app([])
    with pytest.raises(PolarityError, match="--workers"):
        settings_from_args(serve_args(str(models / "topics"), "--workers", "0"))
    for flag, value in (("--max-batch", "0"), ("--batch-window-ms", "-1"), ("--port", "65536"),
                        ("--max-batch", "4097"), ("--batch-window-ms", "1000.5"), ("--port", "-1")):
        with pytest.raises(PolarityError, match=f"^{flag} "):
            settings_from_args(serve_args(str(models / "topics"), flag, value))
    edges = serve_args(str(models / "topics"), "--max-batch", "4096", "--batch-window-ms", "0", "--port", "0")
    settings = settings_from_args(edges)  # each range takes its edge: no waiting for a batch, any free port
    assert (settings.max_batch, settings.batch_window_ms, settings.port) == (4096, 0, 0)


def test_serve_warns_when_other_machines_can_reach_it_without_a_key(models, monkeypatch, capsys):
    import uvicorn

    from polarity.server.settings import API_KEY_ENV, CONFIG_ENV

    monkeypatch.setenv(CONFIG_ENV, "")  # cmd_serve sets both for uvicorn's workers; restored after the test
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **options: started.append(options))
    warned = {}
    for host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "192.168.1.20"):
        args = serve_args(str(models / "topics"), "--host", host)
        assert args.handler(args) == 0
        out, err = capsys.readouterr()
        assert out.startswith("polarity: serving topics at http://") and "no API key" in out
        warned[host] = err == f"polarity: warning: {host} is reachable from other machines and no API key is set\n"
    assert warned == {"127.0.0.1": False, "localhost": False, "::1": False, "0.0.0.0": True, "192.168.1.20": True}
    assert [options["host"] for options in started] == list(warned)


def test_each_server_process_gets_its_share_of_the_cores(models, monkeypatch):
    import polarity.cli.serve as serve

    monkeypatch.setattr(serve, "available_cores", lambda: 4)
    shares = {workers: settings_from_args(serve_args(str(models / "topics"), "--workers", str(workers))).threads
              for workers in (1, 2, 3, 8)}
    assert shares == {1: None, 2: 2, 3: 1, 8: 1}  # one process: PyTorch's own count; more: at least one core each


def test_each_uvicorn_worker_builds_the_app_the_command_line_describes(models, monkeypatch, thread_settings_kept):
    """`polarity serve` hands its settings to uvicorn's workers through the environment; a worker's app
    serves those models with those options and that API key."""
    import gc

    from polarity.engine.threads import available_cores
    from polarity.server.app import app_from_env
    from polarity.server.settings import API_KEY_ENV, CONFIG_ENV

    settings = settings_from_args(serve_args(str(models / "topics"), str(models / "sentiment"), "--max-batch", "7",
                                             "--batch-window-ms", "20", "--workers", "2", "--api-key", "k3y",
                                             "--backend", "onnxruntime"))
    monkeypatch.setenv(CONFIG_ENV, settings.worker_config())
    monkeypatch.setenv(API_KEY_ENV, settings.api_key)
    assert "k3y" not in settings.worker_config()  # the key travels in its own variable
    try:
        app = app_from_env()
        served = app.state.models
        cores = max(1, available_cores() // 2)  # each of the 2 workers gets its share of the cores
        assert (served.max_batch, served.window, served.cores) == (7, 0.02, cores)
        with TestClient(app) as client:
            wait_ready(client)
            assert {m.predictor.backend.name for m in served.loaded.values()} == {"onnxruntime"}
            assert client.get("/readyz").json()["models"] == ["topics", "sentiment"]
            assert client.get("/v1/models").status_code == 401
            key = {"Authorization": "Bearer k3y"}
            answer = client.post("/v1/predict", json={"texts": ["a dull scene"]}, headers=key).json()
            assert answer["model"] == "topics" and answer["results"][0]["label"] == "films"
    finally:
        gc.unfreeze()


# -- a real server ----------------------------------------------------------------------------------------
def test_sigterm_finishes_the_request_in_flight(models, tmp_path):
    """SIGTERM while a request's body is still arriving: the server waits, answers it in full, then exits."""
    release = threading.Event()
    outcome: dict = {}

    def slow_body():
        yield b'{"texts": ["A wonderful film, the actors were brilliant.", '
        release.wait(20)
        yield b'"An awful film, the plot was boring."]}'

    with ServerProcess([models / "sentiment"], args=["--log-level", "info"], log=tmp_path / "server.log") as server:
        def send() -> None:
            with httpx.Client(timeout=30) as client:
                outcome["response"] = client.post(server.url + "v1/predict", content=slow_body(),
                                                  headers={"content-type": "application/json"})

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)  # the request has started: headers and the first chunk are in
        server.terminate()
        time.sleep(0.5)
        assert server.process.poll() is None, "the server quit with a request in flight"
        release.set()
        sender.join(30)
        assert server.process.wait(30) in (0, -15)  # uvicorn re-raises SIGTERM once it has shut down
    response = outcome["response"]
    assert response.status_code == 200
    assert [r["label"] for r in response.json()["results"]] == ["positive", "negative"]
    log = (tmp_path / "server.log").read_text()
    assert "serving sentiment at http://127.0.0.1:" in log and "Shutting down" in log


def test_a_server_process_that_cannot_start_says_why(tmp_path):
    log = tmp_path / "server.log"
    log.write_bytes(b"an earlier run's line, not UTF-8: \xff\n")  # the tail is still shown
    with pytest.raises(RuntimeError, match=r"^the server exited with code 1:\n.*\ufffd\npolarity: error: .*missing "
                       r"is not a polarity model folder"):
        ServerProcess([tmp_path / "missing"], log=log).start()
    with pytest.raises(RuntimeError, match=r"^the server exited with code 1$"):  # no log file: no tail
        ServerProcess([tmp_path / "missing"]).start()


def test_a_server_process_gets_its_environment_and_stops_with_its_exit_code(models):
    """The child sees ``env`` (here an API key), output may go nowhere, and stopping returns the exit code."""
    assert all(1024 <= free_port() <= 65535 for _ in range(5))  # an unprivileged port
    server = ServerProcess([models / "topics"], env={"POLARITY_API_KEY": "k3y"})
    assert server.stop() is None  # never started
    server.terminate()
    with server:
        url = server.url + "v1/models"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer k3y"}).status_code == 200
    assert server.process.returncode in (0, -15)
    assert server.stop() == server.process.returncode  # stopping twice is harmless


def test_a_server_process_not_ready_in_time_is_stopped(models, tmp_path):
    server = ServerProcess([models / "topics"], log=tmp_path / "server.log", timeout=0.3)
    with pytest.raises(RuntimeError, match=r"^the server was not ready within 0 s"):
        server.start()
    assert server.process.poll() is not None  # stopped, not left running


def test_the_onnxruntime_backend_serves_what_the_predictor_gives(models):
    pytest.importorskip("onnxruntime")
    predictor = Predictor.load(models / "sentiment")
    app = create_app([models / "sentiment"], backend="onnxruntime", cores=2)
    with TestClient(app) as client:
        wait_ready(client)
        body = client.post("/v1/predict", json={"texts": TEXTS}).json()
        assert app.state.models.loaded["sentiment"].predictor.backend.name == "onnxruntime"
    for served, text in zip(body["results"], TEXTS):
        reference = alone(predictor, text)
        assert served["label"] == reference["label"] and served.get("warning") == reference.get("warning")
        assert served["probabilities"] == pytest.approx(reference["probabilities"], abs=1e-5)
