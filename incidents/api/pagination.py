from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from incidents.paginators import CAP, CappedPaginator


class Pagination(PageNumberPagination):
    """`?page=2&page_size=100`; 50 a page by default, 200 at most.

    `count` is exact up to 1,000 items past the page's first; beyond that `count_capped` is true and `count`
    is a lower bound, so that a list of a million items is not counted for every page.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data) -> Response:
        response = super().get_paginated_response(data)
        response.data["count_capped"] = self.page.paginator.capped
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        result = super().get_paginated_response_schema(schema)
        result["properties"]["count_capped"] = {
            "type": "boolean",
            "description": f"True when there are more items than counted: `count` stops {CAP:,} items past the"
            " first item of the page and is then a lower bound.",
        }
        return result
