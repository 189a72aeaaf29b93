"""QR codes of WeChat native payments (``code_url``), drawn by segno: the API returns them as
data URIs (SVG and PNG) and the admin shows them."""

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
