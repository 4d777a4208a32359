"""Operator linking: identifier normalisation, blocking, matching, components, evidence."""
