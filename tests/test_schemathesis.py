"""Schemathesis against the HTTP service's own OpenAPI schema, in-process (ASGI): generated requests to
every operation, valid and invalid; no response is a server error (5xx other than the documented 503
before the models load, which cannot happen here: the tests wait for /readyz), and every response
conforms to the schema (status code, content type, body). The same with an API key: without it or with
a wrong one a documented 401, with it the same answers. The last test prints the requests sent per
operation (``-s``) and writes them to ``schemathesis-counts.json`` in pytest's base temporary folder.

Not through Schemathesis's own pytest integration (``schemathesis.pytest.from_fixture``): with pytest 9
it fails at collection (``'Function' object has no attribute '_nodeid'``, Schemathesis 4.32.5); each
operation's Hypothesis strategy is driven here instead."""

from __future__ import annotations

import time
from collections import Counter

import pytest

pytest.importorskip("fastapi", reason="the serve extra (FastAPI, uvicorn, httpx) is not installed")
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -e '.[test]')")

import torch
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from polarity.server import create_app

from conftest import report_counts

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def model_dir(tiny_model):
    subnormals_back()
    return tiny_model


@pytest.fixture(scope="module")
def app(model_dir):
    return create_app([model_dir])


def subnormals_back() -> None:
    """polarity flushes subnormal floats to zero in the threads that run its models (and on import of
    polarity.models); Hypothesis refuses to generate floats in a thread that does (FloatingPointError)."""
    torch.set_flush_denormal(False)


@pytest.fixture(scope="module")
def session(app):
    with ASGIClient(app) as session:
        yield session


def ready(session: ASGIClient) -> ASGIClient:
    """The in-process client, the models loaded: Schemathesis's pytest plugin ends an ASGI app's lifespan
    after every test (unloading the models), and the next request starts it again."""
    deadline = time.monotonic() + 30
    while session.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the models did not load"
        time.sleep(0.02)
    return session


@pytest.fixture
def client(session):
    return ready(session)


OPERATIONS = [("POST", "/v1/predict"), ("POST", "/v1/explain"), ("GET", "/v1/models"), ("GET", "/healthz"),
              ("GET", "/readyz")]
EXAMPLES = {"positive": 150, "negative": 150}  # per operation and mode (at most: a GET without input has one)
COUNTS: Counter = Counter()  # "METHOD /path (mode)" -> requests sent


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_tried(api_schema):
    found = {(result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"),
                         [(m, p, "positive") for m, p in OPERATIONS] + [(m, p, "negative") for m, p in OPERATIONS
                                                                         if m == "POST"])  # a GET has no input
def test_no_server_error_and_responses_match_the_schema(api_schema, client, method, path, mode):
    """Positive mode: requests valid by the schema; negative mode: requests that break it (bad types,
    missing fields, wrong content), which must be refused with a documented 4xx, not a 500."""
    subnormals_back()
    operation = api_schema[path][method]
    strategy = operation.as_strategy(generation_mode=GenerationMode(mode))
    seen = []

    @given(case=strategy)
    @settings(max_examples=EXAMPLES[mode], suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        seen.append(case)
        COUNTS[f"{method} {path} ({mode})"] += 1
        try:
            case.call_and_validate(session=client, checks=CHECKS)
        finally:
            subnormals_back()

    run()
    assert seen


KEY = "s3cret-key"


@pytest.fixture(scope="module")
def keyed_app(model_dir):
    return create_app([model_dir], api_key=KEY)


@pytest.mark.parametrize("auth", ["none", "wrong", "right"])
@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if op[1].startswith("/v1/")])
def test_with_an_api_key_every_answer_is_documented(keyed_app, method, path, auth):
    """An app with an API key: without the key or with a wrong one, a documented 401 (never a 500);
    with it, the same answers as without a key."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", keyed_app)
    subnormals_back()
    headers = {"none": {}, "wrong": {"Authorization": "Bearer nope"}, "right": {"Authorization": f"Bearer {KEY}"}}[auth]
    with ASGIClient(keyed_app) as session:
        ready(session)
        seen = []

        @given(case=schema[path][method].as_strategy())
        @settings(max_examples=25, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            seen.append(case)
            COUNTS[f"{method} {path} (key: {auth})"] += 1
            try:
                response = case.call_and_validate(session=session, headers=headers, checks=CHECKS)
            finally:
                subnormals_back()
            assert (response.status_code == 401) == (auth != "right"), response.text

        run()
    assert seen


def test_zz_count_of_requests(tmp_path_factory):
    """Runs last (file order): the requests sent per operation and mode, for the docs."""
    report_counts(tmp_path_factory, "schemathesis-counts", COUNTS, "requests per operation", 35)
    print(f"  {'total':<35}{sum(COUNTS.values()):>6}")
