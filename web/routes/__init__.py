"""The pages and actions: ``tasks`` (inbox, task page), ``patients``, ``coordination``."""
