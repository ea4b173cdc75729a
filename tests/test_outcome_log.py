"""The outcome log file: entry format, opening modes, resume (index, torn lines, meta), write failures."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import orjson
import pytest

from cartloader.errors import ConfigError, OutcomeLogError
from cartloader.models import CartInput, Outcome, RecordError
from cartloader.outcomes.format import decode, encode_outcome, encode_pending
from cartloader.outcomes.log import OutcomeLog
from cartloader.outcomes.meta import InputFingerprint, RunMeta, meta_path_for
from cartloader.outcomes.resume import ResumeIndex, scan_log
from tests.test_cli_support import ROOT
from tests.test_unprivileged_support import run_without_permission_overrides

# --- entry format ---------------------------------------------------------------------------------------

#: A clock stopped at 2026-03-01T12:00:00Z, and the pending line of line 1 (key ``r-1``) it stamps.
_NOON_S = 1772366400.0
_PENDING_AT_NOON = b'{"line":1,"key":"r-1","status":"pending","sent_at":"2026-03-01T12:00:00.000Z"}\n'


def _noon() -> float:
    return _NOON_S


def test_pending_entry() -> None:
    assert encode_pending(CartInput(12, {}, key="r7f3-12")) == b'{"line":12,"key":"r7f3-12","status":"pending"}\n'


def test_created_entry() -> None:
    outcome = Outcome(12, "created", "r7f3-12", "512", attempts=1)
    assert encode_outcome(outcome) == b'{"line":12,"key":"r7f3-12","status":"created","id":"512","attempts":1}\n'


def test_updated_entry_with_duplicate_risk() -> None:
    outcome = Outcome(3, "updated", "k", "9", attempts=2, duplicate_risk=True)
    assert encode_outcome(outcome) == (
        b'{"line":3,"key":"k","status":"updated","id":"9","attempts":2,"duplicate_risk":true}\n'
    )


def test_unmatched_entry_has_null_id() -> None:
    outcome = Outcome(4, "created", "k", None, attempts=1, unmatched=True)
    assert (
        encode_outcome(outcome) == b'{"line":4,"key":"k","status":"created","id":null,"attempts":1,"unmatched":true}\n'
    )


def test_failed_entry() -> None:
    outcome = Outcome(13, "failed", "r7f3-13", error=RecordError("VALIDATION_ERROR", "bad price", 400), attempts=2)
    assert orjson.loads(encode_outcome(outcome)) == {
        "line": 13,
        "key": "r7f3-13",
        "status": "failed",
        "error": {"category": "VALIDATION_ERROR", "message": "bad price", "status": 400},
        "attempts": 2,
    }
    assert list(orjson.loads(encode_outcome(outcome))) == ["line", "key", "status", "error", "attempts"]


def test_invalid_entry() -> None:
    outcome = Outcome(14, "invalid", error=RecordError("INVALID_INPUT", "line 14: expected a JSON object"))
    assert encode_outcome(outcome) == (
        b'{"line":14,"status":"invalid","error":{"category":"INVALID_INPUT",'
        b'"message":"line 14: expected a JSON object"}}\n'
    )


def test_echo_written_under_the_property_name() -> None:
    outcome = Outcome(1, "created", "k", "5", attempts=1)
    entry = orjson.loads(encode_outcome(outcome, {"hs_external_cart_id": "A-1"}))
    assert entry["hs_external_cart_id"] == "A-1"
    assert "hs_external_cart_id" not in orjson.loads(encode_outcome(outcome))


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(1, "pending", "k"),
        Outcome(2, "created", "k", "5", attempts=1),
        Outcome(3, "created", "k", None, attempts=1, unmatched=True, duplicate_risk=True),
        Outcome(4, "failed", "k", error=RecordError("AMBIGUOUS", "m", None), attempts=3, duplicate_risk=True),
        Outcome(5, "invalid", error=RecordError("INVALID_INPUT", "line 5: x")),
    ],
)
def test_decode_round_trips(outcome: Outcome) -> None:
    assert decode(encode_outcome(outcome)) == outcome


@pytest.mark.parametrize("data", [b"[]", b'{"line":0,"status":"created"}', b'{"line":1,"status":"done"}', b"{"])
def test_decode_refuses_non_entries(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        decode(data)


# --- opening --------------------------------------------------------------------------------------------


@pytest.fixture
def input_file(tmp_path: Path) -> str:
    path = tmp_path / "carts.ndjson"
    path.write_bytes(b'{"a":"1"}\n' * 10)
    return str(path)


@pytest.fixture
def out(tmp_path: Path) -> str:
    return str(tmp_path / "carts.outcomes.ndjson")


def write_log(out: str, meta: RunMeta, data: bytes = b"") -> None:
    with OutcomeLog.open(out, mode="overwrite", meta=meta) as log:
        log._write(data)


def test_new_log_writes_entries_and_meta(out: str, input_file: str) -> None:
    meta = RunMeta.new(input_file, {"batch_size": 100})
    with OutcomeLog.open(out, mode="new", meta=meta, echo=("ext",)) as log:
        record = CartInput(1, {"ext": "A"}, key=f"{meta.run_id}-1")
        log.write_pending([record])
        log.write_settled([(Outcome(1, "created", f"{meta.run_id}-1", "7", attempts=1), record)])
        log.flush()
    lines = Path(out).read_bytes().splitlines()
    assert [orjson.loads(line)["status"] for line in lines] == ["pending", "created"]
    assert orjson.loads(lines[1])["ext"] == "A"
    saved = RunMeta.from_json(Path(meta_path_for(out)).read_bytes())
    assert saved == meta
    assert meta_path_for(out) == out + ".meta.json"


def test_existing_log_refused(out: str, input_file: str) -> None:
    Path(out).write_bytes(b'{"line":1,"status":"pending"}\n')
    with pytest.raises(ConfigError, match=r"exists: use --resume to continue it or --overwrite to replace it$"):
        OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file))
    assert Path(out).read_bytes() == b'{"line":1,"status":"pending"}\n'


def test_empty_existing_log_is_not_refused(out: str, input_file: str) -> None:
    Path(out).write_bytes(b"")
    meta = RunMeta.new(input_file)
    with OutcomeLog.open(out, mode="new", meta=meta) as log:
        assert not log.resumed
        log.clock = _noon
        log.write_pending([CartInput(1, {}, key="r-1")])
    assert Path(out).read_bytes() == _PENDING_AT_NOON
    assert RunMeta.from_json(Path(meta_path_for(out)).read_bytes()) == meta


def test_overwrite_replaces_log_and_meta(out: str, input_file: str) -> None:
    write_log(out, RunMeta.new(input_file), b'{"line":1,"key":"x-1","status":"created","id":"1","attempts":1}\n')
    meta = RunMeta.new(input_file)
    with OutcomeLog.open(out, mode="overwrite", meta=meta) as log:
        assert len(log.resume_index) == 0
    assert Path(out).read_bytes() == b""
    assert RunMeta.from_json(Path(meta_path_for(out)).read_bytes()).run_id == meta.run_id


def test_reserved_echo_name_refused(out: str, input_file: str) -> None:
    with pytest.raises(ConfigError, match=r"^--echo status: "):
        OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file), echo=("status",))


def test_unwritable_folder_refused(tmp_path: Path, input_file: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"^cannot write outcome log .*: Not a directory$"):
        OutcomeLog.open(str(blocker / "out.ndjson"), mode="new", meta=RunMeta.new(input_file))


def test_read_only_folder_refused(tmp_path: Path, input_file: str) -> None:
    # Root ignores folder permissions, so the check runs in a child that gives up root's overrides.
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    child = (
        "import sys\n"
        "from cartloader.errors import ConfigError\n"
        "from cartloader.outcomes.log import OutcomeLog\n"
        "from cartloader.outcomes.meta import RunMeta\n"
        "try:\n"
        "    OutcomeLog.open(sys.argv[1], mode='new', meta=RunMeta.new(sys.argv[2]))\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    result = run_without_permission_overrides(
        [sys.executable, "-c", child, str(folder / "out.ndjson"), input_file],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"cannot write outcome log .*: Permission denied\n", result.stdout), result.stdout
    assert list(folder.iterdir()) == []


def test_write_failure_raises_outcome_log_error(tmp_path: Path, input_file: str) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    out = tmp_path / "full.outcomes.ndjson"
    out.symlink_to("/dev/full")
    log = OutcomeLog.open(str(out), mode="new", meta=RunMeta.new(input_file))
    log.write([Outcome(1, "created", "k", "1", attempts=1)])
    with pytest.raises(OutcomeLogError, match=r"^cannot write outcome log .*: No space left on device$"):
        log.flush()
    log.close()  # quiet after the error was raised


# --- resume ---------------------------------------------------------------------------------------------

LOG = b"".join(
    [
        b'{"line":1,"key":"r-1","status":"pending"}\n',
        b'{"line":2,"key":"r-2","status":"pending"}\n',
        b'{"line":3,"key":"r-3","status":"pending"}\n',
        b'{"line":4,"status":"invalid","error":{"category":"INVALID_INPUT","message":"line 4: x"}}\n',
        b'{"line":1,"key":"r-1","status":"created","id":"11","attempts":1}\n',
        b'{"line":2,"key":"r-2","status":"failed","error":{"category":"X","message":"m","status":400},"attempts":1}\n',
        b'{"line":5,"key":"r-5","status":"failed","error":{"category":"X","message":"m"},"attempts":1}\n',
        b'{"line":5,"key":"r-5","status":"pending"}\n',
        b'{"line":6,"key":"r-6","status":"pending"}\n',
        b'{"line":6,"key":"r-6","status":"updated","id":"16","attempts":2,"duplicate_risk":true}\n',
    ]
)


def check_classification(index: ResumeIndex) -> None:
    assert [index.status(line) for line in range(8)] == [
        "absent",
        "done",
        "failed",
        "pending",
        "done",
        "pending",
        "done",
        "absent",
    ]
    assert [index.should_send(line) for line in range(1, 8)] == [False, False, True, False, True, False, True]
    assert [index.should_send(line, retry_failed=True) for line in range(1, 8)] == [
        False,
        True,
        True,
        False,
        True,
        False,
        True,
    ]
    assert [line for line in range(1, 8) if index.is_pending(line)] == [3, 5]
    assert index.last_status(6) == "updated"
    assert index.last_status(7) is None
    counts = index.counts()
    assert (counts.pending, counts.created, counts.updated, counts.failed, counts.invalid) == (2, 1, 1, 1, 1)
    assert counts.skipped(retry_failed=False) == 4
    assert counts.skipped(retry_failed=True) == 3


def test_resume_builds_index_last_entry_wins(out: str, input_file: str) -> None:
    meta = RunMeta.new(input_file)
    write_log(out, meta, LOG)
    with OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file)) as log:
        assert log.resumed
        check_classification(log.resume_index)


@pytest.mark.parametrize("block_size", [1, 7, 64, 1 << 20])
def test_scan_any_block_size(block_size: int) -> None:
    check_classification(scan_log(io.BytesIO(LOG), block_size=block_size).index)


def test_scan_reads_other_spellings_exactly() -> None:
    spaced = b'{"line": 1, "key": "a\\"b", "status": "created", "id": "1"}\n\n{"status": "pending", "line": 2}\n'
    index = scan_log(io.BytesIO(spaced)).index
    assert (index.status(1), index.status(2)) == ("done", "pending")


def test_resume_reuses_run_id_and_records_the_resume(out: str, input_file: str) -> None:
    first = RunMeta.new(input_file)
    write_log(out, first, LOG)
    second = RunMeta.new(input_file)
    with OutcomeLog.open(out, mode="resume", meta=second) as log:
        assert log.meta.run_id == first.run_id
        assert log.meta.started == first.started
        assert log.meta.resumed == (second.started,)
    assert RunMeta.from_json(Path(meta_path_for(out)).read_bytes()).run_id == first.run_id


def test_resume_without_log_starts_fresh(out: str, input_file: str) -> None:
    meta = RunMeta.new(input_file)
    with OutcomeLog.open(out, mode="resume", meta=meta) as log:
        assert not log.resumed
        assert log.meta == meta
        assert len(log.resume_index) == 0


def test_resume_cuts_a_torn_last_line(out: str, input_file: str) -> None:
    write_log(out, RunMeta.new(input_file), LOG + b'{"line":7,"key":"r-7","sta')
    with OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file)) as log:
        assert log.resume_index.status(7) == "absent"
        log.write([Outcome(7, "created", "r-7", "17", attempts=1)])
    assert Path(out).read_bytes() == LOG + b'{"line":7,"key":"r-7","status":"created","id":"17","attempts":1}\n'


def test_resume_keeps_a_complete_last_line_missing_its_newline(out: str, input_file: str) -> None:
    last = b'{"line":7,"key":"r-7","status":"created","id":"17","attempts":1}'
    write_log(out, RunMeta.new(input_file), LOG + last)
    with OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file)) as log:
        assert log.resume_index.status(7) == "done"
        log.write([Outcome(8, "created", "r-8", "18", attempts=1)])
    assert Path(out).read_bytes().splitlines()[-2:] == [
        last,
        b'{"line":8,"key":"r-8","status":"created","id":"18","attempts":1}',
    ]


def test_resume_refuses_a_corrupt_middle_line(out: str, input_file: str) -> None:
    write_log(out, RunMeta.new(input_file), LOG + b"garbage\n" + LOG)
    with pytest.raises(ConfigError, match=r"line 11 is not an outcome entry"):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file))


def test_resume_refuses_another_input(out: str, input_file: str, tmp_path: Path) -> None:
    write_log(out, RunMeta.new(input_file), LOG)
    other = tmp_path / "other.ndjson"
    other.write_bytes(b'{"b":"2"}\n' * 10)
    with pytest.raises(ConfigError, match=r"belongs to another input: .*; use another --out or --overwrite$"):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new(str(other)))
    with pytest.raises(ConfigError, match=r"belongs to another input: it was made from input .*, not stdin"):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new("-"))


def test_resume_refuses_a_shrunk_input(out: str, input_file: str) -> None:
    write_log(out, RunMeta.new(input_file), LOG)
    Path(input_file).write_bytes(b'{"a":"1"}\n' * 5)
    with pytest.raises(ConfigError, match="belongs to another input"):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file))


def test_resume_accepts_an_input_that_grew_or_moved(out: str, input_file: str, tmp_path: Path) -> None:
    write_log(out, RunMeta.new(input_file), LOG)
    moved = tmp_path / "moved.ndjson"
    moved.write_bytes(Path(input_file).read_bytes() + b'{"a":"new"}\n')
    with OutcomeLog.open(out, mode="resume", meta=RunMeta.new(str(moved))) as log:
        assert log.resumed
        check_classification(log.resume_index)


def test_resume_needs_the_meta_file(out: str, input_file: str) -> None:
    write_log(out, RunMeta.new(input_file), LOG)
    os.unlink(meta_path_for(out))
    with pytest.raises(ConfigError, match=r"has no .*\.meta\.json"):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file))


def test_stdin_logs_resume_with_stdin(out: str) -> None:
    first = RunMeta.new("-")
    write_log(out, first, LOG)
    with OutcomeLog.open(out, mode="resume", meta=RunMeta.new("-")) as log:
        assert log.resumed
        assert log.meta.run_id == first.run_id
        check_classification(log.resume_index)


def test_fingerprint_of_missing_input() -> None:
    with pytest.raises(ConfigError, match=r"^cannot read input nope\.ndjson: No such file or directory$"):
        InputFingerprint.of_input("nope.ndjson")


def test_index_is_sparse_and_compact() -> None:
    index = ResumeIndex()
    index.record(10**12, "created")
    index.record(1, "pending")
    assert index.status(10**12) == "done"
    assert index.status(10**12 + 1) == "absent"
    assert len(index) == 2
    with pytest.raises(ValueError, match="start at 1"):
        index.record(0, "created")


def test_pending_entries_reach_the_file_before_sending(out: str, input_file: str) -> None:
    with OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file)) as log:
        log.clock = _noon
        log.write_pending([CartInput(1, {}, key="r-1")])
        assert Path(out).read_bytes() == _PENDING_AT_NOON
        log.write([Outcome(1, "created", "r-1", "5", attempts=1)])
        log.flush()
        assert Path(out).read_bytes().count(b"\n") == 2


def test_a_log_in_use_is_refused(out: str, input_file: str) -> None:
    with OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file)) as log:
        log.clock = _noon
        log.write_pending([CartInput(1, {}, key="r-1")])
        with pytest.raises(ConfigError, match=r"is in use by another cartloader run$"):
            OutcomeLog.open(out, mode="overwrite", meta=RunMeta.new(input_file))
        assert Path(out).read_bytes() == _PENDING_AT_NOON
    OutcomeLog.open(out, mode="overwrite", meta=RunMeta.new(input_file)).close()


def test_a_folder_as_log_is_refused(tmp_path: Path, input_file: str) -> None:
    with pytest.raises(ConfigError, match=r"^cannot write outcome log .*: Is a directory$"):
        OutcomeLog.open(str(tmp_path), mode="new", meta=RunMeta.new(input_file))
