"""Fuzzing the command line in process: thousands of invocations with hostile values, on
SQLite and PostgreSQL (issue "Hostile and messy input", CLI budget).

Each invocation is a real command line (``flows.cli.main``) built from a template of a
user-facing command whose slots are filled with hostile values: non-numbers, NaN, huge
and negative ids, impossible dates, control characters, NUL bytes, 10 kB texts, folders,
binary files, unknown codes. Every run must end with a clear message and exit 0, 1 or 2:
exit 3 is the boundary catching an exception that is not ours (a bug), and a traceback
is never printed. The budget is ``PARCOURS_FUZZ_CLI`` invocations per run (default 2 000
over both databases), each under 10 s; ``-m nightly`` runs ten times more.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli import main
from tests.db.world import EXAMPLE, PATIENTS, PROFESSIONALS

MARIE = "195031234567890"
INVOCATIONS = int(os.environ.get("PARCOURS_FUZZ_CLI", "2000"))
CHUNKS = 5  # per database: 2 × 5 chunks share the budget

Slot = Callable[[random.Random], str]


def _text(rng: random.Random) -> str:
    return rng.choice([
        "", " ", "x" * 10_000, "é" * 300, "\x00", "a\x00b", "\x1b[31m", "Durand\nMarie",
        "'; DROP TABLE patient; --", "../../etc/passwd", "%s%s%n", "{{ 7 * 7 }}",
        "\u202e", "\ud7ff", "🩺", "NULL", "None", "true", "-", "--help",
    ])


def _number(rng: random.Random) -> str:
    return rng.choice([
        "7,5", "7.5", "NaN", "nan", "inf", "-inf", "1e309", "-1e309", "1_0", "", " 7 ",
        "0x10", "١٢", "7,5,5", "7..5", "1e-400", "-0", "99999999999999999999", "3",
        "20", "2.1e1", "+8", "7\x005", "x" * 10_000, "½",
    ])


def _id(rng: random.Random) -> str:
    return rng.choice([
        "1", "2", "0", "-1", "2147483647", "2147483648", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "1" * 400, "abc", "", "1.5", "1e3",
        " 1", "0x1", "\x00",
    ])


def _moment(rng: random.Random) -> str:
    return rng.choice([
        "2026-01-10T09:00", "2026-02-30T09:00", "0001-01-01T00:00", "9999-12-31T23:59",
        "1899-12-31", "2026-13-01", "hier", "", "2026-01-10T09:00+25:00", "2026-W02",
        "2026-01-10T09:00:00.000000000001", "2026-03-29T02:30", "10/01/2026", "x" * 5000,
        "2026-01-10",
    ])


def _patient(rng: random.Random) -> str:
    return rng.choice([MARIE, "P-002", "P-003", "unknown", "", "1" * 15, "1" * 400,
                       "195031234567891", "\x00", "x" * 10_000, "P-002 "])


def _code(rng: random.Random) -> str:
    return rng.choice(["4548-4", "59261-8", "33762-6", "xxxx", "", "4548-4\x00", "x" * 5000])


def _unit(rng: random.Random) -> str:
    return rng.choice(["%", "mmol/mol", "kg", "g", "", "%%", "x" * 5000, "\x00"])


def _file(tmp: Path) -> Slot:
    binary = tmp / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    utf16 = tmp / "utf16.csv"
    utf16.write_text(PATIENTS, encoding="utf-16")
    broken = tmp / "broken.csv"
    broken.write_text(PATIENTS.replace(",", ";", 7) + "\x00\n", encoding="utf-8")
    empty = tmp / "empty.csv"
    empty.write_text("", encoding="utf-8")
    pathway = tmp / "p.yaml"
    pathway.write_text(EXAMPLE.read_text(encoding="utf-8").replace("states:", "states: [", 1),
                       encoding="utf-8")
    choices = [str(tmp), str(tmp / "absent.csv"), str(binary), str(utf16), str(broken),
               str(empty), str(pathway), "/dev/null", "", "x" * 5000, str(EXAMPLE)]
    return lambda rng: rng.choice(choices)


def _templates(tmp: Path) -> list[tuple[str, list[str | Slot]]]:
    file = _file(tmp)
    role: Slot = lambda rng: rng.choice(  # noqa: E731
        ["medecin_traitant", "infirmier", "inconnu", "", "x" * 5000])
    pairs: Slot = lambda rng: rng.choice(  # noqa: E731
        ["grade=2", "grade=NaN", "grade=", "=", "grade", "grade=1e309", "x" * 5000 + "=1"])
    return [
        ("observe", ["observe", "--patient", _patient, "--code", _code, "--value", _number,
                     "--unit", _unit, "--at", _moment, "--now", _moment]),
        ("observe-source", ["observe", "--patient", _patient, "--code", _code,
                            "--value", _number, "--source", _text, "--event-id", _text]),
        ("event", ["event", lambda r: r.choice(["admission", "discharge", "inconnu", "",
                                                 "admission_cancelled", "x" * 5000]),
                   "--patient", _patient, "--stay", _text, "--reason", _text,
                   "--at", _moment, "--now", _moment]),
        ("enroll", ["enroll", "--patient", _patient, "--pathway",
                    lambda r: r.choice(["exemple-suivi", "inconnu", "", "x" * 5000]),
                    "--now", _moment]),
        ("tasks", ["tasks", "--assignee", _text, "--role", role, "--case", _id,
                   "--status", _text, "--now", _moment]),
        ("tasks-json", ["tasks", "--json", "--case", _id, "--overdue", "--now", _moment]),
        ("task-complete", ["task", "complete", _id, "--result", pairs, "--by", _text,
                           "--at", _moment]),
        ("case-show", ["case", "show", _id, "--now", _moment]),
        ("case-close", ["case", "close", _id, "--reason", _text, "--now", _moment]),
        ("inbox-observe", ["inbox", "observe", "--patient", _patient, "--code", _code,
                           "--value", _number, "--unit", _unit, "--at", _moment]),
        ("inbox-event", ["inbox", "event", lambda r: r.choice(["admission", "zzz", ""]),
                         "--patient", _patient, "--data", pairs, "--at", _moment]),
        ("inbox-complete", ["inbox", "complete", _id, "--result", pairs]),
        ("inbox-list", ["inbox", "list", "--status", _text, "--limit", _id]),
        ("inbox-retry", ["inbox", "retry", _id, _id]),
        ("careteam", ["careteam", "set", "--patient", _patient, "--role", role,
                      "--professional", lambda r: r.choice(["10000000001", "1", "", "x" * 99]),
                      "--from", _moment, "--to", _moment]),
        ("link", ["patients", "link", "--patient", _patient, "--system", _text,
                  "--value", _text]),
        ("patients-import", ["patients", "import", file, "--now", _moment]),
        ("professionals-import", ["professionals", "import", file]),
        ("publish", ["pathways", "publish", file, "--now", _moment]),
        ("validate", ["validate", file]),
        ("graph", ["graph", file]),
        ("outbox", ["outbox", "--status", _text, "--kind", _text, "--limit", _id]),
        ("preview", ["notify", "preview", _text, "--task", _id, "--now", _moment]),
        ("advance", ["advance", "--now", _moment, "--batch-size", _id, "--json"]),
        ("import-fhir", ["import", "fhir", file, "--now", _moment]),
        ("migrate-plan", ["migrate", "plan", lambda r: r.choice(["exemple-suivi", "inconnu",
                                                                  "", "x" * 5000]),
                          "--to", _id, "--mapping", file, "--now", _moment, "--json"]),
        ("migrate-apply", ["migrate", "apply", "exemple-suivi", "--to", _id,
                           "--batch-size", _id, "--now", _moment]),
        ("migrate-rollback", ["migrate", "rollback", _id, "--now", _moment]),
    ]


@pytest.fixture
def world(cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "pros.csv").write_text(PROFESSIONALS, encoding="utf-8")
    (tmp_path / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    for argv in (["db", "upgrade"],
                 ["pathways", "publish", str(EXAMPLE), "--now", "2026-01-05T09:00"],
                 ["professionals", "import", str(tmp_path / "pros.csv")],
                 ["patients", "import", str(tmp_path / "patients.csv"),
                  "--now", "2026-01-05T09:00"],
                 ["careteam", "set", "--patient", MARIE, "--role", "medecin_traitant",
                  "--professional", "10000000001", "--from", "2025-01-01"],
                 ["enroll", "--patient", MARIE, "--pathway", "exemple-suivi",
                  "--now", "2026-01-06T09:00"]):
        assert main(argv) == 0, capsys.readouterr()
    capsys.readouterr()
    return tmp_path


def _fuzz(chunk: int, count: int, tmp: Path, capsys: pytest.CaptureFixture[str]) -> Counter[int]:
    rng = random.Random(chunk)
    templates = _templates(tmp)
    codes: Counter[int] = Counter()
    for n in range(count):
        name, template = rng.choice(templates)
        argv = [part(rng) if callable(part) else part for part in template]
        started = time.thread_time()
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage error, exit 2 with a message
            code = exc.code if isinstance(exc.code, int) else 2
        elapsed = time.thread_time() - started
        out, err = capsys.readouterr()
        where = f"invocation {chunk}-{n} ({name}): {[a[:40] for a in argv]}"
        assert "Traceback" not in out + err, f"{where}\n{err[-2000:]}"
        assert code in (0, 1, 2), f"{where}: exit {code}\n{err[-2000:]}"
        assert code == 0 or err.strip() or out.strip(), f"{where}: failed without a message"
        assert elapsed < 10, f"{where}: {elapsed:.1f} s"
        codes[code] += 1
    return codes


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_hostile_command_lines_end_with_a_message(world: Path, db_url: str, chunk: int,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    seed = chunk + (1000 if db_url.startswith("postgresql") else 0)
    codes = _fuzz(seed, INVOCATIONS // (2 * CHUNKS), world, capsys)
    assert codes[1] > 0 and codes[0] > 0  # the corpus reaches both refusals and successes


@pytest.mark.nightly
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_many_hostile_command_lines(world: Path, db_url: str, chunk: int,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    seed = 100 + chunk + (1000 if db_url.startswith("postgresql") else 0)
    _fuzz(seed, 10 * INVOCATIONS // (2 * CHUNKS), world, capsys)
