"""QR codes drawn by segno, as data URIs (SVG and PNG): WeChat native payments' ``code_url``
(payments.orders' API and admin) and users' receive codes (wallet.transfers)."""

from functools import lru_cache

import segno

# Medium error correction survives a slightly damaged or partly covered screen; a border of 2
# modules is enough on a white page.
ERROR_CORRECTION = "m"
BORDER = 2
SCALE = 4


@lru_cache(maxsize=1024)
def qr_data_uris(text: str) -> tuple[str, str]:
    """(SVG, PNG) data URIs of ``text``, encoded once: clients poll a paying order's detail, and
    its ``code_url`` never changes."""
    code = segno.make(text, error=ERROR_CORRECTION)
    return code.svg_data_uri(scale=SCALE, border=BORDER), code.png_data_uri(scale=SCALE, border=BORDER)
