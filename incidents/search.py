"""Full-text search over incidents: PostgreSQL full-text search, and the same query syntax on SQLite.

The syntax is PostgreSQL's web-search syntax on both databases: words must all appear, `"an exact phrase"`
must appear as written, `-word` (or `-"a phrase"`) must not appear, and `or` between two terms accepts either.
PostgreSQL stems words (`outages` finds `outage`); SQLite matches them as substrings, case-insensitively.

On PostgreSQL the document expression below is the one indexed by migration 0003 (a GIN index), so a
search reads the index instead of every row. Keep the two in step.

A query that is a number (`12`) also finds the items with that number; `#12` finds only them. References
(`INC-12`, `NM-7`) are looked up by the list's filter before the text is searched.
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


_NUMBER = re.compile(r"^(#?)(\d{1,9})$")
# A term: an optional "-", then a quoted phrase (the closing quote may be missing) or a run of non-spaces.
_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def number_query(query: str) -> tuple[int, bool] | None:
    """The item number a query names, and whether it names only that (`#12`) or also text (`12`)."""
    match = _NUMBER.match(query.strip())
    return (int(match.group(2)), bool(match.group(1))) if match else None


def search_incidents(queryset: QuerySet, query: str) -> QuerySet:
    """Items matching `query` in the syntax above, on either database."""
    query = (query or "").strip()[:MAX_QUERY_LENGTH]
    if not query:
        return queryset
    number = number_query(query)
    if number and number[1]:
        return queryset.filter(number=number[0])
    text = _postgresql_match(queryset, query) if connection.vendor == "postgresql" else _sqlite_match(query)
    if number:
        text = Q(number=number[0]) | Q(text)
    return queryset.filter(text) if text is not None else queryset.none()


def _postgresql_match(queryset: QuerySet, query: str) -> Q:
    table = queryset.model._meta.db_table
    # The query text is a bound parameter; the SQL around it is built from constants.
    matches = RawSQL(  # noqa: S611 - fixed SQL, the search terms are parameters  # nosec B611
        f"{search_document_sql(table)} @@ websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)",
        [query],
        output_field=BooleanField(),
    )
    return Q(matches)


def _sqlite_match(query: str) -> Q | None:
    """The web-search syntax as a condition: every term ANDed, `or` joining its neighbours, `-` negating.
    None when the query holds no word (it matches nothing, as an empty tsquery does)."""
    clauses: list[Q] = []
    join_next = False
    terms = 0
    for match in _TERM.finditer(query):
        negated, phrase, word = match.group(1) == "-", match.group(2), match.group(3)
        if word is not None:
            if word.lower() == "or":
                join_next = bool(clauses)
                continue
            negated = word.startswith("-")
            words = re.findall(r"\w+", word.lower())
        else:
            words = [" ".join(re.findall(r"\w+", phrase.lower()))] if re.search(r"\w", phrase) else []
        if not words or terms >= MAX_TERMS:
            continue
        terms += 1
        condition = Q()
        for text in words:
            condition &= _in_any_field(text)
        condition = ~condition if negated else condition
        if join_next:
            clauses[-1] |= condition
        else:
            clauses.append(condition)
        join_next = False
    if not clauses:
        return None
    combined = Q()
    for clause in clauses:
        combined &= clause
    return combined


def _in_any_field(text: str) -> Q:
    any_field = Q()
    for name in SEARCHED_FIELDS:
        any_field |= Q(**{f"{name}__icontains": text})
    return any_field
