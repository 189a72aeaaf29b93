"""The API's JSON parser: DRF's, with a nesting limit (wallet.json_input), so a hostile body is
a 400 ``validation_error`` and never a 500. (DRF reads JSON bodies through ``request.body``,
where Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` already limits the size: wallet.rest.errors.)"""

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

from wallet.json_input import json_parse


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json_parse(stream.read(), parse_constant=strict_constant)
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
