"""Territory settings and pathway versions for coordinators: ``parcours settings publish|
validate|list``, ``parcours pathways show`` (effective parameters) and ``parcours pathways
diff`` (what changes between two versions). French output, ``--json`` for data."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.exceptions import PathwayDefinitionError
from flows.commands.common import (
    Settings,
    add_json,
    add_now,
    dump,
    engine_of,
    fmt,
    guarded,
    now_of,
    service,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.pathway.compiler import CompiledPathway
    from engine.store.settings import ParameterView

#: ``KEY@N`` (or ``KEY@vN``): a published version; anything else is a file
_PUBLISHED = re.compile(r"^(?P<key>[a-z0-9][a-z0-9-]{0,79})@v?(?P<version>\d{1,9})$")
SUFFIX = ".settings.yaml"


@contextmanager
def _session() -> Iterator[Session]:
    """One transaction on the configured database; the engine is closed afterwards."""
    from engine.store.db import transaction

    engine = engine_of(Settings())
    try:
        with transaction(engine) as session:
            yield session
    finally:
        engine.dispose()


def _key_of(file: str) -> str:
    name = Path(file).name
    return name[:-len(SUFFIX)] if name.endswith(SUFFIX) else Path(file).stem


def _by() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "inconnu"


@guarded
def settings_publish(args: argparse.Namespace) -> int:
    from engine.pathway.reader import read_source

    text = read_source(args.file)  # a folder, unreadable or non-UTF-8 file: located error
    key = args.pathway or _key_of(args.file)
    svc = service(args)
    try:
        published = svc.publish_settings(text, args.file, key, args.by or _by(), now_of(args))
    finally:
        svc.engine.dispose()
    if not published.created:
        print(f"{args.file} : réglages de {key} v{published.version} inchangés")
        return 0
    changed = ", ".join(published.changed) or "aucun"
    print(f"{args.file} : réglages de {key} v{published.version} publiés ; paramètres "
          f"modifiés : {changed}. Les nouveaux dossiers les suivent ; les dossiers en cours "
          "gardent leurs réglages jusqu'à leur migration.")
    return 0


@guarded
def settings_validate(args: argparse.Namespace) -> int:
    from engine.pathway.settings import check_settings_file

    target = args.pathway or _key_of(args.file)
    pathway = _pathway(target)
    if pathway is None:
        return 1
    checked, problems = check_settings_file(args.file, pathway)
    for problem in problems:
        print(problem)
    if checked is None:
        print(f"{args.file} : invalide", file=sys.stderr)
        return 1
    print(f"{args.file} : valide pour {pathway.key} v{pathway.version} "
          f"({len(checked.values)} paramètre(s) réglé(s) : {', '.join(checked.values) or '—'})")
    return 0


@guarded
def settings_list(args: argparse.Namespace) -> int:
    from engine.store import settings as territory

    with _session() as session:
        rows = territory.history(session, args.pathway)
        found: list[dict[str, Any]] = [
            {"pathway": r.pathway_key, "version": r.version, "values": r.values,
             "file": r.file, "published_by": r.published_by, "published_at": r.published_at}
            for r in rows]
    if args.json:
        dump(found)
        return 0
    if not found:
        print(f"aucun réglage publié pour {args.pathway} : les dossiers suivent les valeurs "
              "par défaut du parcours")
    for item in found:
        values = ", ".join(f"{k}={v}" for k, v in item["values"].items()) or "—"
        print(f"v{item['version']:<3} publié le {fmt(item['published_at'])} par "
              f"{item['published_by']} ({item['file']}) : {values}")
    return 0


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file we can read
        return False


def _pathway(target: str) -> CompiledPathway | None:
    """A pathway from a file, ``KEY@N`` (published version) or ``KEY`` (latest published)."""
    from engine.pathway.loader import load_file
    from engine.store import registry

    if _is_file(target):
        try:
            return load_file(target)
        except PathwayDefinitionError as exc:
            for problem in exc.diagnostics:
                print(problem, file=sys.stderr)
            return None
    match = _PUBLISHED.match(target)
    key = match["key"] if match else target
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", key):
        print(f"erreur : {target!r} n'est ni un fichier, ni un parcours publié (CLÉ ou "
              "CLÉ@VERSION, par exemple diabete-type2@1)", file=sys.stderr)
        return None
    with _session() as session:
        row = registry.by_version(session, key, int(match["version"])) if match \
            else registry.latest(session, key)
        return registry.compiled(row)


@guarded
def pathways_diff(args: argparse.Namespace) -> int:
    from engine.pathway.diff import diff, to_data, to_text

    old, new = _pathway(args.old), _pathway(args.new)
    if old is None or new is None:
        return 1
    result = diff(old, new)
    if args.json:
        dump(to_data(result))
    else:
        print(to_text(result))
    return 0


@guarded
def pathways_show(args: argparse.Namespace) -> int:
    from engine.store import registry
    from engine.store import settings as territory

    with _session() as session:
        row = registry.latest(session, args.key)
        pathway = registry.compiled(row)
        versions = territory.history(session, args.key)
        views = territory.parameter_views(pathway, versions)
    current = versions[-1] if versions else None
    if args.json:
        dump({"key": row.key, "version": row.version, "title": row.title,
              "settings_version": current.version if current else None,
              "parameters": [_view_data(v) for v in views]})
        return 0
    print(f"Parcours {row.key} v{row.version} : {row.title}")
    print(f"Réglages du territoire : v{current.version}, publiés le "
          f"{fmt(current.published_at)} par {current.published_by}" if current else
          "Réglages du territoire : aucun (valeurs par défaut du parcours)")
    print("Les nouveaux dossiers suivent ces valeurs.\n")
    for view in views:
        print(_view_text(view))
    return 0


def _value(value: Any, unit: str | None) -> str:
    shown = ("oui" if value else "non") if isinstance(value, bool) else str(value)
    return f"{shown} {unit}" if unit else shown


def _view_text(view: ParameterView) -> str:
    value, default = _value(view.value, view.unit), _value(view.default, view.unit)
    if view.source == "pathway":
        return f"  {view.name} = {value} (valeur par défaut du parcours)"
    return (f"  {view.name} = {value} (réglages v{view.settings_version} ; modifié par "
            f"{view.overridden_by} le {fmt(view.overridden_at)} ; défaut du parcours : "
            f"{default})")


def _view_data(view: ParameterView) -> dict[str, Any]:
    return {"name": view.name, "type": view.type, "unit": view.unit, "value": view.value,
            "default": view.default, "source": view.source,
            "settings_version": view.settings_version, "overridden_by": view.overridden_by,
            "overridden_at": view.overridden_at, "description": view.description}


def register(sub: argparse._SubParsersAction) -> None:
    """``parcours settings …`` (``pathways show`` and ``diff`` are added in ``records``)."""
    h = "flows.commands.territory:"
    p = sub.add_parser("settings", help="réglages du territoire (paramètres des parcours)")
    ssub = p.add_subparsers(dest="settings_command", required=True, metavar="ACTION")
    q = ssub.add_parser("publish", help="publier un fichier de réglages (nouvelle version si "
                                        "les valeurs changent)")
    q.add_argument("file", metavar="FICHIER")
    q.add_argument("--pathway", metavar="CLÉ",
                   help="parcours réglé (défaut : le nom du fichier, CLÉ.settings.yaml)")
    q.add_argument("--by", metavar="NOM", help="qui publie (défaut : l'utilisateur du poste)")
    add_now(q)
    q.set_defaults(handler=h + "settings_publish")
    q = ssub.add_parser("validate", help="vérifier un fichier de réglages sans rien publier")
    q.add_argument("file", metavar="FICHIER")
    q.add_argument("--pathway", metavar="CLÉ|FICHIER",
                   help="fichier du parcours, CLÉ@VERSION ou CLÉ publiée (défaut : le nom du "
                        "fichier de réglages)")
    q.set_defaults(handler=h + "settings_validate")
    q = ssub.add_parser("list", help="versions publiées des réglages d'un parcours")
    q.add_argument("pathway", metavar="CLÉ")
    add_json(q)
    q.set_defaults(handler=h + "settings_list")


def register_pathways(psub: argparse._SubParsersAction) -> None:
    """``parcours pathways show`` and ``parcours pathways diff``."""
    h = "flows.commands.territory:"
    q = psub.add_parser("show", help="paramètres effectifs : valeur, défaut, source, qui "
                                     "l'a réglé et quand")
    q.add_argument("key", metavar="CLÉ")
    add_json(q)
    q.set_defaults(handler=h + "pathways_show")
    q = psub.add_parser("diff", help="ce qui change entre deux versions d'un parcours")
    q.add_argument("old", metavar="ANCIEN", help="fichier ou CLÉ@VERSION publiée")
    q.add_argument("new", metavar="NOUVEAU", help="fichier ou CLÉ@VERSION publiée")
    add_json(q)
    q.set_defaults(handler=h + "pathways_diff")
