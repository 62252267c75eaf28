"""The diff page: two checkpoints, a checkpoint and an audit snapshot, or two snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
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
from checkpoints_admin.views.audit import group_page, snapshot_document
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


def resolve_side(request: HtmxHttpRequest, ref: str) -> Side:
    """The document a side reference names; Http404 when it names nothing."""
    match = SIDE_RE.fullmatch(ref)
    assert match is not None  # the form validated it
    if match.group("name"):
        name = match.group("name")
        try:
            loaded = queries.load_checkpoint(get_store(), name)
        except (CheckpointNotFound, InvalidCheckpointName):
            return Side(ref, f"{name} (current file)", None, "no such checkpoint file: absent")
        except CheckpointError as exc:
            raise Http404(f"Checkpoint “{name}” cannot be read: {exc.message}") from None
        return Side(ref, f"{name} (current file)", loaded.data, "", "checkpoint_detail", (name,))
    if not request.user.has_perm(VIEW_AUDIT):
        raise PermissionDenied("Comparing audit snapshots needs access to the audit log.")
    seq, side = int(match.group("seq")), match.group("side")
    entry = AuditEntry.objects.select_related(side).filter(seq=seq).first()
    if entry is None:
        raise Http404(f"There is no audit entry #{seq}.")
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
    params = cleaned_or_defaults(form)
    names = [row.name for row in current_listing()[0].rows]
    context: dict[str, Any] = {"form": form, "names": names, "params": params}
    if form.is_valid() and params["a"] and params["b"]:
        left, right = resolve_side(request, params["a"]), resolve_side(request, params["b"])
        view = present_diff(left.document, right.document)
        context.update(
            left=left, right=right, diff=view, **group_page(view, params["group"], params["page"])
        )
    template = "checkpoints/diff.html"
    if wants_partial(request) and context.get("expanded"):
        template = "checkpoints/_diff.html#groupvalues"
    return render(request, template, context)
