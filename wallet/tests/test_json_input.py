"""Outside JSON is refused when it nests deeper than anything we accept, before it is decoded."""

from decimal import Decimal

import pytest

from wallet.json_input import MAX_DEPTH, JSONTooDeep, json_depth_check, json_parse


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_document_at_the_limit_parses_and_one_level_more_is_refused():
    assert json_parse(nested(MAX_DEPTH)) is not None
    with pytest.raises(JSONTooDeep, match=f"deeper than {MAX_DEPTH}"):
        json_parse(nested(MAX_DEPTH + 1))


def test_fifty_thousand_open_brackets_are_refused_without_recursing():
    with pytest.raises(JSONTooDeep):
        json_parse(b"[" * 50_000)
    with pytest.raises(ValueError):
        json_parse('{"a":' * 50_000)


@pytest.mark.parametrize(
    "text",
    [
        '{"memo": "' + "[" * 1000 + '"}',
        '{"memo": "a \\" quoted ' + "{" * 1000 + '"}',
        '["\\\\", "' + "[" * 1000 + '"]',
    ],
    ids=["brackets-in-a-string", "escaped-quote", "escaped-backslash"],
)
def test_brackets_inside_strings_are_text(text):
    json_depth_check(text.encode())
    assert json_parse(text)


def test_the_decoder_options_are_passed_on():
    assert json_parse('{"amount": 1.10}', parse_float=Decimal) == {"amount": Decimal("1.10")}
