"""Reading HL7 v2 messages: the character set (MSH-18), the parse, typed field access.

Library: python-hl7 (``hl7``), chosen over ``hl7apy`` after comparing both:

- *parsing*: python-hl7 parses any well-framed v2 message into segments,
  fields, repetitions and components without a message-structure table, so a
  PAM-FR message with its Z segments (ZBE, ZFM…) and French fields reads as it
  is; hl7apy validates against the v2.x structures it ships, which reject or
  need custom definitions for Z segments and national profiles (or run in its
  tolerant mode, where it gives no more than python-hl7). We check what we use
  ourselves, field by field, with French errors.
- *MLLP*: python-hl7 ships asyncio MLLP streams (``hl7.mllp``, the block
  reader/writer) on which a listener serves many connections in one process;
  hl7apy's MLLP server is a thread-per-connection ``socketserver`` that
  decodes with one fixed encoding.
- *encodings*: both parse ``str``; neither reads MSH-18 for us. We decode the
  bytes ourselves (``decode``): MSH-18 names the character set (``8859/1``,
  ``8859/15``, ``UNICODE UTF-8``…), common in France where ISO-8859-1/15 is
  the norm; python-hl7's byte-level MLLP reader lets us do it per message.
- both are maintained and pure Python; python-hl7 has no dependencies.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import hl7.util
from hl7.util import unescape

from engine.intake.exceptions import RefusedMessage, UnreadableMessage

# python-hl7 logs a field's whole value when it meets a malformed escape sequence (a
# patient's name, a result): that value must not reach a log. Its logger is named after its
# file; we keep what it would have unescaped and say nothing. Disabled, and a filter that
# drops every record: ``logging.config.dictConfig`` (Prefect's logging setup) enables the
# loggers that already exist again, but leaves their filters.
_HL7_LOG = logging.getLogger(hl7.util.__file__)
_HL7_LOG.disabled = True
_HL7_LOG.addFilter(lambda record: False)

#: MSH-18 (HL7 table 0211) → Python codec. An empty MSH-18 means ASCII in the standard;
#: we read it as UTF-8, ASCII's superset.
CHARSETS = {
    "": "utf-8", "ASCII": "ascii", "8859/1": "iso-8859-1", "8859/15": "iso-8859-15",
    "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "UNICODE": "utf-8",
}
ENCODING_CHARACTERS = "^~\\&"
_SEGMENT = re.compile(r"^[A-Z][A-Z0-9]{2}(\||$)")
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")


def decode(raw: bytes) -> str:
    """The message as text, decoded with the character set its MSH-18 names."""
    header = raw.split(b"\r", 1)[0]
    if not header.startswith(b"MSH") or len(header) < 8:
        raise UnreadableMessage("message illisible : il doit commencer par un segment MSH")
    separator = header[3:4]
    fields = header.split(separator)
    charset = fields[17].decode("ascii", "replace").strip() if len(fields) > 17 else ""
    codec = CHARSETS.get(charset.upper())
    if codec is None:
        raise UnreadableMessage(f"jeu de caractères MSH-18 {charset!r} non pris en charge ; "
                                f"possibles : {', '.join(c for c in CHARSETS if c)}")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise UnreadableMessage(
            f"message illisible dans le jeu de caractères annoncé ({charset or 'UTF-8'}) : "
            f"octet {raw[exc.start]:#04x} en position {exc.start} ; vérifiez MSH-18") from exc


#: segments whose MSH-1 and MSH-2 (the separators) are fields of their own (python-hl7)
_HEADERS = ("MSH", "BHS", "FHS")
_DEEPER = ("~", "^", "&")


class _Separators:
    """What ``hl7.util.unescape`` reads of a message: the escape and separator characters
    (always the standard ones here: ``Message`` refuses any other MSH-2)."""

    esc = "\\"
    separators = "\r|~^&"


def _unescape(value: str) -> str:
    """python-hl7's unescaping (``\\F\\``, ``\\X..\\``…), only when there is an escape."""
    return unescape(_Separators, value) if "\\" in value else value


def _fields(line: str) -> list[str]:
    """A segment's fields, split exactly as python-hl7 does (index n is field n; for MSH,
    index 1 is MSH-1 and 2 is MSH-2)."""
    name = line[:3]
    if name in _HEADERS:
        end = line.find(line[3], 4)
        rest = line[end + 1:]
        return [name, line[3], line[4:end], *(rest.split("|") if rest else ())]
    return line.split("|")


class Message:
    """A parsed HL7 v2 message with 1-based, never-failing field access.

    The parse is a light one: segments on ``\\r``, fields on ``|``, and the field
    asked for on ``~``, ``^`` and ``&``, only when asked; it gives exactly what
    python-hl7's ``parse`` and ``extract_field`` give, quirks included (a segment
    without any field is filed under its first letter, like python-hl7 does), and
    unescapes with python-hl7 (``tests/intake/test_light_reader.py`` checks both
    ways on the test corpus and on generated messages)."""

    def __init__(self, text: str) -> None:
        text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r")
        if not text.startswith("MSH") or len(text) < 8:
            raise UnreadableMessage("message illisible : il doit commencer par un segment MSH")
        if text[4:8] != ENCODING_CHARACTERS or text[3] != "|":
            raise UnreadableMessage(
                f"caractères d'encodage invalides {text[3:8]!r} dans MSH-1/MSH-2 ; attendus "
                f"'|{ENCODING_CHARACTERS}'")
        lines = text.split("\r")
        for number, line in enumerate(lines, start=1):
            if not _SEGMENT.match(line):
                raise UnreadableMessage(f"segment {number} mal formé : {line[:20]!r}")
        self.text = text
        #: the segment names in order (``has``, ``count``)
        self.names: list[str] = []
        #: the segments by id, each a list of its fields (``get``, ``repeats``)
        self.segments: dict[str, list[list[str]]] = {}
        if text != text.rstrip():   # python-hl7 parses the message stripped of whitespace
            lines = text.strip().split("\r")
        for line in lines:
            name = line[:3]
            self.names.append(name)
            if len(line) == 3:   # no field at all: python-hl7 files it under name[0]
                self.segments.setdefault(name[0], []).append([name])
            else:
                self.segments.setdefault(name, []).append(_fields(line))
        self.type = self.get("MSH", 9, 1, 1)
        self.trigger = self.get("MSH", 9, 1, 2)
        self.control_id = self.get("MSH", 10)
        if not self.type or not self.control_id:
            raise UnreadableMessage("MSH-9 (type de message) et MSH-10 (identifiant du "
                                    "message) sont obligatoires")

    def has(self, segment: str) -> bool:
        return segment in self.names

    def count(self, segment: str) -> int:
        return self.names.count(segment)

    def extract(self, segment: str, occurrence: int, field: int, repeat: int, component: int,
                sub: int) -> str:
        """python-hl7's ``Segment.extract_field`` on the light parse: the value, or
        ``IndexError`` (``KeyError`` when there is no such segment)."""
        fields = self.segments[segment][occurrence - 1]
        field, repeat, component, sub = field or 1, repeat or 1, component or 1, sub or 1
        if field >= len(fields):
            if repeat == 1 and component == 1 and sub == 1:
                return ""  # a field not present
            raise IndexError(field)
        value = fields[field]
        header = field < 3 and fields[0] in _HEADERS
        if header or not any(c in value for c in _DEEPER):   # a leaf
            if repeat != 1 or component != 1 or sub != 1:
                raise IndexError(field)
            return value if header and fields[0] == "MSH" else _unescape(value)
        rep = value.split("~")[repeat - 1]
        if "^" not in rep and "&" not in rep:   # a leaf repetition
            if component == 1:
                if sub == 1:
                    return _unescape(rep)
                raise IndexError(sub)
            if sub == 1:
                return ""
            raise IndexError(component)
        components = rep.split("^")
        if component > len(components):
            if sub == 1:
                return ""
            raise IndexError(component)
        subs = components[component - 1].split("&")
        return _unescape(subs[sub - 1]) if sub <= len(subs) else ""

    def get(self, segment: str, field: int, repeat: int = 1, component: int = 1,
            sub: int = 1, occurrence: int = 1) -> str:
        """Segment-FIELD.REPEAT.COMPONENT.SUB of the occurrence-th segment, or ''."""
        found = self.segments.get(segment, ())
        if not 0 < occurrence <= len(found):
            return ""
        try:
            value = self.extract(segment, occurrence, field, repeat, component, sub)
        except (KeyError, IndexError):
            return ""
        return value.strip()

    def repeats(self, segment: str, field: int, occurrence: int = 1) -> int:
        """How many repetitions ``segment-field`` has (0 when the segment is absent)."""
        found = self.segments.get(segment, ())
        if not 0 < occurrence <= len(found):
            return 0
        count = 0
        while True:
            try:
                self.extract(segment, occurrence, field, count + 1, 1, 1)
            except (KeyError, IndexError):
                return count
            count += 1

    @property
    def sender(self) -> str:
        """Sending application and facility (MSH-3, MSH-4), for ids and the source column."""
        return f"{self.get('MSH', 3)}@{self.get('MSH', 4)}"

    @property
    def sent_at(self) -> str:
        return self.get("MSH", 7)

    def require(self, segment: str) -> None:
        if not self.has(segment):
            raise RefusedMessage(f"segment {segment} manquant dans le message "
                                 f"{self.type}^{self.trigger}", segment)


def timestamp(text: str, where: str, zone: ZoneInfo) -> datetime:
    """An HL7 TS (``YYYYMMDD[HHMM[SS]][±ZZZZ]``); without an offset, in the territory's zone."""
    match = _TS.match(text)
    if not match:
        raise RefusedMessage(f"{where} : date/heure HL7 invalide {text!r} "
                             "(attendu AAAAMMJJHHMM[SS])", where.split("-")[0])
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        moment = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                          int(minute or 0), int(second or 0))
    except ValueError as exc:
        raise RefusedMessage(f"{where} : date/heure impossible {text!r}",
                             where.split("-")[0]) from exc
    if offset:
        sign = 1 if offset[0] == "+" else -1
        minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:5]))
        return moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).astimezone(UTC)
    return moment.replace(tzinfo=zone).astimezone(UTC)


def birth_date(text: str) -> date | None:
    try:
        return date(int(text[0:4]), int(text[4:6]), int(text[6:8])) if len(text) >= 8 else None
    except ValueError:
        return None
