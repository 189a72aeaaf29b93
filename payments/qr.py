"""QR codes of WeChat native payments (``code_url``), drawn by segno: the API returns them as
data URIs (SVG and PNG) and the admin shows them."""

import segno

# Medium error correction survives a slightly damaged or partly covered screen; a border of 2
# modules is enough on a white page.
ERROR_CORRECTION = "m"
BORDER = 2


def qr_svg_data_uri(text: str, *, scale: int = 4) -> str:
    return segno.make(text, error=ERROR_CORRECTION).svg_data_uri(scale=scale, border=BORDER)


def qr_png_data_uri(text: str, *, scale: int = 4) -> str:
    return segno.make(text, error=ERROR_CORRECTION).png_data_uri(scale=scale, border=BORDER)
