from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from incidents.paginators import CAP, CappedPaginator


class Pagination(PageNumberPagination):
    """`?page=2&page_size=100`; 50 a page by default, 200 at most.

    A page size that is not a whole number from 1 to 200 is a 400 naming `page_size` (rather than silently the
    default), a page that is not a whole number from 1 a 400 naming `page`; a page past the last is a 404.

    `count` is exact up to 1,000 items past the page's first; beyond that `count_capped` is true and `count`
    is a lower bound, so that a list of a million items is not counted for every page.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ()  # `?page=last` is not a number
    django_paginator_class = CappedPaginator

    def get_page_number(self, request, paginator) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise ValidationError({self.page_query_param: ["A whole number from 1."]})
        return int(raw)

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_paginated_response(self, data) -> Response:
        response = super().get_paginated_response(data)
        page = self.page  # set by paginate_queryset, with a django_paginator_class paginator
        if page is None or not isinstance(page.paginator, CappedPaginator):
            raise TypeError("get_paginated_response before paginate_queryset, or with another paginator")
        response.data["count_capped"] = page.paginator.capped
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        result = super().get_paginated_response_schema(schema)
        # Examples of the paging fields (drf-spectacular builds each list example from them and the item's).
        result["properties"]["count"]["example"] = 1
        for name in ("next", "previous"):
            result["properties"][name]["example"] = None
        result["properties"]["count_capped"] = {
            "example": False,
            "type": "boolean",
            "description": f"True when there are more items than counted: `count` stops {CAP:,} items past the"
            " first item of the page and is then a lower bound.",
        }
        return result

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        limits = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(limits.get(parameter["name"], {}))
        return parameters
