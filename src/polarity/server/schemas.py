"""Request and response bodies of the HTTP API (pydantic), so that /openapi.json describes all of it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXTS = 256  # texts per /v1/predict request (also the largest batch a request brings)
MAX_CHARS = 100_000  # characters per text
MAX_BODY_BYTES = 8 * 1024 * 1024  # request body (413 above)
MAX_EXPLAIN_WORDS = 1_000  # words of one /v1/explain text: occlusion runs the model once per word

Label = Annotated[str | int, Field(description="a label as in the training data (string or integer)")]


# pydantic refuses lone surrogates ("\ud800" in JSON): not Unicode text, and not encodable as UTF-8.
Text = Annotated[str, Field(max_length=MAX_CHARS)]


def _model_field() -> Any:
    return Field(default=None, max_length=200,
                 description="a model name from GET /v1/models; default: the first model served")


class PredictRequest(BaseModel):
    """Texts to classify with one model."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"texts": ["A wonderful film, the cast is superb.", "Two hours I will never get back."]}]})

    texts: list[Text] = Field(max_length=MAX_TEXTS, description=f"up to {MAX_TEXTS} texts of up to {MAX_CHARS:,} "
                              "characters each")
    model: str | None = _model_field()
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False,
                                    description="two-label models only: choose the second label when its "
                                    "probability is at least this (default 0.5)")


class PredictionResult(BaseModel):
    """One text's result: ``Predictor.classify(...)[i].to_dict()`` without the text."""

    label: Label
    score: float = Field(description="the probability of the chosen label")
    probabilities: dict[str, float] = Field(description="the probability of every label, in the model's order")
    warning: str | None = Field(default=None, description="only where the text is empty or has no known word")


class PredictResponse(BaseModel):
    model: str = Field(description="the model that answered")
    results: list[PredictionResult] = Field(description="one result per text, in the order of the request")


class ExplainRequest(BaseModel):
    """One text to explain word by word."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "The first half drags, but the performances are superb."}]})

    text: Text = Field(description=f"up to {MAX_CHARS:,} characters and {MAX_EXPLAIN_WORDS:,} words")
    model: str | None = _model_field()


class WordContribution(BaseModel):
    word: str
    contribution: float = Field(description="the drop in the explained label's probability without this word")
    read: bool = Field(description="false for words the model never reads (cut off by its maxlen)")
    known: bool = Field(description="whether the word is in the model's vocabulary")


class ExplainResponse(BaseModel):
    """``polarity.inference.explore.explain`` without the text, plus the model's name."""

    model: str
    label: Label = Field(description="the predicted label")
    explained_label: Label = Field(description="the label whose probability the contributions explain")
    probability: float = Field(description="the explained label's probability for the whole text")
    probabilities: dict[str, float]
    words: list[WordContribution]


class ModelInfo(BaseModel):
    name: str = Field(description="the model folder's name; the value of `model` in requests")
    recipe: str = Field(description="the recipe the model was trained with")
    labels: list[Label]
    default: bool = Field(description="answers requests that name no model")
    metrics_split: str | None = Field(description="the split the metrics are measured on (test, else valid)")
    metrics: dict[str, Any] | None = Field(description="that split's metrics from the folder's metrics.json")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    models: list[str]


class ErrorDetail(BaseModel):
    code: str = Field(description="a stable machine-readable code, e.g. too_many_texts")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
