"""A small reader of our gettext .po files, in place of Babel at run time.

Babel's `read_po` loads the CLDR data of the catalogue's locale (about 4 MiB
resident) although the bot needs none of it. This reader understands what a
.po file may hold (comments, flags, msgctxt, msgid, msgid_plural, msgstr,
msgstr[n], strings continued over several lines, Babel's escapes) and builds
the same lookup table as Babel's `write_mo` read back by
`gettext.GNUTranslations`: fuzzy, obsolete (`#~`) and untranslated entries are
left out, an empty plural form falls back to its msgid. The plural rule comes
from the `Plural-Forms` header.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from dataclasses import dataclass, field

# Only the escapes Babel's pofile.unescape knows; any other backslash stays.
_ESCAPE = re.compile(r'\\([\\trn"])')
_ESCAPES = {"\\": "\\", "t": "\t", "r": "\r", "n": "\n", '"': '"'}
_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(.*)$")
_NPLURALS = re.compile(r"nplurals\s*=\s*(\d+)")
_PLURAL = re.compile(r"plural\s*=\s*([^;]+)")
CONTEXT_SEPARATOR = "\x04"  # GNU gettext's key for a message with a context

# Keys as gettext.GNUTranslations has them: a message id, or (id, form index).
Key = str | tuple[str, int]


class PoError(ValueError):
    """A .po file this reader cannot follow; the message names the line."""


def _unquote(text: str, where: int) -> str:
    text = text.strip()
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise PoError(f"line {where}: expected a quoted string, got {text!r}")
    return _ESCAPE.sub(lambda m: _ESCAPES[m[1]], text[1:-1])


@dataclass
class _Entry:
    line: int
    fuzzy: bool = False
    obsolete: bool = False
    context: str | None = None
    msgid: str | None = None
    plural_id: str | None = None
    strings: dict[int, str] = field(default_factory=dict)


def _plural_rule(header: str) -> tuple[int, Callable[[int], int]]:
    """nplurals and the plural function of the header (English's rule without one)."""
    for line in header.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "plural-forms":
            count, rule = _NPLURALS.search(value), _PLURAL.search(value)
            if count and rule:
                return int(count[1]), gettext.c2py(rule[1].strip())
    return 2, gettext.c2py("(n != 1)")


class Catalogue:
    """Translations of one language, looked up as `gettext.GNUTranslations` does."""

    __slots__ = ("_messages", "header", "nplurals", "plural")

    def __init__(self, messages: dict[Key, str]) -> None:
        self._messages = messages
        self.header = messages.get("", "")
        self.nplurals, self.plural = _plural_rule(self.header)

    @property
    def messages(self) -> dict[Key, str]:
        """The lookup table: header under "", plural forms under (msgid, index)."""
        return self._messages

    def gettext(self, message: str) -> str:
        found = self._messages.get(message)
        if found is None:
            found = self._messages.get((message, self.plural(1)))
        return message if found is None else found

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = self._messages.get((singular, self.plural(n)))
        if found is None:
            return singular if n == 1 else plural
        return found

    def message_ids(self) -> set[str]:
        """The ids translated here (a plural entry by its singular id)."""
        return {key if isinstance(key, str) else key[0] for key in self._messages if key}


def _entries(text: str) -> list[_Entry]:
    entries: list[_Entry] = []
    current: _Entry | None = None
    # Where a continuation line ("...") goes: (keyword, plural index).
    target: tuple[str, int] | None = None

    def close() -> None:
        nonlocal current, target
        if current is not None and current.msgid is not None:
            entries.append(current)
        current, target = None, None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if line.startswith("|"):
                continue  # the previous msgid of an obsolete entry
        elif line.startswith("#"):
            # A comment opens a new entry unless it follows another comment.
            if current is not None and current.msgid is not None:
                close()
            if current is None:
                current = _Entry(number)
            if line.startswith("#,"):
                flags = {flag.strip() for flag in line[2:].split(",")}
                current.fuzzy = current.fuzzy or "fuzzy" in flags
            continue
        if not line:
            close()
            continue
        if line.startswith('"'):
            if current is None or target is None:
                raise PoError(f"line {number}: a string outside an entry")
            _append(current, target, _unquote(line, number))
            continue
        match = _KEYWORD.match(line)
        if match is None:
            raise PoError(f"line {number}: cannot read {raw.strip()!r}")
        keyword, index, rest = match[1], match[2], match[3]
        if keyword in ("msgctxt", "msgid") and current is not None and current.msgid is not None:
            close()  # the next entry, without a blank line before it
        if current is None:
            current = _Entry(number)
        current.obsolete = current.obsolete or obsolete
        target = (keyword, int(index) if index is not None else 0)
        if keyword == "msgstr" and index is None and current.plural_id is not None:
            raise PoError(f"line {number}: a plural entry needs msgstr[0], msgstr[1]...")
        _set(current, target, _unquote(rest, number))
    close()
    return entries


def _set(entry: _Entry, target: tuple[str, int], value: str) -> None:
    keyword, index = target
    if keyword == "msgctxt":
        entry.context = value
    elif keyword == "msgid":
        entry.msgid = value
    elif keyword == "msgid_plural":
        entry.plural_id = value
    else:
        entry.strings[index] = value


def _append(entry: _Entry, target: tuple[str, int], value: str) -> None:
    keyword, index = target
    if keyword == "msgctxt":
        entry.context = (entry.context or "") + value
    elif keyword == "msgid":
        entry.msgid = (entry.msgid or "") + value
    elif keyword == "msgid_plural":
        entry.plural_id = (entry.plural_id or "") + value
    else:
        entry.strings[index] = entry.strings.get(index, "") + value


def read_catalogue(text: str) -> Catalogue:
    """The catalogue of a .po file's text (UTF-8 decoded)."""
    entries = [e for e in _entries(text) if not e.obsolete]
    header = next((e.strings.get(0, "") for e in entries
                   if not e.msgid and e.context is None), "")
    nplurals, _ = _plural_rule(header)
    messages: dict[Key, str] = {}
    for entry in entries:
        msgid = entry.msgid or ""
        if entry.fuzzy and msgid:
            continue  # as Babel's write_mo: a fuzzy header stays, fuzzy messages go
        key = msgid if entry.context is None else entry.context + CONTEXT_SEPARATOR + msgid
        if entry.plural_id is None:
            string = entry.strings.get(0, "")
            if string or not msgid:
                messages[key] = string
            continue
        ids = (msgid, entry.plural_id)
        # As many forms as the header says (Babel drops the others); an empty
        # form shows the msgid or msgid_plural.
        for index in range(nplurals):
            messages[(key, index)] = entry.strings.get(index) or ids[min(index, 1)]
    return Catalogue(messages)
