"""The professionals' web workspace (FastAPI, server-rendered Jinja2, plain HTML forms).

It imports ``engine`` (every action through ``CaseService``, one transaction each) and
``notifications`` (to send sign-in links), never Prefect or ``flows``. ``create_app``
builds the application; ``parcours web`` serves it with uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    from web.app import create_app as build

    return build(*args, **kwargs)
