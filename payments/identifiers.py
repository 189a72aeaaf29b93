"""Normalising, checking and masking payout identifiers before they are sealed.

Error messages never repeat the value: they end up in API responses and logs.
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from wallet import errors

_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_BANK_CODE = re.compile(r"^[A-Z]{2,10}$")
_CARD_SEPARATORS = re.compile(r"[\s-]")
# A mainland mobile number (11 digits from 13x to 19x), optionally written with +86 / 0086 / 86.
_MAINLAND_MOBILE = re.compile(r"^(?:\+?0{0,2}86)?(1[3-9][0-9]{9})$")
_PHONE_SEPARATORS = re.compile(r"[\s()-]")
# Alipay takes login ids of up to 100 characters.
ALIPAY_LOGIN_MAX_LENGTH = 100
# Letters (any script), then letters, spaces, the middle dot of minority names (·), dots,
# apostrophes and hyphens: never digits or symbols. Alipay compares it with the real name.
_REAL_NAME = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ ·.'\-])*$")
REAL_NAME_MAX_LENGTH = 50


def card_number_normalise(raw: str) -> str:
    """Digits only, 12 to 19 of them, with a valid Luhn check digit."""
    digits = _CARD_SEPARATORS.sub("", raw or "")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise errors.ValidationFailed(
            _("A card number has 12 to 19 digits."), fields={"card_number": _("A card number has 12 to 19 digits.")}
        )
    if not luhn_valid(digits):
        raise errors.ValidationFailed(
            _("The card number is not valid."), fields={"card_number": _("The card number's check digit is wrong.")}
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
            _("Not a WeChat openid."), fields={"openid": _("An openid is 6 to 64 letters, digits, '_' or '-'.")}
        )
    return openid


def bank_code_normalise(raw: str) -> str:
    code = (raw or "").strip().upper()
    if not _BANK_CODE.match(code):
        raise errors.ValidationFailed(
            _("Not a bank code."), fields={"bank_code": _("A bank code is 2 to 10 letters, such as ICBC.")}
        )
    return code


def holder_name_normalise(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= 64:
        raise errors.ValidationFailed(
            _("The card holder's name is required."),
            fields={"holder_name": _("Give the name on the card (1 to 64 characters).")},
        )
    return name


def alipay_login_normalise(raw: str) -> str:
    """An Alipay login id: a mainland mobile number (as its 11 digits) or an email (lower case)."""
    text = (raw or "").strip()
    mobile = _MAINLAND_MOBILE.match(_PHONE_SEPARATORS.sub("", text))
    if mobile:
        return mobile.group(1)
    email = text.lower()
    if not (len(email) <= ALIPAY_LOGIN_MAX_LENGTH and _email_valid(email)):
        raise errors.ValidationFailed(
            _("Not an Alipay login id."),
            fields={"login_id": _("An Alipay login id is a mainland mobile number or an email address.")},
        )
    return email


def real_name_normalise(raw: str) -> str:
    """The payee's real name as Alipay registered it: Alipay refuses the transfer when it differs."""
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= REAL_NAME_MAX_LENGTH or not _REAL_NAME.match(name):
        raise errors.ValidationFailed(
            _("Not a real name."),
            fields={"real_name": _("Give the account holder's real name (letters only, up to 50 characters).")},
        )
    return name


def alipay_login_mask(login_id: str) -> str:
    """``138****5678`` for a mobile number, ``a***@example.com`` for an email."""
    if "@" in login_id:
        local, _, domain = login_id.partition("@")
        return f"{local[0]}***@{domain}"
    return f"{login_id[:3]}****{login_id[-4:]}"


def _email_valid(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def card_number_mask(digits: str) -> str:
    return f"**** {digits[-4:]}"


def openid_mask(openid: str) -> str:
    """Ends only, never more than half of it: real openids are 28 characters."""
    shown = 3 if len(openid) >= 14 else 1
    return f"{openid[:shown]}***{openid[-shown:]}"


def name_mask(name: str) -> str:
    """The first character, then one star per remaining character: "张**", "J*********"."""
    return name[0] + "*" * (len(name) - 1)
