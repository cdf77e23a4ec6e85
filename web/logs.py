"""Server logs without secrets: uvicorn's access log shows paths with ids only.

Pages carry no patient data in their addresses (ids only), so the access log is safe as
it is, except for the one-time token of a sign-in link: ``RedactTokens`` replaces the
value of ``t=`` in logged paths. ``LOG_CONFIG`` is uvicorn's default configuration with
that filter on the access logger.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

_TOKEN = re.compile(r"([?&]t=)[^&\s\"]*")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[masqué]", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": "web.logs.RedactTokens"}
    config["handlers"]["access"]["filters"] = ["redact_tokens"]
    return config
