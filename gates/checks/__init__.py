"""Checks: plain functions, no pytest inside, each returning a ``gates.core.measurement.Measurement``."""
