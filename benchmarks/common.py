"""Tiny helpers shared by the benchmarks: best-of-N timing and ratio lines with PASS/MISS."""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Results", "compare", "install_urls", "measure", "parse_args", "report"]


def measure(
    fn: Callable[[], object], repeat: int = 5, *, setup: Callable[[], object] | None = None
) -> float:
    """Best-of-``repeat`` wall time of ``fn()`` in seconds; ``setup()`` runs untimed before each."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
    return best


def compare(
    fn: Callable[[], object],
    baseline: Callable[[], object],
    repeat: int = 7,
    *,
    setup: Callable[[], object] | None = None,
) -> tuple[float, float]:
    """Best-of-``repeat`` times of ``fn`` and ``baseline``, run alternately.

    Alternating keeps a busy machine's slow spells from landing on one side only.
    """
    best_fn = best_baseline = float("inf")
    for _ in range(max(1, repeat)):
        best_fn = min(best_fn, measure(fn, 1, setup=setup))
        best_baseline = min(best_baseline, measure(baseline, 1, setup=setup))
    return best_fn, best_baseline


def _fmt_seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} µs"


def report(
    label: str,
    value: float,
    baseline: float,
    goal: float | None = None,
    *,
    higher_is_better: bool = False,
) -> bool:
    """Print ``label: value vs baseline = ratio× (goal ≤ g×) PASS|MISS``; returns whether it passed.

    By default the ratio is ``value / baseline`` (time against time, lower is better). With
    ``higher_is_better`` the goal is a floor (e.g. throughput ≥ 0.8× the baseline's).
    Without a goal the ratio is printed for information and counts as passed.
    """
    ratio = value / baseline if baseline > 0 else float("inf")
    if goal is None:
        verdict, passed, goal_text = "INFO", True, "no goal"
    else:
        passed = ratio >= goal if higher_is_better else ratio <= goal
        verdict = "PASS" if passed else "MISS"
        goal_text = f"goal {'≥' if higher_is_better else '≤'} {goal:g}×"
    print(
        f"{label}: {_fmt_seconds(value)} vs {_fmt_seconds(baseline)} = {ratio:.2f}× "
        f"({goal_text}) {verdict}",
        flush=True,
    )
    return passed


@dataclass
class Results:
    """Collects the verdicts of one benchmark run and prints the one-line summary."""

    area: str
    verdicts: list[tuple[str, bool]] = field(default_factory=list)

    def add(self, label: str, passed: bool) -> bool:
        self.verdicts.append((label, passed))
        return passed

    def summary(self) -> str:
        missed = [label for label, passed in self.verdicts if not passed]
        total = len(self.verdicts)
        line = f"bench_{self.area}: {total - len(missed)}/{total} PASS"
        if missed:
            line += " — MISS: " + ", ".join(missed)
        print(line, flush=True)
        return line


def parse_args(description: str) -> argparse.Namespace:
    """Common command line: ``--quick`` for small sizes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, for CI)")
    return parser.parse_args()


def install_urls(module_name: str, views: dict[str, Callable[..., object]]) -> None:
    """Register a URLconf module named ``module_name``: the console's URLs plus ``views``
    (path -> view), for ``override_settings(ROOT_URLCONF=module_name)``."""
    import sys
    import types

    from django.urls import include, path

    urls = types.ModuleType(module_name)
    urls.urlpatterns = [  # type: ignore[attr-defined]
        *(path(route, view) for route, view in views.items()),
        path("", include("checkpoints_admin.urls")),
    ]
    sys.modules[module_name] = urls
