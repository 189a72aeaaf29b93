"""The Simplified Chinese catalogue is complete: every entry translated, none fuzzy, the same
placeholders on both sides, and every message the Python code marks for translation present.

A gap would show staff English in the middle of Chinese pages, and a wrong placeholder would
raise where the text is formatted (docs/OPERATIONS.md, "Languages")."""

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

from config import locales

CATALOGUE = locales.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# Django's lazy and no-op variants beside Babel's defaults (gettext, ngettext, _, ...).
KEYWORDS = DEFAULT_KEYWORDS | {
    "gettext_lazy": None,
    "ngettext_lazy": (1, 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext_lazy": ((1, "c"), 2, 3),
    "gettext_noop": None,
}
# Migrations record model state as it was; tests are not shown to anyone.
NOT_EXTRACTED = ("migrations", "tests")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdfr]|%[sdfr]|\{\w*\}")


def catalogue() -> Catalog:
    with CATALOGUE.open("rb") as po_file:
        return read_po(po_file, abort_invalid=True)


def translated_entries() -> list[Message]:
    return [message for message in catalogue() if message.id]


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def python_sources() -> list[Path]:
    sources = []
    for package in locales.BASE_DIR.iterdir():
        if (package / "__init__.py").is_file():
            sources += [
                path for path in package.rglob("*.py") if not set(path.relative_to(package).parts) & set(NOT_EXTRACTED)
            ]
    return sorted(sources)


def test_the_catalogue_has_entries():
    assert len(translated_entries()) > 15


def test_every_entry_is_translated_and_none_is_fuzzy():
    untranslated = [message.id for message in translated_entries() if message.fuzzy or not all(_forms(message.string))]

    assert untranslated == []


def test_each_translation_keeps_the_placeholders_of_its_message():
    mismatched = []
    for message in translated_entries():
        # Chinese has one form, written after the plural message.
        original = message.id if isinstance(message.id, str) else message.id[-1]
        for form in _forms(message.string):
            if placeholders(form) != placeholders(original):
                mismatched.append((original, form))

    assert mismatched == []


def test_every_message_the_python_code_marks_is_in_the_catalogue():
    known = {(message.context, _singular(message.id)) for message in catalogue()}
    missing = []
    for path in python_sources():
        for _lineno, text, _comments, context in extract_from_file("python", path, keywords=KEYWORDS):
            if _singular(text) and (context, _singular(text)) not in known:
                missing.append(f"{path.relative_to(locales.BASE_DIR)}: {_singular(text)}")

    assert missing == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%(order_no)s of %(amount)s", ["%(order_no)s", "%(amount)s"]),
        ("{count} rows, %s", ["{count}", "%s"]),
        ("100% done", []),
    ],
)
def test_placeholders_are_read_in_both_styles(text, expected):
    assert placeholders(text) == Counter(expected)


def _forms(string: str | Sequence[str] | None) -> tuple[str, ...]:
    return (string,) if isinstance(string, str) else tuple(string or ())


def _singular(message_id: str | Sequence[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]
