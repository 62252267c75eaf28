"""Benchmarks: each ``bench_<area>.py`` prints ratios against a same-run baseline."""
