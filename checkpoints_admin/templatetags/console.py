"""Template filters and tags of the console: relative times, badges, progress bars, numbers.

Everything that returns HTML builds it with ``format_html``, so values from checkpoint files
are escaped before anything is marked safe.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeData, SafeString, mark_safe

from checkpoints_admin.checkpoints.interventions import is_item
from checkpoints_admin.checkpoints.kinds import MANAGED
from checkpoints_admin.checkpoints.summary import Summary, rate_text
from checkpoints_admin.permissions import role_of
from checkpoints_admin.presenters import (
    HIDDEN_BUT_LINES_RE,
    HIDDEN_RE,
    entry_summary,
    escape_char,
    show,
)

register = template.Library()

STATE_WORDS = {
    "pending": "pending",
    "running": "running",
    "stalled": "stalled",
    "completed": "completed",
    "failed": "failed",
    "corrupt": "corrupt",
}

_UNITS = (("y", 365 * 86400), ("mo", 30 * 86400), ("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def humanize_seconds(seconds: float) -> str:
    """``3 h 12 min``, ``45 s``, ``2 d 4 h``: the two largest units, rounded down."""
    seconds = abs(seconds)
    if seconds < 1:
        return "0 s"
    parts: list[str] = []
    for unit, size in _UNITS:
        if seconds >= size:
            amount = int(seconds // size)
            parts.append(f"{amount:,} {unit}")
            seconds -= amount * size
            if len(parts) == 2:
                break
        elif parts:
            break
    return " ".join(parts)


def relative_words(moment: datetime, now: datetime) -> str:
    """``4 min ago``, ``in 2 h``, ``just now``."""
    delta = (now - moment).total_seconds()
    if abs(delta) < 10:
        return "just now"
    largest = humanize_seconds(delta).split(" ")
    words = " ".join(largest[:2])
    return f"{words} ago" if delta > 0 else f"in {words}"


@register.filter
def summary_of(entry: Any) -> str:
    """An audit entry's summary beside its action chip, the action word not repeated."""
    return entry_summary(entry.action, entry.summary)


@register.filter
def utc(value: Any) -> str:
    """The absolute UTC time, ``2025-03-06 10:15:23 UTC``; ``—`` when unknown."""
    moment = _as_datetime(value)
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def reltime(value: Any) -> SafeString:
    """A ``<time>`` saying ``4 min ago``, with the absolute UTC time on hover."""
    moment = _as_datetime(value)
    if moment is None:
        return format_html('<span class="muted">{}</span>', "—")
    moment = moment.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat().replace("+00:00", "Z"),
        moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
        relative_words(moment, timezone.now()),
    )


@register.filter
def duration(seconds: Any) -> str:
    """A length of time in words (``3 h 12 min``); ``—`` when unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "—"
    return humanize_seconds(seconds)


@register.simple_tag
def eta(summary: Summary | None, state: str | None, now: datetime | None = None) -> str:
    """The ETA of a job in ``state``: ``done`` when completed; while it is pending or running,
    the time left from ``now`` (default: now) to the finish expected at its last update, or
    ``overdue`` once that has passed; ``—`` when stalled or failed (it will not finish on its
    own) or the rate is unknown."""
    if state == "completed":
        return "done"
    finish = summary.finish_at(state or "") if summary is not None else None
    if finish is None:
        return "—"
    left = (finish - (now or timezone.now())).total_seconds()
    return duration(left) if left >= 0 else "overdue"


@register.filter
def rate(summary: Any) -> str:
    """``24.0 rec/s``, ``3.2 dates/h``: per second, minute, hour, day or week, whichever
    reads best (:func:`rate_text`); ``—`` when unknown."""
    value = getattr(summary, "rate", None)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    unit = getattr(summary, "rate_unit", "") or getattr(summary, "unit", "") or ""
    return rate_text(value, unit) or "—"


@register.filter
def percent(progress: Any) -> str:
    """``84.4 %`` from 0..1; ``—`` when unknown."""
    if not isinstance(progress, int | float) or isinstance(progress, bool):
        return "—"
    return f"{progress * 100:.1f} %"


@register.filter
def shorthash(version: Any) -> str:
    """The first 12 hex digits of a sha256."""
    return str(version)[:12] if version else "—"


_BREAK_AFTER = re.compile(r"(?<=[_\-.])(?=.)")


@register.filter
def breakable(name: Any) -> SafeString:
    """A name (escaped) that a narrow column may wrap after ``_``, ``-`` and ``.`` instead of
    in the middle of a word: ``daily_<wbr>reconciliation_<wbr>checkpoint``."""
    parts = _BREAK_AFTER.split(str(name or ""))
    return format_html_join(mark_safe("<wbr>"), "{}", ((part,) for part in parts))


@register.filter
def initials(name: Any) -> str:
    """Up to two initials of an actor name (``jane.doe`` → ``JD``)."""
    words = [w for w in str(name or "").replace(".", " ").replace("_", " ").split() if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


@register.filter
def jsonvalue(value: Any, limit: int = 160) -> str:
    """A JSON value as compact text, cut at ``limit`` characters (escaped by the template)."""
    return show(value, int(limit))


@register.filter
def role(user: Any) -> str:
    """The user's console role: superuser, admin, operator, viewer or ``no role``."""
    return role_of(user)


@register.simple_tag
def state_badge(state: str | None, size: str = "") -> SafeString:
    """A badge carrying the state's word (colour is never the only signal)."""
    state = state or "pending"
    word = STATE_WORDS.get(state, state)
    return format_html(
        '<span class="badge badge--{}{}">'
        '<span class="badge__dot" aria-hidden="true"></span>{}</span>',
        state if state in STATE_WORDS else "unknown",
        " badge--lg" if size == "lg" else "",
        word,
    )


@register.simple_tag
def progress_bar(progress: Any, state: str | None = None, size: str = "thin") -> SafeString:
    """A ``<progress>`` bar coloured by state (no inline style: CSP forbids it)."""
    if not isinstance(progress, int | float) or isinstance(progress, bool):
        return format_html(
            '<span class="bar-unknown muted" title="{}">—</span>', "progress unknown"
        )
    value = max(0.0, min(1.0, float(progress)))
    return format_html(
        '<progress class="bar bar--{} bar--{}" max="1" value="{}" aria-label="{}"></progress>',
        size,
        state or "pending",
        f"{value:.4f}",
        percent(progress),
    )


@register.filter
def section(request: Any) -> str:
    """The header section of the current page: ``checkpoints``, ``audit`` or ``status``."""
    match = getattr(request, "resolver_match", None)
    name = (match.url_name or "") if match else ""
    if name.startswith("audit"):
        return "audit"
    if name.startswith("status"):
        return "status"
    return "checkpoints" if name else ""


@register.filter
def pick_field(value: Any, kind: str) -> str:
    """The field a ticked list value is sent as: ``value`` for text, ``number`` for a managed
    checkpoint's number item (apart from text, so that the number 1.5 is not taken for the
    text "1.5"); "" for a value no intervention takes (blank text, true, null, an object or
    a list, a number in a list of dates), which gets no tick box."""
    if not is_item(value):
        return ""
    if isinstance(value, str):
        return "value"
    return "number" if kind == MANAGED else ""


@register.filter
def plain(value: Any) -> str:
    """A list value as text: strings as they are, anything else as compact JSON (for an
    attribute, a form's value; text in the page goes through :func:`shown_value`)."""
    return value if isinstance(value, str) else jsonvalue(value, 400)


#: Blanks at either end of a value, which a page would not show.
_EDGE_BLANKS_RE = re.compile("^[ \u00a0\u2000-\u200a\u3000]+|[ \u00a0\u2000-\u200a\u3000]+$")


def _escape_hidden(text: str, hidden: re.Pattern[str] = HIDDEN_RE) -> str:
    """``text`` HTML-escaped, each hidden character written as its escape (``\\u202e``,
    ``\\n``, as the commands print them) in a marked span naming it."""
    parts = []
    last = 0
    for match in hidden.finditer(text):
        char = match.group()
        parts.append(escape(text[last : match.start()]))
        parts.append(
            format_html(
                '<span class="esc" title="U+{} {}">{}</span>',
                f"{ord(char):04X}",
                unicodedata.name(char, "")
                or ("CONTROL CHARACTER" if unicodedata.category(char) == "Cc" else "NOT TEXT"),
                escape_char(char),
            )
        )
        last = match.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


@register.filter
def shown(value: Any, lines: str = "") -> SafeString:
    """Text from a checkpoint (a summary quoting its values, a message, a line of its JSON)
    for the page: escaped, with each character that would not show as itself, or would
    reorder the text around it, written as its escape. ``shown:"lines"``: text shown as
    lines (in a ``<pre>``), its line breaks kept."""
    if isinstance(value, SafeData):
        return value  # type: ignore[return-value]
    text = str(value)
    hidden = HIDDEN_BUT_LINES_RE if lines else HIDDEN_RE
    if hidden.search(text) is None:
        return escape(text)
    return mark_safe(_escape_hidden(text, hidden))  # noqa: S308 (escaped piece by piece)


@register.filter
def shown_value(value: Any) -> SafeString:
    """A list value (an item, a date) as text in the page: as :func:`shown`, and blanks at
    its ends marked, so that ``"  a  "`` and ``"a"`` cannot be taken for each other."""
    text = plain(value)
    if HIDDEN_RE.search(text) is None and _EDGE_BLANKS_RE.search(text) is None:
        return escape(text)
    out = _escape_hidden(text)  # (blanks are not hidden characters: they stay as they are)
    marked = _EDGE_BLANKS_RE.sub(
        lambda match: (
            f'<span class="edge-blank" title="{len(match.group())} blank'
            f'{"s" if len(match.group()) > 1 else ""} at this end">{match.group()}</span>'
        ),
        out,
    )
    return mark_safe(marked)  # noqa: S308 (escaped above; the spans hold only blanks)


@register.filter
def stat(value: Any) -> str:
    """A stats value: integers with thousands separators, anything else as short JSON."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return jsonvalue(value, 40)


KIND_LABELS = {"unified-reconciliation": "unified", "daily-reconciliation": "daily"}


@register.filter
def kind_label(kind: Any) -> str:
    """A short name of a kind for dense tables (the full name goes in ``title``)."""
    return KIND_LABELS.get(str(kind), str(kind or "—"))
