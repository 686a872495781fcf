"""Typed inputs the engine accepts. Button inputs carry the `seq` they were
drawn with, so a stale or doubled press is recognised and refused."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Resume:
    """Show where the officer stands (/start, /riprendi, any message after a pause)."""


@dataclass(frozen=True, slots=True)
class TextAnswer:
    text: str


@dataclass(frozen=True, slots=True)
class Choose:
    index: int  # position of the choice in the item (yes/no: 0 = yes, 1 = no)
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Toggle:
    index: int
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class ConfirmSelection:
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Keep:
    """Keep the current answer and move on (after back or an edit jump)."""

    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Skip:
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class DontKnow:
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Back:
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Jump:
    item: str
    entry: int | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Review:
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Submit:
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Confirm:
    yes: bool
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class AddEntry:
    repeat: str
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class EditEntry:
    repeat: str
    entry: int
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class RemoveEntry:
    repeat: str
    entry: int
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class FinishRepeat:
    repeat: str
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Reopen:
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class OpenGroup:
    """From the review: a repeat group's entries, to add, edit or remove."""

    repeat: str
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class GoMissing:
    """From the review: the first required answer still missing."""

    seq: int | None = None


Input = (
    Resume | TextAnswer | Choose | Toggle | ConfirmSelection | Keep | Skip | DontKnow | Back
    | Jump | Review | Submit | Confirm | AddEntry | EditEntry | RemoveEntry | FinishRepeat
    | Reopen | OpenGroup | GoMissing
)
