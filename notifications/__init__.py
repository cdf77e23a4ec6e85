"""Notifications: Jinja2 templates, channels and outbox dispatch."""
