"""``parcours mllp`` run for real, in a subprocess, on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine.intake import mllp

ROOT = Path(__file__).resolve().parents[2]


class Listener:
    def __init__(self, db_url: str, **settings: str) -> None:
        env = {**os.environ, "PARCOURS_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1",
               **settings}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "mllp", "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("écoute MLLP"):
            self.process.kill()
            raise RuntimeError(f"listener did not start: {line!r} {self.process.stderr.read()}")
        self.port = int(line.split(":")[-1].split()[0])

    def send(self, *messages: str, charset: str = "latin-1", window: int = 1,
             ) -> list[mllp.Sent]:
        return list(mllp.send("127.0.0.1", self.port, [m.encode(charset) for m in messages],
                              timeout=30, window=window))

    def stop(self) -> str:
        """Stop it and return what it wrote on stderr (must hold no traceback)."""
        self.process.terminate()
        _, err = self.process.communicate(timeout=10)
        return err

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
