"""A paginator that never counts a million rows to show one page.

Counting every match of a list query costs as much as reading them all. CappedPaginator reads at most CAP
ids past the requested page's first row, in the list's order, in one query: their number is the count (exact
below the cap), and the page's rows are then fetched by id. When there are more, `capped` is set and `count`
is a lower bound (that many rows exist): pages say "more than N results", and later pages stay reachable
because each page reads ahead from itself.
"""

from __future__ import annotations

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

CAP = 1000
# How deep a list can be paged: each page reads ahead from its own start, so a page past this many rows would
# read (and a page number past the database's integers would overflow) for nothing a person pages to.
MAX_DEPTH = 1_000_000


class CappedPaginator(Paginator):
    cap = CAP

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._from_page = 1
        self._ids: list | None = None
        self.capped = False

    def validate_number(self, number) -> int:
        try:
            wanted = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if (wanted - 1) * self.per_page >= MAX_DEPTH:
            raise EmptyPage(f"Pages go {MAX_DEPTH:,} items deep at most; narrow the list with filters.")
        if "count" not in self.__dict__ and wanted > 1:
            self._from_page = wanted
        return super().validate_number(wanted)

    @cached_property
    def count(self) -> int:
        """Exact up to `cap` rows past the start of the requested page; otherwise that many plus one."""
        if not isinstance(self.object_list, QuerySet):
            return len(self.object_list)
        limit = (self._from_page - 1) * self.per_page + self.cap + 1
        self._ids = list(self.object_list.values_list("pk", flat=True)[:limit])
        self.capped = len(self._ids) == limit
        return len(self._ids)

    @property
    def count_shown(self) -> int:
        """What the page says: the exact count, or the N of "more than N"."""
        return self.count - 1 if self.capped else self.count

    def page(self, number) -> Page:
        number = self.validate_number(number)
        items = self.object_list
        if self._ids is None or not isinstance(items, QuerySet):  # ids are read only from a queryset (count)
            return super().page(number)
        bottom = (number - 1) * self.per_page
        ids = self._ids[bottom : bottom + self.per_page]
        # The same queryset (ordering, select_related, prefetches) narrowed to the page's ids.
        # Paginator._get_page is Django's documented hook for subclasses; the stubs omit it.
        return self._get_page(items.filter(pk__in=ids), number, self)  # type: ignore[attr-defined]
