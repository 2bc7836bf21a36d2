"""Releases as values: loading the content folder and validating it (the catalog)."""
