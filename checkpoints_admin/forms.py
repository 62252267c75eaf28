"""Forms validating every query parameter of the console's read pages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from django import forms
from django.core.exceptions import ValidationError

from checkpoints_admin.checkpoints.kinds import KINDS
from checkpoints_admin.models import AuditEntry
from checkpoints_admin.queries import LIST_STATES, SORT_KEYS, parse_month

NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _choices(values: tuple[str, ...] | list[str], blank: str) -> list[tuple[str, str]]:
    return [("", blank), *((value, value) for value in values)]


def cleaned_or_defaults(form: forms.Form) -> dict[str, Any]:
    """The form's cleaned data, with each invalid field reset to its initial value.

    A bad page number or an unknown sort in a shared link should not break the page: the
    field falls back to its default and the form keeps its errors for display.
    """
    if form.is_valid():
        return form.cleaned_data
    data = dict(form.cleaned_data)
    for name, bound in form.fields.items():
        if name not in data:
            data[name] = bound.initial if bound.initial is not None else bound.to_python("")
    return data


class PageField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 10_000_000)
        kwargs.setdefault("initial", 1)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int:
        return super().clean(value) or 1


class ListFilterForm(forms.Form):
    """``/``: search, state and kind filters, sort column and direction, page."""

    q = forms.CharField(required=False, max_length=128, strip=True, label="Search")
    state = forms.ChoiceField(required=False, choices=_choices(LIST_STATES, "Any state"))
    kind = forms.ChoiceField(required=False, choices=_choices(KINDS, "Any kind"))
    sort = forms.ChoiceField(
        required=False, choices=[(key, key) for key in SORT_KEYS], initial="name"
    )
    order = forms.ChoiceField(
        required=False, choices=[("asc", "ascending"), ("desc", "descending")], initial="asc"
    )
    page = PageField()

    def clean_sort(self) -> str:
        return self.cleaned_data.get("sort") or "name"

    def clean_order(self) -> str:
        return self.cleaned_data.get("order") or "asc"


DETAIL_TABS: Final = ("calendar", "lists", "raw", "history")


class DetailForm(forms.Form):
    """``/checkpoints/<name>/``: tab, calendar month, list, list search and page; ``part``
    names the fragment a poll asks for."""

    tab = forms.ChoiceField(required=False, choices=[(tab, tab) for tab in DETAIL_TABS])
    part = forms.ChoiceField(required=False, choices=[("overview", "overview")])
    month = forms.CharField(required=False, max_length=10)
    list = forms.CharField(required=False, max_length=128)
    q = forms.CharField(required=False, max_length=128, strip=True)
    page = PageField()

    def clean_month(self) -> str:
        value = self.cleaned_data.get("month") or ""
        if value and value != "first-gap" and parse_month(value) is None:
            raise ValidationError("Give a month as YYYY-MM.")
        return value


class AuditFilterForm(forms.Form):
    """``/audit/``: filters, and the keyset position (``before``/``after`` an entry number)."""

    checkpoint = forms.CharField(required=False, max_length=128, strip=True)
    actor = forms.CharField(required=False, max_length=150, strip=True)
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEntry.ACTION_CHOICES]
    )
    source = forms.ChoiceField(
        required=False, choices=[("", "Any source"), *AuditEntry.SOURCE_CHOICES]
    )
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")
    before = forms.IntegerField(required=False, min_value=1)
    after = forms.IntegerField(required=False, min_value=0)

    def clean_checkpoint(self) -> str:
        value = self.cleaned_data.get("checkpoint") or ""
        if value and not NAME_RE.fullmatch(value):
            raise ValidationError("Not a checkpoint name.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self) -> dict[str, Any]:
        """Query filters for AuditEntry from the cleaned data (times as whole UTC days)."""
        data = cleaned_or_defaults(self)
        out: dict[str, Any] = {}
        for key in ("checkpoint", "action", "source"):
            if data.get(key):
                out[key] = data[key]
        if data.get("actor"):
            out["actor__iexact"] = data["actor"]  # (ADMIN finds admin)
        since: date | None = data.get("since")
        until: date | None = data.get("until")
        if since:
            out["created__gte"] = datetime.combine(since, time.min, tzinfo=UTC)
        if until:
            out["created__lt"] = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
        return out


class RawForm(forms.Form):
    """Raw bytes: inline (default) or ``?download=1`` as an attachment."""

    download = forms.BooleanField(required=False)


class EntryForm(forms.Form):
    """``/audit/<seq>/``: ``verify`` runs the chain check; ``group``/``page`` page a diff group."""

    verify = forms.BooleanField(required=False)
    group = forms.CharField(required=False, max_length=8)
    page = PageField()


SIDE_RE: Final = re.compile(
    r"checkpoint:(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,127})"
    r"|entry:(?P<seq>[0-9]{1,18}):(?P<side>before|after)"
)


class DiffForm(forms.Form):
    """``/diff/``: two sides, each ``checkpoint:NAME`` or ``entry:SEQ:before|after``."""

    a = forms.CharField(required=False, max_length=160, label="From")
    b = forms.CharField(required=False, max_length=160, label="To")
    group = forms.CharField(required=False, max_length=8)
    page = PageField()

    def _side(self, key: str) -> str:
        value = (self.cleaned_data.get(key) or "").strip()
        if value and not SIDE_RE.fullmatch(value):
            raise ValidationError("Give checkpoint:NAME or entry:NUMBER:before (or :after).")
        return value

    def clean_a(self) -> str:
        return self._side("a")

    def clean_b(self) -> str:
        return self._side("b")
