"""The outcome log file's edges (``cartloader/outcomes/log.py``): each refusal and failure names the log and the
reason, a failed write keeps its errno, the meta of a resumed run keeps the first start, and a log in use is
refused by name. Fast and focused (what the module's mutation run uses, beside tests/test_outcome_log.py)."""

from __future__ import annotations

import errno
import os
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from cartloader.errors import ConfigError, OutcomeLogError
from cartloader.models import CartInput, InvalidInput, Outcome
from cartloader.outcomes.log import OutcomeLog
from cartloader.outcomes.meta import RunMeta, meta_path_for


@pytest.fixture
def input_file(tmp_path: Path) -> str:
    path = tmp_path / "carts.ndjson"
    path.write_bytes(b'{"a":"1"}\n' * 10)
    return str(path)


@pytest.fixture
def out(tmp_path: Path) -> str:
    return str(tmp_path / "carts.outcomes.ndjson")


def started(out: str, meta: RunMeta) -> None:
    """A log with one pending entry, as a run that was stopped leaves it."""
    with OutcomeLog.open(out, mode="new", meta=meta) as log:
        log.write_pending([CartInput(1, {}, key="k")])


def test_an_unknown_mode_is_a_programming_error_naming_it(out: str, input_file: str) -> None:
    with pytest.raises(ValueError, match=r"^unknown mode 'append'$"):
        OutcomeLog.open(out, mode="append", meta=RunMeta.new(input_file))  # type: ignore[arg-type]


def test_a_log_of_a_single_byte_already_exists(out: str, input_file: str) -> None:
    Path(out).write_bytes(b"\n")
    with pytest.raises(ConfigError, match=r"exists: use --resume to continue it or --overwrite to replace it$"):
        OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file))


def test_the_log_knows_its_path_and_says_whether_it_was_resumed(out: str, input_file: str) -> None:
    meta = RunMeta.new(input_file)
    with OutcomeLog.open(out, mode="new", meta=meta) as log:
        assert log.path == out
        assert repr(log) == f"<OutcomeLog {out!r} run {meta.run_id}>"
        log.write_pending([CartInput(1, {}, key="k")])
    with OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file)) as log:
        assert repr(log) == f"<OutcomeLog {out!r} run {meta.run_id} resumed>"


def test_entries_written_together_are_one_line_each(out: str, input_file: str) -> None:
    with OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file), echo=("ext",)) as log:
        log.write([Outcome(1, "created", "k1", "1", attempts=1), Outcome(2, "created", "k2", "2", attempts=1)])
        record = CartInput(3, {"ext": "E3"}, key="k3")
        log.write_settled(
            [
                (Outcome(3, "created", "k3", "3", attempts=1), record),
                (Outcome(4, "invalid"), InvalidInput(4, "line 4: bad", b"x")),
            ]
        )
    lines = Path(out).read_bytes().splitlines()
    assert [orjson.loads(line)["line"] for line in lines] == [1, 2, 3, 4]
    assert orjson.loads(lines[2])["ext"] == "E3"
    assert orjson.loads(lines[3])["ext"] is None  # an invalid line that could not be read: every echo name, null


def test_a_resumed_run_keeps_the_first_runs_id_and_start(out: str, input_file: str) -> None:
    first = replace(RunMeta.new(input_file), started="2020-01-02T03:04:05Z")
    started(out, first)
    second = RunMeta.new(input_file)
    with OutcomeLog.open(out, mode="resume", meta=second) as log:
        assert (log.meta.run_id, log.meta.started, log.meta.resumed) == (first.run_id, first.started, (second.started,))


def test_a_meta_file_that_cannot_be_read_is_refused_naming_it_and_why(out: str, input_file: str) -> None:
    started(out, RunMeta.new(input_file))
    Path(meta_path_for(out)).write_bytes(b"{not json")
    with pytest.raises(ConfigError, match=rf"^cannot read {meta_path_for(out)}: .+"):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file))
    os.unlink(meta_path_for(out))
    os.mkdir(meta_path_for(out))
    with pytest.raises(ConfigError, match=rf"^cannot read {meta_path_for(out)}: Is a directory$"):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file))


def test_a_missing_meta_file_says_how_to_go_on(out: str, input_file: str) -> None:
    started(out, RunMeta.new(input_file))
    os.unlink(meta_path_for(out))
    with pytest.raises(ConfigError, match=r": restore it, or use --overwrite to replace the log$"):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file))


def test_a_meta_file_that_cannot_be_written_is_refused_and_leaves_no_temporary_file(
    out: str, input_file: str, tmp_path: Path
) -> None:
    os.mkdir(meta_path_for(out))  # os.replace cannot put a file over a folder
    with pytest.raises(
        ConfigError, match=rf"^cannot write outcome log {out}: Is a directory \({meta_path_for(out)}\)$"
    ):
        OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "carts.ndjson",
        "carts.outcomes.ndjson",
        Path(out).name + ".meta.json",
    ]


def test_a_log_in_use_is_refused_by_name(out: str, input_file: str) -> None:
    with OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file)):
        with pytest.raises(ConfigError, match=rf"^outcome log {out} is in use by another cartloader run$"):
            OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file))
        with pytest.raises(ConfigError, match=rf"^outcome log {out} is in use by another cartloader run$"):
            OutcomeLog.open(out, mode="overwrite", meta=RunMeta.new(input_file))


def test_a_backup_that_cannot_be_made_is_refused_naming_it(out: str, input_file: str) -> None:
    OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file)).close()
    Path(out).write_bytes(b'{"line":1,"status":"pending"}\n')
    os.mkdir(out + ".1")
    (Path(out + ".1") / "keep").write_bytes(b"")  # a non-empty folder cannot be replaced by a file
    with pytest.raises(ConfigError, match=rf"^cannot keep the replaced outcome log as {out}\.1: .+"):
        OutcomeLog.open(out, mode="overwrite", meta=RunMeta.new(input_file))


def _full_log(tmp_path: Path, input_file: str) -> OutcomeLog:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    path = tmp_path / "full.outcomes.ndjson"
    path.symlink_to("/dev/full")
    return OutcomeLog.open(str(path), mode="new", meta=RunMeta.new(input_file))


def test_a_failed_write_raises_with_the_errno_and_the_log_named(tmp_path: Path, input_file: str) -> None:
    log = _full_log(tmp_path, input_file)
    log.write([Outcome(1, "created", "k", "1", attempts=1)])
    with pytest.raises(OutcomeLogError, match=r"^cannot write outcome log .*full\.outcomes\.ndjson: ") as caught:
        log.flush()
    assert caught.value.errno == errno.ENOSPC
    log.close()  # quiet: the error was raised already


def test_a_failure_first_seen_at_close_is_raised(tmp_path: Path, input_file: str) -> None:
    log = _full_log(tmp_path, input_file)
    log.write([Outcome(1, "created", "k", "1", attempts=1)])
    with pytest.raises(OutcomeLogError, match=r"No space left on device$") as caught:
        log.close()
    assert caught.value.errno == errno.ENOSPC
    log.close()  # idempotent


def test_a_fresh_log_has_not_failed(out: str, input_file: str) -> None:
    log = OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file))
    log.write([Outcome(1, "created", "k", "1", attempts=1)])
    log.close()
    assert Path(out).read_bytes().count(b"\n") == 1


def test_a_log_made_with_another_upsert_key_cannot_be_continued(out: str, input_file: str) -> None:
    started(out, RunMeta.new(input_file, {"upsert_by": "ref"}))
    with pytest.raises(
        ConfigError,
        match=r"^outcome log .* cannot be continued: it was made with --upsert-by .*ref.*, which changes what a line "
        r"means; resume with the same options, or use another --out or --overwrite$",
    ):
        OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file, {"upsert_by": "other"}))
    with OutcomeLog.open(out, mode="resume", meta=RunMeta.new(input_file, {"upsert_by": "ref"})) as log:
        assert log.resumed


def test_echo_notes_which_echoed_properties_no_record_had(out: str, input_file: str) -> None:
    with OutcomeLog.open(out, mode="new", meta=RunMeta.new(input_file), echo=("ext", "shop")) as log:
        assert (log.echo_checked, log.echo_unseen) == (False, {"ext", "shop"})
        log.write_settled([(Outcome(9, "invalid"), InvalidInput(9, "line 9: bad", b"x"))])
        assert (log.echo_checked, log.echo_unseen) == (False, {"ext", "shop"})  # an invalid line has no properties
        log.write_settled([(Outcome(1, "created", "k1", "1", attempts=1), CartInput(1, {"ext": "E1"}, key="k1"))])
        assert (log.echo_checked, log.echo_unseen) == (True, {"shop"})


def test_the_log_on_stdout_writes_there_and_refuses_an_echo_of_a_field(
    input_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    with pytest.raises(ConfigError, match=r"^--echo status: that name is a field of the outcome log"):
        OutcomeLog.to_stdout(meta=RunMeta.new(input_file), echo=("status",))
    log = OutcomeLog.to_stdout(meta=RunMeta.new(input_file), echo=("ext",))
    assert log.path == "-" and not log.resumed and len(log.resume_index) == 0
    log.write_settled([(Outcome(1, "created", "k1", "1", attempts=1), CartInput(1, {"ext": "E1"}, key="k1"))])
    log.flush()
    assert capsysbinary.readouterr().out == (
        b'{"line":1,"key":"k1","status":"created","id":"1","attempts":1,"ext":"E1"}\n'
    )
