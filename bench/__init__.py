"""Benchmarks (not tests): scripts that start real servers on loopback and print JSON.

Results are recorded in docs/performance.md.
"""
