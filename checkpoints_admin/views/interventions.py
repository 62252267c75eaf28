"""The console's interventions: choose, preview, apply — every change through ``services``.

Each intervention is three steps. *Choose* (a GET page: what to skip, which field, the raw
document…), *preview* (a POST: the change as ``services.preview`` computes it on the current
file, its findings, a reason field and the file's version in a hidden field) and *apply* (a
POST: ``services.apply`` bound to that version). A file changed in between gives the conflict
page, which shows what changed on disk and offers to preview the same intervention again.

Every step is a plain form post that works without JavaScript; with htmx the step swaps in
place (``template#step``) and messages travel in ``HX-Trigger``. Views parse, call the
service and render: they never write a file or an audit row themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, wraps
from typing import Any, Final

import orjson
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url, reswap, retarget

from checkpoints_admin import queries, services
from checkpoints_admin.checkpoints import (
    Checkpoint,
    CheckpointError,
    CheckpointExists,
    CheckpointLockTimeout,
    CheckpointNotFound,
    CheckpointTooLarge,
    CorruptCheckpoint,
    InterventionError,
    InvalidCheckpointName,
    InvalidDocument,
    VersionConflict,
)
from checkpoints_admin.checkpoints.interventions import LIST_ACTIONS, takeable, unit_of
from checkpoints_admin.checkpoints.store import version_of
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.intervention_forms import (
    RAW_EDIT_LIMIT,
    REASON_MAX,
    TEMPLATES,
    ApplyForm,
    CreateForm,
    EditFieldForm,
    RawDocumentForm,
    ResetForm,
    RestoreForm,
    SelectionForm,
    describe_parse_error,
    document_template,
    editable_fields,
    version_field,
)
from checkpoints_admin.models import AuditEntry, Snapshot, SnapshotCorrupt
from checkpoints_admin.permissions import (
    CHANGE_CHECKPOINTS,
    RESET_CHECKPOINTS,
    VIEW_AUDIT,
    VIEW_CHECKPOINTS,
    may_read_entry,
    permission_required,
    restore_refusal,
)
from checkpoints_admin.presenters import entry_summary, patch_excerpt, present_diff, pretty
from checkpoints_admin.views.audit import group_page, snapshot_document, values_page
from checkpoints_admin.views.common import (
    HtmxHttpRequest,
    LongLists,
    checkpoint_exists,
    entry_or_404,
    restore_url,
    send_message,
    wants_partial,
)
from checkpoints_admin.views.errors import bad_request, error_page, name_refused, no_checkpoint

LOCK_MESSAGE: Final = (
    "The job is holding the checkpoint, try again. Nothing was changed; the job usually "
    "releases it within seconds."
)
CONFLICT_LINES_SHOWN: Final = 40


@dataclass(frozen=True)
class Spec:
    """One intervention as the console offers it."""

    key: str  # the URL segment
    action: str  # the service action
    title: str
    permission: str
    button: str  # the apply button's words

    @property
    def live_check(self) -> bool:
        return self.key in ("edit", "edit-raw", "create")

    @property
    def what_it_does(self) -> str:
        """The heading of its preview's summary ("What this skip does")."""
        return "What this creates" if self.key == "create" else f"What this {self.action} does"

    @property
    def needs_document(self) -> bool:
        """Whether it works on the parsed document (a corrupt file can only be replaced)."""
        return self.key in ("skip", "reprocess", "edit")


SPECS: Final = {
    spec.key: spec
    for spec in (
        Spec("skip", "skip", "Skip", CHANGE_CHECKPOINTS, "Apply the skip"),
        Spec("reprocess", "reprocess", "Reprocess", CHANGE_CHECKPOINTS, "Apply the reprocess"),
        Spec("edit", "edit", "Edit a field", CHANGE_CHECKPOINTS, "Apply the edit"),
        Spec("edit-raw", "edit", "Edit raw JSON", CHANGE_CHECKPOINTS, "Apply the edit"),
        Spec("reset", "reset", "Reset", RESET_CHECKPOINTS, "Delete the checkpoint"),
        Spec("restore", "restore", "Restore", CHANGE_CHECKPOINTS, "Apply the restore"),
        Spec("create", "create", "Create a checkpoint", CHANGE_CHECKPOINTS, "Create it"),
    )
}
# The field a refusal of each intervention belongs next to.
MAIN_FIELD: Final = {
    "skip": "dates",
    "reprocess": "dates",
    "edit": "value",
    "edit-raw": "document",
    "create": "document",
}


def _spec(request: HtmxHttpRequest, key: str) -> Spec:
    spec = SPECS.get(key)
    if spec is None:
        raise Http404("There is no such intervention.")
    if not request.user.has_perm(spec.permission):
        raise PermissionDenied(
            "Your role does not allow this change. Ask an admin for the right group."
        )
    return spec


# --- the file as it is now -----------------------------------------------------------------------


class Current:
    """The checkpoint file now: parsed (``data``), corrupt (``raw`` and ``error``) or absent."""

    def __init__(
        self,
        name: str,
        loaded: queries.Loaded | None = None,
        *,
        raw: bytes | None = None,
        error: CorruptCheckpoint | None = None,
    ) -> None:
        self.name = name
        self._loaded = loaded
        self.checkpoint = loaded.checkpoint if loaded is not None else None
        self.raw = self.checkpoint.raw if self.checkpoint is not None else raw
        self.error = error

    @property
    def exists(self) -> bool:
        return self.raw is not None

    @property
    def data(self) -> dict[str, Any] | None:
        return self.checkpoint.data if self.checkpoint is not None else None

    @property
    def shown_data(self) -> dict[str, Any] | None:
        """The document as a person is shown it: integers beyond 64 bits as written."""
        return self._loaded.shown_data if self._loaded is not None else self.data

    @cached_property
    def version(self) -> str | None:
        if self.checkpoint is not None:
            return self.checkpoint.version
        return version_of(self.raw) if self.raw is not None else None

    @property
    def kind(self) -> str | None:
        return self._loaded.kind if self._loaded is not None else None

    @property
    def loaded(self) -> queries.Loaded:
        """Summary and lists, for the choose pages (not needed to apply)."""
        assert self._loaded is not None
        return self._loaded

    @property
    def text(self) -> str:
        """The file's content for the raw editor: pretty JSON, or the corrupt bytes as text;
        the file's own text when it has an integer beyond 64 bits (pretty-printed, the float
        it is read as would show instead: 1e+23)."""
        if self._loaded is not None and not self._loaded.wide_integers:
            return pretty(self._loaded.data) + "\n"
        return (self.raw or b"").decode("utf-8", errors="replace")


def _current(request: HtmxHttpRequest, name: str) -> Current | HttpResponse:
    """The file now. Parsed and summarised once per version (shared with the checkpoint page):
    a choose page after the checkpoint page, or an apply after its preview, only hashes it."""
    store = get_store()
    try:
        loaded = queries.load_checkpoint(store, name)
    except InvalidCheckpointName as exc:
        return name_refused(request, exc)
    except CheckpointNotFound:
        return Current(name)
    except CorruptCheckpoint as exc:
        try:
            raw = store.read_raw(name)
        except CheckpointNotFound:
            return Current(name)
        return Current(name, raw=raw, error=exc)
    except CheckpointTooLarge as exc:
        return error_page(request, 413, "Checkpoint too large", exc.message)
    except CheckpointError as exc:
        return error_page(request, 503, "Cannot read the checkpoint", exc.message)
    return Current(name, loaded)


def _unavailable(request: HtmxHttpRequest, spec: Spec, current: Current) -> HttpResponse | None:
    """The page saying why this intervention cannot be made on the file as it is."""
    name = current.name
    if not current.exists and spec.key not in ("restore", "create"):
        raise no_checkpoint(name)
    if current.data is None and spec.needs_document:
        return error_page(
            request,
            409,
            "The checkpoint cannot be parsed",
            f"{name}.json is not a readable document ({current.error}). Repair it in the raw "
            "editor, restore it from the audit log, or reset it.",
        )
    if spec.key in ("skip", "reprocess") and unit_of(current.kind or "") is None:
        return error_page(
            request,
            409,
            "Nothing to skip or reprocess",
            f"{name} is a checkpoint of kind {current.kind}: it has no dates or items lists. "
            "Edit it in the raw editor instead.",
        )
    if spec.key == "edit-raw" and current.raw is not None and len(current.raw) > RAW_EDIT_LIMIT:
        return error_page(
            request,
            413,
            "Too large for the raw editor",
            f"{name}.json is {len(current.raw):,} bytes; the console edits documents up to "
            f"{RAW_EDIT_LIMIT:,} bytes. Use manage.py edit_checkpoint {name} --from-file FILE.",
        )
    return None


def _available(request: HtmxHttpRequest, spec: Spec, name: str) -> Current | HttpResponse:
    """The file now, or the page saying why it cannot be read or take this intervention."""
    current = _current(request, name)
    if isinstance(current, HttpResponse):
        return current
    unavailable = _unavailable(request, spec, current)
    return current if unavailable is None else unavailable


def _form(spec: Spec, current: Current, data: Any = None, **kwargs: Any) -> Any:
    """The intervention's form, bound to ``data`` (None: unbound)."""
    if spec.key in ("skip", "reprocess"):
        assert current.data is not None
        kind = current.kind or ""
        document = current.data
        lists = {
            key: document[key]
            for key in LIST_ACTIONS.get(kind, {})
            if isinstance(document.get(key), list)
        }
        return SelectionForm(data, unit=unit_of(kind) or "dates", lists=lists, kind=kind, **kwargs)
    if spec.key == "edit":
        shown = current.shown_data
        assert shown is not None
        fields = editable_fields(shown, current.kind or "")
        return EditFieldForm(data, fields=fields, **kwargs)
    if spec.key == "edit-raw":
        return RawDocumentForm(data, **kwargs)
    if spec.key == "reset":
        return ResetForm(data if data is not None else {}, **kwargs)
    if spec.key == "restore":
        return RestoreForm(data, **kwargs)
    return CreateForm(data, **kwargs)


def _posted_form(request: HtmxHttpRequest, spec: Spec, current: Current) -> Any:
    """The posted intervention, valid and allowed, or the page refusing it."""
    form = _form(spec, current, request.POST)
    if not form.is_valid():
        if isinstance(form, RestoreForm):
            return bad_request(request, form.refusal)
        return _choose_page(request, spec, current, form, status=422)
    if spec.key == "restore":
        _check_restore_permission(request, form)
    return form


def _check_restore_permission(request: HtmxHttpRequest, form: RestoreForm) -> None:
    """Refuse a restore the user may not make (:func:`restore_refusal`)."""
    entry = (
        AuditEntry.objects.only("seq", "actor", "before_id", "after_id")
        .filter(seq=form.cleaned_data["entry"])
        .first()
    )
    if entry is None:
        return  # the service says there is no such entry
    problem = restore_refusal(request.user, entry, form.cleaned_data["side"])
    if problem is not None:
        raise PermissionDenied(problem)


# --- rendering helpers ---------------------------------------------------------------------------


def _page(
    request: HtmxHttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    message: tuple[str, str] | None = None,
) -> HttpResponse:
    """The step page, or with htmx only its ``#step`` partial (and the message as an event)."""
    if wants_partial(request):
        response = render(request, template + "#step", context, status=status)
        if message is not None:
            send_message(response, *message)
        return response
    if message is not None:
        messages.add_message(request, _LEVELS[message[0]], message[1])
    return render(request, template, context, status=status)


_LEVELS: Final = {
    "success": messages.SUCCESS,
    "warning": messages.WARNING,
    "error": messages.ERROR,
    "info": messages.INFO,
}


def _urls(spec: Spec, name: str | None) -> dict[str, str]:
    if spec.key == "create":
        return {
            "choose_url": reverse("checkpoint_create"),
            "check_url": reverse("checkpoint_create_check"),
            "change_url": reverse("checkpoint_create_change"),
            "preview_url": reverse("checkpoint_create_preview"),
            "apply_url": reverse("checkpoint_create_apply"),
        }
    assert name is not None
    args = (name, spec.key)
    return {
        "choose_url": reverse("intervention", args=args),
        "check_url": reverse("intervention_check", args=args),
        "change_url": reverse("intervention_change", args=args),
        "preview_url": reverse("intervention_preview", args=args),
        "apply_url": reverse("intervention_apply", args=args),
    }


def _heading(spec: Spec, current: Current | None) -> str:
    unit = unit_of(current.kind or "") if current is not None else None
    if spec.key in ("skip", "reprocess") and unit:
        return f"{spec.title} {unit}"
    if spec.key == "reset":
        return "Reset the checkpoint"
    if spec.key == "restore":
        return "Restore from the audit log"
    return spec.title


def _base_context(spec: Spec, name: str | None, current: Current | None) -> dict[str, Any]:
    return {
        "spec": spec,
        "name": name,
        "current": current,
        "kind": current.kind if current is not None else None,
        "heading": _heading(spec, current),
        "exists": current.exists if current is not None else checkpoint_exists(name),
        "has_choose": spec.key in MAIN_FIELD,
        **_urls(spec, name),
    }


def _choose_page(
    request: HtmxHttpRequest,
    spec: Spec,
    current: Current | None,
    form: Any,
    *,
    status: int = 200,
    checked: dict[str, Any] | None = None,
    template_id: str | None = None,
) -> HttpResponse:
    name = current.name if current is not None else None
    context = _base_context(spec, name, current)
    # A reason typed on a preview and brought back with "← Change it" (or on a refused
    # preview) goes on to the next preview with the change.
    if request.method == "POST":
        context["reason"] = request.POST.get("reason", "")[:REASON_MAX]
    if checked is None and spec.live_check and form.is_bound and form.errors:
        # A refused preview: the errors are said at their fields; the live check only says
        # that (rather than "as you type", or the same words twice).
        count = sum(len(messages_) for messages_ in form.errors.values())
        checked = {"ok": False, "refused": count}
    context.update({"form": form, "checked": checked})
    if spec.key in ("skip", "reprocess"):
        assert current is not None and current.data is not None
        context["unit"] = form.unit
        context["selection_text"] = form.text()
        context["ticked"] = form.ticked()
        context["lists"] = [
            (field, LIST_ACTIONS[current.loaded.kind].get(field.key))
            for field in current.loaded.lists
            if field.key in LIST_ACTIONS.get(current.loaded.kind, {})
        ]
        context["range"] = (current.loaded.summary.first_date, current.loaded.summary.last_date)
        context["example"] = _selection_example(current, spec.action, form.unit)
    elif spec.key == "edit":
        context["fields"] = list(form.editable.values())
        context["chosen"] = form.chosen
    elif spec.key == "create":
        context["templates"] = TEMPLATES
        context["template_id"] = template_id
    if spec.key in ("edit-raw", "create"):
        context["position"] = form.error_position if form.is_bound else None
    return _page(request, "interventions/choose.html", context, status=status)


DAY: Final = timedelta(days=1)


def _selection_example(current: Current, action: str, unit: str) -> str:
    """The selection field's placeholder, made of values this skip or reprocess can take now
    (:func:`interventions.takeable`), in a form the field accepts; the bare format when
    there are none."""
    data = current.data if current.data is not None else {}
    values = takeable(data, current.loaded.kind, action, count=2 if unit != "dates" else 3)
    if unit != "dates":
        return "\n".join(values) if values else "item"
    if not values:
        return "YYYY-MM-DD YYYY-MM-DD..YYYY-MM-DD"
    days = sorted(values)
    if len(days) == 3 and date.fromisoformat(days[2]) - date.fromisoformat(days[1]) == DAY:
        return f"{days[0]} {days[1]}..{days[2]}"  # a range only of days next to each other
    return " ".join(days)


def _refused(
    request: HtmxHttpRequest,
    spec: Spec,
    name: str,
    current: Current | None,
    form: Any,
    exc: CheckpointError,
) -> HttpResponse:
    """The service refused the change: back to the choose page with the reason next to the
    field it is about, or (reset, restore: nothing to choose) a page saying why."""
    if spec.key in MAIN_FIELD:
        form.add_error(MAIN_FIELD[spec.key], _message(exc))
        return _choose_page(request, spec, current, form, status=422)
    return error_page(request, 422, f"Cannot {spec.action} {name}", _message(exc))


def _preview_context(
    spec: Spec, name: str, form: Any, pv: services.Preview, current: Current | None
) -> dict[str, Any]:
    context = _base_context(spec, name, current)
    size = len(pv.before_raw) if pv.before_raw is not None else 0
    context.update(
        {
            "form": form,
            "carry": form.carry(),
            "pv": pv,
            "diff": present_diff(
                pv.before,
                pv.after,
                delta=pv.view_delta,
                old_raw=pv.before_raw,
                old_wide=pv.wide_before,
                new_wide=pv.wide_after,
            ),
            "patch": patch_excerpt(pv.patch),
            "corrupt_before": pv.before is None and pv.before_raw is not None,
            "before_size": size,
            "error_count": len(pv.errors),
            "warning_count": len(pv.warnings),
            "deleted": pv.after_raw is None,
            # The form whose buttons post what the preview carries (the "Choose" step back to
            # step 1, the pages of a long list): the apply form, the reason typed going too,
            # when the change can be applied; else the bare one (none for a reset or restore).
            "step_form": (
                "apply-step-form"
                if pv.ok and pv.changes_file
                else "change-form"
                if spec.key in MAIN_FIELD
                else ""
            ),
        }
    )
    return context


def _preview(
    request: HtmxHttpRequest,
    spec: Spec,
    name: str,
    form: Any,
    current: Current | None,
    *,
    reason: str = "",
    apply_form: ApplyForm | None = None,
    status: int = 200,
    message: tuple[str, str] | None = None,
) -> HttpResponse:
    """Step 2: the change on the current file, its findings, and the apply form."""
    paged = _values_page(request)
    if paged is not None and wants_partial(request):
        shown = _remembered_values(request, spec, name, form, current, paged)
        if shown is not None:
            return shown
    try:
        pv = services.preview(
            name,
            spec.action,
            form.params,
            keep_base=True,
            seen=_seen(current),
        )
    except CheckpointExists as exc:
        done = _already_applied(request, spec, name, None, _version_now(name), form.params)
        if done is not None:
            return done
        form.add_error("name", exc.message)
        return _choose_page(request, spec, current, form, status=422)
    except InvalidCheckpointName as exc:
        if spec.key == "create":
            form.add_error("name", exc.message)
            return _choose_page(request, spec, current, form, status=422)
        return name_refused(request, exc)
    except CheckpointNotFound:
        raise no_checkpoint(name) from None
    except (InterventionError, CorruptCheckpoint, InvalidDocument) as exc:
        return _refused(request, spec, name, current, form, exc)
    if apply_form is None:
        apply_form = ApplyForm(
            initial={"base_version": version_field(pv.base_version), "reason": reason},
            confirm_name=name if spec.key == "reset" else None,
        )
    context = _preview_context(spec, name, form, pv, current)
    context["apply_form"] = apply_form
    groups = context["diff"].groups
    if context["step_form"] and any(group.more for group in groups):
        key = _change_key(name, pv.base_version, spec, form)
        if key is not None:
            _PREVIEW_LISTS.remember(key, groups, context["step_form"])
    if paged is not None:
        return _paged_values(request, spec, name, form, current, context, paged, reason)
    return _page(request, "interventions/preview.html", context, status=status, message=message)


def _paged_values(
    request: HtmxHttpRequest,
    spec: Spec,
    name: str,
    form: Any,
    current: Current | None,
    context: dict[str, Any],
    paged: tuple[str, int],
    reason: str,
) -> HttpResponse:
    """A page of one list of the preview: with htmx that list alone; else the whole preview
    with it. Previewed again on the file as it is, so refused as a conflict when the file
    left the version the page shows (its lists would not be the ones counted there)."""
    posted = request.POST.get("base_version")
    pv = context["pv"]
    if posted is not None and posted != version_field(pv.base_version):
        response = _conflict(
            request, spec, name, form, expected=_posted_version(request),
            actual=pv.base_version, reason=reason, current=current,
        )  # fmt: skip
        if wants_partial(request):  # (the step, not the list, is what changed)
            retarget(response, "#intervention")
            response["HX-Reswap"] = "outerHTML show:window:top"  # (reswap() takes no modifier)
        return response
    values = group_page(context["diff"], *paged)
    if not values:
        return bad_request(request, "This preview has no such list to page through.")
    context.update(values)
    if wants_partial(request):
        context["group"] = values["expanded"]
        return render(request, "interventions/_preview_diff.html#values", context)
    return _page(request, "interventions/preview.html", context)


#: The long lists of the last previews, by checkpoint, version, action and change, each with
#: the form their page buttons belong to: a page of one asked for with htmx is shown from
#: them. Another process, or a page without htmx (the whole preview again), previews again.
_PREVIEW_LISTS: Final = LongLists()


def _change_key(
    name: str, version: str | None, spec: Spec, form: Any
) -> tuple[str, str | None, str, str] | None:
    """What a preview's lists are a function of: the checkpoint, the version it was made on
    and the change. None for a restore, whose change names an audit entry by number, which
    another database (a backup put back) gives to another change."""
    if spec.key == "restore":
        return None
    try:
        change = orjson.dumps(form.params, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return name, version, spec.action, hashlib.sha256(change).hexdigest()


def _remembered_values(
    request: HtmxHttpRequest,
    spec: Spec,
    name: str,
    form: Any,
    current: Current | None,
    paged: tuple[str, int],
) -> HttpResponse | None:
    """The page of a list :data:`_PREVIEW_LISTS` kept, when the page asking for it was shown
    on the file as it is now (else None: previewed again, which says what changed)."""
    version = current.version if current is not None else None
    if request.POST.get("base_version") != version_field(version):
        return None
    key = _change_key(name, version, spec, form)
    found = _PREVIEW_LISTS.get(key, paged[0]) if key is not None else None
    if found is None:
        return None
    group, step_form = found
    context = _base_context(spec, name, current)
    context.update(values_page(group, paged[1]), step_form=step_form)
    context["group"] = context["expanded"]
    return render(request, "interventions/_preview_diff.html#values", context)


def _values_page(request: HtmxHttpRequest) -> tuple[str, int] | None:
    """The page of one list of the preview's diff asked for ("Show all", "Next"): posted as
    ``values_page=m0:2`` by a button of the preview's own form (so that the reason typed
    comes too); None when none was, or it is not one."""
    key, _, page = request.POST.get("values_page", "").partition(":")
    if not key or not page.isascii() or not page.isdigit() or len(page) > 9:
        return None
    return key, int(page)


def _message(exc: CheckpointError) -> str:
    if isinstance(exc, CorruptCheckpoint):
        return describe_parse_error(exc)
    message = exc.message.strip()
    first = message.split(" ", 1)[0]
    if first.isalpha():  # a word, not a value the message starts with (item-00160, x_1)
        message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


# --- step 1: choose ------------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
@never_cache
def choose(request: HtmxHttpRequest, name: str, key: str) -> HttpResponseBase:
    """Step 1: what to change. For a reset or a restore this is already the preview."""
    spec = _spec(request, key)
    current = _available(request, spec, name)
    if isinstance(current, HttpResponse):
        return current
    if spec.key == "reset":
        reset = ResetForm({})
        reset.is_valid()
        return _preview(request, spec, name, reset, current)
    if spec.key == "restore":
        restore = RestoreForm(request.GET)
        if not restore.is_valid():
            return bad_request(request, restore.refusal)
        _check_restore_permission(request, restore)
        return _preview(request, spec, name, restore, current)
    initial: dict[str, Any] = {}
    if spec.key in ("skip", "reprocess"):
        initial["dates"] = request.GET.get("dates", "")[:100_000]
    elif spec.key == "edit":
        shown = current.shown_data
        assert shown is not None
        fields = editable_fields(shown, current.kind or "")
        by_pointer = {field.pointer: field for field in fields}
        wanted = request.GET.get("pointer", "")
        chosen = by_pointer.get(wanted) or by_pointer.get("/status") or next(iter(fields), None)
        if chosen is not None:
            initial.update(
                {
                    "pointer": chosen.pointer,
                    "value": chosen.current_text,
                    "null": chosen.current is None,  # (an empty input would be refused)
                }
            )
    elif spec.key == "edit-raw":
        initial["document"] = current.text
        initial["loaded_version"] = current.version or ""
        if current.checkpoint is not None:
            # Kept, so that a conflict can say what changed since the editor was filled.
            services.keep_version(name, current.checkpoint.raw, current.checkpoint.version)
    form = _form(spec, current, None, initial=initial)
    return _choose_page(request, spec, current, form)


def _post_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A step that takes a POST; a GET of its address (the browser's Back button, htmx
    restoring history, a bookmark) is sent to where the intervention starts, not a 405."""

    @wraps(view)
    def wrapped(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method in ("GET", "HEAD"):
            name, key = kwargs.get("name"), kwargs.get("key")
            if name is None:
                return HttpResponseRedirect(reverse("checkpoint_create"))
            if key == "restore":
                return HttpResponseRedirect(reverse("checkpoint_detail", args=(name,)))
            return HttpResponseRedirect(reverse("intervention", args=(name, key)))
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return view(request, *args, **kwargs)

    return wrapped


# --- live check ----------------------------------------------------------------------------------


def _seen(current: Current | None) -> Checkpoint | None:
    """The checkpoint as this request read it, for a preview not to parse it again."""
    return current.checkpoint if current is not None else None


def _checked(spec: Spec, name: str | None, form: Any, current: Current | None) -> dict[str, Any]:
    """What the change as typed so far would give: the input's error, or the findings.
    ``current``: the file as this request read it (not parsed again while it is unchanged)."""
    if not form.is_valid():
        # A new checkpoint's name is checked next to its field (swapped in there), the
        # document's errors below the editor.
        apart = ("name",) if spec.key == "create" else ()
        errors = [
            str(message)
            for field, messages_ in form.errors.items()
            if field not in apart
            for message in messages_
        ]
        return {
            "ok": False,
            "errors": errors,
            "position": getattr(form, "error_position", None),
            # (None: no name to say anything of; the template swaps a list in beside it)
            "name_errors": [str(m) for m in form.errors.get("name", [])] if apart else None,
            "waits_for_name": bool(apart) and not errors,
        }
    assert name is not None
    create = spec.key == "create"
    try:
        pv = services.preview(name, spec.action, form.params, seen=_seen(current))
    except CheckpointError as exc:
        if create and isinstance(exc, CheckpointExists | InvalidCheckpointName):
            return {
                "ok": False,
                "errors": [],
                "name_errors": [_message(exc)],
                "waits_for_name": True,
            }
        return {"ok": False, "errors": [_message(exc)], "position": None, "name_errors": None}
    loaded = form.cleaned_data.get("loaded_version") if spec.key == "edit-raw" else None
    return {
        "ok": pv.ok,
        "errors": [],
        "summary": pv.summary if pv.changes_file else "no change",
        "findings": pv.findings,
        "error_count": len(pv.errors),
        "warning_count": len(pv.warnings),
        # The editor was filled from an older version: the summary above includes putting
        # back what changed since (the preview stops there first, with what that is).
        "changed_since": bool(loaded) and loaded != pv.base_version,
        "name_errors": [] if create else None,  # (a new name's place is emptied)
    }


def _checked_page(
    request: HtmxHttpRequest, spec: Spec, name: str | None, current: Current | None, form: Any
) -> HttpResponse:
    """The live check's verdict: alone with htmx, else on the choose page."""
    checked = _checked(spec, name, form, current)
    if wants_partial(request):
        return render(request, "interventions/_checked.html", {"checked": checked, "oob": True})
    return _choose_page(request, spec, current, form, checked=checked)


@_post_only
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def check(request: HtmxHttpRequest, name: str, key: str) -> HttpResponseBase:
    """Live validation of a field edit or a raw document, as the operator types; no change."""
    spec = _spec(request, key)
    if not spec.live_check:
        raise Http404("This intervention has no live check.")
    current = _available(request, spec, name)
    if isinstance(current, HttpResponse):
        return current
    form = _form(spec, current, request.POST)
    return _checked_page(request, spec, name, current, form)


# --- back from the preview to step 1 -------------------------------------------------------------


@_post_only
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def change(request: HtmxHttpRequest, name: str, key: str) -> HttpResponseBase:
    """Step 1 again, from a preview ("← Change it"): the change it carries filled in. A
    POST, as a link could not hold a whole document or thousands of items; no change."""
    spec = _spec(request, key)
    if spec.key not in MAIN_FIELD:
        raise Http404("A reset or a restore has nothing to choose.")
    current = _available(request, spec, name)
    if isinstance(current, HttpResponse):
        return current
    return _choose_page(request, spec, current, _form(spec, current, request.POST))


# --- step 2: preview -----------------------------------------------------------------------------


@_post_only
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def preview(request: HtmxHttpRequest, name: str, key: str) -> HttpResponseBase:
    """Step 2: the exact change on the current file, its findings, a reason, the version."""
    spec = _spec(request, key)
    current = _available(request, spec, name)
    if isinstance(current, HttpResponse):
        return current
    form = _posted_form(request, spec, current)
    if isinstance(form, HttpResponse):
        return form
    reason = request.POST.get("reason", "")[:REASON_MAX]
    loaded = form.cleaned_data.get("loaded_version") if spec.key == "edit-raw" else None
    if loaded is not None and current.version != loaded:
        # The whole document was edited from an older version: previewed on the current one
        # it would put back what changed since. Say what that is first; previewing again
        # from the conflict page accepts the current version as the one edited.
        form.cleaned_data["loaded_version"] = current.version
        return _conflict(
            request, spec, name, form, expected=loaded, actual=current.version, reason=reason,
            current=current, since_editor=True,
        )  # fmt: skip
    return _preview(request, spec, name, form, current, reason=reason)


# --- step 3: apply -------------------------------------------------------------------------------


def _conflict(
    request: HtmxHttpRequest,
    spec: Spec,
    name: str,
    form: Any,
    *,
    expected: str | None,
    actual: str | None,
    reason: str,
    current: Current | None = None,
    since_editor: bool = False,
) -> HttpResponse:
    """The file changed since the preview (``since_editor``: since the raw editor was filled):
    what changed, and the same change previewed again."""
    delta = services.changes_since(name, expected, seen=_seen(current)) if expected else None
    lines = delta.lines() if delta is not None else []
    context = _base_context(spec, name, current)
    context.update(
        {
            "carry": form.carry(),
            "reason": reason,
            "expected": expected,
            "actual": actual,
            "delta": delta,
            "lines": lines[:CONFLICT_LINES_SHOWN],
            "more_lines": max(0, len(lines) - CONFLICT_LINES_SHOWN),
            "since_editor": since_editor,
            "no_longer": None if since_editor else _no_longer(spec, name, form, current),
            "busy_for": None if since_editor else _busy_for(current),
        }
    )
    # The page itself says it; no separate message.
    return _page(request, "interventions/conflict.html", context, status=409)


#: A running job that saved within this many seconds may well save again before a person
#: applies what they previewed: the conflict page then says how to make the change anyway.
BUSY_JOB_SECONDS: Final = 60


def _busy_for(current: Current | None) -> int | None:
    """Seconds since the job saved, when the checkpoint says it is running and it saved
    within :data:`BUSY_JOB_SECONDS`; else None."""
    if current is None or current.checkpoint is None:
        return None
    since = current.loaded.summary.saved_while_running(
        now=datetime.now(UTC), stale_after=get_settings().stale_after_seconds
    )
    return int(since) if since is not None and since <= BUSY_JOB_SECONDS else None


def _no_longer(spec: Spec, name: str, form: Any, current: Current | None) -> str | None:
    """Why the same change would be refused on the file as it is now (the job did the work
    meanwhile: the date was processed, the item is gone), or None when it still applies: the
    conflict page then offers no preview that can only end in that refusal."""
    if isinstance(form, _Carried):
        return None  # (the file cannot take the fields now: the page says what it is)
    try:
        pv = services.preview(name, spec.action, form.params, seen=_seen(current))
    except CheckpointNotFound:
        return "the file has been deleted"
    except CheckpointError as exc:
        said = exc.message.rstrip(". ")  # (a clause of the page's sentence)
        return said[:1].lower() + said[1:] if said[1:2].islower() else said
    return None if pv.changes_file else "it would change nothing now"


def _refused_apply(
    request: HtmxHttpRequest,
    spec: Spec,
    name: str,
    form: Any,
    apply_form: ApplyForm,
    current: Current | None,
    *,
    status: int,
    message: tuple[str, str] | None = None,
) -> HttpResponse:
    """The apply form again, with what is wrong next to its field; nothing was changed."""
    if wants_partial(request):
        context = _base_context(spec, name, current)
        context.update({"form": form, "carry": form.carry(), "apply_form": apply_form})
        response = render(request, "interventions/preview.html#applyform", context, status=status)
        retarget(response, "#apply-form")
        reswap(response, "outerHTML")
        if message is not None:
            send_message(response, *message)
        return response
    # A whole page again: the preview of the same change, unless the file moved on meanwhile.
    base = apply_form.cleaned_data.get("base_version") if apply_form.is_bound else None
    has_base = "base_version" in getattr(apply_form, "cleaned_data", {})
    if has_base and current is not None and current.version != base:
        return _conflict(
            request,
            spec,
            name,
            form,
            expected=base,
            actual=current.version,
            reason=request.POST.get("reason", ""),
            current=current,
        )
    return _preview(
        request, spec, name, form, current, apply_form=apply_form, status=status, message=message
    )


def _already_applied(
    request: HtmxHttpRequest,
    spec: Spec,
    name: str,
    base: str | None,
    actual: str | None,
    params: dict[str, Any],
) -> HttpResponse | None:
    """The result page of this very change when the file moved on because this person
    applied it already (``services.applied_already``); None when it is a conflict."""
    last = services.applied_already(
        name,
        spec.action,
        params,
        actor=services.Actor.for_request(request),
        base=base,
        actual=actual,
    )
    if last is None:
        return None
    text = (
        f"This {spec.action} was applied already, as audit entry #{last.seq}; "
        "nothing more was done."
    )
    given = services.recorded_reason(request.POST.get("reason", ""))
    if given and given != last.reason:
        text += " The reason given this time was not recorded: the entry keeps the first one."
    return _show_result(request, entry_or_404(last.seq, "before", "after"), messages.INFO, text)


def _apply(
    request: HtmxHttpRequest, spec: Spec, name: str, form: Any, current: Current | None
) -> HttpResponse:
    apply_form = ApplyForm(request.POST, confirm_name=name if spec.key == "reset" else None)
    if not apply_form.is_valid():
        return _refused_apply(request, spec, name, form, apply_form, current, status=422)
    base = apply_form.cleaned_data["base_version"]
    reason = apply_form.cleaned_data["reason"]
    now_version = current.version if current is not None else None
    if current is not None and now_version != base:
        done = _already_applied(request, spec, name, base, now_version, form.params)
        if done is not None:
            return done
        return _conflict(
            request,
            spec,
            name,
            form,
            expected=base,
            actual=now_version,
            reason=reason,
            current=current,
        )
    try:
        applied = services.apply(
            name,
            spec.action,
            form.params,
            actor=services.Actor.for_request(request),
            reason=reason,
            expected_version=base,
            expect_absent=base is None,
            seen=_seen(current),
        )
    except VersionConflict as exc:
        done = _already_applied(request, spec, name, exc.expected, exc.actual, form.params)
        if done is not None:
            return done
        return _conflict(
            request,
            spec,
            name,
            form,
            expected=exc.expected,
            actual=exc.actual,
            reason=reason,
            current=current,
        )
    except CheckpointNotFound:
        return _conflict(request, spec, name, form, expected=base, actual=None, reason=reason)
    except services.ReasonRequired:
        apply_form.add_error("reason", "Give a reason: it is recorded in the audit log.")
        return _refused_apply(request, spec, name, form, apply_form, current, status=422)
    except CheckpointLockTimeout:
        apply_form.add_error(None, LOCK_MESSAGE)
        return _refused_apply(
            request,
            spec,
            name,
            form,
            apply_form,
            current,
            status=423,
            message=("error", "The job is holding the checkpoint, try again."),
        )
    except services.ValidationFailed as exc:
        listed = "; ".join(f"{f.pointer or '(document)'}: {f.message}" for f in exc.findings)
        apply_form.add_error(None, f"The result would have errors, nothing was written: {listed}")
        return _refused_apply(request, spec, name, form, apply_form, current, status=422)
    except services.NoChange as exc:
        apply_form.add_error(None, exc.message)
        return _refused_apply(request, spec, name, form, apply_form, current, status=422)
    except CheckpointExists as exc:
        done = _already_applied(request, spec, name, None, _version_now(name), form.params)
        if done is not None:
            return done
        form.add_error("name", exc.message)
        return _choose_page(request, spec, current, form, status=422)
    except (InterventionError, CorruptCheckpoint, InvalidDocument) as exc:
        return _refused(request, spec, name, current, form, exc)
    except CheckpointError as exc:
        apply_form.add_error(None, f"{_message(exc)} Nothing was changed.")
        return _refused_apply(request, spec, name, form, apply_form, current, status=503)
    except services.ChangeNotConfirmed as exc:
        # Neither a refusal (the file may have the change) nor a result (nothing recorded).
        context = {"name": name, "failure": exc}
        return _page(request, "interventions/not_confirmed.html", context, status=503)
    if applied.written is not None:
        # The pages shown next (the result, the checkpoint) need not parse it again.
        queries.remember_written(get_store(), applied.written)
    return _applied(request, applied)


def _applied(request: HtmxHttpRequest, applied: services.Applied) -> HttpResponse:
    entry = applied.entry
    text = f"Applied to {entry.checkpoint}: {entry.summary} (audit entry #{entry.seq})."
    return _show_result(request, entry, messages.SUCCESS, text)


def _show_result(
    request: HtmxHttpRequest, entry: AuditEntry, level: int, text: str
) -> HttpResponse:
    """The result step of ``entry`` with a message: swapped in for htmx (the message goes to
    the page's live region), else a redirect to the result page, which shows it."""
    url = reverse("intervention_result", args=(entry.checkpoint, entry.seq))
    if wants_partial(request):
        context = _result_context(request, entry)
        response = render(request, "interventions/result.html#step", context)
        push_url(response, url)
        tag = messages.DEFAULT_TAGS[level]
        send_message(response, tag, text)
        return response
    messages.add_message(request, level, text)
    # A path already: redirect() would first try it as a URL name.
    return HttpResponseRedirect(url)


@_post_only
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def apply(request: HtmxHttpRequest, name: str, key: str) -> HttpResponseBase:
    """Step 3: apply the previewed change if the file is still at the previewed version."""
    spec = _spec(request, key)
    current = _current(request, name)
    if isinstance(current, HttpResponse):
        return current
    gone = not current.exists and spec.key != "restore"
    if gone or (current.data is None and spec.needs_document):
        # Deleted (or broken) since the preview: say what happened, apply nothing.
        if spec.key == "reset":  # applied already by this person?
            posted = _posted_version(request)
            done = _already_applied(request, spec, name, posted, current.version, {})
            if done is not None:
                return done
        return _conflict(
            request,
            spec,
            name,
            _Carried(request.POST),
            expected=_posted_version(request),
            actual=current.version,
            reason=request.POST.get("reason", ""),
            current=current,
        )
    form = _posted_form(request, spec, current)
    if isinstance(form, HttpResponse):
        return form
    return _apply(request, spec, name, form, current)


class _Carried:
    """The posted intervention fields, repeated as they came (when the file cannot take them)."""

    FIELDS: Final = ("dates", "pointer", "value", "null", "document", "entry", "side")

    def __init__(self, data: Any) -> None:
        self.data = data

    def carry(self) -> list[tuple[str, str]]:
        return [(key, value) for key in self.FIELDS for value in self.data.getlist(key)]


def _version_now(name: str) -> str | None:
    """The version of checkpoint ``name`` on disk now (None: no file, or unreadable)."""
    try:
        return version_of(get_store().read_raw(name))
    except CheckpointError:
        return None


def _posted_version(request: HtmxHttpRequest) -> str | None:
    """The posted base version when it is one (a sha256), else None."""
    form = ApplyForm({"base_version": request.POST.get("base_version", ""), "reason": "-"})
    return form.cleaned_data["base_version"] if form.is_valid() else None


# --- result --------------------------------------------------------------------------------------


def _side_document(entry: AuditEntry, side: str) -> tuple[dict[str, Any] | None, str]:
    """One side of a change just applied: the file's document as this process read or wrote
    it when still loaded (same version, so the same bytes), else the audit snapshot's."""
    version = getattr(entry, f"{side}_id")
    if version is not None:
        document = queries.document_of_version(get_store(), entry.checkpoint, version)
        if document is not None:
            return document, ""
    return snapshot_document(getattr(entry, side))


def _snapshot_raw(snapshot: Snapshot | None) -> bytes | None:
    """A snapshot's bytes, None when it cannot be read back."""
    if snapshot is None:
        return None
    try:
        return snapshot.raw
    except SnapshotCorrupt:
        return None


#: A result page's heading where "<Action> applied" would not read ("Create applied").
RESULT_HEADINGS: Final = {
    "create": "Checkpoint created",
    "reset": "Checkpoint reset",
    "restore": "Checkpoint restored",
}


def _result_context(request: HtmxHttpRequest, entry: AuditEntry) -> dict[str, Any]:
    before, before_error = _side_document(entry, "before")
    after, after_error = _side_document(entry, "after")
    # Undo restores the before side (not one that does not parse: nothing to write back).
    undo_url = "" if before_error else restore_url(request, entry, "before")
    corrupt_before = before is None and entry.before is not None and bool(before_error)
    return {
        "entry": entry,
        "name": entry.checkpoint,
        "diff": present_diff(
            before, after, old_raw=_snapshot_raw(entry.before) if corrupt_before else None
        ),
        "before_error": before_error,
        "after_error": after_error,
        "exists": checkpoint_exists(entry.checkpoint),
        "heading": RESULT_HEADINGS.get(entry.action, f"{entry.action.capitalize()} applied"),
        "summary": entry_summary(entry.action, entry.summary),
        # a reset or a restore started at its preview: the same steps as on that page
        "has_choose": entry.action not in ("reset", "restore"),
        "undo_url": undo_url,
        "undo_needs_reset": entry.before_id is None,
        "can_change": request.user.has_perm(CHANGE_CHECKPOINTS),
        "can_audit": request.user.has_perm(VIEW_AUDIT),
    }


@require_GET
@permission_required(VIEW_CHECKPOINTS)
@never_cache
def result(request: HtmxHttpRequest, name: str, seq: int) -> HttpResponseBase:
    """What an applied intervention did, with an Undo that previews restoring the before
    (a viewer sent a link to it reads it without one)."""
    entry = entry_or_404(seq, "before", "after", checkpoint=name)
    # It says who changed what and why, as the audit log does: without the right to read the
    # log, only one's own changes.
    if not may_read_entry(request.user, entry.actor):
        raise PermissionDenied(
            "Your role does not allow reading the audit log, and this change is not yours."
        )
    return render(request, "interventions/result.html", _result_context(request, entry))


# --- create --------------------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
@never_cache
def create(request: HtmxHttpRequest) -> HttpResponseBase:
    """Step 1 of a new checkpoint: a name and a document from a template, a copy or pasted."""
    spec = _spec(request, "create")
    name = request.GET.get("name", "")[:128]
    template = request.GET.get("template", "managed")
    source = request.GET.get("from", "")
    if source:
        current = _current(request, source)
        if isinstance(current, HttpResponse):
            return current
        if not current.exists:
            raise no_checkpoint(source)
        if current.raw is not None and len(current.raw) > RAW_EDIT_LIMIT:
            return error_page(
                request, 413, "Too large to copy", f"{source}.json is larger than the editor."
            )
        name = name or f"{source}-copy"[:128]
        return _create_step(request, spec, name, "", current.text)
    return _from_template(request, spec, name, template)


def _from_template(request: HtmxHttpRequest, spec: Spec, name: str, template: str) -> HttpResponse:
    """Step 1 of a new checkpoint named ``name`` with the document of ``template``; its
    ``id`` (a managed job's) follows the name typed while the document is left as it is."""
    if template not in dict(TEMPLATES):
        template = "managed"
    document = document_template(template, name)
    text = pretty(document) + "\n"
    return _create_step(request, spec, name, template, text, template_id=document.get("id"))


def _create_step(
    request: HtmxHttpRequest,
    spec: Spec,
    name: str,
    template: str,
    text: str,
    *,
    template_id: str | None = None,
) -> HttpResponse:
    form = CreateForm(initial={"name": name, "template": template, "document": text})
    # A name given (a copy's, in the address, typed before a template was chosen) is checked
    # on arrival: one that is taken is said next to it before anything is typed.
    checked = None
    if name:
        bound = CreateForm({"name": name, "template": template, "document": text})
        checked = _checked(spec, name, bound, None)
    return _choose_page(request, spec, None, form, checked=checked, template_id=template_id)


def _create_form(request: HtmxHttpRequest) -> tuple[Spec, CreateForm]:
    return _spec(request, "create"), CreateForm(request.POST)


@_post_only
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def create_check(request: HtmxHttpRequest) -> HttpResponseBase:
    """Live validation of a new checkpoint's name and document."""
    spec, form = _create_form(request)
    name = form.data.get("name", "")
    return _checked_page(request, spec, name, None, form)


@_post_only
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def create_change(request: HtmxHttpRequest) -> HttpResponseBase:
    """Step 1 of a new checkpoint again, from its preview: its name and document filled in,
    with what the live check says of them now (a name taken since is said next to it)."""
    spec, form = _create_form(request)
    if "use_template" in request.POST:  # "Start from": the document anew, the name kept
        name = request.POST.get("name", "").strip()[:128]
        return _from_template(request, spec, name, request.POST.get("template", ""))
    # (a form refused already says its errors at its fields: the choose page says so once)
    checked = _checked(spec, form.cleaned_data["name"], form, None) if form.is_valid() else None
    return _choose_page(request, spec, None, form, checked=checked)


@_post_only
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def create_preview(request: HtmxHttpRequest) -> HttpResponseBase:
    """Step 2 of a new checkpoint: the document, its findings, a reason."""
    spec, form = _create_form(request)
    if not form.is_valid():
        return _choose_page(request, spec, None, form, status=422)
    name = form.cleaned_data["name"]
    reason = request.POST.get("reason", "")[:REASON_MAX]
    return _preview(request, spec, name, form, None, reason=reason)


@_post_only
@permission_required(VIEW_CHECKPOINTS)
@vary_on_headers("HX-Request")
def create_apply(request: HtmxHttpRequest) -> HttpResponseBase:
    """Step 3 of a new checkpoint: created and audited, refused if the name exists by now."""
    spec, form = _create_form(request)
    if not form.is_valid():
        return _choose_page(request, spec, None, form, status=422)
    return _apply(request, spec, form.cleaned_data["name"], form, None)
