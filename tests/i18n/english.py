"""Finds English left in a text meant to be Spanish.

A word list, not a language model: these are English function and product words that are not
Spanish words, so one of them in a Spanish page is an untranslated string (names, addresses and
product names are removed first by the caller)."""

import html
import re

ENGLISH_ONLY = frozenset(
    """
    the your you we our us please will would not with and this that these those for from have
    has been are is was were be can cannot could should must may if or by on of to at an it its
    account number code call calls calling fee fees bill billing service effective confirmed
    confirm confirmation enter find found opt out date next meter read reads free window day
    days month months change changed cancel cancelled thank thanks goodbye sorry again press key
    pound star representative hours business only also when where which who what how why there
    here about after before until between stay switch product rates rate return returned notice
    notices letter mail mailed customer customers electricity energy power utility bundled
    transitional advance standard minimum charge charges administrative recovery none yes no-fee
    expired session review request requests received time times try attempts
    """.split()  # noqa: SIM905 (a word list reads better as words)
)
# Spanish words spelt like an English one on that list.
SPANISH_TOO = frozenset({"no", "a", "de", "son", "come", "fin", "pie", "once", "real", "total"})
WORD = re.compile(r"[A-Za-zÁÉÍÓÚÑÜáéíóúñü]+(?:'[a-z]+)?")


def visible_text(markup: str) -> str:
    """The text a reader sees (or a voice says): tags, scripts and styles removed."""
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    markup = re.sub(r"(?s)<!--.*?-->", " ", markup)
    # A passage marked as English (the "For English, call…" line, a form's official English
    # title) is English on purpose, and marked so for screen readers (WCAG 3.1.2).
    markup = re.sub(r'(?is)<(?!html\b)(\w+)\b[^>]*\blang="en"[^>]*>.*?</\1>', " ", markup)
    # Alternative text and labels are read aloud by screen readers: keep them.
    attrs = " ".join(re.findall(r'(?:alt|aria-label|title|placeholder)="([^"]*)"', markup))
    return html.unescape(re.sub(r"(?s)<[^>]+>", " ", markup) + " " + attrs)


def english_in(text: str, *, allowed: tuple[str, ...] = ()) -> list[str]:
    """Each English word in `text`, with a few words around it, after removing `allowed`
    (proper names: the program, the utility, products, the customer's own data)."""
    for phrase in sorted(allowed, key=len, reverse=True):
        if phrase:
            text = re.sub(re.escape(phrase), " ", text, flags=re.I)
    text = re.sub(r"\S+@\S+|https?://\S+|\b[\w.-]+\.(?:org|com|net|gov)\S*", " ", text)
    found = []
    words = list(WORD.finditer(text))
    for i, m in enumerate(words):
        w = m.group(0).lower()
        if w in ENGLISH_ONLY and w not in SPANISH_TOO:
            around = " ".join(x.group(0) for x in words[max(0, i - 4) : i + 5])
            found.append(f"{m.group(0)!r} in …{around}…")
    return found
