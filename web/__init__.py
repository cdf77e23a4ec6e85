"""The professionals' workspace (web application)."""
