"""Scoring on Spark (local[2]) and Ray (a local cluster): the probabilities of Predictor, the input's
columns kept, the output columns of `polarity predict --output`, empty partitions, one-line errors."""

import contextlib
import os
import shutil
import signal
import sys

import numpy as np
import pandas as pd
import pytest

from polarity.cli import main
from polarity.errors import ConfigError, PolarityError
from polarity.inference import Predictor
from polarity.integrations import frames

from conftest import synthetic_reviews

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")  # Ray's own settings
engine = pytest.mark.slow  # the tests that start Spark or Ray: left out of mutation runs

TEXTS = synthetic_reviews(12, True, 21) + ["", "qqq zzz", "Not bad at all."] + synthetic_reviews(12, False, 22)
ADDED = ["pred_label", "pred_score", "prob_negative", "prob_positive", "pred_warning"]


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return pd.DataFrame({"id": np.arange(len(TEXTS), dtype="int64"), "review": TEXTS,
                         "stars": [float(i % 5) for i in range(len(TEXTS))]})


@pytest.fixture(scope="module")
def expected(tiny_model) -> pd.DataFrame:
    """What the model says of TEXTS in memory, with Predictor itself."""
    predictor = Predictor.load(tiny_model)
    results = predictor.classify(TEXTS)
    probs = predictor.predict_proba(TEXTS)
    return pd.DataFrame({"pred_label": [r.label for r in results], "prob_negative": probs[:, 0],
                         "prob_positive": probs[:, 1], "pred_warning": [r.warning or "" for r in results]})


def check_scores(scored: pd.DataFrame, reviews: pd.DataFrame, expected: pd.DataFrame) -> None:
    """``scored`` (any row order) holds the input's columns unchanged, then the prediction columns,
    with the probabilities of Predictor.predict_proba to 1e-6."""
    assert list(scored.columns) == [*reviews.columns, *ADDED]
    scored = pd.DataFrame({name: scored[name].tolist() for name in scored.columns})  # Ray's pyarrow dtypes: plain
    scored = scored.sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(scored[list(reviews.columns)], reviews, check_dtype=False)
    probs = scored[["prob_negative", "prob_positive"]].to_numpy()
    np.testing.assert_allclose(probs, expected[["prob_negative", "prob_positive"]].to_numpy(), atol=1e-6, rtol=0)
    assert scored["pred_label"].tolist() == expected["pred_label"].tolist()
    np.testing.assert_allclose(scored["pred_score"], probs.max(axis=1), atol=1e-6, rtol=0)
    assert scored["pred_warning"].tolist() == expected["pred_warning"].tolist()


def assert_one_line(error: pytest.ExceptionInfo, *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words), message


@contextlib.contextmanager
def signal_handlers_kept():
    """SparkContext and ray.init install SIGINT and SIGTERM handlers that outlive them: the tests
    after these get the process's own back."""
    kept = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


# -- without the engines -----------------------------------------------------------------------------------
def test_a_pandas_batch_gets_the_predictor_scores(tiny_model, reviews, expected):
    job = frames.plan_job(tiny_model, list(reviews.columns), None, threads=None, batch_size=7, threshold=None,
                          where="the batch")
    assert job.text_column == "review" and job.columns == ADDED
    check_scores(frames.score_frame(reviews, job), reviews, expected)
    empty = frames.score_frame(reviews.iloc[:0], job)
    assert list(empty.columns) == [*reviews.columns, *ADDED] and len(empty) == 0
    shuffled = reviews.sample(frac=1.0, random_state=0)  # rows keep their index labels, out of order
    check_scores(frames.score_frame(shuffled, job), reviews, expected)


@pytest.mark.parametrize("change, words", [
    ({"threshold": 1.5}, ["threshold"]),
    ({"threads": 0}, ["threads must be a positive integer, got 0"]),
    ({"batch_size": 0}, ["batch_size must be a positive integer, got 0"]),
    ({"text_column": "body"}, ["the batch: no column 'body'"]),
])
def test_a_scoring_job_is_checked_before_any_worker_runs(tiny_model, reviews, change, words):
    options = {"threads": None, "batch_size": 7, "threshold": None, "text_column": None, **change}
    with pytest.raises(PolarityError) as error:
        frames.plan_job(tiny_model, list(reviews.columns), where="the batch", **options)
    assert_one_line(error, *words)


def test_a_scoring_job_without_a_text_column_says_where_and_keeps_its_threads(tiny_model, reviews):
    with pytest.raises(PolarityError) as error:
        frames.plan_job(tiny_model, ["stars"], None, threads=2, batch_size=7, threshold=None, where="the batch")
    assert_one_line(error, "the batch: no text column found among ['stars']", "--text-column")
    job = frames.plan_job(tiny_model, list(reviews.columns), None, threads=2, batch_size=7, threshold=None, where="x")
    assert job.threads == 2


def test_each_process_loads_a_folder_once(tiny_model):
    first = frames.predictor_for(str(tiny_model), threads=None)
    assert frames.predictor_for(str(tiny_model), threads=None) is first
    assert frames.LOADS[str(tiny_model)] == 1


def test_the_label_column_is_integer_only_when_every_label_is_one():
    from polarity.inference.predictor import Prediction

    def labels_of(labels: tuple, predicted: list) -> pd.Series:
        job = frames.ScoringJob(model="m", text_column="text", labels=labels)
        results = [Prediction("t", label, 0.9, {str(k): 0.5 for k in labels}) for label in predicted]
        return frames.prediction_series(results, job)[0]

    assert labels_of((0, 1), [1, 0]).tolist() == [1, 0] and labels_of((0, 1), [1, 0]).dtype == "int64"
    mixed = labels_of((3, "other"), [3, "other"])  # ints sort before strings in a mixed label set
    assert mixed.tolist() == ["3", "other"] and mixed.dtype == object


def test_a_worker_runs_the_jobs_thread_count(tiny_model, thread_settings_kept):
    import torch

    for count in (1, 2, 1):  # up and down from whatever the process had
        frames.predictor_for(str(tiny_model), threads=count)
        assert torch.get_num_threads() == count
    frames.predictor_for(str(tiny_model), threads=None)  # None: PyTorch's setting is left alone
    assert torch.get_num_threads() == 1


def test_the_engine_command_reads_formats_from_names_and_folders(tmp_path):
    from polarity.cli.engines import input_format_of, output_format_of

    assert [output_format_of(name) for name in ("scored.csv", "scored.CSV", "scored", "scored.parquet")] == [
        "csv", "csv", "parquet", "parquet"]
    parts = tmp_path / "parts"
    parts.mkdir()
    for name in ("part-0.CSV", "part-1.csv", "_SUCCESS", ".part-0.csv.crc"):  # an engine's markers are not data
        (parts / name).write_text("text\nfine\n")
    assert input_format_of(str(parts)) == "csv" and input_format_of("in.Parquet") == "parquet"
    (parts / "more.parquet").write_bytes(b"")
    with pytest.raises(PolarityError, match="a folder of .parquet or of .csv files"):
        input_format_of(str(parts))  # both kinds: which one was meant?


def test_each_engine_task_runs_one_pytorch_thread_unless_told(tiny_model, tmp_path, monkeypatch,
                                                             thread_settings_kept):
    import polarity.integrations.spark as spark

    calls = []
    monkeypatch.setattr(spark, "score_files", lambda *args, **options: calls.append(options))
    source = tmp_path / "in.csv"
    source.write_text("text\nfine\n")
    for n, flags in enumerate(([], ["--threads", "2"])):  # --threads also sets this process's count
        argv = [*flags, "predict", str(tiny_model), "--engine", "spark", "--file", str(source),
                "--output", str(tmp_path / f"out{n}.csv")]
        assert main(argv) == 0
    assert [options["threads"] for options in calls] == [1, 2]


def test_a_jobs_threshold_moves_the_scored_labels(tiny_model, reviews):
    job = frames.plan_job(tiny_model, list(reviews.columns), None, threads=None, batch_size=7, threshold=0.99,
                          where="the batch")
    scored = frames.score_frame(reviews, job)
    predictor = Predictor.load(tiny_model)
    assert scored["pred_label"].tolist() == predictor.predict(TEXTS, threshold=0.99)
    assert scored["pred_label"].tolist() != predictor.predict(TEXTS)  # the threshold changed some labels


def test_ray_runs_one_actor_per_threads_cpus_leaving_one_cpu(monkeypatch):
    import types

    from polarity.integrations.ray import default_concurrency

    for cpus, threads, actors in ((8, None, 7), (8, 1, 7), (8, 2, 3), (9, 4, 2), (1, None, 1), (2, 4, 1)):
        fake = types.SimpleNamespace(cluster_resources=lambda cpus=cpus: {"CPU": float(cpus)})
        monkeypatch.setitem(sys.modules, "ray", fake)
        assert default_concurrency(threads) == actors, (cpus, threads)


def test_ray_takes_every_arrow_text_type_and_refuses_the_others_before_the_job():
    import pyarrow as pa

    from polarity.integrations.ray import _check_text_type

    texts = [pa.string(), pa.large_string(), pa.null()] + ([pa.string_view()] if hasattr(pa, "string_view") else [])
    for kind in texts:
        _check_text_type("review", kind)  # no error
    _check_text_type("review", object)  # a type Ray does not give in Arrow terms: left to the workers
    for kind in (pa.int64(), pa.float64(), pa.binary(), pa.list_(pa.string())):
        with pytest.raises(PolarityError) as error:
            _check_text_type("review", kind)
        assert str(error.value) == f"the text column 'review' holds {kind}, not text (string)"


def test_without_the_extra_the_error_says_what_to_install(tiny_model, reviews, monkeypatch):
    from polarity.integrations.ray import score_ray
    from polarity.integrations.spark import score_spark

    monkeypatch.setitem(sys.modules, "pyspark.sql.types", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(ConfigError) as spark_error:
        score_spark(reviews, tiny_model)
    assert_one_line(spark_error, 'pip install "polarity[spark]"')
    with pytest.raises(ConfigError) as ray_error:
        score_ray(reviews, tiny_model)
    assert_one_line(ray_error, 'pip install "polarity[ray]"')


# -- Spark, local[2] -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark.sql", reason="the spark extra is not installed")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (Debian: apt-get install default-jre-headless); none found")
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as patch, signal_handlers_kept():
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        session = (SparkSession.builder.master("local[2]").appName("polarity-tests")
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "2").getOrCreate())
        session.sparkContext.setLogLevel("OFF")  # the failing jobs below would print executor traces
        yield session
        session.stop()


@engine
def test_spark_scores_equal_the_predictors(spark, tiny_model, reviews, expected):
    from polarity.integrations.spark import score_spark

    df = spark.createDataFrame(reviews).repartition(3)
    scored = score_spark(df, tiny_model)
    assert scored.columns == [*reviews.columns, *ADDED]
    check_scores(scored.toPandas(), reviews, expected)


@engine
def test_spark_loads_the_folder_once_per_worker_process(spark, tiny_model, reviews):
    from polarity.integrations.spark import score_spark

    score_spark(spark.createDataFrame(reviews).repartition(8), tiny_model, batch_size=4).collect()
    folder = str(tiny_model.absolute())

    def loads(batches):  # runs in the same pool of Python workers as the scoring
        for _ in batches:
            yield pd.DataFrame({"pid": [os.getpid()], "loads": [frames.LOADS[folder]]})

    counts = spark.range(0, 8, numPartitions=8).mapInPandas(loads, "pid long, loads long").toPandas()
    assert counts["loads"].max() == 1 and counts["loads"].min() >= 0, counts


@engine
def test_spark_empty_partitions_and_frames(spark, tiny_model, reviews):
    from polarity.integrations.spark import score_spark

    two = spark.createDataFrame(reviews.head(2)).repartition(4)
    assert score_spark(two, tiny_model).count() == 2
    empty = score_spark(spark.createDataFrame([], "id long, text string"), tiny_model).toPandas()
    assert list(empty.columns) == ["id", "text", *ADDED] and len(empty) == 0


@engine
def test_spark_ships_the_folder_with_the_job(spark, tiny_model, reviews, expected, tmp_path):
    from polarity.integrations.spark import score_spark

    check_scores(score_spark(spark.createDataFrame(reviews), tiny_model, ship=True).toPandas(), reviews, expected)
    namesake = shutil.copytree(tiny_model, tmp_path / "other" / tiny_model.name)
    with pytest.raises(PolarityError) as error:
        score_spark(spark.createDataFrame(reviews), namesake, ship=True)
    assert_one_line(error, "already shipped", "another name")


@engine
@pytest.mark.parametrize("change, words", [
    ({"model": "no/such/folder"}, ["no/such/folder", "not a polarity model folder"]),
    ({"text_column": "body"}, ["no column 'body'", "review"]),
    ({"text_column": "id"}, ["'id'", "not text"]),
    ({"threshold": 1.5}, ["threshold"]),
    ({"threads": 0}, ["threads"]),
])
def test_spark_bad_input_is_one_error_on_the_driver(spark, tiny_model, reviews, change, words):
    from polarity.integrations.spark import score_spark

    options = {"model": tiny_model, **change}
    with pytest.raises(PolarityError) as error:
        score_spark(spark.createDataFrame(reviews), **options)
    assert_one_line(error, *words)


@engine
def test_spark_input_with_a_prediction_column_is_refused(spark, tiny_model, reviews):
    from polarity.integrations.spark import score_spark

    with pytest.raises(PolarityError) as error:
        score_spark(spark.createDataFrame(reviews.assign(pred_label="x")), tiny_model)
    assert_one_line(error, "pred_label", "rename")


@engine
def test_predict_engine_spark_round_trip(spark, tiny_model, reviews, expected, tmp_path, capsys):
    source = tmp_path / "reviews"
    source.mkdir()
    reviews.iloc[:15].to_parquet(source / "part-0.parquet")
    reviews.iloc[15:].to_parquet(source / "part-1.parquet")
    out = tmp_path / "scored"
    code, err = run_cli(["predict", str(tiny_model), "--engine", "spark", "--file", str(source), "--output", str(out),
                         "--quiet"], capsys)
    assert code == 0 and f"wrote {len(reviews)} predictions to {out}" in err
    check_scores(pd.read_parquet(out), reviews, expected)
    csv_in, csv_out = tmp_path / "reviews.csv", tmp_path / "scored.csv"
    reviews.to_csv(csv_in, index=False)
    code, err = run_cli(["predict", str(tiny_model), "--engine", "spark", "--file", str(csv_in), "--output",
                         str(csv_out), "--quiet"], capsys)
    assert code == 0, err
    parts = sorted(csv_out.glob("part-*.csv"))
    scored = pd.concat([pd.read_csv(p, keep_default_na=False) for p in parts], ignore_index=True)
    check_scores(scored, reviews, expected)


@engine
def test_predict_engine_errors_are_one_line(spark, tiny_model, reviews, tmp_path, capsys):
    source = tmp_path / "nulls.parquet"
    reviews.assign(review=[None, *TEXTS[1:]]).to_parquet(source)
    cases = [(["--file", str(source), "--output", str(tmp_path / "a")], "holds None, not text"),
             (["--file", str(source)], "give --file IN and --output OUT_DIR"),
             (["--file", str(source), "--output", str(tmp_path / "b"), "--json"], "drop --json"),
             (["--file", str(tmp_path / "none.parquet"), "--output", str(tmp_path / "c")], "does not exist"),
             (["--file", str(source), "--output", str(tmp_path)], "exists")]
    for options, words in cases:
        code, err = run_cli(["predict", str(tiny_model), "--engine", "spark", *options, "--quiet"], capsys)
        assert code == 1 and err.count("\n") == 1 and err.startswith("polarity: error:") and words in err, err
    code, err = run_cli(["predict", str(tmp_path / "nomodel"), "--engine", "spark", "--file", str(source), "--output",
                         str(tmp_path / "d")], capsys)
    assert code == 1 and err.count("\n") == 1 and "not a polarity model folder" in err


# -- Ray, a local cluster ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray.data", reason="the ray extra is not installed")
    import ray

    # Two CPUs for two actors and one for Ray Data's own tasks (Ray waits forever when actors hold them all).
    with signal_handlers_kept():
        ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield ray
        ray.shutdown()


@engine
def test_ray_scores_equal_the_predictors(ray_cluster, tiny_model, reviews, expected):
    from polarity.integrations.ray import score_ray

    dataset = ray_cluster.data.from_pandas([reviews.iloc[:10], reviews.iloc[10:]])
    scored = score_ray(dataset, tiny_model, concurrency=2, rows_per_batch=6)
    check_scores(scored.to_pandas(), reviews, expected)


@engine
def test_ray_empty_blocks(ray_cluster, tiny_model, reviews, expected):
    from polarity.integrations.ray import score_ray

    dataset = ray_cluster.data.from_pandas([reviews.iloc[:0], reviews, reviews.iloc[:0]])
    check_scores(score_ray(dataset, tiny_model, "review", concurrency=1).to_pandas(), reviews, expected)


@engine
@pytest.mark.parametrize("change, words", [
    ({"model": "no/such/folder"}, ["no/such/folder", "not a polarity model folder"]),
    ({"text_column": "body"}, ["no column 'body'"]),
    ({"text_column": "stars"}, ["'stars'", "not text"]),
    ({"concurrency": 0}, ["concurrency"]),
])
def test_ray_bad_input_is_one_error_on_the_driver(ray_cluster, tiny_model, reviews, change, words):
    from polarity.integrations.ray import score_ray

    options = {"model": tiny_model, **change}
    with pytest.raises(PolarityError) as error:
        score_ray(ray_cluster.data.from_pandas(reviews), **options)
    assert_one_line(error, *words)


@engine
def test_predict_engine_ray_round_trip(ray_cluster, tiny_model, reviews, expected, tmp_path, capsys):
    source, out = tmp_path / "reviews.parquet", tmp_path / "scored"
    reviews.to_parquet(source)
    code, err = run_cli(["predict", str(tiny_model), "--engine", "ray", "--file", str(source), "--output", str(out),
                         "--quiet"], capsys)
    assert code == 0 and f"wrote {len(reviews)} predictions to {out}" in err, err
    check_scores(pd.read_parquet(out), reviews, expected)
    nulls = tmp_path / "nulls.parquet"
    reviews.assign(review=[None, *TEXTS[1:]]).to_parquet(nulls)
    code, err = run_cli(["predict", str(tiny_model), "--engine", "ray", "--file", str(nulls), "--output",
                         str(tmp_path / "bad"), "--quiet"], capsys)
    assert code == 1 and err.strip().splitlines()[-1].startswith("polarity: error: the text column 'review' holds")
