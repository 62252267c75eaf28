"""CheckpointManager: the object a batch job keeps its checkpoint with (the seed's API).

A job creates one manager per checkpoint, calls ``init()`` to load the file (or create it from
the initial document), ``update()`` as it makes progress and ``complete()`` at the end::

    cp = CheckpointManager("my-process", {"id": "my-process-1", "status": "pending",
                                          "progress": 0, "pendingItems": ["a", "b"]})
    cp.init()
    cp.update(lambda cur: {"progress": 50, "pendingItems": cur["pendingItems"][1:]})
    cp.complete(True)

Saving never overwrites what someone else wrote in between. The manager keeps its
not-yet-saved updates in order; when it saves, under the checkpoint's lock, and the file is not
the one it last read or wrote (an operator skipped a date, another process updated it), it
re-applies those updates (calling the functions again) on top of the file's current content,
then writes. A file deleted while the manager holds it is a reset: the manager starts again from
the initial document plus its unsaved updates and never writes the deleted content back.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any, Self

import orjson

from checkpoints_admin.checkpoints.errors import (
    CheckpointError,
    CheckpointNotFound,
    InvalidDocument,
    VersionConflict,
)
from checkpoints_admin.checkpoints.store import (
    MISSING,
    SCALAR_TYPES,
    CheckpointStore,
    decode_document,
    encode_document,
    first_wide_integer,
    shown_literal,
    utc_now_iso,
    version_of,
)

__all__ = ["CheckpointManager", "Update"]

logger = logging.getLogger("checkpoints_admin.checkpoints")

#: Up to this size a save is one compare-and-swap write; above, lock + read + compare + write.
_CAS_MAX_BYTES = 64 * 1024

type Update = Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]]

# A pending update as kept for re-application: a function, or a mapping's encoded bytes (a
# private copy, so later changes to the caller's objects or to the document cannot alter it).
type _Pending = Callable[[dict[str, Any]], Mapping[str, Any]] | bytes


class CheckpointManager:
    """Load or create one checkpoint, update it, save it safely, and mark it complete.

    ``autosave_seconds`` None or 0: every ``update()`` is saved before it returns. A positive
    number: updates are kept in memory and a background (daemon) thread saves them every that
    many seconds; ``save()``, ``complete()``, ``close()`` and leaving a ``with`` block save at
    once, and pending updates are flushed when the interpreter exits normally (a manager
    dropped with unsaved updates is kept until they are saved).

    All methods are thread-safe. ``directory`` defaults to the ``CHECKPOINTS_DIR`` environment
    variable, else ``./checkpoints``; pass ``store`` to share a :class:`CheckpointStore`.
    """

    def __init__(
        self,
        name: str,
        initial: Mapping[str, Any],
        autosave_seconds: float | None = None,
        *,
        directory: str | os.PathLike[str] | None = None,
        lock_timeout: float = 10.0,
        store: CheckpointStore | None = None,
    ) -> None:
        if autosave_seconds is not None and (
            isinstance(autosave_seconds, bool)
            or not isinstance(autosave_seconds, int | float)
            or not math.isfinite(autosave_seconds)
            or autosave_seconds < 0
        ):
            raise ValueError(
                f"autosave_seconds must be None, 0 or a positive number of seconds, "
                f"not {autosave_seconds!r}"
            )
        if not isinstance(initial, Mapping):
            raise InvalidDocument(
                f"the initial document of checkpoint {name!r} must be a mapping, "
                f"not {type(initial).__name__}",
                name=name,
            )
        self.store = (
            store if store is not None else CheckpointStore(directory, lock_timeout=lock_timeout)
        )
        self.name = self.store.validate_name(name)
        self.lock_timeout = lock_timeout
        # The store's own writes wait for the lock with its timeout; when that is the manager's
        # too, a save can be a single compare-and-swap write (see _save).
        self._optimistic = self.store.lock_timeout == lock_timeout
        self.autosave_seconds = autosave_seconds or None
        # Encoding validates the initial document now (NaN, bad keys) and keeps a private copy.
        self._initial_raw = _encode(dict(initial), name)

        self._lock = threading.RLock()
        self._doc: dict[str, Any] | None = None  # None until init()
        # What the in-memory document is built on: the bytes last read from or written to the
        # file (None: no file, the base is the initial document) and their version.
        self._base_raw: bytes | None = None
        self._version: str | None = None
        self._pending: list[_Pending] = []
        # Updates _rebuild dropped (they failed over the file's newer content), with why.
        self._dropped: list[tuple[_Pending, Exception]] = []
        self._closed = False
        self._completed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- public API ---------------------------------------------------------------------------

    def init(self) -> dict[str, Any]:
        """Load the checkpoint, or create it from the initial document; return a copy of it.

        On creation ``lastUpdated`` is set to now and ``created`` too when the initial
        document has none. Calling it again returns the current document.
        """
        with self._lock:
            self._check_open()
            if self._doc is None:
                with self.store.lock(self.name, timeout=self.lock_timeout):
                    try:
                        raw = self.store.read_raw(self.name)
                    except CheckpointNotFound:
                        self._doc = self._fresh_initial()
                        try:
                            self._write(None)
                        except BaseException:
                            self._doc = None
                            raise
                    else:
                        self._doc = _decode(raw, self.name)
                        self._base_raw = raw
                        self._version = version_of(raw)
                self._start_autosave()
                self.store.sweep_if_due()  # temp files left by earlier runs that were killed
            return _copy(self._doc)

    @property
    def data(self) -> dict[str, Any]:
        """A deep copy of the current document (unsaved updates included)."""
        with self._lock:
            self._ensure_init()
            assert self._doc is not None
            return _copy(self._doc)

    @property
    def version(self) -> str | None:
        """The version (sha256) of the file as last read or written; None when there is none."""
        with self._lock:
            return self._version

    @property
    def dirty(self) -> bool:
        """Whether there are updates not yet saved."""
        with self._lock:
            return bool(self._pending)

    def update(self, change: Update) -> None:
        """Merge ``change`` (a mapping, or a function of the current document returning one)
        into the document's top level and set ``lastUpdated``.

        A function receives the live document: read it, return the keys to change, don't
        modify it in place. It may be called again later, with the file's newer content, when
        someone else changed the file before this update was saved, so it should depend only
        on that document and on values bound when it was made (``lambda cur, item=item: ...``
        in a loop, not a late-bound loop variable). A mapping is a fixed result: prefer a
        function for anything derived from the document. If the function raises, or
        the result is not a JSON object (NaN, non-string keys...), the error propagates and the
        update is not kept. Without auto-save the update is saved before this returns (and not
        kept if saving fails).
        """
        with self._lock:
            self._check_open()
            self._ensure_init()
            self._apply_new(change, save_now=self.autosave_seconds is None or self._completed)

    def save(self) -> str | None:
        """Write the unsaved updates now (re-applied over the file if it changed); return the
        file's version. Without unsaved updates this only picks up changes made on disk."""
        with self._lock:
            self._check_open()
            self._ensure_init()
            self._save()
            return self._version

    def complete(self, success: bool = True) -> None:
        """Mark the checkpoint ``completed`` with progress 100 (or ``failed``), save it at once
        and stop auto-saving (later updates save at once)."""
        with self._lock:
            self._check_open()
            self._ensure_init()
            change: dict[str, Any] = (
                {"status": "completed", "progress": 100} if success else {"status": "failed"}
            )
            self._apply_new(change, save_now=True)
            self._completed = True
            self._stop_autosave()

    def close(self) -> None:
        """Save unsaved updates and stop auto-saving. Further use raises; closing twice is fine.

        When saving fails the error propagates and the manager stays open (retry, or let the
        exit flush try again)."""
        with self._lock:
            if self._closed:
                return
            if self._doc is not None and self._pending:
                self._save()
            self._stop_autosave()
            self._closed = True
            _live.discard(self)
            self._track()

    def __enter__(self) -> Self:
        self.init()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Progress made before an error is saved too (the job is not marked complete); an error
        # while saving then is logged rather than hiding the job's own exception.
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except Exception:
            logger.exception("checkpoint %s: saving on exit failed", self.name)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("dirty" if self._pending else "clean")
        return f"<CheckpointManager {self.name!r} {state}>"

    # -- updates ------------------------------------------------------------------------------

    def _apply_new(self, change: Update, *, save_now: bool) -> None:
        if callable(change):
            entry: _Pending = change
        elif isinstance(change, Mapping):
            _check_result(change, self.name)
            entry = _encode(dict(change), self.name)
        else:
            raise InvalidDocument(
                f"an update of checkpoint {self.name!r} must be a mapping or a function "
                f"returning one, not {type(change).__name__}",
                name=self.name,
            )
        assert self._doc is not None
        saved = False
        try:
            self._apply(self._doc, entry, validate=not save_now)
            self._pending.append(entry)
            if save_now:
                self._dropped.clear()
                self._save()
                # Someone changed the file first and the function failed over its content:
                # the caller waits for this save, so it hears why, as from the first call.
                for dropped, error in self._dropped:
                    if dropped is entry:
                        raise error
            saved = True
        finally:
            self._dropped.clear()
            if not saved:
                # Drop the failed update; the function may have changed the document in place
                # before failing, so the document is rebuilt from its base and the updates kept.
                if self._pending and self._pending[-1] is entry:
                    self._pending.pop()
                if callable(entry) or save_now:
                    self._doc = self._rebuild(self._base_doc)
            self._track()

    def _apply(self, doc: dict[str, Any], entry: _Pending, *, validate: bool) -> None:
        """Apply one update to ``doc`` in place."""
        if isinstance(entry, bytes):
            result: Mapping[str, Any] = orjson.loads(entry)
        else:
            result = entry(doc)
            _check_result(result, self.name)
            if validate:
                # Saving encodes the whole document; when saving later, refuse NaN and the like
                # now, while the caller can still see which update was wrong.
                _encode(dict(result), self.name)
        doc.update(result)
        doc["lastUpdated"] = utc_now_iso()

    def _rebuild(self, base: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A fresh ``base()`` with the pending updates re-applied in order.

        A function that now fails (the file's content changed under it) is dropped with an
        error in the log and the others are re-applied from a fresh base, since the failed one
        may have changed the document in place before failing.
        """
        while True:
            doc = base()
            for index, entry in enumerate(self._pending):
                try:
                    self._apply(doc, entry, validate=True)
                except Exception as exc:
                    logger.exception(
                        "checkpoint %s: an unsaved update failed when re-applied over the "
                        "file's current content and was dropped",
                        self.name,
                    )
                    del self._pending[index]
                    self._dropped.append((entry, exc))
                    break
            else:
                self._track()
                return doc

    # -- files --------------------------------------------------------------------------------

    def _save(self) -> None:
        """Write the pending updates, re-applied over the file's content when it changed."""
        if not self._pending:
            # Nothing to write: only follow the file (readers need no lock).
            self._follow(self._read_or_none())
            return
        if self._optimistic and (self._base_raw is None or len(self._base_raw) <= _CAS_MAX_BYTES):
            # One lock round trip in the common case: the store writes only if the file is
            # still the version this document is built on (compare-and-swap). The store checks
            # by hashing the file; for big files taking the lock and comparing bytes is cheaper.
            try:
                self._write(None if self._base_raw is None else self._version)
                return
            except VersionConflict:
                pass
        with self.store.lock(self.name, timeout=self.lock_timeout):
            self._follow(self._read_or_none())
            if self._pending:
                self._write(None if self._base_raw is None else MISSING)

    def _read_or_none(self) -> bytes | None:
        try:
            return self.store.read_raw(self.name)
        except CheckpointNotFound:
            return None

    def _follow(self, raw: bytes | None) -> None:
        """Make the file's bytes ``raw`` (None: no file) the base, re-applying pending updates."""
        if raw is None and self._base_raw is not None:
            logger.warning(
                "checkpoint %s was deleted on disk: starting again from the initial document "
                "with %d unsaved update(s)",
                self.name,
                len(self._pending),
            )
            self._base_raw = None
            self._version = None
            self._doc = self._rebuild(self._fresh_initial)
        elif raw is not None and raw != self._base_raw:
            # Parsed first: a corrupt file raises here, before anything changes.
            first = _decode(raw, self.name)
            self._base_raw = raw
            self._version = version_of(raw)
            self._doc = self._rebuild(_once(first, self._base_doc))

    def _write(self, expected: Any) -> None:
        """Write the document if the file has the ``expected`` version (None: no file; MISSING:
        any); the document becomes the base."""
        assert self._doc is not None
        # Encoded once: the bytes written are kept as the base (to compare the file with, and
        # to roll back to).
        raw = _encode(self._doc, self.name)
        with _naming(self.name):
            version = self.store.write_raw(self.name, raw, expected_version=expected, parsed=True)
        self._base_raw = raw
        self._version = version
        self._pending.clear()
        self._track()

    def _base_doc(self) -> dict[str, Any]:
        if self._base_raw is None:
            return self._fresh_initial()
        return decode_document(self._base_raw, name=self.name)

    def _fresh_initial(self) -> dict[str, Any]:
        doc: dict[str, Any] = orjson.loads(self._initial_raw)
        now = utc_now_iso()
        doc.setdefault("created", now)
        doc["lastUpdated"] = now
        return doc

    # -- lifecycle ----------------------------------------------------------------------------

    def _ensure_init(self) -> None:
        if self._doc is None:
            self.init()

    def _check_open(self) -> None:
        if self._closed:
            raise CheckpointError(
                f"the manager of checkpoint {self.name!r} is closed", name=self.name
            )

    def _start_autosave(self) -> None:
        _live.add(self)
        _save_when_a_multiprocessing_child_ends()
        if self.autosave_seconds is None or self._thread is not None or self._completed:
            return
        # The thread holds only a weak reference, so an abandoned manager can be collected.
        self._thread = threading.Thread(
            target=_autosave_loop,
            args=(weakref.ref(self), self._stop, self.autosave_seconds),
            name=f"checkpoint-autosave-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def _track(self) -> None:
        """Hold on to this manager while it has unsaved updates, so that they are saved by
        the timer or at exit even when the job dropped it without closing it."""
        if self._pending and not self._closed:
            _unsaved.add(self)
        else:
            _unsaved.discard(self)

    def _stop_autosave(self) -> None:
        # Not joined: the thread may be waiting for self._lock, which the caller holds; it
        # finds the manager closed or clean and ends at its next wake-up.
        self._stop.set()
        self._thread = None

    def _autosave(self) -> None:
        if not self._lock.acquire(timeout=self.lock_timeout):
            logger.warning("checkpoint %s: auto-save skipped, the manager is busy", self.name)
            return
        try:
            if self._closed or self._doc is None or not self._pending:
                return
            self._save()
        finally:
            self._lock.release()

    def _forget_parents_updates(self) -> None:
        """In a child process made by ``os.fork()``: the unsaved updates it inherited are the
        parent's, which still holds them and saves them; written here too, each would count
        twice. The child drops the document it inherited (another of the parent's threads
        may have been halfway through an update) and reads the file again at its next use,
        with its own lock and auto-save (the parent's threads are not in the child)."""
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None
        self._dropped = []
        self._pending = []
        self._doc = None
        self._base_raw = None
        self._version = None

    def _flush_at_exit(self) -> None:
        if not self._lock.acquire(timeout=self.lock_timeout):
            logger.error("checkpoint %s: unsaved updates lost at exit (busy)", self.name)
            return
        try:
            if self._closed or self._doc is None or not self._pending:
                return
            self._stop.set()
            self._save()
        finally:
            self._lock.release()


@contextmanager
def _naming(name: str) -> Iterator[None]:
    """Name the checkpoint in an InvalidDocument refusal that does not name one."""
    try:
        yield
    except InvalidDocument as exc:
        if exc.name is not None:
            raise
        raise InvalidDocument(f"checkpoint {name!r}: {exc.message}", name=name) from exc


def _decode(raw: bytes, name: str) -> dict[str, Any]:
    """The document of the file's bytes ``raw``, refused when it has an integer beyond 64
    bits: the document would hold only the nearest float, and the next save would write that
    float back, a change nobody made (the file is left as it is)."""
    document = decode_document(raw, name=name)
    wide = first_wide_integer(raw)
    if wide is not None:
        pointer, literal = wide
        raise InvalidDocument(
            f"checkpoint {name!r} has the integer {shown_literal(literal)} at {pointer}, which "
            f"does not fit in 64 bits: the job would read it as {float(literal)!r} and save "
            "that instead. Nothing was changed; correct the file first (the console's field "
            "editor, or edit_checkpoint).",
            name=name,
        )
    return document


def _encode(data: dict[str, Any], name: str) -> bytes:
    """The store's encoding, with the checkpoint named in its refusals."""
    with _naming(name):
        return encode_document(data)


def _check_result(result: object, name: str) -> None:
    if not isinstance(result, Mapping):
        raise InvalidDocument(
            f"an update of checkpoint {name!r} must give a mapping of top-level keys, "
            f"not {type(result).__name__}",
            name=name,
        )
    for key in result:
        if not isinstance(key, str):
            raise InvalidDocument(
                f"an update of checkpoint {name!r} has a key that is not a string: {key!r}",
                name=name,
            )


def _once(
    first: dict[str, Any], then: Callable[[], dict[str, Any]]
) -> Callable[[], dict[str, Any]]:
    """A base factory giving ``first`` the first time (already parsed), fresh copies after."""
    given = False

    def base() -> dict[str, Any]:
        nonlocal given
        if given:
            return then()
        given = True
        return first

    return base


def _copy(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the document, for the caller to change as it likes.

    Its containers are new, its scalars (immutable) shared; a list holding only scalars is
    copied whole at C speed: a million dates in 16 ms, where encoding and parsing them
    again took 90.
    """
    return {key: _copied(value) for key, value in doc.items()}


def _copied(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {key: _copied(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        try:
            "".join(node)  # every item a string (dates, items), proved at C speed
        except TypeError:
            if not set(map(type, node)) <= SCALAR_TYPES:
                return [_copied(item) for item in node]
        return list(node)
    return node  # a string, number, boolean or null: immutable


def _autosave_loop(
    ref: weakref.ReferenceType[CheckpointManager], stop: threading.Event, interval: float
) -> None:
    while not stop.wait(interval):
        manager = ref()
        if manager is None:
            return
        try:
            manager._autosave()
        except Exception:
            # Kept for the next round: a lock held too long, a full disk, a corrupt file.
            logger.exception("checkpoint %s: auto-save failed", manager.name)
        del manager


# Managers with a document loaded and not closed; flushed when the interpreter exits.
_live: weakref.WeakSet[CheckpointManager] = weakref.WeakSet()
# Those of them with unsaved updates, held (their auto-save thread only refers to them weakly).
_unsaved: set[CheckpointManager] = set()


def _after_fork_in_child() -> None:
    _unsaved.clear()
    for manager in list(_live):
        manager._forget_parents_updates()


os.register_at_fork(after_in_child=_after_fork_in_child)

# The process whose multiprocessing finalizers include _flush_all (see below).
_finalizer_pid: int | None = None


def _save_when_a_multiprocessing_child_ends() -> None:
    """In a child process of ``multiprocessing`` (any start method), which ends with
    ``os._exit()`` after its own finalizers but without the interpreter's exit (``atexit``),
    make saving the unsaved updates one of those finalizers; and save them when the child is
    terminated (:func:`_save_when_terminated`)."""
    global _finalizer_pid
    pid = os.getpid()
    if _finalizer_pid == pid:
        return
    processes = sys.modules.get("multiprocessing")
    if processes is None or processes.parent_process() is None:
        return  # (not such a child: atexit runs)
    from multiprocessing import util

    util.Finalize(None, _flush_all, exitpriority=10)
    _finalizer_pid = pid
    _save_when_terminated()


#: The pipe SIGTERM wakes :func:`_save_and_end` through, in the process that set it up:
#: (process id, read end, write end).
_sigterm_wakeup: tuple[int, int, int] | None = None


def _save_when_terminated() -> None:
    """A pool's workers are ended by SIGTERM (``Pool.terminate()``, which leaving a ``with
    Pool()`` block calls once the results are in), whose default action kills the process
    on the spot, with the updates it left to the auto-save. Here SIGTERM wakes a thread that
    saves them and then ends the process (exit status 143).

    Not a handler raising SystemExit in the main thread: a signal that comes just before the
    worker blocks on its task queue's lock (which the terminating pool holds for good) would
    wait for a wakeup that never comes, and the pool with it. The signal's C-level side
    writes to a pipe (``signal.set_wakeup_fd``), which wakes the thread whatever the main
    thread is doing. Set up only where SIGTERM has its default action and no wakeup fd is
    set, from the main thread. A handler or a wakeup fd set later (the job's own, an asyncio
    loop's) takes over: the thread then leaves SIGTERM to it (:func:`_woken`)."""
    global _sigterm_wakeup
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:
        previous = None
    if previous != -1:
        if previous is not None:
            signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
        return
    signal.signal(signal.SIGTERM, _woken)
    _sigterm_wakeup = (os.getpid(), read_end, write_end)
    threading.Thread(
        target=_save_and_end, args=(read_end,), name="checkpoint-sigterm", daemon=True
    ).start()


def _woken(signum: int, frame: object) -> None:
    """SIGTERM's handler in the main thread: nothing while the wakeup pipe is ours (its
    thread saves and ends the process); when something else took the wakeup fd since (an
    asyncio loop, which drops a signal it has no handler for), SystemExit, so that the
    process still ends, through its exit and finalizers, which save."""
    if not _wakeup_is_ours():
        raise SystemExit(128 + signum)


def _wakeup_is_ours() -> bool:
    """Whether the process's wakeup fd is the pipe :func:`_save_when_terminated` set (main
    thread only: reading it means setting it back)."""
    wakeup = _sigterm_wakeup
    if wakeup is None or wakeup[0] != os.getpid():
        return False
    current = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(current, warn_on_full_buffer=current != wakeup[2])
    return current == wakeup[2]


def _save_and_end(read_end: int) -> None:
    while True:
        try:
            woken = os.read(read_end, 64)
        except OSError:
            return
        if not woken:
            return
        # (a handler the job set since has SIGTERM: its own way of ending)
        if signal.SIGTERM in woken and signal.getsignal(signal.SIGTERM) is _woken:
            _flush_all()
            logging.shutdown()
            os._exit(128 + signal.SIGTERM)


def _undo_sigterm_wakeup_in_child() -> None:
    """A process forked from one with the SIGTERM thread has its handler and wakeup pipe but
    not the thread (the pipe would wake its parent's): SIGTERM has its default action again
    there, until a manager of its own sets it up. A handler or wakeup fd set since by the
    job is its own and stays."""
    global _sigterm_wakeup
    wakeup = _sigterm_wakeup
    if wakeup is None or wakeup[0] == os.getpid():
        return
    _sigterm_wakeup = None
    with suppress(ValueError):
        if signal.getsignal(signal.SIGTERM) is _woken:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with suppress(ValueError, OSError):
        current = signal.set_wakeup_fd(-1)
        if current != wakeup[2]:
            signal.set_wakeup_fd(current)  # (someone else's)
    for end in wakeup[1:]:
        with suppress(OSError):
            os.close(end)


os.register_at_fork(after_in_child=_undo_sigterm_wakeup_in_child)


@atexit.register
def _flush_all() -> None:
    with _no_sigterm_meanwhile():
        for manager in list(_live):
            try:
                manager._flush_at_exit()
            except Exception:
                logger.exception("checkpoint %s: saving at exit failed", manager.name)


@contextmanager
def _no_sigterm_meanwhile() -> Iterator[None]:
    """SIGTERM ignored while the exit flush runs (it waits at most for the lock timeouts):
    one sent again meanwhile (a pool terminating its workers, a handler raising SystemExit
    as the README suggests) would stop the flush halfway; the process is ending anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield  # (only the main thread may change a handler)
        return
    try:
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except (ValueError, OSError):  # (an interpreter being finalized)
        yield
        return
    try:
        yield
    finally:
        with suppress(ValueError, OSError, TypeError):
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
