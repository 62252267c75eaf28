"""Template filters of the intervention controls shown on the read pages."""

from __future__ import annotations

from django import template

from checkpoints_admin.checkpoints.interventions import LIST_ACTIONS

register = template.Library()


@register.filter
def list_action(kind: str | None, key: str | None) -> str:
    """The intervention a value of list ``key`` leads to (``skip``/``reprocess``), or ``""``."""
    return LIST_ACTIONS.get(kind or "", {}).get(key or "", "")
