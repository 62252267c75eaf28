"""Finding where two long sequences stop agreeing, without comparing them item by item."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["agreeing_run"]


def agreeing_run(
    limit: int,
    agree: Callable[[int, int], bool],
    *,
    first_step: int = 16,
    growth: int = 4,
    max_step: int = 1 << 14,
) -> int:
    """How many positions (at most ``limit``) two sequences agree on from one end.

    ``agree(low, high)`` says whether they agree from position ``low`` to ``high`` counted
    from that end, given that they agree up to ``low`` (a slice comparison: a C loop that
    stops at the first difference). Chunks growing from ``first_step`` by ``growth`` up to
    ``max_step`` are compared; the first chunk that differs is bisected.
    """
    low, step = 0, first_step
    while low < limit:
        high = min(limit, low + step)
        if not agree(low, high):
            while high - low > 1:
                middle = (low + high) // 2
                if agree(low, middle):
                    low = middle
                else:
                    high = middle
            return low
        low = high
        step = min(step * growth, max_step)
    return limit
