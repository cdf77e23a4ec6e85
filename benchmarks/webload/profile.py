"""Where the server's time goes, from py-spy's raw stacks (``benchmarks/web.py --profile``).

py-spy samples every uvicorn worker (non-idle threads only) a hundred times a second and
writes one line per distinct stack: ``frame;frame;… count``. Only the samples inside a
request handler of the workspace (a frame in ``web/``) are counted here; the table gives
each function's *inclusive* share (the samples where it is on the stack), for the
project's own functions and a few well-known costs (waiting for PostgreSQL, rendering a
template, the connection pool's ping).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

#: (label, substring of a frame) for costs that are not the project's own functions
KNOWN = [("waiting for PostgreSQL (psycopg Connection.wait)", "Connection.wait (psycopg/"),
         ("connection pool pre-ping (SQLAlchemy do_ping)", "do_ping ("),
         ("Jinja2 template rendering (Template.render)", "Template.render (jinja2/"),
         ("HTML escaping (markupsafe.escape)", "escape (markupsafe/"),
         ("commit (Session.commit)", "SessionTransaction.commit (sqlalchemy/")]
#: frames of the request handlers (routes and sign-in), not the workers' start-up imports
HANDLERS = ("(web/routes/", "(web/auth/")
OWN = re.compile(r"\((?:web|engine)/[^)]*\)")
LINE = re.compile(r":\d+\)$")


def read(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append(([LINE.sub(")", f) for f in stack.split(";")], int(count)))
    return stacks


def summary(path: Path, top: int = 15) -> str:
    if not path.exists():
        return f"no profile at {path} (py-spy did not write it)"
    requests = [(frames, n) for frames, n in read(path)
                if any(h in f for f in frames for h in HANDLERS)]
    total = sum(n for _, n in requests)
    if not total:
        return "the profile holds no sample of a request handler"
    known: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, n in requests:
        for label, marker in KNOWN:
            if any(marker in f for f in frames):
                known[label] += n
        for frame in dict.fromkeys(f for f in frames if OWN.search(f)):
            own[frame] += n
    lines = [f"\nserver profile: {total} samples in request handlers (py-spy, 100 Hz)",
             "| share | where |", "|---:|---|"]
    lines += [f"| {100 * known[label] / total:.0f} % | {label} |" for label, _ in KNOWN]
    lines += [f"| {100 * n / total:.0f} % | {frame} |" for frame, n in own.most_common(top)]
    return "\n".join(lines)
