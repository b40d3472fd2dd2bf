"""Flyte's "Artifacts: Definition, Partitioning, and Querying" page (seed 002), each example
done with archivist on every backend, in Flyte's words where its users type them:
``@partition_by_date(key=…)``, ``@partition_by_key(key=…)``, ``File(...)`` (``FlyteFile``),
``ArtifactQuery.get_latest(task_name=…, partition_keys=…)`` and
``ArtifactQuery.list_artifacts(...)``, ``artifact.uri``, ``artifact.download()``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from archivist import (
    ArtifactCatalog,
    ArtifactQuery,
    Directory,
    File,
    Flow,
    InvalidInputError,
    partition_by_date,
    partition_by_key,
    pipeline,
    step,
)
from archivist.catalog.artifactquery import close_defaults
from tests.helpers import downgrade, sql_catalog


@step
def process_raw_data(input_path: str) -> pd.DataFrame:
    """Processes raw data and returns a structured dataset (Flyte: a FlyteSchema)."""
    data = {"col1": [1, 2, 3], "col2": ["A", "B", "C"]}
    return pd.DataFrame(data)


@step
@partition_by_date(key="report_date")
def generate_daily_report(report_date: datetime) -> File:
    """Generates a daily report, partitioned by the report_date."""
    report_content = f"Daily report for {report_date.strftime('%Y-%m-%d')}"
    with open("report.txt", "w") as f:
        f.write(report_content)
    return File("report.txt")


@step
@partition_by_key(key="customer_id")
def process_customer_transactions(customer_id: str) -> File:
    """Processes transactions for a specific customer, partitioned by customer_id."""
    transaction_data = f"Transactions for customer {customer_id}"
    with open("transactions.txt", "w") as f:
        f.write(transaction_data)
    return File("transactions.txt")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The steps write their files to the current folder, as the page's do."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defining_artifacts_a_returned_dataframe_is_stored_and_loads_back(
        catalog: ArtifactCatalog, workdir: Path) -> None:
    with pipeline("etl", catalog=catalog) as run:
        process_raw_data("raw.csv")
    stored = catalog.get_latest("process_raw_data")
    assert stored is not None and stored.source_run_id == run.id
    assert stored.format == "parquet" and stored.artifact_type == "Dataset"
    # FlyteSchema.open().as_pandas()
    assert stored.load().equals(pd.DataFrame({"col1": [1, 2, 3], "col2": ["A", "B", "C"]}))


def test_partitioning_decorators_store_the_files_with_their_partitions(
        catalog: ArtifactCatalog, workdir: Path) -> None:
    with pipeline("reports", catalog=catalog) as run:
        generate_daily_report(datetime(2023, 10, 26))
        process_customer_transactions("cust_123")
    report = catalog.get_latest("generate_daily_report")
    assert report is not None and report.kind == "file" and report.artifact_type == "File"
    assert report.partitions == {"report_date": "2023-10-26", "report_date.granularity": "day"}
    assert report.source_step == "generate_daily_report" and report.source_run_id == run.id
    with catalog.open(report) as handle:
        assert handle.read() == b"Daily report for 2023-10-26"
    transactions = catalog.get_latest("process_customer_transactions")
    assert transactions is not None and transactions.partitions == {"customer_id": "cust_123"}
    assert transactions.metadata["filename"] == "transactions.txt"
    assert transactions.load() == b"Transactions for customer cust_123"


def test_querying_artifacts_by_task_and_partition_keys(
        catalog: ArtifactCatalog, workdir: Path) -> None:
    with pipeline("reports", catalog=catalog):
        generate_daily_report(datetime(2023, 10, 25))
        generate_daily_report(datetime(2023, 10, 26))
        process_customer_transactions("cust_123")
        process_customer_transactions("cust_456")
    query = ArtifactQuery(catalog)

    latest_report_artifact = query.get_latest(
        task_name="generate_daily_report",
        partition_keys={"report_date": datetime(2023, 10, 26)})
    assert latest_report_artifact is not None
    assert latest_report_artifact.uri == "archivist://default/generate_daily_report:2"
    # the uri opens the version; download() writes the file under its name
    with catalog.open(latest_report_artifact.uri) as handle:
        assert handle.read() == b"Daily report for 2023-10-26"
    (workdir / "report.txt").unlink()
    downloaded = latest_report_artifact.download()
    assert downloaded == Path("report.txt") and (workdir / "report.txt").read_text() == \
        "Daily report for 2023-10-26"
    assert latest_report_artifact.download(workdir / "copy.txt").read_bytes() == \
        b"Daily report for 2023-10-26"
    assert query.get_latest(task_name="generate_daily_report",
                            partition_keys={"report_date": datetime(2023, 10, 27)}) is None

    customer_transactions = query.list_artifacts(
        task_name="process_customer_transactions",
        partition_keys={"customer_id": "cust_123"})
    assert len(customer_transactions) == 1
    assert [a.uri for a in customer_transactions] == [
        "archivist://default/process_customer_transactions:1"]
    assert len(query.list_artifacts("process_customer_transactions")) == 2


def test_a_time_matches_the_day_it_falls_in_whatever_its_form(
        catalog: ArtifactCatalog, workdir: Path) -> None:
    with pipeline("reports", catalog=catalog):
        generate_daily_report(datetime(2023, 10, 26, 13, 5))
    query = ArtifactQuery(catalog)
    for asked in (datetime(2023, 10, 26), datetime(2023, 10, 26, 13, 5), date(2023, 10, 26),
                  "2023-10-26", "2023-10-26 23:59", datetime(2023, 10, 26, 9, tzinfo=UTC)):
        found = query.get_latest(task_name="generate_daily_report",
                                 partition_keys={"report_date": asked})
        assert found is not None, asked
    for asked in (datetime(2023, 10, 27), date(2023, 10, 25), "2023-10-27"):
        assert query.get_latest("generate_daily_report",
                                partition_keys={"report_date": asked}) is None, asked
    # the catalog's own list and get_latest take times the same way
    assert len(catalog.list(partitions={"report_date": datetime(2023, 10, 26, 23, 59)})) == 1


def test_datetime_partitions_given_to_register_are_stored_once_and_found(
        catalog: ArtifactCatalog) -> None:
    catalog.register("snapshot", data={"n": 1},
                     partitions={"taken": datetime(2021, 1, 1, 13, 5), "day": date(2021, 1, 1)})
    stored = catalog.get("snapshot")
    assert stored.partitions == {"taken": "2021-01-01T13:05:00+00:00", "day": "2021-01-01"}
    for taken in (datetime(2021, 1, 1, 13, 5), "2021-01-01 13:05:00", "2021-01-01T14:05+01:00"):
        assert catalog.get_latest("snapshot", partitions={"taken": taken}) is not None
    assert catalog.get_latest("snapshot", partitions={"day": date(2021, 1, 1)}) is not None
    assert catalog.get_latest("snapshot", partitions={"taken": datetime(2021, 1, 1, 13, 6)}) \
        is None


def test_a_returned_path_is_stored_as_the_file_it_names(
        catalog: ArtifactCatalog, workdir: Path) -> None:
    @step
    @partition_by_key(key="region")
    def summarize(region: str) -> Path:
        (workdir / "summary.txt").write_text(region)
        return workdir / "summary.txt"

    with pipeline("exports", catalog=catalog):
        summarize("eu")
    summary = catalog.get("summarize")
    assert (summary.kind, summary.artifact_type, summary.load()) == ("file", "File", b"eu")
    assert summary.partitions == {"region": "eu"}


def test_a_step_with_outputs_stores_each_file(catalog: ArtifactCatalog, workdir: Path) -> None:
    @step(outputs=["summary", "tables"])
    @partition_by_key(key="region")
    def export(region: str) -> tuple[Path, Directory]:
        (workdir / "out").mkdir(exist_ok=True)
        (workdir / "out" / "a.csv").write_text(f"region\n{region}\n")
        (workdir / "summary.txt").write_text(region)
        return workdir / "summary.txt", Directory(workdir / "out")

    with pipeline("exports", catalog=catalog):
        export("eu")
    summary = catalog.get("export.summary")
    tables = catalog.get("export.tables")
    assert (summary.kind, summary.artifact_type, summary.load()) == ("file", "File", b"eu")
    assert (tables.kind, tables.artifact_type) == ("directory", "Directory")
    assert tables.partitions == summary.partitions == {"region": "eu"}
    copied = tables.download(workdir / "copy")
    assert (copied / "a.csv").read_text() == "region\neu\n"


def test_a_missing_or_mislabelled_file_is_an_error_and_stores_nothing(
        catalog: ArtifactCatalog, workdir: Path) -> None:
    @step
    def missing() -> File:
        return File("nowhere.txt")

    @step
    def folder_as_file() -> File:
        (workdir / "d").mkdir()
        return File(workdir / "d")

    for bad, message in ((missing, "does not exist"), (folder_as_file, "not a regular file")):
        with pytest.raises(InvalidInputError, match=message), \
                pipeline("bad", catalog=catalog):
            bad()
    assert catalog.list() == []


def test_registering_inside_a_step_keeps_its_partitions_and_run(
        catalog: ArtifactCatalog, workdir: Path) -> None:
    @step
    @partition_by_date(key="report_date")
    def report_with_extra(report_date: datetime) -> File:
        catalog.register("report_stats", data={"lines": 1})
        Path("report.txt").write_text("r")
        return File("report.txt")

    with pipeline("reports", catalog=catalog) as run:
        report_with_extra(datetime(2023, 10, 26, 8))
    extra = catalog.get("report_stats")
    assert extra.partitions == {"report_date": "2023-10-26", "report_date.granularity": "day"}
    assert (extra.source_run_id, extra.source_step) == (run.id, "report_with_extra")
    assert extra.id in run.record.produced
    assert ArtifactQuery(catalog).get_latest(
        "report_stats", partition_keys={"report_date": datetime(2023, 10, 26, 18)}) is not None


def test_records_load_and_download_through_their_catalog(catalog: ArtifactCatalog,
                                                         tmp_path: Path) -> None:
    catalog.register("settings", data={"lr": 0.1})
    record = catalog.get("settings")
    assert record.load() == {"lr": 0.1}
    assert catalog.list()[0].load() == {"lr": 0.1}
    assert record.download(tmp_path / "settings.json").read_bytes() == b'{"lr":0.1}'
    assert record.with_(description="x").load() == {"lr": 0.1}


def test_a_record_not_read_from_a_catalog_says_how_to_load_it(catalog: ArtifactCatalog) -> None:
    catalog.register("settings", data={"lr": 0.1})
    import pickle

    travelled = pickle.loads(pickle.dumps(catalog.get("settings")))  # sent to a worker
    assert travelled == catalog.get("settings")
    with pytest.raises(InvalidInputError, match=r"catalog\.load\(record\)"):
        travelled.load()


def test_artifact_query_on_the_class_reads_the_default_catalog(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARCHIVIST_HOME", str(tmp_path / "home"))
    try:
        with pipeline("reports"):
            generate_daily_report(datetime(2023, 10, 26))
        latest_report_artifact = ArtifactQuery.get_latest(
            task_name="generate_daily_report",
            partition_keys={"report_date": datetime(2023, 10, 26)})
        assert latest_report_artifact is not None
        assert latest_report_artifact.load() == b"Daily report for 2023-10-26"
        assert len(ArtifactQuery.list_artifacts(task_name="generate_daily_report")) == 1
        with pytest.raises(InvalidInputError, match="task_name"):
            ArtifactQuery.get_latest(partition_keys={"report_date": "2023-10-26"})
    finally:
        close_defaults()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_partition_values_stored_before_the_canonical_form_are_migrated(
        database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    opening = sql_catalog(database, tmp_path, request)
    with opening.open() as catalog:
        catalog.register("report", data="r", partitions={"report_date": "2023-10-26",
                                                         "region": "eu 12:00"})
    downgrade(opening.url, "0005")  # the schema of the release before 0006
    engine = sa.create_engine(opening.url)
    try:
        with engine.begin() as conn:  # what an older release wrote: str(datetime)
            conn.execute(sa.text("UPDATE partitions SET value='2023-10-26 00:00:00' "
                                 "WHERE key='report_date'"))
            conn.execute(sa.text("UPDATE versions SET partitions=:p"), {
                "p": '{"report_date": "2023-10-26 00:00:00", "region": "eu 12:00"}'})
    finally:
        engine.dispose()
    with opening.open() as catalog:  # opening migrates to head
        stored = catalog.get("report")
        assert stored.partitions == {"report_date": "2023-10-26T00:00:00+00:00",
                                     "region": "eu 12:00"}
        assert catalog.get_latest("report",
                                  partitions={"report_date": datetime(2023, 10, 26)}) is not None
        assert catalog.get_latest("report", partitions={"report_date": "2023-10-26 00:00"}) \
            is not None


class ReportFlow(Flow):
    """A class flow's attribute can be a file too (Flyte's FlyteFile output)."""

    @step
    def start(self) -> None:
        Path("flow_report.txt").write_text("from a flow")
        self.report = File("flow_report.txt")
        self.next(self.end)

    @step
    def end(self) -> None:
        self.seen = self.report  # read back as the file's bytes


def test_a_flow_attribute_that_is_a_file_is_stored_as_its_bytes(
        catalog: ArtifactCatalog, workdir: Path) -> None:
    run = ReportFlow().run(catalog=catalog)
    stored = catalog.get("ReportFlow.report")
    assert (stored.kind, stored.artifact_type, stored.source_run_id) == ("file", "File", run.id)
    assert run.data.seen == b"from a flow"


def test_the_uri_opens_from_the_command_line(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from archivist.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARCHIVIST_HOME", str(tmp_path / "home"))
    with ArtifactCatalog() as catalog, pipeline("reports", catalog=catalog):
        generate_daily_report(datetime(2023, 10, 26))
    with ArtifactCatalog() as catalog:
        uri = ArtifactQuery(catalog).get_latest(task_name="generate_daily_report").uri
    done = CliRunner().invoke(app, ["get", uri, "-o", str(tmp_path / "got.txt")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "got.txt").read_text() == "Daily report for 2023-10-26"


def test_partition_decorators_check_what_they_name() -> None:
    with pytest.raises(InvalidInputError, match="not a parameter"):
        @step
        @partition_by_key(key="customer")
        def wrong_key(customer_id: str) -> str:
            return customer_id

    with pytest.raises(InvalidInputError, match="two time partitions"):
        @partition_by_date(key="end")
        @step
        @partition_by_date(key="start")
        def two_times(start: datetime, end: datetime) -> str:
            return "x"

    with pytest.raises(InvalidInputError, match="granularity"):
        partition_by_date(key="day", granularity="week")

    @partition_by_date(key="day", granularity="month")  # above @step: the same
    @step
    def monthly(day: date) -> int:
        return day.month

    assert monthly(date(2023, 10, 26)) == 10  # outside a run: a plain call
    from archivist.pipelines.stepspec import spec_of

    spec = spec_of(monthly)
    assert spec is not None and (spec.time_partition, spec.granularity) == ("day", "month")
