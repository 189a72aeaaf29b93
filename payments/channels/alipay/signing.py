"""Alipay open platform RSA2 (SHA256withRSA, PKCS#1 v1.5, base64), shared by our adapter and the
sandbox that plays Alipay.

- Requests: every parameter but ``sign`` and the empty ones, sorted by name, joined as
  ``k=v&k=v`` with the values as they are (not URL-encoded), signed with the app private key.
- Answers: the exact text of the ``<method>_response`` object as it stands in the body, signed
  with Alipay's key; the signature sits beside it (``"sign"``).
- Async notifies: every parameter but ``sign`` and ``sign_type`` (empty ones included), sorted,
  joined the same way, URL-decoded values, signed with Alipay's key.

The tests check all of it against messages built by hand, so a mistake shared by both sides
of the sandbox still shows.
"""

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

SIGN_TYPE = "RSA2"
# Alipay writes every time (timestamp, time_expire, gmt_payment, notify_time) in China time.
CHINA = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


class AnswerUnreadable(Exception):
    """An answer body that is not Alipay's ``{"<node>": {...}, "sign": "..."}``; says why."""


@lru_cache(maxsize=16)
def private_key_load(text: str) -> RSAPrivateKey:
    """A PEM, or the bare base64 DER (PKCS#8 or PKCS#1) that Alipay's key tool prints."""
    if "-----BEGIN" in text:
        key: object = serialization.load_pem_private_key(text.encode(), password=None)
    else:
        key = serialization.load_der_private_key(_der(text), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@lru_cache(maxsize=16)
def public_key_load(text: str) -> RSAPublicKey:
    """A PEM, or the bare base64 DER the open platform's console shows as "支付宝公钥"."""
    if "-----BEGIN" in text:
        key: object = serialization.load_pem_public_key(text.encode())
    else:
        key = serialization.load_der_public_key(_der(text))
    if not isinstance(key, RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def request_content(params: Mapping[str, str]) -> str:
    """What a request's ``sign`` covers (``sign_type`` included, empty values left out)."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "sign" and params[key] != "")


def notify_content(params: Mapping[str, str]) -> str:
    """What an async notify's ``sign`` covers (neither ``sign`` nor ``sign_type``)."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in ("sign", "sign_type"))


def signature_create(private_key: RSAPrivateKey, content: str) -> str:
    return base64.b64encode(private_key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def signature_valid(public_key: RSAPublicKey, content: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, content.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):  # binascii.Error is a ValueError.
        return False
    return True


def answer_create(private_key: RSAPrivateKey, node: str, payload: Mapping[str, object]) -> str:
    """An answer body as Alipay writes it: the node's compact JSON, and its signature (sandbox)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f'{{"{node}":{text},"sign":"{signature_create(private_key, text)}"}}'


def answer_split(body: str) -> dict[str, str]:
    """The raw text of each top-level member of a JSON object, exactly as it stands in ``body``:
    the signature covers those characters, not a re-serialisation of them."""
    members: dict[str, str] = {}
    position = _skip(body, 0)
    if body[position : position + 1] != "{":
        raise AnswerUnreadable("not a JSON object")
    position = _skip(body, position + 1)
    if body[position : position + 1] == "}":
        return members
    while True:
        try:
            key, position = _DECODER.raw_decode(body, position)
            position = _skip(body, position)
            if not isinstance(key, str) or body[position : position + 1] != ":":
                raise AnswerUnreadable("a member without a name")
            start = _skip(body, position + 1)
            _, position = _DECODER.raw_decode(body, start)
        except ValueError as exc:
            raise AnswerUnreadable("not JSON") from exc
        if key in members:
            raise AnswerUnreadable(f"{key[:64]} given twice")
        members[key] = body[start:position]
        position = _skip(body, position)
        separator = body[position : position + 1]
        if separator == "}" and not body[position + 1 :].strip(_WHITESPACE):
            return members
        if separator != ",":
            raise AnswerUnreadable("not a JSON object")
        position = _skip(body, position + 1)


def time_format(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in China time; refuses a naive datetime (whose zone is a guess)."""
    if moment.tzinfo is None:
        raise ValueError("Alipay times need an aware datetime")
    return moment.astimezone(CHINA).strftime(TIME_FORMAT)


def time_parse(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA)


def constant_time_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def _der(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError("neither PEM nor base64") from exc
