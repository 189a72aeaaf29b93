"""WeChat Pay v2 wire helpers shared by the adapter and the sandbox: the parameter signature
(MD5 or HMAC-SHA256 over the sorted non-empty parameters plus ``&key=``), the flat ``<xml>``
documents the API speaks, and the AES-256-ECB ``req_info`` of refund notifies.

Parsing refuses any DTD: a DOCTYPE or entity declaration is how XXE and entity-expansion bombs
arrive, and WeChat never sends one.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from enum import StrEnum
from xml.parsers import expat

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class SignType(StrEnum):
    MD5 = "MD5"
    HMAC_SHA256 = "HMAC-SHA256"


class XmlRefused(ValueError):
    """A body that is not a flat, DTD-free ``<xml>`` document."""


class DecryptionFailed(ValueError):
    """A ``req_info`` that is not base64 of AES-256-ECB, PKCS7-padded, under this merchant's key."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sign_string_build(params: Mapping[str, object], *, api_key: str) -> str:
    """``k1=v1&k2=v2…&key=<api key>``: every non-empty parameter but ``sign``, keys in ASCII order."""
    pairs = [f"{key}={value}" for key, value in sorted(params.items()) if key != "sign" and value not in ("", None)]
    return "&".join([*pairs, f"key={api_key}"])


def params_sign(params: Mapping[str, object], *, api_key: str, sign_type: str) -> str:
    """The ``sign`` value: upper-case hex MD5, or HMAC-SHA256 keyed with the API key."""
    message = sign_string_build(params, api_key=api_key).encode()
    if sign_type == SignType.MD5:
        # MD5 is weak, but it is what legacy merchants' keys are configured for; prefer HMAC-SHA256.
        return hashlib.md5(message).hexdigest().upper()  # noqa: S324
    if sign_type == SignType.HMAC_SHA256:
        return hmac.new(api_key.encode(), message, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown WeChat v2 sign type {sign_type!r}")


def params_verify(params: Mapping[str, str], *, api_key: str, sign_type: str) -> bool:
    """Whether ``params`` carries the signature of its own content; a missing one is a failure."""
    given = params.get("sign", "")
    expected = params_sign(params, api_key=api_key, sign_type=sign_type)
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def xml_encode(fields: Mapping[str, str | int], *, root: str = "xml") -> bytes:
    """``<xml><key><![CDATA[text]]></key>…</xml>``; integers bare, as WeChat writes them. A refund
    notify's decrypted ``req_info`` is the one document whose root is ``<root>``."""
    parts = [f"<{root}>"]
    for key, value in fields.items():
        if not _NAME.fullmatch(key):
            raise ValueError(f"not an XML element name: {key!r}")
        text = str(value) if isinstance(value, int) else _cdata(value)
        parts.append(f"<{key}>{text}</{key}>")
    parts.append(f"</{root}>")
    return "".join(parts).encode()


def xml_decode(body: bytes, *, root: str = "xml") -> dict[str, str]:
    """The text of each child of the root, by tag. Refuses DTDs, nesting and repeated tags."""
    return _FlatXml(root).parse(body)


def xml_signed(fields: Mapping[str, str | int], *, api_key: str, sign_type: str) -> bytes:
    """The document of the non-empty ``fields`` plus their ``sign``: how every signed message is sent."""
    present = {key: value for key, value in fields.items() if value not in ("", None)}
    return xml_encode(present | {"sign": params_sign(present, api_key=api_key, sign_type=sign_type)})


def req_info_decrypt(req_info: str, *, api_key: str) -> bytes:
    """The plaintext of a refund notify's ``req_info``: base64, AES-256-ECB keyed with the lower-case
    hex MD5 of the API key, PKCS7. ECB carries no integrity: the plaintext must still make sense."""
    try:
        sealed = base64.b64decode(req_info, validate=True)
        decryptor = _req_info_cipher(api_key).decryptor()
        padded = decryptor.update(sealed) + decryptor.finalize()
        unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (binascii.Error, ValueError) as exc:
        raise DecryptionFailed("req_info does not decrypt under this merchant's key") from exc


def req_info_encrypt(plaintext: bytes, *, api_key: str) -> str:
    """The inverse of ``req_info_decrypt``, for the sandbox's refund notifies."""
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    encryptor = _req_info_cipher(api_key).encryptor()
    sealed = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    return base64.b64encode(sealed).decode()


def _req_info_cipher(api_key: str) -> Cipher:
    # WeChat's choice, not ours: MD5 derives the key and ECB is the mode of this v2 notify.
    key = hashlib.md5(api_key.encode()).hexdigest().encode()  # noqa: S324
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: close it and open another between "]]" and ">".
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class _FlatXml:
    """An expat pass that never reads a DTD: the declaration itself aborts the parse."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.fields: dict[str, str] = {}
        self.depth = 0
        self.text: list[str] = []

    def parse(self, body: bytes) -> dict[str, str]:
        parser = expat.ParserCreate(encoding="utf-8")
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        parser.ExternalEntityRefHandler = self._refuse_dtd
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self.text.append
        try:
            parser.Parse(body, True)
        except expat.ExpatError as exc:
            raise XmlRefused(f"malformed XML: {exc}") from exc
        return self.fields

    def _refuse_dtd(self, *_args: object) -> int:
        raise XmlRefused("XML with a DTD or entities is refused")

    def _start(self, name: str, _attributes: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 1 and name != self.root:
            raise XmlRefused(f"root element {name} is not <{self.root}>")
        if self.depth > 2:
            raise XmlRefused("nested XML elements are not expected")
        if self.depth == 2 and name in self.fields:
            raise XmlRefused(f"repeated element {name}")
        self.text.clear()

    def _end(self, name: str) -> None:
        if self.depth == 2:
            self.fields[name] = "".join(self.text)
        self.depth -= 1
