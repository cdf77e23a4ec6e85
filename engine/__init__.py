"""Parcours engine: the pathway language, its compiler and the case runtime.

This package never imports Prefect, the notifications package or the CLI: it
is usable from a plain script and from tests without any server.
"""
