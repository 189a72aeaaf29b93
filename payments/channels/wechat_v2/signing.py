"""WeChat Pay v2 wire helpers shared by the adapter and the sandbox: the parameter signature
(MD5 or HMAC-SHA256 over the sorted non-empty parameters plus ``&key=``) and the flat ``<xml>``
documents the API speaks.

Parsing refuses any DTD: a DOCTYPE or entity declaration is how XXE and entity-expansion bombs
arrive, and WeChat never sends one.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from enum import StrEnum
from xml.parsers import expat


class SignType(StrEnum):
    MD5 = "MD5"
    HMAC_SHA256 = "HMAC-SHA256"


class XmlRefused(ValueError):
    """A body that is not a flat, DTD-free ``<xml>`` document."""


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


def xml_encode(fields: Mapping[str, str | int]) -> bytes:
    """``<xml><key><![CDATA[text]]></key>…</xml>``; integers bare, as WeChat writes them."""
    parts = ["<xml>"]
    for key, value in fields.items():
        if not _NAME.fullmatch(key):
            raise ValueError(f"not an XML element name: {key!r}")
        text = str(value) if isinstance(value, int) else _cdata(value)
        parts.append(f"<{key}>{text}</{key}>")
    parts.append("</xml>")
    return "".join(parts).encode()


def xml_decode(body: bytes) -> dict[str, str]:
    """The text of each child of the root, by tag. Refuses DTDs, nesting and repeated tags."""
    return _FlatXml().parse(body)


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: close it and open another between "]]" and ">".
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class _FlatXml:
    """An expat pass that never reads a DTD: the declaration itself aborts the parse."""

    def __init__(self) -> None:
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
        if self.depth == 1 and name != "xml":
            raise XmlRefused(f"root element {name} is not <xml>")
        if self.depth > 2:
            raise XmlRefused("nested XML elements are not expected")
        if self.depth == 2 and name in self.fields:
            raise XmlRefused(f"repeated element {name}")
        self.text.clear()

    def _end(self, name: str) -> None:
        if self.depth == 2:
            self.fields[name] = "".join(self.text)
        self.depth -= 1
