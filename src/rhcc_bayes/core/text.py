"""Lookalike Unicode in codes and labels: characters that read as ASCII but are not.

A treatment code typed as ``TАCE`` with a Cyrillic ``А`` is a different code from
``TACE``: with an open-world taxonomy it silently becomes a new treatment, elsewhere it
is "unknown" with no hint why. :func:`lookalike_problem` names the character, its code
point and Unicode name. Other non-ASCII text (``müller_12``) is left alone.
"""

from __future__ import annotations

import unicodedata

# Cyrillic and Greek letters drawn like Latin ones (the common confusables).
_CONFUSABLE: dict[str, str] = dict(zip(
    "АВЕКМНОРСТУХаеорсухіјѕІЈЅԁԛԝ"
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοντ",
    "ABEKMHOPCTYXaeopcyxijsIJSdqw"
    "ABEZHIKMNOPTYXovt",
))
_DASHES = {"\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63",
           "\uff0d"}


def _looks_like(ch: str) -> str | None:
    """The ASCII text ``ch`` passes for ("" for an invisible character), or None."""
    if ch in _CONFUSABLE:
        return _CONFUSABLE[ch]
    if ch in _DASHES:
        return "-"
    if unicodedata.category(ch) in ("Cf", "Zs", "Zl", "Zp", "Cc"):
        return ""
    folded = unicodedata.normalize("NFKC", ch)
    if folded.isascii() and folded.strip():
        return folded
    return None


def lookalike_chars(text: str) -> list[tuple[str, str]]:
    """``(character, ASCII it looks like)`` for every lookalike character of ``text``."""
    if text.isascii():
        return []
    out = []
    for ch in dict.fromkeys(text):
        if not ch.isascii():
            like = _looks_like(ch)
            if like is not None:
                out.append((ch, like))
    return out


def describe_char(ch: str) -> str:
    """``U+0410 CYRILLIC CAPITAL LETTER A ('А')``."""
    name = unicodedata.name(ch, "unnamed character")
    return f"U+{ord(ch):04X} {name} ({ch!r})"


def lookalike_note(text: str) -> str | None:
    """``"contains U+0410 ... which looks like 'A'"`` for ``text``, or None."""
    found = lookalike_chars(text)
    if not found:
        return None
    parts = [f"{describe_char(ch)}, which looks like {like!r}" if like else
             f"{describe_char(ch)}, an invisible or space character" for ch, like in found]
    return f"contains {'; '.join(parts)}"


def lookalike_problem(text: str) -> str | None:
    """A message for ``text`` with lookalike characters, or None when it has none.

    Examples
    --------
    >>> lookalike_problem("TАCE")
    "'TАCE' contains U+0410 CYRILLIC CAPITAL LETTER A ('А'), which looks like 'A'; type it in plain ASCII"
    """
    note = lookalike_note(text)
    return None if note is None else f"{text!r} {note}; type it in plain ASCII"
