"""The diff page: two checkpoints, a checkpoint and an audit snapshot, or two snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from checkpoints_admin import queries
from checkpoints_admin.checkpoints import (
    CheckpointError,
    CheckpointNotFound,
    InvalidCheckpointName,
)
from checkpoints_admin.conf import get_store
from checkpoints_admin.forms import SIDE_RE, DiffForm, cleaned_or_defaults
from checkpoints_admin.models import AuditEntry
from checkpoints_admin.permissions import VIEW_AUDIT, VIEW_CHECKPOINTS, permission_required
from checkpoints_admin.presenters import present_diff
from checkpoints_admin.views.audit import DATALIST_MAX, group_page, snapshot_document
from checkpoints_admin.views.common import HtmxHttpRequest, current_listing, wants_partial


@dataclass(frozen=True)
class Side:
    """One side of a diff: its document (None = absent), a label and where to look at it."""

    ref: str
    label: str
    document: dict[str, Any] | None
    note: str = ""
    url_name: str = ""
    url_args: tuple[Any, ...] = ()


class SideMissing(Exception):
    """A side reference that names nothing there is, or nothing that can be compared (said
    next to its field, with the answer's status)."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


def resolve_side(request: HtmxHttpRequest, ref: str) -> Side:
    """The document a side reference names; SideMissing when it names nothing."""
    match = SIDE_RE.fullmatch(ref)
    assert match is not None  # the form validated it
    if match.group("name"):
        name = match.group("name")
        try:
            loaded = queries.load_checkpoint(get_store(), name)
        except (CheckpointNotFound, InvalidCheckpointName):
            return Side(ref, f"{name} (current file)", None, "no such checkpoint file: absent")
        except CheckpointError as exc:
            raise SideMissing(
                f"Checkpoint “{name}” cannot be read: {exc.message}", status=422
            ) from None
        shown = loaded.shown_data
        return Side(ref, f"{name} (current file)", shown, "", "checkpoint_detail", (name,))
    if not request.user.has_perm(VIEW_AUDIT):
        raise PermissionDenied("Comparing audit snapshots needs access to the audit log.")
    seq, side = int(match.group("seq")), match.group("side")
    entry = AuditEntry.objects.select_related(side).filter(seq=seq).first()
    if entry is None:
        raise SideMissing(f"There is no audit entry #{seq}.")
    document, error = snapshot_document(getattr(entry, side))
    note = error or ("" if getattr(entry, f"{side}_id") else "no file at that moment: absent")
    label = f"{entry.checkpoint} {side} entry #{seq}"
    return Side(ref, label, document, note, "audit_detail", (seq,))


@require_GET
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def diff_page(request: HtmxHttpRequest) -> HttpResponse:
    """Pick two sides and see the set-aware summary, the changed fields and the text diff."""
    form = DiffForm(request.GET)
    params = dict(cleaned_or_defaults(form))  # (kept when a side is refused below)
    rows = current_listing()[0].rows
    if len(rows) <= DATALIST_MAX:
        names = [row.name for row in rows]
    else:  # (thousands of options would slow the page: those of the sides given)
        given = {params.get("a") or "", params.get("b") or ""}
        names = sorted({row.name for row in rows if f"checkpoint:{row.name}" in given})
    context: dict[str, Any] = {
        "form": form,
        "names": names,
        "params": params,
        "versions": _versions_offered(request, params.get("a") or params.get("b") or ""),
    }
    status = 200
    if form.is_valid() and params["a"] and params["b"]:
        sides: dict[str, Side] = {}
        for key in ("a", "b"):
            try:
                sides[key] = resolve_side(request, params[key])
            except SideMissing as exc:
                form.add_error(key, str(exc))
                status = max(status, exc.status)
        if len(sides) == 2:
            left, right = sides["a"], sides["b"]
            view = present_diff(left.document, right.document)
            context.update(
                left=left,
                right=right,
                diff=view,
                **group_page(view, params["group"], params["page"]),
            )
    template = "checkpoints/diff.html"
    if wants_partial(request) and context.get("expanded"):
        template = "checkpoints/_diff.html#groupvalues"
    return render(request, template, context, status=status)


#: How many of a checkpoint's audit entries the sides' suggestions offer.
VERSIONS_OFFERED = 20


def _versions_offered(request: HtmxHttpRequest, ref: str) -> list[tuple[str, str]]:
    """Suggestions for a side: the before and after of the newest audit entries of the
    checkpoint the other side names (to those who may read the log), newest first."""
    match = SIDE_RE.fullmatch(ref)
    if match is None or not request.user.has_perm(VIEW_AUDIT):
        return []
    name = match.group("name")
    if not name:
        seq = int(match.group("seq"))
        name = AuditEntry.objects.filter(seq=seq).values_list("checkpoint", flat=True).first()
        if name is None:
            return []
    entries = (
        AuditEntry.objects.filter(checkpoint=name)
        .order_by("-seq")
        .values_list("seq", "action", "before_id", "after_id")[:VERSIONS_OFFERED]
    )
    offered = []
    for seq, action, before, after in entries:
        if after is not None:
            offered.append((f"entry:{seq}:after", f"after #{seq} {action}"))
        if before is not None:
            offered.append((f"entry:{seq}:before", f"before #{seq} {action}"))
    return offered
