import django.db.models.deletion
from django.db import migrations, models


def fill_teams(apps, schema_editor):
    """Existing deliveries are their hook's team's, or their token's (Slack's have neither and keep none)."""
    HookDelivery = apps.get_model("incidents", "HookDelivery")
    for delivery in HookDelivery.objects.filter(team__isnull=True).select_related("hook", "token").iterator():
        owner = delivery.hook or delivery.token
        if owner is not None:
            HookDelivery.objects.filter(pk=delivery.pk).update(team_id=owner.team_id)


class Migration(migrations.Migration):
    """The delivery ids of the receivers are unique per team: one event sent to two teams' hooks is each one's."""

    dependencies = [
        ("incidents", "0017_sentry_datadog_hooks"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="hookdelivery",
            name="hookdelivery_unique_source_delivery",
        ),
        migrations.AddField(
            model_name="hookdelivery",
            name="team",
            field=models.ForeignKey(
                blank=True,
                help_text="The team the delivery was for (its hook's or token's); none for Slack.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="incidents.team",
            ),
        ),
        migrations.RunPython(fill_teams, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="hookdelivery",
            constraint=models.UniqueConstraint(
                condition=models.Q(models.Q(("delivery_id", ""), _negated=True), ("team__isnull", True)),
                fields=("source", "delivery_id"),
                name="hookdelivery_unique_source_delivery",
            ),
        ),
        migrations.AddConstraint(
            model_name="hookdelivery",
            constraint=models.UniqueConstraint(
                condition=models.Q(models.Q(("delivery_id", ""), _negated=True), ("team__isnull", False)),
                fields=("source", "team", "delivery_id"),
                name="hookdelivery_unique_team_delivery",
            ),
        ),
    ]
