"""Amaranth generator of the [784, N, 10] SNN core (docs/hdl.md)."""
