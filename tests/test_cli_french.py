"""The command line speaks French to coordinators, argparse's own words included, and English
to pathway developers, consistently; every sub-command's help is checked."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows import argparse_fr
from flows.cli import DEVELOPER, _parser, main
from tests.db.test_cli_listings import french_only

#: English that must not appear in a coordinator's help (argparse's words, common words)
ENGLISH = re.compile(r"\b(usage:|positional arguments|show this help|default|the|and|with|"
                     r"without|print|file|folder|only|every|when|run|serve|error)\b")


Command = tuple[tuple[str, ...], argparse.ArgumentParser]


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """Every (sub-)command of the tree: its words and its parser."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def _help(capsys: pytest.CaptureFixture[str], words: tuple[str, ...]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*words, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


USER_COMMANDS = [words for words, _ in commands(_parser()) if words and words[0] not in DEVELOPER]
DEV_COMMANDS = [words for words, _ in commands(_parser(True)) if words
                and words[0] in DEVELOPER]


def test_the_tree_is_walked() -> None:
    names = {" ".join(w) for w in USER_COMMANDS}
    assert {"cases", "patients search", "professionals list", "careteam show", "task show",
            "tasks", "case show", "demo", "web", "inbox list", "outbox"} <= names
    assert {w[0] for w in DEV_COMMANDS} == set(DEVELOPER)


@pytest.mark.parametrize("words", [(), *USER_COMMANDS], ids=lambda w: " ".join(w) or "parcours")
def test_coordinator_help_is_french(capsys: pytest.CaptureFixture[str],
                                    words: tuple[str, ...]) -> None:
    text = _help(capsys, words)
    assert text.startswith("utilisation : parcours")
    assert "afficher cette aide et quitter" in text
    body = text.split("\n\n", 1)[1]  # after the usage line (option and command names)
    if not words:  # the top-level list names the developer commands, described in English
        body = "\n".join(line for line in body.split("\n\n", 1)[1].splitlines()
                         if not any(line.strip().startswith(d) for d in DEVELOPER)
                         and not line.startswith(" " * 17))
    body = re.sub(r"--[\w-]+|^\s{2,4}[a-z]+\b", "", body, flags=re.MULTILINE)  # names
    found = ENGLISH.findall(body)
    assert not found, f"English in the help of parcours {' '.join(words)}: {found}\n{text}"
    french_only(body)


@pytest.mark.parametrize("words", DEV_COMMANDS, ids=lambda w: " ".join(w))
def test_developer_help_is_english(capsys: pytest.CaptureFixture[str],
                                   words: tuple[str, ...]) -> None:
    text = _help(capsys, words)
    assert text.startswith("usage: parcours") and "show this help message" in text
    assert "utilisation" not in text and "afficher" not in text


@pytest.mark.parametrize(("argv", "message"), [
    (["cases", "--limit", "x"], "argument --limit : valeur invalide : 'x'"),
    (["cases", "--inconnue"], "arguments non reconnus : --inconnue"),
    (["enroll", "--patient", "1"], "arguments obligatoires manquants : --pathway"),
    (["commande"], "choix invalide : 'commande'"),
    (["task"], "arguments obligatoires manquants : ACTION"),
    (["outbox", "--limit"], "argument --limit : une valeur attendue"),
    (["observe", "--patient", "1", "--code", "x", "--value", "1", "--at", "hier"],
     "date/heure invalide 'hier'"),
    ([], "arguments obligatoires manquants : COMMANDE"),
])
def test_command_line_errors_are_french(capsys: pytest.CaptureFixture[str], argv: list[str],
                                        message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "utilisation : parcours" in err and " : erreur : " in err and message in err, err
    french_only(err)


def test_developer_errors_stay_english(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["validate"])
    err = capsys.readouterr().err
    assert "usage: parcours validate" in err
    assert "error: the following arguments are required: PATH" in err


def test_argparse_is_english_again_after_the_command_line() -> None:
    """The translation is scoped: a program that embeds the CLI keeps its own argparse."""
    with pytest.raises(SystemExit):
        main(["cases", "--help"])
    # argparse's gettext hooks are module functions, absent from its type stubs
    assert argparse._("usage: ") == "usage: "  # type: ignore[attr-defined]
    plural = argparse.ngettext  # type: ignore[attr-defined]
    assert plural("expected %s argument", "expected %s arguments", 2) == "expected %s arguments"


def test_every_argparse_message_is_translated() -> None:
    """Every message of the running Python's argparse has a French translation."""
    source = Path(argparse.__file__).read_text(encoding="utf-8")
    singles = re.findall(r"""\b_\(\s*(['"])(.+?)\1\s*\)""", source)
    plurals = re.findall(r"""ngettext\(\s*(['"])(.+?)\1,\s*(['"])(.+?)\3""", source)
    messages = {m for _, m in singles} | {m for p in plurals for m in (p[1], p[3])}
    assert len(messages) > 25
    missing = sorted(m.encode().decode("unicode_escape") for m in messages
                     if m.encode().decode("unicode_escape") not in argparse_fr.FRENCH)
    assert not missing, f"argparse messages without a French translation: {missing}"
