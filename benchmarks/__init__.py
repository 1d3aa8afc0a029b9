"""Measured figures (not pass/fail): each bench_*.py writes JSON under benchmarks/results/."""
