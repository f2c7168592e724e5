"""Confidential near-misses get their own numbers (CNM-n); action items get random ids; the trail forgets
confidential reporters.

1. Numbers are unique per sequence (kind, confidential, number) instead of per kind.
2. Existing confidential near-misses move to CNM-1, CNM-2, ... in their old NM number order, and the
   "near_miss_confidential" counter continues from there. Public NM numbers are left as they are: the gaps
   the moved items leave in old data cannot be closed without renaming items people have already cited.
3. New action items take random ids (incidents.models.random_action_item_id); existing rows keep theirs.
4. The audit entries that filed a confidential near-miss, and any entry or revision of such an item that
   names its reporter while the identity is still held, no longer name anyone.
"""

from __future__ import annotations

from django.db import migrations, models

import incidents.models

CONFIDENTIAL_SEQUENCE = "near_miss_confidential"
CONFIDENTIAL_ACTOR_LABEL = "confidential reporter"


def renumber_confidential(apps, schema_editor) -> None:
    """Ascending old numbers onto 1, 2, ...: each new number is at most the old one, so no two rows of the
    confidential sequence ever hold the same number on the way."""
    Incident = apps.get_model("incidents", "Incident")
    IncidentCounter = apps.get_model("incidents", "IncidentCounter")
    confidential = Incident.objects.filter(kind="near_miss", confidential=True).order_by("number", "id")
    last = 0
    for last, pk in enumerate(confidential.values_list("pk", flat=True), start=1):
        Incident.objects.filter(pk=pk).update(number=last)
    IncidentCounter.objects.update_or_create(kind=CONFIDENTIAL_SEQUENCE, defaults={"last_number": last})


def scrub_confidential_reporters(apps, schema_editor) -> None:
    Incident = apps.get_model("incidents", "Incident")
    ActionItem = apps.get_model("incidents", "ActionItem")
    AuditEntry = apps.get_model("incidents", "AuditEntry")
    IncidentRevision = apps.get_model("incidents", "IncidentRevision")
    ConfidentialReporter = apps.get_model("incidents", "ConfidentialReporter")
    ContentType = apps.get_model("contenttypes", "ContentType")
    incident_type = ContentType.objects.filter(app_label="incidents", model="incident").first()
    item_type = ContentType.objects.filter(app_label="incidents", model="actionitem").first()
    if incident_type is None:
        return  # a fresh database: nothing was ever audited
    confidential_ids = [str(pk) for pk in Incident.objects.filter(confidential=True).values_list("pk", flat=True)]
    AuditEntry.objects.filter(content_type=incident_type, object_id__in=confidential_ids, action="created").update(
        actor=None, actor_label=CONFIDENTIAL_ACTOR_LABEL
    )
    for held in ConfidentialReporter.objects.filter(user__isnull=False).select_related("user"):
        of_item = models.Q(content_type=incident_type, object_id=str(held.incident_id))
        if item_type is not None:
            item_ids = ActionItem.objects.filter(incident_id=held.incident_id).values_list("pk", flat=True)
            of_item |= models.Q(content_type=item_type, object_id__in=[str(pk) for pk in item_ids])
        named = models.Q(actor_id=held.user_id) | models.Q(actor_label=held.user.username)
        AuditEntry.objects.filter(of_item & named).update(actor=None, actor_label=CONFIDENTIAL_ACTOR_LABEL)
        IncidentRevision.objects.filter(incident_id=held.incident_id, author_id=held.user_id).update(author=None)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_report_audience"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="incident",
            name="incident_unique_kind_number",
        ),
        migrations.AlterField(
            model_name="incidentcounter",
            name="kind",
            field=models.CharField(max_length=30, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name="actionitem",
            name="id",
            field=models.BigIntegerField(
                default=incidents.models.random_action_item_id, editable=False, primary_key=True, serialize=False
            ),
        ),
        migrations.AddConstraint(
            model_name="incident",
            constraint=models.UniqueConstraint(
                fields=("kind", "confidential", "number"), name="incident_unique_sequence_number"
            ),
        ),
        # Data last: on PostgreSQL no schema change may follow row updates in the same transaction.
        migrations.RunPython(renumber_confidential, migrations.RunPython.noop),
        migrations.RunPython(scrub_confidential_reporters, migrations.RunPython.noop),
    ]
