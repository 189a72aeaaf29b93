"""Normalising, checking and masking payout identifiers before they are sealed.

Error messages never repeat the value: they end up in API responses and logs.
"""

import re

from wallet import errors

_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_BANK_CODE = re.compile(r"^[A-Z]{2,10}$")
_CARD_SEPARATORS = re.compile(r"[\s-]")


def card_number_normalise(raw: str) -> str:
    """Digits only, 12 to 19 of them, with a valid Luhn check digit."""
    digits = _CARD_SEPARATORS.sub("", raw or "")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise errors.ValidationFailed(
            "A card number has 12 to 19 digits.", fields={"card_number": "A card number has 12 to 19 digits."}
        )
    if not luhn_valid(digits):
        raise errors.ValidationFailed(
            "The card number is not valid.", fields={"card_number": "The card number's check digit is wrong."}
        )
    return digits


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def openid_normalise(raw: str) -> str:
    openid = (raw or "").strip()
    if not _OPENID.match(openid):
        raise errors.ValidationFailed(
            "Not a WeChat openid.", fields={"openid": "An openid is 6 to 64 letters, digits, '_' or '-'."}
        )
    return openid


def bank_code_normalise(raw: str) -> str:
    code = (raw or "").strip().upper()
    if not _BANK_CODE.match(code):
        raise errors.ValidationFailed(
            "Not a bank code.", fields={"bank_code": "A bank code is 2 to 10 letters, such as ICBC."}
        )
    return code


def holder_name_normalise(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= 64:
        raise errors.ValidationFailed(
            "The card holder's name is required.",
            fields={"holder_name": "Give the name on the card (1 to 64 characters)."},
        )
    return name


def card_number_mask(digits: str) -> str:
    return f"**** {digits[-4:]}"


def openid_mask(openid: str) -> str:
    """Ends only, never more than half of it: real openids are 28 characters."""
    shown = 3 if len(openid) >= 14 else 1
    return f"{openid[:shown]}***{openid[-shown:]}"


def name_mask(name: str) -> str:
    """The first character, then one star per remaining character: "张**", "J*********"."""
    return name[0] + "*" * (len(name) - 1)
