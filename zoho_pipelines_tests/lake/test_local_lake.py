"""The lake in a local folder: layout, streaming row groups, atomic replacement, read-back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import weakref
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from zoho_pipelines.lake import LakeError, LocalLake, PartitionRef, S3Lake, open_lake
from zoho_pipelines.lake.local import STALE_TEMP_SECONDS
from zoho_pipelines.schema import ModuleSchema
from zoho_pipelines_tests.lake.support import DAY, BatchMaker

REF = PartitionRef("crm", "leads", DAY)


def test_partition_lands_at_the_contract_path_as_zstd_parquet(
    tmp_path: Path, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = open_lake(tmp_path.as_uri())
    written = lake.write_partition(
        REF, leads_schema.to_arrow(), [batches.records(3), batches.tombstones(["9"])]
    )

    path = tmp_path / "zoho/crm/leads/date=2024-03-05/leads.parquet"
    assert path.is_file()
    assert written.uri == f"file://{path}"
    assert (written.rows, written.tombstones, written.bytes) == (4, 1, path.stat().st_size)
    metadata = pq.ParquetFile(path).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert sorted(os.listdir(path.parent)) == ["leads.parquet"]


def test_read_back_returns_the_rows_and_the_schema_with_its_zoho_metadata(
    tmp_path: Path, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = LocalLake(tmp_path)
    records, tombstones = batches.records(5), batches.tombstones(["77"])
    lake.write_partition(REF, leads_schema.to_arrow(), [records, tombstones])

    table = lake.read_partition(REF)
    assert table.equals(pa.Table.from_batches([records, tombstones]))
    assert ModuleSchema.from_arrow(lake.read_schema(REF)) == leads_schema
    assert lake.read_partition(REF, columns=["id"]).column("id").to_pylist()[-1] == "77"
    assert sum(batch.num_rows for batch in lake.iter_batches(REF, batch_size=2)) == 6


def test_small_batches_are_gathered_into_row_groups_of_the_requested_size(
    tmp_path: Path, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = LocalLake(tmp_path)
    written = lake.write_partition(
        REF, leads_schema.to_arrow(), (batches.records(200) for _ in range(10)), row_group_rows=500
    )
    metadata = pq.ParquetFile(tmp_path / REF.key).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [500, 500, 500, 500]
    assert written.row_groups == metadata.num_row_groups
    assert written.rows == 2000


def test_writing_holds_at_most_one_row_group_of_batches_in_memory(
    tmp_path: Path, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    alive: list[weakref.ref[pa.RecordBatch]] = []
    peak = 0

    def stream() -> Iterator[pa.RecordBatch]:
        nonlocal peak
        for _ in range(40):
            peak = max(peak, sum(ref() is not None for ref in alive))
            batch = batches.records(100)
            alive.append(weakref.ref(batch))
            yield batch
            del batch

    LocalLake(tmp_path).write_partition(REF, leads_schema.to_arrow(), stream(), row_group_rows=300)
    assert peak <= 3  # the buffer of one row group, never the day


def test_rows_of_another_day_are_refused_and_the_previous_file_stays(
    tmp_path: Path, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = LocalLake(tmp_path)
    lake.write_partition(REF, leads_schema.to_arrow(), [batches.records(2, label="old")])
    other_day = PartitionRef("crm", "leads", date(2024, 3, 6))

    with pytest.raises(LakeError, match="outside partition 2024-03-06"):
        lake.write_partition(other_day, leads_schema.to_arrow(), [batches.records(2)])
    with pytest.raises(LakeError, match="schema differs"):
        lake.write_partition(REF, leads_schema.to_arrow(), [batches.records(2).drop_columns(["tag_list"])])

    assert pc.all(pc.starts_with(lake.read_partition(REF).column("last_name"), "old")).as_py()
    assert not lake.partition_exists(other_day)
    assert sorted(p.name for p in (tmp_path / REF.directory).iterdir()) == ["leads.parquet"]


def test_a_failing_stream_leaves_the_previous_partition_and_no_temp_file(
    tmp_path: Path, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = LocalLake(tmp_path)
    lake.write_partition(REF, leads_schema.to_arrow(), [batches.records(3, label="old")])

    def broken() -> Iterator[pa.RecordBatch]:
        yield batches.records(500, label="new")
        raise ConnectionError("Zoho went away mid-day")

    with pytest.raises(ConnectionError):
        lake.write_partition(REF, leads_schema.to_arrow(), broken(), row_group_rows=100)

    assert lake.read_partition(REF).num_rows == 3
    assert sorted(p.name for p in (tmp_path / REF.directory).iterdir()) == ["leads.parquet"]


_CRASHING_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, date, datetime
    from pathlib import Path
    from zoho_pipelines.catalog import default_catalog
    from zoho_pipelines.lake import LocalLake, PartitionRef
    from zoho_pipelines.schema import RecordNormalizer, build_module_schema

    fields = [
        {"api_name": "Last_Name", "data_type": "text"},
        {"api_name": "Modified_Time", "data_type": "datetime"},
    ]
    schema = build_module_schema(default_catalog().get("crm", "leads"), fields)
    normalizer = RecordNormalizer(schema)

    def stream():
        for page in range(3):
            yield normalizer.records(
                [{"id": f"{page}-{i}", "Last_Name": "new", "Modified_Time": "2024-03-05T08:00:00Z"}
                 for i in range(100)],
                synced_at=datetime.now(UTC),
            )
        print("row groups on disk", flush=True)
        sys.stdin.read()  # wait here until killed

    LocalLake(Path(sys.argv[1])).write_partition(
        PartitionRef("crm", "leads", date(2024, 3, 5)), schema.to_arrow(), stream(), row_group_rows=100
    )
    """
)


def test_a_killed_writer_never_exposes_a_partial_file(
    tmp_path: Path, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = LocalLake(tmp_path)
    lake.write_partition(REF, leads_schema.to_arrow(), [batches.records(3, label="old")])
    before = (tmp_path / REF.key).read_bytes()

    writer = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_WRITER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "row groups on disk"
        leftovers = list((tmp_path / REF.directory).glob(".leads.parquet.*.tmp"))
        assert len(leftovers) == 1
        assert leftovers[0].stat().st_size > 0
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()

    assert (tmp_path / REF.key).read_bytes() == before
    assert lake.read_partition(REF).num_rows == 3
    assert lake.list_partitions("crm", "leads") == [DAY]

    # The next write removes the dead writer's temp file once it is stale.
    stale = time.time() - STALE_TEMP_SECONDS - 1
    os.utime(leftovers[0], (stale, stale))
    lake.write_partition(REF, leads_schema.to_arrow(), [batches.records(4, label="next")])
    assert sorted(p.name for p in (tmp_path / REF.directory).iterdir()) == ["leads.parquet"]
    assert lake.read_partition(REF).num_rows == 4


def test_an_empty_day_is_a_valid_empty_partition(tmp_path: Path, leads_schema: ModuleSchema) -> None:
    lake = LocalLake(tmp_path)
    written = lake.write_partition(REF, leads_schema.to_arrow(), [])
    assert written.rows == 0
    assert lake.read_partition(REF).schema.equals(leads_schema.to_arrow())


def test_list_partitions_sees_only_complete_files_in_date_directories(
    tmp_path: Path, leads_schema: ModuleSchema, batches: BatchMaker
) -> None:
    lake = LocalLake(tmp_path)
    lake.write_partition(REF, leads_schema.to_arrow(), [batches.records(1)])
    (tmp_path / "zoho/crm/leads/date=2024-03-01").mkdir()
    (tmp_path / "zoho/crm/leads/date=2024-03-02").mkdir()
    (tmp_path / "zoho/crm/leads/date=2024-03-02/.leads.parquet.abc.tmp").write_bytes(b"partial")
    (tmp_path / "zoho/crm/leads/notes").mkdir()

    assert lake.list_partitions("crm", "leads") == [DAY]
    assert lake.list_partitions("crm", "deals") == []
    with pytest.raises(LakeError, match="no partition"):
        lake.read_partition(PartitionRef("crm", "leads", date(2024, 3, 2)))


def test_lake_urls(tmp_path: Path) -> None:
    assert isinstance(open_lake(f"file://{tmp_path}"), LocalLake)
    assert open_lake(str(tmp_path)).root == tmp_path.resolve()
    s3 = open_lake("s3://bucket/some/prefix/", kms_key_id="key-1")
    assert isinstance(s3, S3Lake)
    assert s3.partition_uri(REF) == "s3://bucket/some/prefix/zoho/crm/leads/date=2024-03-05/leads.parquet"
    for bad in ("http://example.com/lake", "relative/path", "s3:///no-bucket", "file://host/share"):
        with pytest.raises(LakeError):
            open_lake(bad)
    with pytest.raises(ValueError, match="snake case"):
        PartitionRef("crm", "../etc", DAY)
