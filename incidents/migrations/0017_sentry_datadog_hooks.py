from django.db import migrations, models

SOURCES = ["alertmanager", "github", "pagerduty", "opsgenie", "grafana", "sentry", "datadog"]


class Migration(migrations.Migration):
    """Two more senders: Sentry (signed) and Datadog (bearer token)."""

    dependencies = [
        ("incidents", "0016_outbound_webhooks"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="hook", name="hook_source_valid"),
        migrations.AlterField(
            model_name="hook",
            name="source",
            field=models.CharField(
                choices=[
                    ("alertmanager", "Prometheus Alertmanager"),
                    ("github", "GitHub"),
                    ("pagerduty", "PagerDuty"),
                    ("opsgenie", "Opsgenie"),
                    ("grafana", "Grafana"),
                    ("sentry", "Sentry"),
                    ("datadog", "Datadog"),
                ],
                default="github",
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="hook",
            constraint=models.CheckConstraint(
                condition=models.Q(("source__in", SOURCES)), name="hook_source_valid"
            ),
        ),
    ]
