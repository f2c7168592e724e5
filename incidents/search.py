"""Full-text search over incidents: PostgreSQL full-text search, and a plain word match on SQLite.

On PostgreSQL the document expression below is the one indexed by migration 0003 (a GIN index), so a
search reads the index instead of every row. Keep the two in step.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

SEARCH_CONFIG = "english"
SEARCHED_FIELDS = ("title", "summary", "potential_impact", "trigger", "body")
MAX_QUERY_LENGTH = 200
MAX_TERMS = 8


def search_document_sql(table: str | None = None) -> str:
    prefix = f'"{table}".' if table else ""
    parts = " || ' ' || ".join(f"coalesce({prefix}\"{name}\", '')" for name in SEARCHED_FIELDS)
    return f"to_tsvector('{SEARCH_CONFIG}'::regconfig, {parts})"


def search_terms(query: str) -> list[str]:
    """The words of a query, lower-cased, at most MAX_TERMS of them."""
    return re.findall(r"\w+", query[:MAX_QUERY_LENGTH].lower())[:MAX_TERMS]


def search_incidents(queryset: QuerySet, query: str) -> QuerySet:
    """Items matching every word of `query` (PostgreSQL: web-search syntax with stemming)."""
    query = (query or "").strip()[:MAX_QUERY_LENGTH]
    if not query:
        return queryset
    if connection.vendor == "postgresql":
        table = queryset.model._meta.db_table
        # The query text is a bound parameter; the SQL around it is built from constants.
        matches = RawSQL(  # noqa: S611 - fixed SQL, the search terms are parameters  # nosec B611
            f"{search_document_sql(table)} @@ websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)",
            [query],
            output_field=BooleanField(),
        )
        return queryset.filter(matches)
    terms = search_terms(query)
    if not terms:
        return queryset.none()
    for term in terms:
        any_field = Q()
        for name in SEARCHED_FIELDS:
            any_field |= Q(**{f"{name}__icontains": term})
        queryset = queryset.filter(any_field)
    return queryset
