"""Helpers of ``benchmarks/web.py``: the territory, the Locust users, the profile summary."""
