"""WeChat Pay API v3 cryptography, shared by our adapter and the sandbox that plays WeChat.

- Requests: ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,
  timestamp=…,serial_no=…``, SHA256withRSA (PKCS#1 v1.5) over
  ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`` with the merchant key.
- Responses and notifies: ``Wechatpay-Timestamp/-Nonce/-Signature/-Serial`` headers, the same
  signature over ``TIMESTAMP\\nNONCE\\nBODY\\n`` with the platform key.
- Notify resources: AEAD_AES_256_GCM under the 32-byte API v3 key.
- Sensitive fields (``user_name``): RSA-OAEP (SHA-1) under the platform public key.

The tests check all of it against messages built by hand, so a mistake shared by both sides
of the sandbox still shows.
"""

import base64
import hmac
import re
import secrets
import string
import time
from collections.abc import Mapping
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
# WeChat refuses requests, and we refuse answers, signed more than five minutes away from now.
TIMESTAMP_TOLERANCE_SECONDS = 300
_NONCE_ALPHABET = string.ascii_letters + string.digits
_AUTHORIZATION_FIELD = re.compile(r'(\w+)="([^"]*)"')


class SignatureInvalid(Exception):
    """A signature, serial, timestamp or ciphertext that does not check out; says which."""


@lru_cache(maxsize=16)
def private_key_load(pem: str) -> RSAPrivateKey:
    """Parse once per process: loading validates the key, which is slow for RSA."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@lru_cache(maxsize=16)
def public_key_load(pem: str) -> RSAPublicKey:
    """A platform public key (public-key mode) or a platform certificate (certificate mode)."""
    if "BEGIN CERTIFICATE" in pem:
        key: object = x509.load_pem_x509_certificate(pem.encode()).public_key()
    else:
        key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def nonce_new(length: int = 32) -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def request_message(*, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def response_message(*, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def signature_create(private_key: RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def signature_valid(public_key: RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def authorization_create(
    *, mchid: str, serial: str, private_key: RSAPrivateKey, method: str, path: str, body: bytes
) -> str:
    """The ``Authorization`` header of one request; ``path`` is the URL's path and query."""
    timestamp, nonce = str(int(time.time())), nonce_new()
    message = request_message(method=method, path=path, timestamp=timestamp, nonce=nonce, body=body)
    signature = signature_create(private_key, message)
    return (
        f'{SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


def authorization_parse(header: str) -> dict[str, str] | None:
    """The fields of an ``Authorization`` header, or None when it is not a v3 one."""
    scheme, _, rest = header.partition(" ")
    if scheme != SCHEME:
        return None
    fields = dict(_AUTHORIZATION_FIELD.findall(rest))
    if not {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} <= fields.keys():
        return None
    return fields


def timestamp_fresh(timestamp: str, *, now: float | None = None) -> bool:
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    return abs((time.time() if now is None else now) - moment) <= TIMESTAMP_TOLERANCE_SECONDS


def constant_time_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def wechatpay_headers_create(*, private_key: RSAPrivateKey, serial: str, body: bytes) -> dict[str, str]:
    """The headers WeChat signs its responses and notifies with (the sandbox's side)."""
    timestamp, nonce = str(int(time.time())), nonce_new()
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature_create(
            private_key, response_message(timestamp=timestamp, nonce=nonce, body=body)
        ),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SCHEME,
    }


def wechatpay_headers_verify(*, headers: Mapping[str, str], body: bytes, public_key: RSAPublicKey, serial: str) -> None:
    """Check a response or notify came from the platform key we trust, recently; raise
    ``SignatureInvalid`` otherwise."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get("wechatpay-timestamp", "")
    nonce = lowered.get("wechatpay-nonce", "")
    signature = lowered.get("wechatpay-signature", "")
    if not (timestamp and nonce and signature):
        raise SignatureInvalid("no Wechatpay signature headers")
    if not constant_time_equal(lowered.get("wechatpay-serial", ""), serial):
        raise SignatureInvalid("signed under an unknown platform serial")
    if not timestamp_fresh(timestamp):
        raise SignatureInvalid("signature timestamp more than 5 minutes off")
    if not signature_valid(public_key, response_message(timestamp=timestamp, nonce=nonce, body=body), signature):
        raise SignatureInvalid("signature does not verify")


def resource_encrypt(*, key: bytes, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """An AEAD_AES_256_GCM notify resource: base64 ciphertext (with tag), nonce, associated data."""
    nonce = nonce_new(12)
    ciphertext = AESGCM(key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def resource_decrypt(*, key: bytes, resource: Mapping[str, str]) -> bytes:
    """The plaintext of a notify resource; ``SignatureInvalid`` when it is not ours or altered."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise SignatureInvalid("resource not encrypted with AEAD_AES_256_GCM")
    try:
        return AESGCM(key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(resource["ciphertext"], validate=True),
            str(resource.get("associated_data") or "").encode(),
        )
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:  # Altered, bad base64, a field missing.
        raise SignatureInvalid("resource does not decrypt") from exc


def sensitive_encrypt(public_key: RSAPublicKey, text: str) -> str:
    return base64.b64encode(public_key.encrypt(text.encode(), _oaep())).decode()


def sensitive_decrypt(private_key: RSAPrivateKey, ciphertext: str) -> str:
    return private_key.decrypt(base64.b64decode(ciphertext, validate=True), _oaep()).decode()


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
