"""Seed the three environments with their mandates, the system-cause taxonomy and the number counters."""

from django.db import migrations

ENVIRONMENTS = [
    (
        "dev",
        "Development",
        "development",
        10,
        "Fast feedback. Broken on purpose sometimes: catching a problem here is cheap and is the point.",
    ),
    (
        "staging",
        "Staging",
        "staging",
        20,
        "Realistic integration and release-candidate rehearsal, including rollbacks, with production-like "
        "configuration and no production personal data.",
    ),
    (
        "prod",
        "Production",
        "production",
        30,
        "Boring, measurable, defended. What reaches production has passed every gate; whatever is caught "
        "here escaped the others.",
    ),
]

CAUSES = [
    ("missing-check", "Missing check", "checks", "No automated test, lint or gate would have caught this change."),
    ("unclear-ownership", "Unclear ownership", "organisation",
     "Nobody clearly owned the service, alert or decision, so nobody acted in time."),
    ("weak-monitoring", "Weak monitoring", "detection",
     "The problem was not visible in metrics, logs or alerts until someone stumbled on it."),
    ("config-drift", "Configuration drift", "change",
     "Configuration differed from what was reviewed or from other environments without anyone knowing."),
    ("environment-parity-gap", "Environment parity gap", "checks",
     "Staging or dev differs from prod in data, scale or setup, so the problem could not show up earlier."),
    ("secret-handling", "Secret handling", "data",
     "A credential was exposed, expired unnoticed, or was hard to rotate safely."),
    ("untested-rollback", "Untested rollback", "change",
     "Rolling back had never been rehearsed, or did not work when it was needed."),
    ("manual-change", "Manual change", "change",
     "A hand-made change (\"just ssh and fix\") bypassed review, automation and the audit trail."),
    ("unsafe-data-handling", "Unsafe data handling", "data",
     "Personal or production data was copied, logged or migrated without safeguards."),
    ("capacity-limit", "Capacity limit", "architecture",
     "A quota, pool, disk or rate limit was reached because nobody was tracking headroom."),
    ("dependency-failure", "Dependency failure", "architecture",
     "An upstream service or library failed and nothing contained the failure."),
    ("alert-fatigue", "Alert fatigue", "detection",
     "The signal was there but drowned in noisy or untrusted alerts."),
    ("documentation-gap", "Documentation gap", "organisation",
     "The runbook, design note or hand-over was missing, stale or hard to find."),
]


def seed(apps, schema_editor):
    Environment = apps.get_model("incidents", "Environment")
    Cause = apps.get_model("incidents", "Cause")
    IncidentCounter = apps.get_model("incidents", "IncidentCounter")
    for slug, name, kind, order, mandate in ENVIRONMENTS:
        Environment.objects.update_or_create(
            slug=slug, defaults={"name": name, "kind": kind, "promotion_order": order, "mandate": mandate}
        )
    for slug, name, category, description in CAUSES:
        Cause.objects.update_or_create(
            slug=slug, defaults={"name": name, "category": category, "description": description}
        )
    for kind in ("incident", "near_miss"):
        IncidentCounter.objects.get_or_create(kind=kind)


def unseed(apps, schema_editor):
    # Leaves the rows in place: incidents may refer to them, and the taxonomy is editable by admins.
    pass


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
