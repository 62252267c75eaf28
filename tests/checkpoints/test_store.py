"""CheckpointStore and the document codec: format, versions, locks, listing and its cache."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType

import orjson
import pytest

from checkpoints_admin.checkpoints import (
    CheckpointExists,
    CheckpointLockTimeout,
    CheckpointNotFound,
    CheckpointStore,
    CheckpointTooLarge,
    CheckpointWriteError,
    CorruptCheckpoint,
    InvalidDocument,
    VersionConflict,
)
from checkpoints_admin.checkpoints.kinds import validate
from checkpoints_admin.checkpoints.store import (
    MISSING,
    CheckpointInfo,
    decode_document,
    decode_written_document,
    encode_document,
    utc_now_iso,
    version_of,
    wide_integers,
)
from checkpoints_admin.checkpoints.summary import summarize
from tests.conftest import SAMPLE_NAMES, SAMPLES


def files_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


# -- encode / decode ----------------------------------------------------------------------------


def test_encode_format_two_space_indent_key_order_utf8_trailing_newline():
    raw = encode_document({"zeta": 1, "alpha": ["é", "日本"], "mid": {"b": None, "a": True}})

    assert (
        raw
        == (
            '{\n  "zeta": 1,\n  "alpha": [\n    "é",\n    "日本"\n  ],\n'
            '  "mid": {\n    "b": null,\n    "a": true\n  }\n}\n'
        ).encode()
    )


def test_encode_accepts_tuples_and_read_only_mappings():
    raw = encode_document(MappingProxyType({"a": (1, 2), "b": MappingProxyType({"c": 3.5})}))

    assert orjson.loads(raw) == {"a": [1, 2], "b": {"c": 3.5}}


@pytest.mark.parametrize(
    ("document", "pointer"),
    [
        ({"a": float("nan")}, "/a"),
        ({"a": float("inf")}, "/a"),
        ({"a": [1, 2, {"b": float("-inf")}]}, "/a/2/b"),
        ({"x/y": {"m~n": [float("nan")]}}, "/x~1y/m~0n/0"),
        ({"ok": None, "stats": {"rate": float("nan")}}, "/stats/rate"),
        ({"items": ("a", "b", float("nan"))}, "/items/2"),
        ({"items": ["a", 1, None, float("-inf")]}, "/items/3"),
        # Found however many other u the bytes hold before or after it.
        ({"status": ["queued"] * 100, "rate": float("nan")}, "/rate"),
        ({"rate": float("inf"), "log": ["run"] * 100}, "/rate"),
    ],
)
def test_encode_refuses_nan_and_infinity_naming_the_pointer(document, pointer):
    with pytest.raises(InvalidDocument) as excinfo:
        encode_document(document)

    assert str(excinfo.value) == (
        f"cannot write the document: the number at {pointer} is NaN or Infinity, "
        "which JSON cannot represent"
    )


def test_encode_keeps_null_and_finite_floats():
    assert orjson.loads(encode_document({"a": None, "b": [0.5, None, -1e300]})) == {
        "a": None,
        "b": [0.5, None, -1e300],
    }


def test_encode_large_string_list_with_a_null_elsewhere():
    dates = [f"2025-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)] * 3000

    raw = encode_document({"endTime": None, "dates": dates})

    assert orjson.loads(raw)["dates"] == dates


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"a": [1, 2**64]}, "the integer at /a/1 does not fit in 64 bits"),
        ({"a": -(2**63) - 1}, "the integer at /a does not fit in 64 bits"),
        ({"a": {1: "x"}}, "key 1 at /a is not a string"),
        ({"a": {"b": {1, 2}}}, "the value at /a/b is a set, which is not JSON"),
        ({"a": "\ud800"}, "the string at /a is not valid Unicode (lone surrogate)"),
        # (as edit_checkpoint --add --set receives a key holding bytes that are not UTF-8)
        ({"a": {"x\udcff": 1}}, "key 'x\\udcff' at /a is not valid Unicode (lone surrogate)"),
    ],
)
def test_encode_refuses_what_json_cannot_hold(document, message):
    with pytest.raises(InvalidDocument) as excinfo:
        encode_document(document)

    assert str(excinfo.value) == f"cannot write the document: {message}"


def test_encode_keeps_64_bit_bounds():
    assert orjson.loads(encode_document({"a": 2**64 - 1, "b": -(2**63)})) == {
        "a": 2**64 - 1,
        "b": -(2**63),
    }


def test_encode_refuses_a_top_level_that_is_not_an_object():
    with pytest.raises(InvalidDocument) as excinfo:
        encode_document([1, 2])  # type: ignore[arg-type]

    assert str(excinfo.value) == "a checkpoint must be a JSON object at the top level, not list"


def test_encode_refuses_too_deep_and_cyclic_documents():
    deep: dict = {}
    node = deep
    for _ in range(300):
        node["a"] = {}
        node = node["a"]
    cyclic: dict = {"a": []}
    cyclic["a"].append(cyclic)

    for document in (deep, cyclic):
        with pytest.raises(InvalidDocument) as excinfo:
            encode_document(document)
        assert "nested more than 254 levels deep" in str(excinfo.value)


@pytest.mark.parametrize(
    ("raw", "literal", "pointer"),
    [
        (b'{"a": 99999999999999999999999}', "99999999999999999999999", "/a"),
        (b'{"a": [1, {"b/c": -9223372036854775809}]}', "-9223372036854775809", "/a/1/b~1c"),
        (b'{"a": 18446744073709551616}', "18446744073709551616", "/a"),
        (b'{"a": 1' + b"0" * 300 + b"}", "1" + "0" * 38 + "…", "/a"),
    ],
)
def test_a_written_document_refuses_an_integer_beyond_64_bits(raw, literal, pointer):
    """orjson reads it as the nearest float: typed in the raw editor or a --from-file file,
    99999999999999999999999 was written as 1e+23 without a word."""
    with pytest.raises(InvalidDocument) as excinfo:
        decode_written_document(raw)
    assert str(excinfo.value) == (
        f"the document has the integer {literal} at {pointer}, which does not fit in 64 bits "
        "(it would be kept only approximately); write it as a string"
    )


def test_a_written_document_keeps_64_bit_bounds_and_long_digit_strings():
    raw = b'{"a": 18446744073709551615, "b": -9223372036854775808, "c": "99999999999999999999"}'
    assert decode_written_document(raw) == {
        "a": 2**64 - 1,
        "b": -(2**63),
        "c": "99999999999999999999",
    }


def test_an_integer_that_fits_in_64_bits_is_not_parsed_a_second_time(monkeypatch):
    """A time in nanoseconds has 19 digits and fits: a million-date file holding one was
    parsed again and walked whole (about a second) on each raw edit, skip and finding."""
    raw = b'{"startNs": 1733400000000000000, "dates": ["2025-03-01", "2025-03-02"]}'

    def loads(*args, **kwargs):
        raise AssertionError("parsed a second time")

    monkeypatch.setattr(json, "loads", loads)
    assert wide_integers(raw) == []


def test_wide_integers_are_found_beside_long_digit_runs_that_are_not_integers():
    raw = (
        b'{"k12345678901234567890123": "12345678901234567890123", "f": 0.12345678901234567890,'
        b' "dates": ["2025-03-01", "2025-03-02"], "fits": -9223372036854775808,'
        b' "x": [1, {"n": -9223372036854775809}], "y": [18446744073709551616, "a"]}'
    )
    assert wide_integers(raw) == [
        (["x", 1, "n"], "-9223372036854775809"),
        (["y", 0], "18446744073709551616"),
    ]
    assert wide_integers(raw.replace(b"-9223372036854775809", b"7").replace(b"616", b"615")) == []


def test_decode_reports_line_and_column():
    with pytest.raises(CorruptCheckpoint) as excinfo:
        decode_document(b'{\n  "a": 1,\n  "b": }\n', name="job")

    error = excinfo.value
    assert (error.line, error.column, error.name) == (3, 8, "job")
    assert str(error) == (
        "checkpoint 'job' is not valid JSON: unexpected character, expected a JSON value "
        "at line 3, column 8"
    )


@pytest.mark.parametrize(
    ("raw", "word", "column"),
    [(b'{\n  "a": NaN\n}', "NaN", 8), (b'{"a": 1, "b": Infinity}', "Infinity", 15)],
)
def test_decode_names_nan_and_infinity(raw, word, column):
    """What Python's json writes for float('nan'): said plainly, not "unexpected character"."""
    with pytest.raises(CorruptCheckpoint) as excinfo:
        decode_document(raw, name="job")
    assert excinfo.value.column == column
    assert str(excinfo.value) == (
        f"checkpoint 'job' holds {word}, which JSON does not have (a checkpoint's numbers are "
        f"finite) at line {excinfo.value.line}, column {column}"
    )


def test_decode_returns_the_object():
    assert decode_document(b'{"b": 1, "a": [true, null]}') == {"b": 1, "a": [True, None]}


def test_version_is_sha256_of_bytes():
    assert version_of(b"{}\n") == "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"


def test_utc_now_iso_has_milliseconds_and_z():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_now_iso())


# -- directory ----------------------------------------------------------------------------------


def test_directory_from_environment_created_when_missing(tmp_path, monkeypatch):
    target = tmp_path / "from-env" / "nested"
    monkeypatch.setenv("CHECKPOINTS_DIR", str(target))

    store = CheckpointStore()

    assert store.directory == target
    assert target.is_dir()


def test_directory_defaults_to_checkpoints_under_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("CHECKPOINTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)

    store = CheckpointStore()

    assert store.directory == tmp_path / "checkpoints"
    assert (tmp_path / "checkpoints").is_dir()


# -- read / write -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_samples_round_trip(samples_dir, store, name):
    original = (SAMPLES / f"{name}.json").read_bytes()

    checkpoint = store.read(name)
    assert checkpoint.raw == original
    assert checkpoint.version == version_of(original)
    version = store.write(name, checkpoint.data, expected_version=checkpoint.version)

    written = (samples_dir / f"{name}.json").read_bytes()
    assert version == version_of(written)
    assert written == encode_document(json.loads(original))
    assert written.endswith(b"}\n")
    assert list(orjson.loads(written)) == list(json.loads(original))  # key order kept
    assert orjson.loads(written) == json.loads(original)
    # Once written in the house format, a read + unchanged write keeps the bytes.
    again = store.read(name)
    assert store.write(name, again.data, expected_version=again.version) == version
    assert (samples_dir / f"{name}.json").read_bytes() == written


def test_non_ascii_is_written_as_utf8(store, checkpoints_dir):
    store.write("unicode", {"note": "Zürich → 東京"})

    assert (checkpoints_dir / "unicode.json").read_bytes() == (
        '{\n  "note": "Zürich → 東京"\n}\n'.encode()
    )


def test_read_missing_raises_not_found(store):
    with pytest.raises(CheckpointNotFound) as excinfo:
        store.read("nope")

    assert str(excinfo.value) == "checkpoint 'nope' does not exist"
    assert excinfo.value.name == "nope"


@pytest.mark.parametrize("items", [1, 40_000], ids=["small", "hashed-meanwhile"])
def test_write_returns_the_version_of_the_bytes_on_disk(store, checkpoints_dir, items):
    # (A document of 40,000 items is over 256 KiB: its hash is worked out in another thread
    # while it is written.)
    version = store.write("job", {"a": list(range(items))})

    raw = (checkpoints_dir / "job.json").read_bytes()
    assert version == hashlib.sha256(raw).hexdigest()
    assert store.read("job").version == version
    staged = store.stage("job", {"b": list(range(items))})
    assert store.install(staged) == staged.version
    assert staged.version == hashlib.sha256((checkpoints_dir / "job.json").read_bytes()).hexdigest()


def test_stale_version_is_refused_and_file_unchanged(store, checkpoints_dir):
    first = store.write("job", {"n": 1})
    second = store.write("job", {"n": 2}, expected_version=first)
    before = (checkpoints_dir / "job.json").read_bytes()

    with pytest.raises(VersionConflict) as excinfo:
        store.write("job", {"n": 3}, expected_version=first)

    assert (excinfo.value.expected, excinfo.value.actual) == (first, second)
    assert str(excinfo.value) == (
        f"checkpoint 'job' changed since it was read "
        f"(expected version {first[:12]}, found {second[:12]})"
    )
    assert (checkpoints_dir / "job.json").read_bytes() == before


def test_expected_version_none_means_must_not_exist(store, checkpoints_dir):
    store.write("fresh", {"a": 1}, expected_version=None)
    before = (checkpoints_dir / "fresh.json").read_bytes()

    with pytest.raises(VersionConflict) as excinfo:
        store.write("fresh", {"a": 2}, expected_version=None)

    assert excinfo.value.expected is None
    assert excinfo.value.actual == version_of(before)
    assert (checkpoints_dir / "fresh.json").read_bytes() == before


def test_expected_version_of_a_deleted_file_conflicts(store, checkpoints_dir):
    version = store.write("gone", {"a": 1})
    store.delete("gone")

    with pytest.raises(VersionConflict) as excinfo:
        store.write("gone", {"a": 2}, expected_version=version)

    assert excinfo.value.actual is None
    assert not (checkpoints_dir / "gone.json").exists()


VERSION_RULE = (
    "expected_version must be a checkpoint version: 64 lowercase hex digits, the sha256 of "
    "the file's bytes (Checkpoint.version, or what write() returned), not "
)


@pytest.mark.parametrize(
    ("version", "error", "shown"),
    [
        ("zz", ValueError, "'zz'"),
        ("A" * 64, ValueError, repr("A" * 64)),
        ("a" * 12, ValueError, repr("a" * 12)),
        (5, TypeError, "int 5"),
        (b"a" * 64, TypeError, "bytes " + repr(b"a" * 64)),
    ],
)
def test_an_expected_version_that_is_no_version_is_refused_as_an_argument(
    store, checkpoints_dir, version, error, shown
):
    """It read as a version the file had moved away from: 'was deleted since version zz'."""
    store.write("job", {"n": 1})
    before = files_in(checkpoints_dir), (checkpoints_dir / "job.json").read_bytes()
    for attempt in (
        lambda: store.write("job", {"n": 2}, expected_version=version),
        lambda: store.write("new", {"n": 2}, expected_version=version),
        lambda: store.write_raw("job", b'{"n": 2}', expected_version=version),
        lambda: store.install(store.stage("job", {"n": 2}), expected_version=version),
        lambda: store.delete("job", expected_version=version),
    ):
        with pytest.raises(error) as excinfo:
            attempt()
        assert str(excinfo.value) == VERSION_RULE + shown
    assert (files_in(checkpoints_dir), (checkpoints_dir / "job.json").read_bytes()) == before


def test_create_refuses_existing(store, checkpoints_dir):
    store.write("job", {"a": 1}, create=True)
    before = (checkpoints_dir / "job.json").read_bytes()

    with pytest.raises(CheckpointExists) as excinfo:
        store.write("job", {"a": 2}, create=True)

    assert str(excinfo.value) == "checkpoint 'job' already exists"
    assert (checkpoints_dir / "job.json").read_bytes() == before


def test_missing_sentinel_means_no_check(store):
    store.write("job", {"a": 1})

    store.write("job", {"a": 2}, expected_version=MISSING)

    assert store.read("job").data == {"a": 2}


def test_write_raw_validates_the_bytes_first(store, checkpoints_dir):
    store.write("job", {"a": 1})
    before = (checkpoints_dir / "job.json").read_bytes()

    with pytest.raises(CorruptCheckpoint):
        store.write_raw("job", b'{"a": ')
    with pytest.raises(CorruptCheckpoint):
        store.write_raw("job", b"[1]\n")

    assert (checkpoints_dir / "job.json").read_bytes() == before
    version = store.write_raw("job", b'{"a": 2}\n')
    assert (checkpoints_dir / "job.json").read_bytes() == b'{"a": 2}\n'
    assert version == version_of(b'{"a": 2}\n')
    # Bytes the caller encoded itself are not parsed again.
    assert store.write_raw("job", b'{"a": 3}\n', parsed=True) == version_of(b'{"a": 3}\n')


def test_invalid_document_leaves_file_unchanged(store, checkpoints_dir):
    store.write("job", {"a": 1})
    before = (checkpoints_dir / "job.json").read_bytes()

    with pytest.raises(InvalidDocument):
        store.write("job", {"a": float("nan")})

    assert (checkpoints_dir / "job.json").read_bytes() == before
    assert files_in(checkpoints_dir) == ["job.json", "job.json.lock"]


def test_document_over_max_bytes_is_refused(checkpoints_dir):
    store = CheckpointStore(checkpoints_dir, max_bytes=100)
    store.write("job", {"a": 1})
    before = (checkpoints_dir / "job.json").read_bytes()

    with pytest.raises(CheckpointTooLarge) as excinfo:
        store.write("job", {"a": "x" * 200})

    assert str(excinfo.value) == (
        "checkpoint 'job' would be 214 bytes, larger than the limit of 100 bytes"
    )
    assert (checkpoints_dir / "job.json").read_bytes() == before


def test_write_over_a_directory_is_a_write_error(store, checkpoints_dir):
    (checkpoints_dir / "dir.json").mkdir()

    with pytest.raises(CheckpointWriteError) as excinfo:
        store.write("dir", {"a": 1})

    assert "dir.json is not a regular file" in str(excinfo.value)
    assert (checkpoints_dir / "dir.json").is_dir()
    assert files_in(checkpoints_dir) == ["dir.json", "dir.json.lock"]


def test_mode_of_the_original_is_kept(store, checkpoints_dir):
    store.write("job", {"a": 1})
    os.chmod(checkpoints_dir / "job.json", 0o640)

    store.write("job", {"a": 2})

    assert stat.S_IMODE(os.stat(checkpoints_dir / "job.json").st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_and_group_of_the_original_are_kept(store, checkpoints_dir):
    store.write("job", {"a": 1})
    os.chown(checkpoints_dir / "job.json", 4321, 4322)
    os.chmod(checkpoints_dir / "job.json", 0o2660)

    store.write("job", {"a": 2})

    written = os.stat(checkpoints_dir / "job.json")
    assert (written.st_uid, written.st_gid) == (4321, 4322)
    assert stat.S_IMODE(written.st_mode) == 0o2660


def test_new_files_follow_the_umask_not_mkstemp(store, checkpoints_dir):
    old = os.umask(0o027)
    try:
        store.write("masked", {"a": 1})
    finally:
        os.umask(old)
    store.write("default", {"a": 1})

    assert stat.S_IMODE(os.stat(checkpoints_dir / "masked.json").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(checkpoints_dir / "default.json").st_mode) == 0o666 & ~old


def test_write_leaves_no_temp_file(store, checkpoints_dir):
    for n in range(5):
        store.write("job", {"n": n})

    assert files_in(checkpoints_dir) == ["job.json", "job.json.lock"]


def test_exists(store, checkpoints_dir):
    store.write("job", {"a": 1})
    (checkpoints_dir / "dir.json").mkdir()

    assert store.exists("job") is True
    assert store.exists("other") is False
    assert store.exists("dir") is False


def test_path_for(store, checkpoints_dir):
    assert store.path_for("job") == checkpoints_dir / "job.json"


# -- delete -------------------------------------------------------------------------------------


def test_delete_keeps_the_lock_file(store, checkpoints_dir):
    version = store.write("job", {"a": 1})

    store.delete("job", expected_version=version)

    assert files_in(checkpoints_dir) == ["job.json.lock"]
    assert not store.exists("job")


def test_delete_with_stale_version_is_refused(store, checkpoints_dir):
    first = store.write("job", {"a": 1})
    store.write("job", {"a": 2})
    before = (checkpoints_dir / "job.json").read_bytes()

    with pytest.raises(VersionConflict):
        store.delete("job", expected_version=first)

    assert (checkpoints_dir / "job.json").read_bytes() == before


def test_delete_expecting_no_file_is_refused(store, checkpoints_dir):
    store.write("job", {"a": 1})

    with pytest.raises(VersionConflict) as excinfo:
        store.delete("job", expected_version=None)

    version = store.read("job").version
    assert str(excinfo.value) == (
        f"checkpoint 'job' exists (version {version[:12]}), and no file was expected"
    )
    assert store.exists("job")


def test_delete_missing_raises_not_found(store):
    with pytest.raises(CheckpointNotFound):
        store.delete("nope")


# -- locks --------------------------------------------------------------------------------------


def test_lock_is_reentrant_within_a_thread(store, checkpoints_dir):
    with store.lock("job"), store.lock("job", timeout=0):
        version = store.write("job", {"a": 1})
        store.delete("job", expected_version=version)

    assert files_in(checkpoints_dir) == ["job.json.lock"]


def test_lock_is_reentrant_across_stores_of_one_directory(store, checkpoints_dir):
    other = CheckpointStore(checkpoints_dir, lock_timeout=0.1)

    with store.lock("job"):
        version = other.write("job", {"a": 1})
        with other.lock("job", timeout=0):
            store.write("job", {"a": 2}, expected_version=version)

    assert other.read("job").data == {"a": 2}


def test_lock_is_reentrant_across_stores_of_one_directory_by_another_path(
    store, checkpoints_dir, tmp_path
):
    """A store opened through a symbolic link to the directory holds the same lock files: a
    thread holding one's lock holds the other's, instead of waiting on itself."""
    (tmp_path / "link").symlink_to(checkpoints_dir)
    other = CheckpointStore(tmp_path / "link", lock_timeout=0.1)

    with store.lock("job"), other.lock("job", timeout=0):
        store.write("job", {"a": 1})

    assert other.read("job").data == {"a": 1}


@contextmanager
def lock_held_by_a_thread(store: CheckpointStore, name: str) -> Iterator[threading.Event]:
    """Another thread holds the lock of ``name`` until the yielded event is set (or the end)."""
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.lock(name):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        yield release
    finally:
        release.set()
        thread.join()


def test_negative_timeout_waits_for_a_lock_held_by_another_thread(store):
    with lock_held_by_a_thread(store, "job") as release:
        threading.Timer(0.1, release.set).start()
        with store.lock("job", timeout=-1):
            assert release.is_set()


def test_lock_excludes_other_threads(store):
    with lock_held_by_a_thread(store, "job"):
        with pytest.raises(CheckpointLockTimeout) as excinfo, store.lock("job", timeout=0.05):
            pass
        assert str(excinfo.value) == "checkpoint 'job' is locked by another process (waited 0.05s)"
        assert excinfo.value.name == "job"
    with store.lock("job", timeout=5):
        pass


def test_threads_lose_no_compare_and_swap_update(store):
    store.write("counter", {"n": 0})
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with store.lock("counter", timeout=30):
                    current = store.read("counter")
                    store.write(
                        "counter", {"n": current.data["n"] + 1}, expected_version=current.version
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert store.read("counter").data == {"n": 100}


# -- list ---------------------------------------------------------------------------------------


def test_list_samples_sorted_with_kinds(samples_dir, store):
    infos = store.list()

    assert [(i.name, i.kind, i.corrupt) for i in infos] == [
        ("daily_reconciliation_checkpoint", "daily-reconciliation", False),
        ("my-process", "managed", False),
        ("reconciliation_checkpoint", "unified-reconciliation", False),
    ]
    unified = infos[2]
    raw = (samples_dir / "reconciliation_checkpoint.json").read_bytes()
    assert unified.version == version_of(raw)
    assert unified.size == len(raw)
    assert unified.modified == os.stat(samples_dir / "reconciliation_checkpoint.json").st_mtime
    assert unified.summary is not None
    assert unified.summary.kind == "unified-reconciliation"
    assert [f.severity for f in unified.findings] == ["warning"]
    assert "2025-03-05" in unified.findings[0].message
    assert all(not i.findings or i is unified for i in infos)


def test_list_ignores_locks_temp_files_directories_and_other_names(samples_dir, store):
    for name in ("notes.txt", "x.json.lock", ".job.json.abc123.tmp", "-bad.json", "a.json.json"):
        (samples_dir / name).write_text("{}")
    (samples_dir / "folder.json").mkdir()
    os.mkfifo(samples_dir / "pipe.json")
    store.write("mine", {"a": 1})

    names = [info.name for info in store.list()]

    assert names == [
        "daily_reconciliation_checkpoint",
        "mine",
        "my-process",
        "reconciliation_checkpoint",
    ]


def test_names_are_what_list_lists_without_reading_the_files(samples_dir, store, tmp_path):
    for name in ("notes.txt", "x.json.lock", ".job.json.abc123.tmp", "-bad.json", "a.json.json"):
        (samples_dir / name).write_text("{}")
    (samples_dir / "folder.json").mkdir()
    os.mkfifo(samples_dir / "pipe.json")
    (samples_dir / "broken.json").write_text('{"a": ')  # corrupt: listed with its error
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    (samples_dir / "leak.json").symlink_to(outside)  # leads outside: ignored
    (samples_dir / "alias.json").symlink_to(samples_dir / "my-process.json")  # inside: listed
    (samples_dir / "nowhere.json").symlink_to(samples_dir / "missing.json")

    assert store.names() == [info.name for info in store.list()]
    assert "alias" in store.names() and "broken" in store.names()
    assert "leak" not in store.names() and "folder" not in store.names()


def test_list_of_an_empty_directory(store):
    assert store.list() == []


def test_list_cache_reparses_only_changed_files(samples_dir, store):
    first = store.list()
    assert store.stats.parsed == 3

    second = store.list()
    assert store.stats.parsed == 3
    assert second == first

    store.write("my-process", {"id": "my-process-1", "status": "completed", "progress": 100})
    third = store.list()
    assert store.stats.parsed == 4
    changed = {i.name: i for i in third}["my-process"]
    assert changed.version == store.read("my-process").version
    assert changed.summary is not None and changed.summary.status == "completed"

    store.list()
    assert store.stats.parsed == 4


def test_list_cache_forgets_deleted_and_finds_new_files(samples_dir, store):
    store.list()
    store.delete("my-process")
    shutil.copyfile(SAMPLES / "my-process.json", samples_dir / "copy.json")

    names = [info.name for info in store.list()]

    assert names == ["copy", "daily_reconciliation_checkpoint", "reconciliation_checkpoint"]
    assert store.stats.parsed == 4


def test_list_notices_a_change_that_keeps_inode_size_and_mtime(store, checkpoints_dir):
    path = checkpoints_dir / "job.json"
    path.write_bytes(b'{"n": 1}\n')
    before = os.stat(path)
    assert store.list()[0].version == version_of(b'{"n": 1}\n')

    with open(path, "r+b") as file:  # rewritten in place, same size, same timestamp
        file.write(b'{"n": 2}\n')
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )

    assert store.list()[0].version == version_of(b'{"n": 2}\n')


def test_list_trusts_old_unchanged_files_without_reading(store, checkpoints_dir):
    path = checkpoints_dir / "job.json"
    path.write_bytes(b'{"n": 1}\n')
    old = time.time() - 60
    os.utime(path, (old, old))
    store.list()
    reads = (store.stats.parsed, store.stats.verified)

    store.list()

    assert (store.stats.parsed, store.stats.verified) == reads == (1, 0)


def test_list_info_behaves_as_a_checkpoint_info(samples_dir, store):
    info = {i.name: i for i in store.list()}["my-process"]

    assert isinstance(info, CheckpointInfo)
    plain = CheckpointInfo(
        name=info.name,
        size=info.size,
        modified=info.modified,
        version=info.version,
        kind=info.kind,
        summary=info.summary,
        findings=info.findings,
        error=info.error,
    )
    assert info == plain
    assert plain == info
    assert repr(info) == repr(plain)
    with pytest.raises(AttributeError):
        info.name = "other"  # type: ignore[misc]


def test_list_info_describes_the_version_it_was_listed_with(store):
    store.write("job", {"id": "job-1", "status": "running", "progress": 10})
    (info,) = store.list()

    store.write("job", {"id": "job-1", "status": "completed", "progress": 100})

    assert info.summary is not None
    assert (info.summary.status, info.summary.progress) == ("running", 0.1)
    (current,) = store.list()
    assert current.summary is not None
    assert (current.summary.status, current.summary.progress) == ("completed", 1.0)


def test_list_info_of_a_large_checkpoint(store):
    dates = [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]
    store.write(
        "big",
        {
            "lastRun": "2025-03-06T10:15:23.456Z",
            "dates": dates * 10,
            "processedDates": [],
            "status": "running",
        },
    )

    (info,) = store.list()

    assert info.size > 16 * 1024
    assert info.kind == "daily-reconciliation"
    assert info.summary is not None and info.summary.kind == "daily-reconciliation"
    assert any(f.severity == "error" for f in info.findings)  # duplicated dates


@pytest.mark.parametrize("copies", [1, 40], ids=["small", "large"])
def test_list_info_holds_the_documents_summary_and_findings(store, copies):
    dates = [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)] * copies
    document = {
        "dates": dates[:-1] + ["2024-02-30"],
        "processedDates": dates[:100] + ["2023-12-31"],
        "lastProcessedDate": "2024-07-01",
        "status": "completed",
    }
    store.write("job", document)

    (info,) = store.list()

    assert (info.size > 16 * 1024) == (copies > 1)
    assert info.summary == summarize(document)
    assert info.findings == tuple(validate(document))
    assert {f.severity for f in info.findings} == {"error", "warning"}


def test_list_from_several_threads(samples_dir, store):
    results: list[list[str]] = []

    def run() -> None:
        for _ in range(20):
            results.append([info.name for info in store.list()])

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 80
    assert all(names == sorted(SAMPLE_NAMES) for names in results)
    assert store.stats.parsed == 3


# -- temp files ---------------------------------------------------------------------------------


def test_sweep_removes_only_our_old_temp_files(store, checkpoints_dir):
    ours_old = checkpoints_dir / ".job.json.k2j4h5_x.tmp"
    ours_new = checkpoints_dir / ".job.json.a8dk3lq0.tmp"
    others = [
        checkpoints_dir / "job.tmp",
        checkpoints_dir / ".notes.tmp",
        checkpoints_dir / ".job.json.lock.abc.tmp",
        checkpoints_dir / "job.json",
    ]
    for path in (ours_old, ours_new, *others):
        path.write_bytes(b"{}")
    hour_ago = time.time() - 3700
    for path in (ours_old, *others):
        os.utime(path, (hour_ago, hour_ago))

    removed = store.sweep_temp_files()

    assert removed == [ours_old]
    assert not ours_old.exists()
    assert ours_new.exists()
    assert all(path.exists() for path in others)
    assert store.sweep_temp_files(older_than=0) == [ours_new]


def test_sweep_leaves_a_journaled_writes_temp_file_a_week(store, checkpoints_dir):
    """An audited change's temp file, named in its journal row, says after a crash that the
    change never landed: the sweep keeps it past the hour, until recovery removes it."""
    store.write("job", {"n": 1})
    staged = store.stage_raw("job", encode_document({"n": 2}), journaled=True)
    journaled = Path(staged.temp_path)
    assert journaled.name.startswith(".job.json.journaled_")
    plain = checkpoints_dir / ".job.json.k2j4h5_x.tmp"  # a killed job's
    plain.write_bytes(b"{}")
    two_hours_ago = time.time() - 7200
    for path in (journaled, plain):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert store.sweep_temp_files() == [plain]
    assert store.staged_leftover("job", journaled.name) == journaled

    eight_days_ago = time.time() - 8 * 86400
    os.utime(journaled, (eight_days_ago, eight_days_ago))
    assert store.sweep_temp_files() == [journaled]
    assert store.read("job").data == {"n": 1}


def test_list_sweeps_old_temp_files(store, checkpoints_dir):
    leftover = checkpoints_dir / ".job.json.zz81kq_a.tmp"
    leftover.write_bytes(b'{"partial": ')
    hour_ago = time.time() - 7200
    os.utime(leftover, (hour_ago, hour_ago))

    assert store.list() == []

    assert not leftover.exists()
    assert store.stats.swept == 1


# -- staged writes ------------------------------------------------------------------------------


def temp_files(directory: Path) -> list[str]:
    return [name for name in files_in(directory) if name.endswith(".tmp")]


def test_a_staged_write_changes_nothing_until_installed(store, checkpoints_dir):
    store.write("job", {"n": 1})
    old = (checkpoints_dir / "job.json").read_bytes()
    os.chmod(checkpoints_dir / "job.json", 0o640)

    staged = store.stage("job", {"n": 2})

    assert (checkpoints_dir / "job.json").read_bytes() == old
    assert temp_files(checkpoints_dir) == [os.path.basename(staged.temp_path)]
    assert staged.version == version_of(encode_document({"n": 2}))
    assert store.install(staged, expected_version=version_of(old)) == staged.version
    assert store.read("job").data == {"n": 2}
    assert stat.S_IMODE(os.stat(checkpoints_dir / "job.json").st_mode) == 0o640
    assert temp_files(checkpoints_dir) == []


def test_installing_over_a_changed_file_is_a_conflict_and_removes_the_temp_file(
    store, checkpoints_dir
):
    store.write("job", {"n": 1})
    seen = store.read("job").version
    staged = store.stage("job", {"n": 2})
    store.write("job", {"n": 3})  # the job saved meanwhile

    with pytest.raises(VersionConflict):
        store.install(staged, expected_version=seen)

    assert store.read("job").data == {"n": 3}
    assert temp_files(checkpoints_dir) == []


def test_staging_refuses_what_write_refuses_and_leaves_no_temp_file(checkpoints_dir):
    store = CheckpointStore(checkpoints_dir, max_bytes=100)
    with pytest.raises(CheckpointTooLarge):
        store.stage("job", {"blob": "x" * 200})
    with pytest.raises(CorruptCheckpoint):
        store.stage_raw("job", b'{"n": ')
    with pytest.raises(CorruptCheckpoint):
        store.stage_raw("job", b"[1, 2]")
    assert files_in(checkpoints_dir) == []


def test_a_discarded_staged_write_leaves_the_checkpoint_and_no_temp_file(store, checkpoints_dir):
    store.write("job", {"n": 1})
    staged = store.stage_raw("job", b'{"n": 2}\n')
    staged.discard()
    staged.discard()  # twice is harmless
    assert store.read("job").data == {"n": 1}
    assert temp_files(checkpoints_dir) == []


def test_read_returns_what_was_seen_while_the_file_keeps_its_bytes(store):
    store.write("job", {"n": 1})
    seen = store.read("job")

    assert store.read("job", seen=seen) is seen
    store.write("job", {"n": 2})
    again = store.read("job", seen=seen)
    assert again is not seen
    assert again.data == {"n": 2}
    store.write("other", {"n": 1})  # the same bytes under another name are not what was seen
    assert store.read("other", seen=seen) is not seen


def test_staging_bytes_the_caller_parsed_skips_the_parse(store, checkpoints_dir):
    raw = encode_document({"n": 2})
    staged = store.stage_raw("job", raw, parsed=True)
    assert store.install(staged, expected_version=None) == version_of(raw)
    assert (checkpoints_dir / "job.json").read_bytes() == raw


def test_a_staged_write_can_be_synced_in_another_thread(store, checkpoints_dir):
    store.write("job", {"n": 1})
    seen = store.read("job").version
    staged = store.stage_raw("job", encode_document({"n": 2}), parsed=True, sync=False)
    worker = threading.Thread(target=staged.sync)
    worker.start()
    worker.join()
    staged.sync()  # once only: a second call does nothing

    store.install(staged, expected_version=seen)

    assert store.read("job").data == {"n": 2}
    assert temp_files(checkpoints_dir) == []


def test_install_syncs_a_staged_write_nobody_synced_and_discard_closes_it(store, checkpoints_dir):
    first = store.stage_raw("job", b'{"n": 1}\n', sync=False)
    assert store.install(first, expected_version=None) == version_of(b'{"n": 1}\n')
    second = store.stage_raw("job", b'{"n": 2}\n', sync=False)
    opened = len(os.listdir("/proc/self/fd"))
    second.discard()
    assert len(os.listdir("/proc/self/fd")) == opened - 1
    assert store.read("job").data == {"n": 1}
    assert temp_files(checkpoints_dir) == []


def test_a_directory_that_is_missing_or_no_directory_is_said_so(tmp_path: Path) -> None:
    from checkpoints_admin.checkpoints import CheckpointsDirectoryError

    a_file = tmp_path / "checkpoints"
    a_file.write_text("not a directory")
    for create in (True, False):
        with pytest.raises(CheckpointsDirectoryError) as excinfo:
            CheckpointStore(a_file, create=create)
        assert str(excinfo.value) == f"the checkpoints directory {str(a_file)!r} is not a directory"
    with pytest.raises(CheckpointsDirectoryError) as excinfo:
        CheckpointStore(tmp_path / "missing", create=False)
    assert str(excinfo.value).endswith("missing' does not exist")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(CheckpointsDirectoryError) as excinfo:
        CheckpointStore(a_file / "below")  # its parent is a file
    assert "cannot create the checkpoints directory" in str(excinfo.value)
    assert CheckpointStore(tmp_path / "made").directory.is_dir()


def test_lock_files_follow_the_umask_as_checkpoints_do(store, checkpoints_dir):
    """Under umask 002 both are group-writable: what two users sharing a group need."""
    old = os.umask(0o002)
    try:
        store.write("shared", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(checkpoints_dir / "shared.json.lock").st_mode) == 0o664
    assert stat.S_IMODE(os.stat(checkpoints_dir / "shared.json").st_mode) == 0o664


@pytest.mark.skipif(os.geteuid() != 0, reason="running as two users needs root")
def test_a_job_and_the_console_as_two_users_of_one_group_both_write(request):
    """The README's setup for a job and the console under different uids: a setgid directory
    of a group both are in, umask 002. Each writes after the other, in real processes (under
    the default umask 022 the second user gets "cannot lock checkpoint: Permission denied").
    """
    group = 54321
    # (pytest's own temp directories are open to root only)
    shared = Path(tempfile.mkdtemp(prefix="shared-checkpoints-"))
    os.chown(shared, 0, group)
    os.chmod(shared, 0o2775)
    request.addfinalizer(lambda: shutil.rmtree(shared))

    def write_as(uid: int, value: int, name: str = "job", umask: int = 0o002) -> int:
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child's exit code is the result)
            code = 1
            try:
                os.setgroups([group])
                os.setgid(group)
                os.setuid(uid)
                os.umask(umask)
                CheckpointStore(shared).write(name, {"by": uid, "n": value})
                code = 0
            finally:
                os._exit(code)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    assert write_as(40001, 1) == 0  # the job creates the checkpoint and its lock
    assert write_as(40002, 2) == 0  # the console, another user, changes it
    assert write_as(40001, 3) == 0  # and the job goes on
    assert CheckpointStore(shared).read("job").data == {"by": 40001, "n": 3}
    lock = os.stat(shared / "job.json.lock")
    assert (lock.st_gid, stat.S_IMODE(lock.st_mode)) == (group, 0o664)
    # What the umask is for: a lock file made under 022 locks the other user out.
    assert write_as(40001, 1, name="other", umask=0o022) == 0
    assert write_as(40002, 2, name="other") == 1
    assert CheckpointStore(shared).read("other").data == {"by": 40001, "n": 1}


def test_a_staged_leftover_is_a_temp_file_of_that_checkpoint_and_a_regular_file(tmp_path):
    """What recovery takes as proof that a change never landed, and removes once recorded:
    only a temp file of that very checkpoint, never a link or another file."""
    store = CheckpointStore(tmp_path)
    store.write("job", {"id": "job-1"})
    staged = store.stage("job", {"id": "job-2"})
    fname = Path(staged.temp_path).name
    assert store.staged_leftover("job", fname) == Path(staged.temp_path)
    assert store.staged_leftover("other", fname) is None
    assert store.staged_leftover("job", "job.json") is None
    outside = tmp_path.parent / "precious.txt"
    outside.write_text("keep")
    (tmp_path / ".job.json.link1.tmp").symlink_to(outside)
    assert store.staged_leftover("job", ".job.json.link1.tmp") is None
    store.discard_leftover("job", ".job.json.link1.tmp")
    assert outside.read_text() == "keep"
    store.discard_leftover("job", fname)
    assert not Path(staged.temp_path).exists()
    store.discard_leftover("job", fname)  # (gone already: nothing to do)
