"""The audit log pages: the filtered log, one entry with its diff, snapshots, exports."""

from __future__ import annotations

import io
import tempfile
from typing import Any, Final

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from checkpoints_admin import audit, queries
from checkpoints_admin.checkpoints import CheckpointError
from checkpoints_admin.checkpoints.store import decode_document, shown_document
from checkpoints_admin.forms import AuditFilterForm, EntryForm, cleaned_or_defaults
from checkpoints_admin.models import AuditEntry, Snapshot, SnapshotCorrupt
from checkpoints_admin.permissions import (
    VIEW_AUDIT,
    VIEW_CHECKPOINTS,
    permission_required,
    restore_permission,
)
from checkpoints_admin.presenters import DiffView, ValueGroup, patch_excerpt, present_diff
from checkpoints_admin.views.common import (
    HtmxHttpRequest,
    LongLists,
    checkpoint_exists,
    current_listing,
    entry_or_404,
    raw_json,
    wants_partial,
)
from checkpoints_admin.views.errors import bad_request

PAGE_SIZE = 50
GROUP_PAGE_SIZE = 500
EXPORT_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


def audit_page(
    entries: Any, *, before: int | None, after: int | None, size: int = PAGE_SIZE
) -> dict[str, Any]:
    """One page of ``entries`` newest first, by keyset: ``before``/``after`` an entry number.

    Returns the entries and the ``older``/``newer`` positions to link to (None at an end).
    Never counts or offsets, so a page costs the same at entry 10 and at entry 1,000,000.
    """
    if after is not None:
        rows = list(entries.filter(seq__gt=after).order_by("seq")[: size + 1])
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        has_older = bool(rows) and entries.filter(seq__lt=rows[-1].seq).exists()
    else:
        window = entries.filter(seq__lt=before) if before is not None else entries
        rows = list(window.order_by("-seq")[: size + 1])
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = (
            before is not None and bool(rows) and entries.filter(seq__gt=rows[0].seq).exists()
        )
    return {
        "entries": rows,
        "older": rows[-1].seq if has_older else None,
        "newer": rows[0].seq if has_newer else None,
    }


@require_GET
@permission_required(VIEW_AUDIT)
@vary_on_headers("HX-Request")
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    """The audit log, newest first, filtered by checkpoint, actor, action, source and dates."""
    form = AuditFilterForm(request.GET)
    params = cleaned_or_defaults(form)
    entries = AuditEntry.objects.filter(**form.filters()).defer("patch", "findings")
    context = {
        "form": form,
        "params": params,
        "filtered": any(
            params.get(key) for key in ("checkpoint", "actor", "action", "source", "since", "until")
        ),
        # The export refuses a filter that does not parse (it would hand over more than asked).
        "export_refused": any(field not in ("before", "after") for field in form.errors),
        **audit_page(entries, before=params["before"], after=params["after"]),
    }
    template = "audit/list.html"
    if wants_partial(request):
        template += "#log"
        context["oob"] = True  # the export links follow the filters
    else:
        # The filters take whole names: offer the checkpoints there are now, and the actors
        # of the entries shown and the reader (not every account: a viewer need not learn
        # them all; nor a query over the whole log, which a million entries make slow).
        listing, _error = current_listing()
        names = {entry.checkpoint for entry in context["entries"]}
        if len(listing.rows) <= DATALIST_MAX:  # (thousands of options would slow the page)
            names.update(row.name for row in listing.rows)
        context["checkpoint_names"] = sorted(names)
        shown = {entry.actor for entry in context["entries"]}
        context["actor_names"] = sorted(shown | {request.user.get_username()})
    return render(request, template, context)


def snapshot_document(snapshot: Snapshot | None) -> tuple[dict[str, Any] | None, str]:
    """A snapshot's document (None when absent) as a person is shown it (integers beyond 64
    bits as written: :func:`shown_document`), and why it cannot be shown, if so."""
    if snapshot is None:
        return None, ""
    try:
        raw = snapshot.raw
        return shown_document(decode_document(raw), raw), ""
    except SnapshotCorrupt as exc:
        return None, str(exc)
    except CheckpointError as exc:
        return None, f"the snapshot is not a JSON document: {exc.message}"


def _unreadable_note(sides: list[str]) -> str:
    """What an entry's diff says when ``sides`` are files that do not parse (their
    documents, then none, would read as "no change")."""
    if not sides:
        return ""
    which = " and ".join(sides)
    return (
        f"No document to compare: the file {which} this change does not parse. Its bytes "
        "are in the snapshots below."
    )


def chain_status(entry: AuditEntry) -> dict[str, Any]:
    """Whether ``entry`` hashes to its ``hash`` and links to the entry before it."""
    previous = (
        AuditEntry.objects.filter(seq=entry.seq - 1).values_list("hash", flat=True).first()
        if entry.seq > 1
        else audit.GENESIS
    )
    return {
        "hash_ok": audit.entry_hash(entry) == entry.hash,
        "link_ok": previous is not None and previous == entry.prev_hash,
    }


#: Up to this many checkpoints, the log's checkpoint filter offers them all (beyond, the
#: checkpoints of the entries shown).
DATALIST_MAX: Final = 300


def group_page(view: DiffView, key: str, page: int) -> dict[str, Any]:
    """A page of the values of one group of a diff (``?group=m0&page=2``)."""
    group = view.group(key)
    return {} if group is None else values_page(group, page)


def values_page(group: ValueGroup, page: int) -> dict[str, Any]:
    """Page ``page`` of ``group``'s values, as the diff's templates show it."""
    return {
        "expanded": group,
        "expanded_page": queries.paginate(group.values, page, GROUP_PAGE_SIZE),
    }


#: The long lists of the entries shown last, by their before and after snapshots (what was
#: diffed, by sha256), for the pages of one asked for with htmx.
_ENTRY_LISTS: Final = LongLists()


@require_GET
@permission_required(VIEW_AUDIT)
@vary_on_headers("HX-Request")
def audit_detail(request: HtmxHttpRequest, seq: int) -> HttpResponse:
    """One entry: who, when, from where, why, what changed, both snapshots, the chain."""
    params = cleaned_or_defaults(EntryForm(request.GET))
    if wants_partial(request) and params["group"] and not params["verify"]:
        sides = AuditEntry.objects.filter(seq=seq).values_list("before_id", "after_id").first()
        found = _ENTRY_LISTS.get(sides, params["group"]) if sides is not None else None
        if found is not None:
            context = values_page(found[0], params["page"])
            return render(request, "checkpoints/_diff.html#groupvalues", context)
    entry = entry_or_404(seq, "before", "after", "restores")
    if params["verify"]:
        result = audit.shared_verification()
        verified = result.ok or (result.first_break is not None and result.first_break > entry.seq)
        context = {"entry": entry, "verify": result, "verified": verified}
        template = "audit/detail.html#chain" if wants_partial(request) else "audit/detail.html"
        if not wants_partial(request):
            context.update(_detail_context(request, entry, params))
        return render(request, template, context)
    context = _detail_context(request, entry, params)
    template = "audit/detail.html"
    if wants_partial(request) and context.get("expanded"):
        template = "checkpoints/_diff.html#groupvalues"
    return render(request, template, context)


def _detail_context(
    request: HtmxHttpRequest, entry: AuditEntry, params: dict[str, Any]
) -> dict[str, Any]:
    before, before_error = snapshot_document(entry.before)
    after, after_error = snapshot_document(entry.after)
    view = present_diff(before, after)
    unreadable = [
        side for side, error in (("before", before_error), ("after", after_error)) if error
    ]
    if not unreadable:
        _ENTRY_LISTS.remember((entry.before_id, entry.after_id), view.groups)
    patch = entry.patch if isinstance(entry.patch, list) else []
    return {
        "entry": entry,
        "diff": view,
        "patch": patch_excerpt(patch),
        "before_error": before_error,
        "after_error": after_error,
        "chain": chain_status(entry),
        "has_next": AuditEntry.objects.filter(seq=entry.seq + 1).exists(),
        "exists": checkpoint_exists(entry.checkpoint),
        "can_view_checkpoints": request.user.has_perm(VIEW_CHECKPOINTS),
        # A side that does not parse cannot be written back (its bytes can be downloaded).
        "can_restore": {
            "before": not before_error
            and request.user.has_perm(restore_permission(entry.before_id)),
            "after": not after_error and request.user.has_perm(restore_permission(entry.after_id)),
        },
        "unrestorable": unreadable,
        "diff_note": _unreadable_note(unreadable) if view.empty else "",
        **group_page(view, params["group"], params["page"]),
    }


@require_GET
@permission_required(VIEW_AUDIT)
@never_cache
def audit_snapshot(request: HtmxHttpRequest, seq: int, side: str) -> HttpResponse:
    """The exact bytes of an entry's before or after snapshot."""
    entry = entry_or_404(seq, side)
    snapshot: Snapshot | None = getattr(entry, side)
    if snapshot is None:
        raise Http404(f"Entry #{seq} has no {side} snapshot (the file did not exist).")
    try:
        raw = snapshot.raw
    except SnapshotCorrupt as exc:
        raise Http404(str(exc)) from None
    return raw_json(request, raw, f"{entry.checkpoint}.{seq}.{side}.json")


@require_GET
@permission_required(VIEW_AUDIT)
@never_cache
def audit_export(request: HtmxHttpRequest, fmt: str) -> HttpResponse | FileResponse:
    """The log as JSON lines or CSV, as a download, filtered as the log page is."""
    if fmt not in EXPORT_FORMATS:
        raise Http404("Export formats are jsonl and csv.")
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        # An export that quietly dropped a filter would hand over more than was asked for.
        problems = "; ".join(
            f"{field}: {error}" for field, errors in form.errors.items() for error in errors
        )
        return bad_request(request, f"Nothing was exported: {problems}")
    params = form.cleaned_data
    # Spooled to a temporary file so a long log never sits in memory whole.
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it when sent)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    audit.export(fmt, text, entries=AuditEntry.objects.filter(**form.filters()))
    text.flush()
    binary = text.detach()
    binary.seek(0)
    suffix = f"-{params['checkpoint']}" if params["checkpoint"] else ""
    return FileResponse(
        binary,
        as_attachment=True,
        filename=f"audit{suffix}.{fmt}",
        content_type=EXPORT_FORMATS[fmt],
    )
