"""The checkpoint pages: the list, one checkpoint, its raw bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from checkpoints_admin import audit, queries
from checkpoints_admin.checkpoints import (
    CheckpointError,
    CheckpointNotFound,
    CheckpointTooLarge,
    CorruptCheckpoint,
    InvalidCheckpointName,
)
from checkpoints_admin.checkpoints.interventions import done_already, unit_of
from checkpoints_admin.checkpoints.kinds import count_findings
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.forms import DetailForm, ListFilterForm, cleaned_or_defaults
from checkpoints_admin.models import AuditEntry
from checkpoints_admin.permissions import (
    VIEW_AUDIT,
    VIEW_CHECKPOINTS,
    permission_required,
)
from checkpoints_admin.presenters import empty_directory_warning, pretty_document
from checkpoints_admin.views.audit import snapshot_document
from checkpoints_admin.views.common import (
    HtmxHttpRequest,
    current_listing,
    raw_json,
    restore_url,
    wants_partial,
)
from checkpoints_admin.views.errors import error_page, name_refused, no_checkpoint

REFRESH_SECONDS = 5
HISTORY_ROWS = 25
GONE_HISTORY_ROWS = 10  # (the page of a checkpoint with no file links to the whole log)

# Column headers of the list: (sort key, label, numeric).
COLUMNS = (
    ("name", "Name", False),
    ("kind", "Kind", False),
    ("state", "State", False),
    ("progress", "Progress", False),
    ("done", "Done", True),
    ("pending", "Pending", True),
    ("rate", "Rate", True),
    ("eta", "ETA", True),
    ("updated", "Last update", False),
    ("errors", "Errors", True),
    ("warnings", "Warnings", True),
)


@require_GET
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def checkpoint_list(request: HtmxHttpRequest) -> HttpResponse:
    """All checkpoints: search, state and kind filters, sortable columns, 50 per page."""
    form = ListFilterForm(request.GET)
    params = cleaned_or_defaults(form)
    listing, error = current_listing()
    filtered = bool(params["q"] or params["state"] or params["kind"])
    directory = str(get_settings().checkpoints_dir)

    def table() -> str:
        selected = listing.select(
            q=params["q"],
            state=params["state"],
            kind=params["kind"],
            sort=params["sort"],
            descending=params["order"] == "desc",
        )
        context = {
            "params": params,
            "page": queries.paginate(selected, params["page"]),
            "matching": len(selected),
            "total": len(listing.rows),
            "columns": COLUMNS,
            "refresh_seconds": REFRESH_SECONDS,
            "refreshed": listing.now,
            "filtered": filtered,
            "unreadable": bool(error),  # (an empty listing made for this request alone)
        }
        if not listing.rows:
            context["directory"] = directory
        return render_to_string("checkpoints/list.html#table", context, request)

    def controls() -> str:
        context = {"form": form, "params": params, "counts": listing.counts}
        return render_to_string("checkpoints/list.html#controls", context, request)

    # The fragments depend only on the listing and the query, so polling clients share them.
    query = request.GET.urlencode()
    table_html = listing.fragment("table", query, table)
    if wants_partial(request):
        return HttpResponse(table_html)
    empty = not (listing.rows or listing.unlisted or error)
    context = {
        "total": len(listing.rows),
        "error": error,
        "unlisted": _unlisted_groups(listing.unlisted),
        # (the full page only: polls of the table share one fragment, whoever asks)
        "empty_warning": empty_directory_warning(
            directory, audit.latest_entry(), detailed=request.user.has_perm(VIEW_AUDIT)
        )
        if empty
        else None,
        # rendered (and escaped) by the template engine above
        "controls_html": mark_safe(listing.fragment("controls", query, controls)),
        "table_html": mark_safe(table_html),
    }
    return render(request, "checkpoints/list.html", context)


#: What the list's notice says of each reason a file is left out.
UNLISTED_WORDS: Final = {
    "a symbolic link leading outside the directory": (
        "symbolic links leading outside the checkpoints directory: refused and never read"
    ),
    "not a checkpoint name": (
        "not checkpoint names (letters, digits, dot, dash and underscore, starting with a "
        "letter or digit)"
    ),
    "not a regular file": "not regular files",
}


def _unlisted_groups(unlisted: Sequence[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """The files the list leaves out, grouped by why, for its notice."""
    groups: dict[str, list[str]] = {}
    for fname, why in unlisted:
        groups.setdefault(why, []).append(fname)
    return [(UNLISTED_WORDS.get(why, why), names) for why, names in groups.items()]


def _load(request: HtmxHttpRequest, name: str) -> queries.Loaded | HttpResponse:
    """The loaded checkpoint, or the page explaining why it cannot be shown."""
    store = get_store()
    try:
        return queries.load_checkpoint(store, name)
    except InvalidCheckpointName as exc:
        return name_refused(request, exc)
    except CheckpointNotFound:
        if wants_partial(request):
            # Removed while the page was open (a reset): show the whole page's answer.
            return HttpResponseClientRefresh()
        gone = _gone_page(request, name)
        if gone is None:
            raise no_checkpoint(name) from None
        return gone
    except CorruptCheckpoint as exc:
        if wants_partial(request):
            return HttpResponseClientRefresh()
        return _corrupt_page(request, name, exc)
    except CheckpointTooLarge as exc:
        return error_page(request, 413, "Checkpoint too large", exc.message)
    except CheckpointError as exc:
        return error_page(request, 503, "Cannot read the checkpoint", exc.message)


def _corrupt_page(request: HtmxHttpRequest, name: str, exc: CorruptCheckpoint) -> HttpResponse:
    """A corrupt file: its parse error, the lines around it, a link to the raw bytes."""
    excerpt: list[tuple[int, str, bool]] = []
    try:
        raw = get_store().read_raw(name)
    except CheckpointError:
        raw = b""
    if raw and exc.line:
        lines = raw.decode("utf-8", errors="replace").splitlines()
        start = max(exc.line - 4, 0)
        excerpt = [
            (number, text[:400], number == exc.line)
            for number, text in enumerate(lines[start : exc.line + 3], start=start + 1)
        ]
    return render(
        request,
        "checkpoints/corrupt.html",
        {
            "name": name,
            "error": exc,
            "excerpt": excerpt,
            "size": len(raw),
            "history": _history(request, name),
        },
    )


def _gone_page(request: HtmxHttpRequest, name: str) -> HttpResponse | None:
    """A checkpoint the audit log knows but that has no file now (reset, or removed outside
    the console): its last entries and, to those who may, a restore of its last content.
    None when the log has no entry of ``name`` or the user may not read the log."""
    history = _history(request, name, rows=GONE_HISTORY_ROWS)
    if not history:
        return None
    last = audit.last_content(history)
    # Content that does not parse (a corrupt file reset) cannot be written back: its bytes
    # are offered for download instead of a restore that can only be refused.
    unreadable = snapshot_document(getattr(last[0], last[1]))[1] if last is not None else ""
    context = {
        "name": name,
        "history": history,
        "latest": history[0],
        "last": last[0] if last is not None else None,
        "last_side": last[1] if last is not None else "",
        "unreadable": unreadable,
        "restore_url": restore_url(request, *last) if last is not None and not unreadable else "",
    }
    return render(request, "checkpoints/gone.html", context, status=404)


def _history(
    request: HtmxHttpRequest, name: str, rows: int = HISTORY_ROWS
) -> list[AuditEntry] | None:
    """The newest audit entries of ``name``; None when the user may not read the audit log."""
    if not request.user.has_perm(VIEW_AUDIT):
        return None
    return list(
        AuditEntry.objects.filter(checkpoint=name)
        .defer("patch", "findings")
        .order_by("-seq")[:rows]
    )


def _default_tab(loaded: queries.Loaded) -> str:
    if loaded.is_date_kind:
        return "calendar"
    if loaded.lists:
        return "lists"
    return "raw"


def _tab_context(
    request: HtmxHttpRequest, loaded: queries.Loaded, params: dict[str, Any]
) -> dict[str, Any]:
    tab = params["tab"] or _default_tab(loaded)
    if tab == "calendar" and not loaded.is_date_kind:
        tab = _default_tab(loaded)
    context: dict[str, Any] = {"tab": tab}
    if tab == "calendar":
        index = loaded.dates
        assert index is not None
        today = timezone.now().date()
        month = queries.parse_month(params["month"])
        if params["month"] == "first-gap":
            month = queries.parse_month(index.first_gap)
            context["first_gap"] = index.first_gap
        if month is None:
            month = queries.default_month(index, today)
        context["month"] = queries.month_grid(index, *month, today=today)
        context["gaps"] = index.gaps
        context["range"] = (index.first, index.last)
    elif tab == "lists":
        fields = loaded.lists
        current = next(
            (f for f in fields if f.key == params["list"]), fields[0] if fields else None
        )
        context["lists"] = fields
        context["current_list"] = current
        if current is not None:
            values = loaded.data[current.key]
            found = queries.search_list(values, params["q"])
            page = queries.paginate(found, params["page"])
            context["list_page"] = page
            context["list_matching"] = len(found)
            context["list_done"] = done_already(loaded.data, loaded.kind, current.key, page)
    elif tab == "raw":
        written = loaded.checkpoint.raw if loaded.wide_integers else None
        context["pretty"] = pretty_document(loaded.data, written=written)
    elif tab == "history":
        context["history"] = _history(request, loaded.name)
    return context


@require_GET
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def checkpoint_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """One checkpoint: summary, findings, calendar, lists, raw document, history."""
    loaded = _load(request, name)
    if isinstance(loaded, HttpResponse):
        return loaded
    form = DetailForm(request.GET)
    params = cleaned_or_defaults(form)
    now = timezone.now()
    stale_after = get_settings().stale_after_seconds
    findings = loaded.findings_at(now=now, stale_after=stale_after)
    errors = count_findings(findings)[0]
    context = {
        # The page's own address: its partials (rendered alone for htmx) build links on it.
        "here": reverse("checkpoint_detail", args=(name,)),
        "cp": loaded,
        "summary": loaded.summary,
        "state": loaded.summary.state(now=now, stale_after=stale_after),
        "findings": findings,
        "error_count": errors,
        "warning_count": len(findings) - errors,
        "params": params,
        "can_audit": request.user.has_perm(VIEW_AUDIT),
        # A symbolic link to another checkpoint is changed through that one.
        "alias_of": get_store().alias_of(name),
        "selection_unit": unit_of(loaded.kind),  # what Skip/Reprocess work on, if anything
        "refresh_seconds": REFRESH_SECONDS * 2,
        **_tab_context(request, loaded, params),
    }
    template = "checkpoints/detail.html"
    if wants_partial(request):
        if params["part"] == "overview":
            template += "#overview"
        elif request.htmx.target == "list-results":
            template += "#listresults"
        else:
            template += "#tabs"
    return render(request, template, context)


@require_GET
@permission_required(VIEW_CHECKPOINTS)
@never_cache
def checkpoint_raw(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The exact bytes of the file (``?download=1`` as an attachment), corrupt or not."""
    try:
        raw = get_store().read_raw(name)
    except InvalidCheckpointName as exc:
        return name_refused(request, exc)
    except CheckpointNotFound:
        raise no_checkpoint(name) from None
    except CheckpointTooLarge as exc:
        return error_page(request, 413, "Checkpoint too large", exc.message)
    except CheckpointError as exc:
        return error_page(request, 503, "Cannot read the checkpoint", exc.message)
    # The bytes are whatever a job wrote: never let a browser run or style anything in them.
    return raw_json(request, raw, f"{name}.json")
