"""Cursor pages of the API's lists, newest first."""

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from wallet import errors

_WHOLE_NUMBER = re.compile(r"[0-9]+")


class NewestFirstCursorPagination(CursorPagination):
    """A ``page_size`` that is not a whole number from 1 is refused (400), not silently replaced
    by the default as DRF does, so a client's mistake shows; a larger one than
    ``max_page_size`` gets ``max_page_size``. A cursor this list did not give is a 404."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    page_size: int
    max_page_size: int

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) < 1:
            raise errors.ValidationFailed(
                _("page_size is a whole number from 1."), fields={self.page_size_query_param: "invalid"}
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page: {self.page_size} unless given; at most {self.max_page_size}, "
                    "a larger number gets that many."
                )
                parameter["schema"] = {"type": "integer", "minimum": 1}
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "`next` or `previous` of an earlier page; another value is a 404."
        return parameters
