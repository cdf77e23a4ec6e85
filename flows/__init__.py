"""Prefect flows and the command-line interface (Prefect is imported lazily)."""
