"""Forms of the console's interventions: what to change, the reason, the version seen.

Each intervention form cleans its input into the ``params`` of :func:`services.preview` /
:func:`services.apply` and knows how to carry itself from one step to the next as hidden
fields (:meth:`carry`), so the preview, the apply and a re-preview after a conflict all work
on exactly the same request without anything kept on the server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson
from django import forms
from django.core.exceptions import ValidationError

from checkpoints_admin import audit, services
from checkpoints_admin.checkpoints import CorruptCheckpoint, InterventionError, InvalidDocument
from checkpoints_admin.checkpoints.interventions import (
    NULLABLE_FIELDS,
    date_runs,
    done_already,
    is_item,
    named,
    parse_dates,
)
from checkpoints_admin.checkpoints.kinds import (
    DAILY,
    STATUSES,
    UNIFIED,
    UNKNOWN,
    json_pointer,
    parse_time,
    time_at,
    with_article,
)
from checkpoints_admin.checkpoints.store import (
    WideInteger,
    as_json_fragment,
    decode_written_document,
    decode_written_value,
)
from checkpoints_admin.formdata import NotUtf8
from checkpoints_admin.forms import NAME_RE

#: Documents larger than this are edited with ``edit_checkpoint --from-file``, not in a page
#: (the request carrying them stays under Django's DATA_UPLOAD_MAX_MEMORY_SIZE).
RAW_EDIT_LIMIT: Final = 1024 * 1024
REASON_MAX: Final = services.REASON_MAX_LENGTH
VERSION_RE: Final = re.compile(r"[0-9a-f]{64}")
#: The hidden version value of a preview made while the file did not exist.
NO_FILE: Final = "none"

# Fields whose JSON type is known even while their value is null.
DATE_FIELDS: Final = frozenset({"lastProcessedDate"})
TIME_FIELDS: Final = frozenset({"lastRun", "startTime", "endTime", "created", "lastUpdated"})

_DATE_SPLIT_RE: Final = re.compile(r"[\s,]+")
_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
# A number as JSON writes it, with ASCII digits (float() also takes "1_0", "٥٠" and " nan").
_NUMBER_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE_TEXT_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class PostedForm(forms.Form):
    """A form of the interventions: a field whose posted bytes are not UTF-8 (marked by
    :mod:`formdata`; Django reads them as U+FFFD) is refused next to it, with where the first
    bad byte is, as ``edit_checkpoint --from-file`` refuses them, instead of writing or
    recording other text than was sent."""

    def full_clean(self) -> None:
        super().full_clean()
        not_utf8: Mapping[str, NotUtf8] = getattr(self.data, "not_utf8", {})
        for name, where in not_utf8.items():
            if name not in self.fields:
                continue
            self.errors.pop(name, None)  # (what the U+FFFD made of the value says nothing)
            error = ValidationError(
                f"Not valid UTF-8: {where}. Send it as UTF-8 text; nothing was changed.",
                code="utf8",
            )
            error.line, error.column = where.line, where.column  # type: ignore[attr-defined]
            self.add_error(name, error)


# --- selections of dates or items -------------------------------------------------------------


def date_tokens(text: str) -> list[str]:
    """The dates and ranges typed in ``text`` (separated by spaces, commas or new lines)."""
    return [token for token in _DATE_SPLIT_RE.split(text or "") if token]


def item_lines(text: str) -> list[str]:
    """The items typed in ``text``: one per line as typed, blank lines ignored (the library
    takes a line without its surrounding blanks when no item has them: a job's item may)."""
    return [line for line in (text or "").splitlines() if line.strip()]


class ValuesField(forms.Field):
    """Several values of one name (ticked checkboxes), each as sent (an item may begin or end
    with blanks), blank ones dropped."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_values: int = 1000, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.max_values = max_values

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        values = [str(item) for item in value if str(item).strip()]
        if len(values) > self.max_values:
            raise ValidationError(f"At most {self.max_values:,} values can be ticked at once.")
        return values


class NumbersField(ValuesField):
    """Ticked number items, each as JSON writes it (``1.5``, ``2.0``, ``7``): sent apart from
    text items, so that the number 1.5 is never taken for the text ``1.5`` a list may hold
    too, nor ``2.0`` for ``2``."""

    def to_python(self, value: Any) -> list[int | float]:  # type: ignore[override]
        numbers: list[int | float] = []
        for text in super().to_python(value):
            number = _json_number(text.strip())
            if number is None:
                raise ValidationError(f"“{_cut(text)}” is not a number.")
            numbers.append(number)
        return numbers


def _json_number(text: str) -> int | float | None:
    """The number ``text`` writes in JSON, of its type (None: not one)."""
    if not _JSON_NUMBER_RE.fullmatch(text):
        return None
    try:
        number = orjson.loads(text)
    except orjson.JSONDecodeError:  # (beyond 64 bits, or out of range)
        return None
    return number if isinstance(number, int | float) else None


_JSON_NUMBER_RE: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")

# Aliases for SelectionForm, whose ``list`` field hides the builtin inside the class body.
Strings = list[str]
Pairs = list[tuple[str, str]]
#: What a selection takes: dates and text items as text, number items as numbers.
Targets = list[str | int | float]


class SelectionForm(PostedForm):
    """Skip or reprocess: dates (or items) typed, ticked in a list, or all matching a search.

    Typed single dates must be in the list the intervention takes them from; ranges
    ``A..B`` apply to those of their days that are. Ticked dates are sent as runs of
    consecutive days (ranges), so a selection across a gap or a done day is not refused
    for it; the preview shows exactly which dates move.
    """

    # Not stripped: the first and last typed items are taken as typed too (dates are split
    # on blanks anyway).
    dates = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
    )
    value = ValuesField()
    number = NumbersField()
    list = forms.CharField(required=False, max_length=128)
    q = forms.CharField(required=False, max_length=128, strip=True)
    all = forms.BooleanField(required=False)

    def __init__(
        self,
        *args: Any,
        unit: str,
        lists: Mapping[str, Sequence[Any]] | None = None,
        kind: str = UNKNOWN,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.unit = unit
        # The document's lists, for "all matching this search" (name -> values), and its kind
        # (which of a list's values its action takes: ``done_already``).
        self.lists = lists or {}
        self.kind = kind
        field = self.fields["dates"]
        if unit == "dates":
            field.label = "Dates"
            # (the page's example, in the box, is made of this checkpoint's own dates)
            field.help_text = (
                "Single dates (YYYY-MM-DD) and ranges A..B, separated by spaces, commas or new "
                "lines."
            )
        else:
            field.label = "Items"
            field.help_text = "One item per line, as it appears in the list."
            field.widget.attrs["placeholder"] = "item2\nitem3"

    def clean_dates(self) -> str:
        text = self.cleaned_data.get("dates") or ""
        if self.unit == "dates" and text.strip():
            try:
                parse_dates(date_tokens(text))
            except InterventionError as exc:
                raise ValidationError(_sentence(exc.message)) from None
        return text

    def clean_value(self) -> Strings:
        values = self.cleaned_data.get("value") or []
        if self.unit == "dates" and values:
            try:
                parse_dates(values)
            except InterventionError as exc:
                raise ValidationError(_sentence(exc.message)) from None
        return values

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        targets: Targets
        picked: Targets
        numbers = list(data.get("number") or [])
        if self.unit == "dates":
            if numbers:
                self.add_error("dates", f"{named(numbers)}: only dates can be selected here.")
                return data
            targets = list(date_tokens(data.get("dates", "")))
            picked = list(data.get("value") or [])
        else:
            targets = list(item_lines(data.get("dates", "")))
            picked = [*self._as_listed(list(data.get("value") or [])), *numbers]
        if data.get("all"):
            key = data.get("list") or ""
            if key not in self.lists:
                self.add_error("all", "Choose the list whose matching values to take.")
                return data
            matching = _matching(self.lists[key], data.get("q") or "")
            done = done_already(self.lists, self.kind, key, matching)
            # Dates as text (a number is no date: refused as such); items as they are.
            typed = self.unit != "dates"
            picked.extend(v if typed else _plain(v) for v in matching if v not in done)
        if self.unit == "dates" and picked:
            targets.extend(date_runs(parse_dates([str(v) for v in picked])))
        else:
            targets.extend(picked)
        # (by type too: the number 2.0 and the text "2.0" are two items, as are 2 and 2.0)
        targets = list({(type(v), v): v for v in targets}.values())
        if not targets:
            noun = "date" if self.unit == "dates" else "item"
            where = (
                "select days on the calendar, tick them in the list, or type them here"
                if self.unit == "dates"
                else "tick them in the list or type them here"
            )
            self.add_error("dates", f"Choose at least one {noun}: {where}.")
            return data
        data["targets"] = targets
        return data

    def _as_listed(self, values: Strings) -> Strings:
        """Ticked (or carried) items as the document has them: a browser sends each line
        break of a form's value as CR LF, so an item holding a line break comes back with
        ``\r\n`` where the document has ``\n``. Such a value is taken as the item that
        has ``\n`` there, unless the document has it as sent."""
        if not any("\r\n" in value for value in values):
            return values
        listed = {
            value
            for candidates in self.lists.values()
            for value in candidates
            if isinstance(value, str) and "\n" in value
        }
        return [
            value.replace("\r\n", "\n")
            if value not in listed and value.replace("\r\n", "\n") in listed
            else value
            for value in values
        ]

    @property
    def params(self) -> dict[str, Any]:
        return {self.unit: self.cleaned_data["targets"]}

    def carry(self) -> Pairs:
        """The hidden fields repeating this selection (as explicit dates or items; an item
        holding a line break, which would be two lines, as a value of its own; a number
        item as a number)."""
        targets: Targets = self.cleaned_data["targets"]
        if self.unit == "dates":
            return [("dates", " ".join(map(str, targets)))]
        lines = [t for t in targets if isinstance(t, str) and t.splitlines() == [t]]
        return [("dates", "\n".join(lines)), *self.ticked()]

    def ticked(self) -> Pairs:
        """The selected items the text box cannot hold: those with a line break, and number
        items (typed there, ``1.5`` would be the text 1.5 when a list has that text)."""
        if self.unit == "dates" or "targets" not in getattr(self, "cleaned_data", {}):
            return []
        return [
            ("value", t) if isinstance(t, str) else ("number", _plain(t))
            for t in self.cleaned_data["targets"]
            if not isinstance(t, str) or t.splitlines() != [t]
        ]

    def text(self) -> str:
        """The selection as the text field shows it: as posted (a choose page after a
        refusal), else as the address gave it (``?dates=``)."""
        if "targets" in getattr(self, "cleaned_data", {}):
            return self.carry()[0][1]
        return self.data.get("dates", "") if self.is_bound else self.initial.get("dates", "")


def _matching(values: Sequence[Any], q: str) -> list[Any]:
    """The values of a list a search matches, of those an intervention can take (a date is
    text, and so refused as one when it is not)."""
    needle = q.strip().casefold()
    return [
        value
        for value in values
        if is_item(value) and (not needle or needle in _plain(value).casefold())
    ]


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


# --- one field ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EditableField:
    """A scalar of the document that the field editor offers, with the input that fits it."""

    pointer: str
    label: str
    type: str  # integer | number | boolean | status | date | datetime | string | json
    current: Any
    nullable: bool
    choices: tuple[str, ...] = ()

    @property
    def current_text(self) -> str:
        """The current value as the input shows it."""
        value = self.current
        if value is None:
            return ""
        if self.type == "boolean":
            return "true" if value else "false"
        if self.type in ("string", "status", "date", "datetime") and isinstance(value, str):
            return value
        return orjson.dumps(value, default=as_json_fragment).decode()

    @property
    def epoch_ms(self) -> datetime | None:
        """The time a whole number of a time field stands for, as epoch milliseconds (the
        unified kind's ``startTime`` and ``lastUpdateTime``), or None."""
        return time_at(self.pointer, self.current) if self.type == "integer" else None

    @property
    def input_type(self) -> str:
        return {"integer": "number", "number": "number", "date": "date"}.get(self.type, "text")

    @property
    def type_label(self) -> str:
        return {
            "integer": "whole number",
            "number": "number",
            "boolean": "true or false",
            "status": "status",
            "date": "date (YYYY-MM-DD)",
            "datetime": "ISO 8601 time",
            "string": "text",
            "json": "JSON value",
        }[self.type]


def _field_type(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if key == "progress" and isinstance(value, int | float):
        return "number"  # 0..100, fractions allowed
    if isinstance(value, int | WideInteger):
        return "integer"
    if isinstance(value, float):
        return "number"
    if key == "status" and (value is None or isinstance(value, str)):
        return "status"
    if key in DATE_FIELDS and (value is None or isinstance(value, str)):
        return "date"
    if key in TIME_FIELDS and (value is None or isinstance(value, str)):
        return "datetime"
    if isinstance(value, str):
        if _DATE_TEXT_RE.fullmatch(value):
            return "date"
        if parse_time(value) is not None and "T" in value:
            return "datetime"
        return "string"
    return "json"


def editable_fields(data: Mapping[str, Any], kind: str = UNKNOWN) -> list[EditableField]:
    """The document's scalars, top level and one object down (``/stats/failedRecords``).
    ``data``: the document as shown (integers beyond 64 bits as written, ``Loaded.shown_data``).

    Lists are changed by skip and reprocess (or the raw editor), so they are not offered.
    """
    fields: list[EditableField] = []

    def add(tokens: tuple[str, ...], value: Any) -> None:
        key = tokens[-1]
        kind_of = _field_type(key, value)
        choices: tuple[str, ...] = ()
        if kind_of == "status":
            choices = STATUSES if value in STATUSES or value is None else (*STATUSES, value)
        fields.append(
            EditableField(
                pointer=json_pointer(*tokens),
                label=".".join(tokens),
                type=kind_of,
                current=value,
                nullable=value is None or key in NULLABLE_FIELDS,
                choices=choices,
            )
        )

    for key, value in data.items():
        if isinstance(value, Mapping):
            for inner, item in value.items():
                if not isinstance(item, Mapping | list):
                    add((key, inner), item)
        elif not isinstance(value, list):
            add((key,), value)
    return fields


class EditFieldForm(PostedForm):
    """Set one field: its pointer, the new value typed in the input that fits its type."""

    pointer = forms.ChoiceField(label="Field")
    value = forms.CharField(required=False, strip=False, max_length=100_000, label="New value")
    null = forms.BooleanField(required=False, label="Set to null")

    def __init__(self, *args: Any, fields: list[EditableField], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editable = {field.pointer: field for field in fields}
        pointer = self.fields["pointer"]
        assert isinstance(pointer, forms.ChoiceField)
        pointer.choices = [(f.pointer, f.label) for f in fields]

    @property
    def chosen(self) -> EditableField | None:
        """The field being edited: the submitted pointer, else the initial one."""
        pointer = self.data.get("pointer") if self.is_bound else self.initial.get("pointer")
        return self.editable.get(pointer or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        field = self.editable.get(data.get("pointer") or "")
        if field is None:
            return data
        if data.get("null"):
            if not field.nullable:
                self.add_error("null", f"{field.label} cannot be null.")
            else:
                data["parsed"] = None
            return data
        try:
            data["parsed"] = parse_value(field, data.get("value") or "")
        except ValidationError as exc:
            self.add_error("value", exc)
        return data

    @property
    def params(self) -> dict[str, Any]:
        return {"set": {self.cleaned_data["pointer"]: self.cleaned_data["parsed"]}}

    def carry(self) -> list[tuple[str, str]]:
        data = self.cleaned_data
        pairs = [("pointer", data["pointer"]), ("value", data.get("value") or "")]
        if data.get("null"):
            pairs.append(("null", "on"))
        return pairs


def parse_value(field: EditableField, text: str) -> Any:
    """The typed ``text`` as a value of ``field``'s type; ValidationError saying what fits."""
    kind = field.type
    stripped = text.strip()
    if kind == "string":
        return text
    if kind == "json":
        return parse_json_value(text)
    if not stripped:
        if kind == "boolean":
            raise ValidationError("Choose true or false.")
        raise ValidationError(f"Enter {with_article(field.type_label)}.")
    if kind == "integer":
        if not _INT_RE.fullmatch(stripped):
            raise ValidationError(f"Enter a whole number, not “{_cut(stripped)}”.")
        number = int(stripped)
        if not -(2**63) <= number < 2**64:
            raise ValidationError("The number is too large for a checkpoint (64 bits at most).")
        return number
    if kind == "number":
        try:
            number_value = float(stripped)
        except ValueError:
            number_value = None
        if number_value is not None and not math.isfinite(number_value):
            raise ValidationError("Enter a finite number (JSON has no NaN or Infinity).")
        if number_value is None or not _NUMBER_RE.fullmatch(stripped):
            raise ValidationError(f"Enter a number, not “{_cut(stripped)}”.")
        if _INT_RE.fullmatch(stripped):
            return int(stripped)
        return number_value
    if kind == "boolean":
        if stripped.lower() not in ("true", "false"):
            raise ValidationError("Choose true or false.")
        return stripped.lower() == "true"
    if kind == "status":
        if stripped not in field.choices:
            raise ValidationError(f"Choose one of {', '.join(field.choices)}.")
        return stripped
    if kind == "date":
        if not _DATE_TEXT_RE.fullmatch(stripped):
            raise ValidationError(f"Enter a date as YYYY-MM-DD, not “{_cut(stripped)}”.")
        try:
            date.fromisoformat(stripped)
        except ValueError:
            raise ValidationError(f"{stripped} is not a real date.") from None
        return stripped
    if kind == "datetime":
        if parse_time(stripped) is None:
            raise ValidationError(
                f"Enter a time such as 2025-03-06T10:15:23.456Z, not “{_cut(stripped)}”."
            )
        return stripped
    raise ValidationError(f"Cannot edit a field of type {kind}.")  # pragma: no cover


def parse_json_value(text: str) -> Any:
    """Any JSON value, as the store reads a value a person typed
    (:func:`~checkpoints_admin.checkpoints.store.decode_written_value`): refused with the
    line and column of a syntax error, or when it gives a key twice in one object or an
    integer beyond 64 bits (JSON parsers keep the last value, and the nearest float,
    silently)."""
    try:
        return decode_written_value(text)
    except (CorruptCheckpoint, InvalidDocument) as exc:
        raise ValidationError(exc.message[:1].upper() + exc.message[1:]) from None


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- whole documents ----------------------------------------------------------------------------


class DocumentField(forms.CharField):
    """A whole checkpoint document as JSON text: parsed, with line and column when it is not."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        kwargs.setdefault(
            "widget",
            forms.Textarea(
                attrs={
                    "rows": 24,
                    "spellcheck": "false",
                    "autocomplete": "off",
                    "autocapitalize": "off",
                    "class": "code-editor",
                    "data-code": "",
                }
            ),
        )
        kwargs.setdefault("error_messages", {"required": "Paste or type the JSON document."})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        raw = text.encode("utf-8", errors="surrogatepass")
        if len(raw) > RAW_EDIT_LIMIT:
            raise ValidationError(
                f"The document is {len(raw):,} bytes; the console edits documents up to "
                f"{RAW_EDIT_LIMIT:,} bytes (use edit_checkpoint --from-file for larger ones)."
            )
        try:
            return text, decode_written_document(raw)
        except CorruptCheckpoint as exc:
            error = ValidationError(describe_parse_error(exc), code="json")
            error.line, error.column = exc.line, exc.column  # type: ignore[attr-defined]
            raise error from None
        except InvalidDocument as exc:
            raise ValidationError(_sentence(exc.message), code="duplicate") from None


def describe_parse_error(exc: CorruptCheckpoint) -> str:
    """``Line 3, column 9: The document is not valid JSON: …`` (the position said once)."""
    message = _sentence(exc.message)
    if not exc.line:
        return message
    message = re.sub(rf",? at line {exc.line}, column {exc.column}(?=\.$)", "", message)
    return f"Line {exc.line}, column {exc.column}: {message}"


class _DocumentFormMixin:
    """What the raw editor and the create form share: the parse error's position."""

    @property
    def error_position(self) -> tuple[int, int] | None:
        """``(line, column)`` of the document's JSON error, when that is what is wrong."""
        errors = self.errors.as_data().get("document", [])  # type: ignore[attr-defined]
        for error in errors:
            line = getattr(error, "line", None)
            if line:
                return line, getattr(error, "column", None) or 1
        return None


class RawDocumentForm(_DocumentFormMixin, PostedForm):
    """The raw editor: the whole document as JSON text, and the version the editor was
    filled from (a whole document edited from an older version would put back what a job
    or a person changed since)."""

    document = DocumentField(label="Document")
    loaded_version = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean_loaded_version(self) -> str | None:
        value = (self.cleaned_data.get("loaded_version") or "").strip().lower()
        if not value:
            return None  # an older form, or a client of its own: the preview shows the diff
        if not VERSION_RE.fullmatch(value):
            raise ValidationError(
                "The version the editor was filled from is not a version: open the editor "
                "again from the checkpoint's page."
            )
        return value

    @property
    def params(self) -> dict[str, Any]:
        return {"document": self.cleaned_data["document"][1]}

    def carry(self) -> list[tuple[str, str]]:
        carried = [("document", self.cleaned_data["document"][0])]
        if self.cleaned_data.get("loaded_version"):
            carried.append(("loaded_version", self.cleaned_data["loaded_version"]))
        return carried


TEMPLATES: Final = (
    ("managed", "Managed job (CheckpointManager)"),
    (UNIFIED, "Unified reconciliation (pendingDates / completedDates)"),
    (DAILY, "Daily reconciliation (dates / processedDates)"),
    ("empty", "Empty object"),
)


def document_template(kind: str, name: str, now: datetime | None = None) -> dict[str, Any]:
    """A fresh document of ``kind`` for a new checkpoint named ``name`` (no errors)."""
    now = now or datetime.now(UTC)
    iso = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    today = now.date().isoformat()
    if kind == UNIFIED:
        return {
            "lastProcessedDate": None,
            "pendingDates": [today],
            "completedDates": [],
            # Set by the job when it starts: until then the checkpoint is pending, not a
            # running job that would stall an hour later.
            "startTime": None,
            "lastUpdateTime": None,
            "stats": {
                "totalRecords": 0,
                "processedRecords": 0,
                "successfulRecords": 0,
                "failedRecords": 0,
                "timeouts": 0,
            },
        }
    if kind == DAILY:
        return {
            "lastRun": iso,
            "dates": [today],
            "processedDates": [],
            "lastProcessedDate": None,
            "status": "pending",
            "startTime": iso,
            "endTime": None,
        }
    if kind == "managed":
        return {
            # (a name that is no checkpoint name is said at its field, not copied here)
            "id": f"{name if NAME_RE.fullmatch(name) else 'job'}-1",
            "created": iso,
            "lastUpdated": iso,
            "status": "pending",
            "progress": 0,
            "processedItems": [],
            "pendingItems": [],
        }
    return {}


class CreateForm(_DocumentFormMixin, PostedForm):
    """A new checkpoint: its name and its document (from a template or pasted)."""

    name = forms.CharField(
        max_length=128,
        strip=True,
        label="Name",
        help_text="Letters, digits, dot, dash and underscore; the file is NAME.json.",
        error_messages={"required": "Give the new checkpoint a name."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    template = forms.ChoiceField(
        choices=TEMPLATES, required=False, initial="managed", label="Start from"
    )
    document = DocumentField(label="Document")

    def clean_name(self) -> str:
        name = self.cleaned_data.get("name") or ""
        if not NAME_RE.fullmatch(name) or name.endswith((".lock", ".tmp")):
            raise ValidationError(
                "Not a checkpoint name: use letters, digits, “.”, “-” and “_”, starting with "
                "a letter or digit (at most 128), not ending in .lock or .tmp."
            )
        return name

    @property
    def params(self) -> dict[str, Any]:
        return {"document": self.cleaned_data["document"][1]}

    def carry(self) -> list[tuple[str, str]]:
        return [("name", self.cleaned_data["name"]), ("document", self.cleaned_data["document"][0])]


class EntryNumberField(forms.IntegerField):
    """An audit entry's number in ASCII digits (int() would also read "1_0" as 10, "1.0" as 1
    and digits of other scripts)."""

    default_error_messages = {
        "required": "No audit entry is given (entry=N).",
        "invalid": "“%(value)s” is not an audit entry number.",
        "min_value": "Audit entries are numbered from %(limit_value)s.",
        "max_value": "There is no audit entry beyond #%(limit_value)s.",
    }

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and value.strip():
            try:
                value = audit.entry_number(value)
            except ValueError:
                raise ValidationError(
                    self.error_messages["invalid"], code="invalid", params={"value": value[:40]}
                ) from None
        return super().to_python(value)


class RestoreForm(PostedForm):
    """Which audit entry's snapshot to restore: its before or its after side (before when not
    given, as ``restore_checkpoint`` does: undo that entry)."""

    entry = EntryNumberField(min_value=1, max_value=2**62)
    side = forms.ChoiceField(
        choices=[("before", "before"), ("after", "after")],
        initial="before",
        required=False,
        error_messages={
            "invalid_choice": "The side to restore is before or after, not “%(value)s”."
        },
    )

    def clean_side(self) -> str:
        return self.cleaned_data.get("side") or "before"

    @property
    def refusal(self) -> str:
        """What is wrong with the restore asked for (the form is not valid), and where one
        starts: the page of a restore is reached from an audit entry, not typed."""
        problems = " ".join(str(error) for errors in self.errors.values() for error in errors)
        return (
            f"Choose what to restore: {problems} A restore starts from an audit entry's "
            "Restore before… or Restore after…, or from a result page's Undo."
        )

    @property
    def params(self) -> dict[str, Any]:
        return {"entry": self.cleaned_data["entry"], "side": self.cleaned_data["side"]}

    def carry(self) -> list[tuple[str, str]]:
        return [("entry", str(self.cleaned_data["entry"])), ("side", self.cleaned_data["side"])]


class ResetForm(PostedForm):
    """A reset has no parameters: the whole file goes (and is kept in the audit log)."""

    params: dict[str, Any] = {}

    def carry(self) -> list[tuple[str, str]]:
        return []


# --- the apply step ----------------------------------------------------------------------------


class ApplyForm(PostedForm):
    """The last step: why (recorded), the version previewed, and for a reset the typed name."""

    # The length is checked by services.reason_problem, with the other rules and its message;
    # the textarea's maxlength only stops typing past it.
    reason = forms.CharField(
        strip=True,
        label="Reason",
        help_text="Why this change is made; it is recorded in the audit log with your name.",
        error_messages={"required": "Give a reason: it is recorded in the audit log."},
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": str(REASON_MAX)}),
    )
    base_version = forms.CharField(
        max_length=64,
        widget=forms.HiddenInput,
        error_messages={"required": "The version of the preview is missing; preview again."},
    )

    def __init__(self, *args: Any, confirm_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.confirm_name = confirm_name
        if confirm_name is not None:
            self.fields["confirm"] = forms.CharField(
                label="Type the checkpoint's name to confirm",
                strip=True,
                max_length=128,
                error_messages={"required": f"Type {confirm_name} to confirm the reset."},
                widget=forms.TextInput(
                    attrs={
                        "autocomplete": "off",
                        "spellcheck": "false",
                        "data-confirm": confirm_name,
                    }
                ),
            )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"]
        problem = services.reason_problem(reason)
        if problem is not None:
            raise ValidationError(problem)
        return services.recorded_reason(reason)

    def clean_base_version(self) -> str | None:
        value = (self.cleaned_data.get("base_version") or "").strip().lower()
        if value == NO_FILE:
            return None
        if not VERSION_RE.fullmatch(value):
            raise ValidationError(
                "The version of the preview is not one (a sha256: 64 hexadecimal characters); "
                "preview again."
            )
        return value

    def clean_confirm(self) -> str:
        value = self.cleaned_data.get("confirm") or ""
        if value != self.confirm_name:
            raise ValidationError(
                f"Type the name exactly as shown, {self.confirm_name}, to confirm the reset."
            )
        return value


def version_field(version: str | None) -> str:
    """The hidden base-version value of a preview (``none`` when there was no file)."""
    return version or NO_FILE
