"""Validation: metrics, the suite runner and reports."""
