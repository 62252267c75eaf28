"""What the console's views share: the htmx request type, the partial switch, the listing."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any, Final
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from checkpoints_admin import queries
from checkpoints_admin.checkpoints import CheckpointError
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.forms import RawForm, cleaned_or_defaults
from checkpoints_admin.models import AuditEntry
from checkpoints_admin.permissions import restore_refusal
from checkpoints_admin.presenters import ValueGroup, visible_text


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class LongLists:
    """The long lists ("Show all N, paged") of the last few diffs a process showed, by what
    was diffed, each with a note of the caller's: a page of one is then shown without making
    the diff again, which for a change to a million items takes a second or more. The lists
    only (their values are the documents' own), and a few. A key must name content that
    never changes under it: versions, an audit entry."""

    def __init__(self, size: int = 4) -> None:
        self._lists: OrderedDict[Hashable, tuple[dict[str, ValueGroup], Any]] = OrderedDict()
        self._size = size
        self._guard = threading.Lock()

    def remember(self, key: Hashable, groups: Iterable[ValueGroup], note: Any = None) -> None:
        """Keep those of ``groups`` that have more values than a diff shows at first."""
        long = {group.key: group for group in groups if group.more}
        if not long:
            return
        with self._guard:
            self._lists[key] = (long, note)
            self._lists.move_to_end(key)
            while len(self._lists) > self._size:
                self._lists.popitem(last=False)

    def get(self, key: Hashable, group: str) -> tuple[ValueGroup, Any] | None:
        """List ``group`` of the diff ``key`` names, and its note; None when not kept."""
        with self._guard:
            found = self._lists.get(key)
            if found is None:
                return None
            self._lists.move_to_end(key)
        groups, note = found
        return (groups[group], note) if group in groups else None


def wants_partial(request: HtmxHttpRequest) -> bool:
    """True for an htmx request that swaps a fragment (not a history restore, which needs
    the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def entry_or_404(seq: int, *related: str, checkpoint: str | None = None) -> AuditEntry:
    """Audit entry ``seq`` (of ``checkpoint``, when given) with ``related`` sides joined, or a
    404 that says which entry is missing."""
    entries = AuditEntry.objects.select_related(*related).filter(seq=seq)
    if checkpoint is not None:
        entries = entries.filter(checkpoint=checkpoint)
    entry = entries.first()
    if entry is None:
        where = f" of checkpoint {checkpoint}" if checkpoint is not None else ""
        raise Http404(f"There is no audit entry #{seq}{where}.")
    return entry


def checkpoint_exists(name: str | None) -> bool:
    """Whether checkpoint ``name`` has a file now (False for no name, a bad name, or an
    unreadable directory): for the breadcrumb link to its page."""
    if not name:
        return False
    try:
        return get_store().exists(name)
    except CheckpointError:
        return False


def current_listing() -> tuple[queries.Listing, str]:
    """The store's cached listing and ""; an empty listing and the reason when the
    checkpoints directory cannot be listed."""
    try:
        return queries.listing(get_store(), stale_after=get_settings().stale_after_seconds), ""
    except CheckpointError as exc:
        return queries.Listing([], now=timezone.now(), stamp=None), exc.message


def restore_url(request: HttpRequest, entry: AuditEntry, side: str) -> str:
    """Where a restore of ``entry``'s ``side`` starts (its preview), or "" when the user may
    not restore it (a restore that re-creates a file needs the right to create one; one of
    another person's change, the right to read the audit log)."""
    if restore_refusal(request.user, entry, side) is not None:
        return ""
    url = reverse("intervention", args=(entry.checkpoint, "restore"))
    return f"{url}?{urlencode({'entry': entry.seq, 'side': side})}"


#: The event the page's script shows as a message (static/js/interventions.js).
MESSAGE_EVENT = "console:message"


def send_message(response: HttpResponse, level: str, text: str) -> None:
    """Have the page show ``text`` as a message of ``level`` (success, warning, error, info)
    once htmx has the response: its script sets it as text, so what it quotes from a
    checkpoint is written with its hidden characters escaped."""
    trigger_client_event(response, MESSAGE_EVENT, {"level": level, "text": visible_text(text)})


#: The policy of a document served as it is (a job's bytes, a snapshot): nothing in it runs,
#: loads or styles anything, whatever it holds.
RAW_CSP: Final = {"default-src": [CSP.NONE], "sandbox": True}


def raw_json(request: HttpRequest, raw: bytes, filename: str) -> HttpResponse:
    """``raw`` as it is, as JSON shown in the browser (``?download=1``: saved as
    ``filename``) under :data:`RAW_CSP`. The policy is the response's own, as Django's
    ``csp_override`` sets it: the same view's error pages keep the console's."""
    response = HttpResponse(raw, content_type="application/json")
    download = cleaned_or_defaults(RawForm(request.GET))["download"]
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response._csp_config = RAW_CSP  # type: ignore[attr-defined]
    return response
