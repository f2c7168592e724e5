"""PostgreSQL only: a GIN index over the full-text search document of incidents (incidents/search.py).

Serves selectors.incident_list with a `q` search on the web list and the API. SQLite searches without it.
"""

from django.db import migrations

INDEX = "incident_search_document_idx"
# Frozen copy of incidents.search.search_document_sql(); tests/test_filters.py keeps them equal.
DOCUMENT = (
    "to_tsvector('english'::regconfig, coalesce(\"title\", '') || ' ' || coalesce(\"summary\", '') || ' ' || "
    "coalesce(\"potential_impact\", '') || ' ' || coalesce(\"trigger\", '') || ' ' || coalesce(\"body\", ''))"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON incidents_incident USING gin (({DOCUMENT}))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_seed_taxonomy")]

    operations = [migrations.RunPython(create, drop)]
