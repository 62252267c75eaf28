"""Hostile names and hostile files: each refused with its typed error, nothing changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checkpoints_admin.checkpoints import (
    CheckpointNotFound,
    CheckpointStore,
    CheckpointTooLarge,
    CorruptCheckpoint,
    InvalidCheckpointName,
)
from checkpoints_admin.checkpoints.store import version_of


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for directories and links)."""
    result: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or path.is_dir():
            result[str(path.relative_to(root))] = None
        else:
            result[str(path.relative_to(root))] = path.read_bytes()
    return result


HOSTILE_NAMES = [
    pytest.param("../x", id="parent"),
    pytest.param("../../etc/passwd", id="parent-deep"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("a/b", id="slash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("x" * 300, id="300-chars"),
    pytest.param("x" * 129, id="129-chars"),
    pytest.param("", id="empty"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dotdot"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("-rf", id="leading-dash"),
    pytest.param("_x", id="leading-underscore"),
    pytest.param("job.lock", id="lock-suffix"),
    pytest.param("job.json.lock", id="json-lock-suffix"),
    pytest.param("job.tmp", id="tmp-suffix"),
    pytest.param("job.json", id="json-suffix"),
    pytest.param("a b", id="space"),
    pytest.param("job\n", id="trailing-newline"),
    pytest.param("café", id="non-ascii"),
    pytest.param("٣", id="non-ascii-digit"),
    pytest.param("a:b", id="colon"),
    pytest.param("*", id="glob"),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_name_is_refused_everywhere(store, tmp_path, name):
    before = snapshot(tmp_path)
    calls = [
        lambda: store.validate_name(name),
        lambda: store.path_for(name),
        lambda: store.exists(name),
        lambda: store.read(name),
        lambda: store.read_raw(name),
        lambda: store.write(name, {"a": 1}),
        lambda: store.write_raw(name, b"{}\n"),
        lambda: store.delete(name),
        lambda: store.lock(name),
    ]

    for call in calls:
        with pytest.raises(InvalidCheckpointName) as excinfo:
            call()
        assert str(excinfo.value).startswith("invalid checkpoint name ")

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x", "it contains a path separator or a NUL character"),
        ("x" * 300, "it is 300 characters long (at most 128)"),
        ("job.lock", "names may not end in .lock or .tmp"),
        ("job.json", "give the name without .json (the checkpoint 'job' is the file job.json)"),
        ("", "it is empty"),
    ],
)
def test_hostile_name_messages(store, name, reason):
    with pytest.raises(InvalidCheckpointName) as excinfo:
        store.validate_name(name)

    assert str(excinfo.value).endswith(reason)


@pytest.mark.parametrize("name", [None, 42, b"job", Path("job")])
def test_non_string_name_is_refused(store, name):
    with pytest.raises(InvalidCheckpointName) as excinfo:
        store.validate_name(name)

    assert str(excinfo.value) == (f"a checkpoint name must be a string, not {type(name).__name__}")


@pytest.mark.parametrize(
    "name", ["a", "0", "x" * 128, "daily.2025-03-06", "My_Job-2", "v1.0.lockx"]
)
def test_edge_names_are_accepted(store, name):
    assert store.validate_name(name) == name

    version = store.write(name, {"a": 1})

    assert store.read(name).version == version
    assert [info.name for info in store.list()] == [name]


HOSTILE_FILES = [
    pytest.param(b"", "checkpoint 'bad' is empty (0 bytes)", (1, 1), id="empty"),
    pytest.param(b" \n\t\n", "checkpoint 'bad' is empty (only whitespace)", (1, 1), id="blank"),
    pytest.param(
        b'\xef\xbb\xbf{"a": 1}\n',
        "checkpoint 'bad' starts with a UTF-8 byte order mark (BOM); save it as UTF-8 without BOM",
        (1, 1),
        id="bom",
    ),
    pytest.param(
        b'{\n  "a": "caf\xe9"\n}\n',
        "checkpoint 'bad' is not valid UTF-8: byte 0xe9 at line 2, column 12",
        (2, 12),
        id="latin-1",
    ),
    pytest.param(
        b"[" * 1100 + b"]" * 1100,
        "checkpoint 'bad' is nested too deeply (more than 1024 levels) at line 1, column 1026",
        (1, 1026),
        id="deep",
    ),
    pytest.param(
        b'["a", "b"]\n',
        "checkpoint 'bad' must be a JSON object at the top level, not an array",
        (1, 1),
        id="array",
    ),
    pytest.param(
        b'"just a string"\n',
        "checkpoint 'bad' must be a JSON object at the top level, not a string",
        (1, 1),
        id="string",
    ),
    pytest.param(
        b"null\n",
        "checkpoint 'bad' must be a JSON object at the top level, not null",
        (1, 1),
        id="null",
    ),
    pytest.param(
        b'{\n  "rate": NaN\n}\n',
        "checkpoint 'bad' holds NaN, which JSON does not have (a checkpoint's numbers are finite) "
        "at line 2, column 11",
        (2, 11),
        id="nan-literal",
    ),
    pytest.param(
        b'{\n  "rate": Infinity\n}\n',
        "checkpoint 'bad' holds Infinity, which JSON does not have (a checkpoint's numbers are "
        "finite) at line 2, column 11",
        (2, 11),
        id="infinity-literal",
    ),
    pytest.param(
        b'{\n  "n": 1e400\n}\n',
        "checkpoint 'bad' holds the number 1e400, which is too large for JSON (it would read as "
        "infinity) at line 2, column 8",
        (2, 8),
        id="number-beyond-a-double",
    ),
    pytest.param(
        b'{\n  "a": 1,\n}\n',
        "checkpoint 'bad' is not valid JSON: trailing comma is not allowed at line 2, column 9",
        (2, 9),
        id="trailing-comma",
    ),
    pytest.param(
        b'{"pendingDates": ["2025-03-01", ',
        "checkpoint 'bad' is not valid JSON: unexpected end of data at line 1, column 33",
        (1, 33),
        id="truncated",
    ),
]


@pytest.mark.parametrize(("content", "message", "position"), HOSTILE_FILES)
def test_hostile_file_raises_corrupt_and_is_listed_as_corrupt(
    store, checkpoints_dir, content, message, position
):
    (checkpoints_dir / "bad.json").write_bytes(content)
    store.write("good", {"a": 1})

    with pytest.raises(CorruptCheckpoint) as excinfo:
        store.read("bad")
    assert str(excinfo.value) == message
    assert (excinfo.value.line, excinfo.value.column) == position
    assert excinfo.value.name == "bad"
    assert store.read_raw("bad") == content

    infos = store.list()
    assert [(i.name, i.corrupt) for i in infos] == [("bad", True), ("good", False)]
    bad = infos[0]
    assert bad.error == message
    assert (bad.kind, bad.summary, bad.findings) == (None, None, ())
    assert bad.version == version_of(content)
    assert bad.size == len(content)
    assert (checkpoints_dir / "bad.json").read_bytes() == content


def test_corrupt_file_can_be_replaced_with_its_version(store, checkpoints_dir):
    (checkpoints_dir / "bad.json").write_bytes(b"{oops")
    version = store.list()[0].version

    store.write("bad", {"fixed": True}, expected_version=version)

    assert store.read("bad").data == {"fixed": True}


def test_file_over_max_bytes(checkpoints_dir):
    store = CheckpointStore(checkpoints_dir, max_bytes=1024)
    content = b'{"a": "' + b"x" * 2000 + b'"}\n'
    (checkpoints_dir / "huge.json").write_bytes(content)

    for call in (store.read, store.read_raw):
        with pytest.raises(CheckpointTooLarge) as excinfo:
            call("huge")
        assert str(excinfo.value) == (
            "checkpoint 'huge' is 2.0 KiB, larger than the limit of 1.0 KiB"
        )

    (info,) = store.list()
    assert (info.name, info.corrupt, info.version) == ("huge", True, None)
    assert info.error == "checkpoint 'huge' is 2.0 KiB, larger than the limit of 1.0 KiB"
    assert info.size == len(content)


def test_symlink_leaving_the_directory_is_refused(store, checkpoints_dir, tmp_path):
    outside = tmp_path / "secret.json"
    outside.write_bytes(b'{"secret": true}\n')
    (checkpoints_dir / "leak.json").symlink_to(outside)
    (checkpoints_dir / "rel.json").symlink_to(Path("..") / "secret.json")

    for name in ("leak", "rel"):
        for call in (
            store.path_for,
            store.read,
            store.read_raw,
            store.exists,
            lambda n: store.write(n, {"secret": False}),
            lambda n: store.write_raw(n, b"{}\n"),
            store.delete,
        ):
            with pytest.raises(InvalidCheckpointName) as excinfo:
                call(name)
            assert str(excinfo.value) == (
                f"checkpoint {name!r} is a symbolic link that leads outside the checkpoints "
                "directory; it is refused"
            )

    assert outside.read_bytes() == b'{"secret": true}\n'
    assert (checkpoints_dir / "leak.json").is_symlink()
    assert store.list() == []


def test_symlinks_leaving_the_directory_are_named_apart_from_the_list(
    store, checkpoints_dir, tmp_path
):
    """Left out of the list, but named: someone put them there and should hear of it."""
    outside = tmp_path / "secret.json"
    outside.write_bytes(b'{"secret": true}\n')
    store.write("job", {"a": 1})
    (checkpoints_dir / "leak.json").symlink_to(outside)
    (checkpoints_dir / "alias.json").symlink_to("job.json")
    (tmp_path / "elsewhere").mkdir()
    (checkpoints_dir / "d.json").symlink_to(tmp_path / "elsewhere")

    assert [info.name for info in store.list()] == ["alias", "job"]
    assert store.refused_links() == ["d", "leak"]
    assert store.list() == store.list()  # listed again: still left out, still named
    assert store.refused_links() == ["d", "leak"]
    assert store.names() == ["alias", "job"]
    assert store.names(refused=True) == ["alias", "d", "job", "leak"]
    (checkpoints_dir / ".hidden.json").write_text("{}")
    store.list()
    assert store.unlisted() == [
        (".hidden.json", "not a checkpoint name"),
        ("d.json", "a symbolic link leading outside the directory"),
        ("leak.json", "a symbolic link leading outside the directory"),
    ]
    (checkpoints_dir / ".hidden.json").unlink()

    (checkpoints_dir / "leak.json").unlink()
    (checkpoints_dir / "d.json").unlink()
    assert [info.name for info in store.list()] == ["alias", "job"]
    assert store.refused_links() == []
    assert store.list() and store.refused_links() == []  # the unchanged listing too


def test_a_symbolic_link_to_a_missing_file_is_named_as_left_out(store, checkpoints_dir):
    """An alias whose target was reset vanished from every listing without a word, though
    left-out files are named; it is listed again once its target is back."""
    store.write("job", {"a": 1})
    (checkpoints_dir / "alias.json").symlink_to("job.json")
    (checkpoints_dir / "dangling.json").symlink_to("missing.json")
    assert [info.name for info in store.list()] == ["alias", "job"]
    assert store.unlisted() == [("dangling.json", "a symbolic link to a missing file")]
    (checkpoints_dir / "job.json").unlink()
    assert [info.name for info in store.list()] == []
    assert store.unlisted() == [
        ("alias.json", "a symbolic link to a missing file"),
        ("dangling.json", "a symbolic link to a missing file"),
    ]
    store.write("job", {"a": 2})
    assert [info.name for info in store.list()] == ["alias", "job"]
    assert store.unlisted() == [("dangling.json", "a symbolic link to a missing file")]


def test_symlink_to_a_directory_outside_is_ignored(store, checkpoints_dir, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (checkpoints_dir / "d.json").symlink_to(tmp_path / "elsewhere")

    assert store.list() == []


def test_symlink_inside_the_directory_is_read_but_not_written_through(store, checkpoints_dir):
    store.write("target", {"a": 1})
    (checkpoints_dir / "alias.json").symlink_to("target.json")

    assert store.read("alias").data == {"a": 1}
    assert [info.name for info in store.list()] == ["alias", "target"]
    with pytest.raises(InvalidCheckpointName) as excinfo:
        store.write("alias", {"a": 2})
    assert str(excinfo.value) == (
        "checkpoint 'alias' is a symbolic link to 'target'; change 'target' instead (its job "
        "writes that file)"
    )
    assert store.read("target").data == {"a": 1}
    assert store.alias_of("alias") == "target" and store.alias_of("target") is None
    # Deleting the link would leave the checkpoint it stands for as it is: refused too.
    with pytest.raises(InvalidCheckpointName, match="change 'target' instead"):
        store.delete("alias")
    assert (checkpoints_dir / "alias.json").is_symlink()

    store.write("target", {"a": 3})
    assert {i.name: i.version for i in store.list()}["alias"] == store.read("target").version


def test_dangling_symlink_is_not_found(store, checkpoints_dir):
    (checkpoints_dir / "dangling.json").symlink_to("missing.json")

    with pytest.raises(CheckpointNotFound):
        store.read("dangling")
    assert store.list() == []


def test_symlinked_lock_file_is_refused(store, checkpoints_dir, tmp_path):
    outside = tmp_path / "victim"
    outside.write_bytes(b"keep")
    (checkpoints_dir / "job.json.lock").symlink_to(outside)

    with pytest.raises(InvalidCheckpointName):
        store.write("job", {"a": 1})

    assert outside.read_bytes() == b"keep"
    assert not (checkpoints_dir / "job.json").exists()


def test_fifo_does_not_hang_reads_or_listing(store, checkpoints_dir):
    os.mkfifo(checkpoints_dir / "pipe.json")

    with pytest.raises(CorruptCheckpoint) as excinfo:
        store.read("pipe")

    assert str(excinfo.value) == "checkpoint 'pipe' is not a regular file"
    assert store.list() == []


def test_directory_named_like_a_checkpoint(store, checkpoints_dir):
    (checkpoints_dir / "dir.json").mkdir()

    with pytest.raises(CorruptCheckpoint):
        store.read("dir")
    assert store.list() == []


def test_a_hard_link_is_refused_by_a_store_that_refuses_them(checkpoints_dir, tmp_path):
    """The console's store never reads a file with other names: a hard link put in the
    directory could show it the console's database or a key. A job's store reads it, so
    that a backup tool linking the files does not stop the job."""
    secret = checkpoints_dir.parent / "db.sqlite3"  # (the same file system)
    secret.write_bytes(b'{"session": "secret"}\n')
    os.link(secret, checkpoints_dir / "dbcopy.json")
    (checkpoints_dir / "alias.json").symlink_to("dbcopy.json")
    console = CheckpointStore(checkpoints_dir, refuse_hard_links=True)
    for name in ("dbcopy", "alias"):
        for call in (console.read, console.read_raw):
            with pytest.raises(InvalidCheckpointName) as excinfo:
                call(name)
            assert str(excinfo.value) == (
                f"checkpoint {name!r} is a hard link (its file has 2 names); it is refused: "
                "a checkpoint file has one name"
            )
    assert console.list() == []
    assert console.unlisted() == [
        ("alias.json", "a hard link to a file with other names"),
        ("dbcopy.json", "a hard link to a file with other names"),
    ]
    assert CheckpointStore(checkpoints_dir).read("dbcopy").data == {"session": "secret"}
    (secret).unlink()  # its other name gone: an ordinary checkpoint again
    assert [info.name for info in console.list()] == ["alias", "dbcopy"]
