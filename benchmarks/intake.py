"""Benchmark of the intake: HL7 v2 over MLLP (ACK after durable store) and FHIR bundle import.

Run: ``.venv/bin/python benchmarks/intake.py [--messages N] [--connections C]
[--patients P] [--day D]`` (PostgreSQL at ``PARCOURS_BENCH_PG``, a fresh database).

1. ``mllp``: ``parcours mllp`` started as a subprocess on loopback; N PAM-FR
   admissions/discharges/results sent over one connection with the client of
   ``parcours mllp send`` (``engine.intake.mllp.send``), each after its ACK (which the
   listener sends only once the message and its events are committed): not pipelined;
   then N others over one connection pipelined (``--window W`` messages sent ahead of
   their ACKs; the listener stores those it already holds in one transaction, group
   commit); then N others over C connections at once, not pipelined. ``--only mllp``
   runs this phase alone.
2. ``day``: a day of a 200 000-inhabitant territory (D messages: admissions,
   discharges and ORU^R01 HbA1c results for P patients enrolled in the diabetes and
   hospital pathways) sent over MLLP, then applied through the inbox
   (``engine.store.inbox.drain``, what the ``process-inbound-events`` flow runs slice
   after slice), end to end.
3. ``fhir``: the 12 Synthea bundles of ``shared/data/synthea-r4`` imported (read,
   validated with ``fhir.resources`` R4B, stored, one transaction per bundle).
4. ``rest``: the same 12 bundles POSTed to the FHIR REST interface (``POST /fhir``, OAuth2
   Bearer token, one connection) of ``parcours web`` started as a subprocess on loopback,
   into a database of its own (so that they are new there): bundles per second, each
   answered only once stored. ``--only rest`` runs this phase alone.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, drop_pg_database, fresh_pg_database, machine, now_utc
from tests.intake.listener import Listener
from tests.intake.messages import adt, oru, pid

T0 = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-r4"


def ins_of(n: int) -> str:
    return f"2{n:014d}"


def territory(url: str, patients: int) -> None:
    from sqlalchemy import insert

    from engine.store.db import make_engine, transaction
    from engine.store.migrate import upgrade
    from engine.store.service import CaseService
    from engine.store.tables import Patient

    engine = make_engine(url)
    upgrade(engine)
    service = CaseService(engine)
    for name in ("diabete-type2.yaml", "hospitalisation-sujet-age.yaml"):
        path = ROOT / "pathways" / name
        service.publish(path.read_text(encoding="utf-8"), str(path), T0)
    with transaction(engine) as session:
        ids = session.execute(insert(Patient).returning(Patient.id), [  # type: ignore[arg-type]
            {"ins": ins_of(n), "ins_oid": "1.2.250.1.213.1.4.8", "identity_status": "QUAL",
             "family_name": f"Patient{n}", "given_names": "Test",
             "birth_date": date(1940, 1, 1), "sex": "F", "conditions": ["44054006"],
             "created_at": T0} for n in range(patients)]).scalars().all()
    for key in ("diabete-type2", "hospitalisation-sujet-age"):
        service.enroll_many(list(ids), key, T0)
    engine.dispose()


def day_messages(count: int, patients: int, tag: str, day: int) -> list[str]:
    """Admissions, discharges and HbA1c results of ``day`` (days after T0), in time order."""
    out = []
    step = timedelta(days=1) / max(count, 1)
    for n in range(count):
        who = pid(ins=ins_of(n % patients), ipp=f"IPP{n % patients}")
        stamp = (T0 + timedelta(days=day) + n * step).strftime("%Y%m%d%H%M%S")
        kind = n % 3
        if kind == 2:
            out.append(oru(f"{tag}{n}", [("4548-4", "HbA1c", f"{6.5 + (n % 20) / 10}", "%",
                                          "")], at=stamp, order=f"CMD{tag}{n}", patient=who))
        else:
            out.append(adt("A01" if kind == 0 else "A03", f"{tag}{n}", at=stamp,
                           stay=f"S{tag}{n // 3}", movement=f"M{tag}{n}", patient=who))
    return out


def send_all(listener: Listener, messages: list[str], connections: int, window: int = 1,
             ) -> float:
    chunks = [messages[i::connections] for i in range(connections)]
    codes: list[str] = []

    def run(chunk: list[str]) -> None:
        codes.extend(s.ack_code for s in listener.send(*chunk, window=window))

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    assert codes.count("AA") == len(messages), f"not all accepted: {set(codes)}"
    return elapsed


def drain_all(url: str) -> tuple[float, int]:
    from engine.store import inbox
    from engine.store.db import make_engine
    from engine.store.service import CaseService

    engine = make_engine(url)
    service = CaseService(engine)
    started, applied = time.perf_counter(), 0
    while True:
        report = inbox.drain(service, now_utc() + timedelta(minutes=1), 500)
        applied += sum(report.applied.values())
        assert not report.failed, report.failed[:3]
        if report.seen == 0:
            break
    engine.dispose()
    return time.perf_counter() - started, applied


def fhir(url: str) -> tuple[int, float]:
    from engine.store.db import make_engine
    from engine.store.fhir_import import BundleReport, import_file

    engine = make_engine(url)
    files = sorted(SYNTHEA.glob("*.json"))
    import_file(engine, files[0], now_utc())       # warm-up: model classes, statements
    started = time.perf_counter()
    for path in files[1:]:
        assert isinstance(import_file(engine, path, now_utc()), BundleReport)
    engine.dispose()
    return len(files) - 1, time.perf_counter() - started


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rest() -> tuple[int, float]:
    """POST /fhir of every Synthea bundle to a real ``parcours web`` (uvicorn) on loopback."""
    import os
    import subprocess

    import httpx

    from engine.store.db import make_engine, transaction
    from engine.store.fhir_clients import add_client
    from engine.store.migrate import upgrade

    url, name = fresh_pg_database()
    engine = make_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        system = add_client(session, "bench", ["system/Bundle.write"], now_utc())
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "PARCOURS_DATABASE_URL": url, "PARCOURS_WEB_SECRET_KEY": "b" * 48,
           "PARCOURS_WEB_BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen([sys.executable, "-m", "flows.cli", "web", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/fhir"
        with httpx.Client(timeout=120) as client:
            for _ in range(600):
                try:
                    if client.get(f"{base}/metadata").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            answer = client.post(f"{base}/auth/token", data={"grant_type": "client_credentials"},
                                 auth=(system.client_id, system.secret))
            headers = {"Authorization": f"Bearer {answer.json()['access_token']}",
                       "Content-Type": "application/fhir+json"}
            files = sorted(SYNTHEA.glob("*.json"))
            bodies = [path.read_bytes() for path in files]
            assert client.post(base, content=bodies[0], headers=headers).status_code == 200
            started = time.perf_counter()
            for body in bodies[1:]:
                answer = client.post(base, content=body, headers=headers)
                assert answer.status_code == 200, answer.text[:500]
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        drop_pg_database(name)
    return len(bodies) - 1, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("mllp", "rest"), help="run this phase alone")
    parser.add_argument("--window", type=int, default=32,
                        help="messages sent ahead of their ACKs in the pipelined MLLP run")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--day", type=int, default=3000)
    args = parser.parse_args()
    if args.only == "rest":
        bundles, elapsed = rest()
        print(f"rest: {bundles} Synthea bundles POSTed in {elapsed:.1f} s = "
              f"{bundles / elapsed:.1f} bundles/s\nmachine: {machine()}")
        return
    url, name = fresh_pg_database()
    try:
        territory(url, args.patients)
        listener = Listener(url)
        try:
            send_all(listener, day_messages(100, args.patients, "W", 2), 1)   # warm-up
            one = day_messages(args.messages, args.patients, "A", 3)
            elapsed = send_all(listener, one, 1)
            print(f"mllp, 1 connection, not pipelined: {len(one)} messages in {elapsed:.1f} s "
                  f"= {len(one) / elapsed:.0f} messages/s", flush=True)
            piped = day_messages(args.messages, args.patients, "P", 4)
            elapsed = send_all(listener, piped, 1, args.window)
            print(f"mllp, 1 connection, pipelined (window {args.window}): {len(piped)} "
                  f"messages in {elapsed:.1f} s = {len(piped) / elapsed:.0f} messages/s",
                  flush=True)
            many = day_messages(args.messages, args.patients, "B", 6)
            elapsed = send_all(listener, many, args.connections)
            print(f"mllp, {args.connections} connections, not pipelined: {len(many)} messages "
                  f"in {elapsed:.1f} s = {len(many) / elapsed:.0f} messages/s", flush=True)
            if args.only == "mllp":
                return
            drain_all(url)  # apply those first: the day below starts from an empty inbox
            day = day_messages(args.day, args.patients, "D", 9)
            received = send_all(listener, day, args.connections)
            applied_in, applied = drain_all(url)
            print(f"day: {len(day)} messages received in {received:.1f} s, {applied} events "
                  f"applied in {applied_in:.1f} s: {received + applied_in:.1f} s end to end",
                  flush=True)
        finally:
            listener.stop()
        bundles, elapsed = fhir(url)
        print(f"fhir: {bundles} Synthea bundles in {elapsed:.1f} s = "
              f"{bundles / elapsed:.1f} bundles/s", flush=True)
        bundles, elapsed = rest()
        print(f"rest: {bundles} Synthea bundles POSTed in {elapsed:.1f} s = "
              f"{bundles / elapsed:.1f} bundles/s")
        print(f"machine: {machine()}")
    finally:
        drop_pg_database(name)


if __name__ == "__main__":
    main()
