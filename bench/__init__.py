"""OpenPalm's benchmarks: ``python -m bench [--quick] [--json FILE]``.

Each measurement says how it was taken; each figure is printed beside its budget and
the physical limit it is measured against. No timed tests live in the test suite: a
test only checks that ``python -m bench --quick`` runs and writes every key.
"""
