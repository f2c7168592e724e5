"""The command on folders of Markdown postmortems: front matter variants, fallbacks, and files it cannot read."""

from __future__ import annotations

import datetime as dt

import pytest

from incidents.importing import MAX_MARKDOWN_BYTES
from incidents.models import AuditEntry, Incident
from tests.imports.conftest import (
    BAD_YAML,
    HUGO_PAGE,
    JEKYLL_POST,
    SUMMARY_ONLY,
    UNTITLED_DATED_BY_NAME,
    imported,
    write,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture
def repository(tmp_path):
    return write(tmp_path / "postmortems", {
        "2021/2021-03-04-db-failover.md": JEKYLL_POST,
        "2022/flags.md": HUGO_PAGE,
        "2022-11-30-queue-backlog.md": UNTITLED_DATED_BY_NAME,
        "2023/cron.md": SUMMARY_ONLY,
        "2020-05-06_certificate-expired.md": "The certificate of the payment gateway expired on a Sunday.\n",
        "broken/half-written.md": BAD_YAML,
        "legacy/2019-01-01-latin1.md": "Caf\xe9 outage\n".encode("latin-1"),
        "drafts/huge.md": "x" * (MAX_MARKDOWN_BYTES + 1),
        "notes.md": "# Ideas\n\nNo date anywhere.\n",
        "images/graph.png": b"\x89PNG\r\n",
        ".git/HEAD": "ref: refs/heads/main\n",
    })  # fmt: skip


def test_a_folder_of_postmortems_becomes_draft_items_of_the_team(catalogue, repository, run_import):
    run = run_import(repository)

    assert run.error is None
    by_title = {item.title: item for item in imported()}
    assert set(by_title) == {
        "Checkout outage after the database failover", "Stale feature flags served after deploy",
        "Queue backlog grew for hours", "Cron ran twice after the clock change.", "Certificate expired",
    }  # fmt: skip
    jekyll = by_title["Checkout outage after the database failover"]
    assert jekyll.team == catalogue and jekyll.kind == Incident.Kind.INCIDENT
    assert jekyll.status == Incident.Status.DRAFT and jekyll.source == "import"
    assert jekyll.external_id == "payments:2021/2021-03-04-db-failover.md"
    assert jekyll.started_at == dt.datetime(2021, 3, 4, 14, 5, tzinfo=UTC)
    assert jekyll.resolved_at == dt.datetime(2021, 3, 4, 14, 43, tzinfo=UTC)
    assert jekyll.severity == "sev2" and jekyll.environment.slug == "prod"
    assert jekyll.summary.startswith("Checkout returned errors for 38 minutes")
    assert [service.slug for service in jekyll.services.all()] == ["checkout-api"]
    assert sorted(jekyll.causes.values_list("slug", flat=True)) == ["missing-check", "weak-monitoring"]
    # The postmortem is the Markdown body, without the heading that repeats the title, and with what has no
    # field of its own at its end.
    assert jekyll.body.startswith("## What happened")
    assert "Imported from: <https://wiki.example.com/postmortems/2021-03-04>" in jekyll.body
    assert jekyll.body.rstrip().endswith("Imported tags: db-failover")
    assert "<h2>What happened</h2>" in jekyll.body_html
    assert AuditEntry.objects.filter(object_id=str(jekyll.pk), actor_label="command:import_postmortems").exists()


def test_toml_front_matter_and_names_instead_of_slugs(catalogue, repository, run_import):
    run_import(repository)

    hugo = Incident.objects.get(title="Stale feature flags served after deploy")
    assert hugo.severity == "sev3"  # priority P3
    assert hugo.resolved_at - hugo.started_at == dt.timedelta(minutes=90)
    assert [service.slug for service in hugo.services.all()] == ["shared-cron"]  # by name, owned by nobody
    assert list(hugo.causes.values_list("slug", flat=True)) == ["config-drift"]  # by name, any case


def test_missing_title_and_date_fall_back_to_heading_summary_and_file_name(catalogue, repository, run_import):
    run = run_import(repository)

    backlog = Incident.objects.get(title="Queue backlog grew for hours")  # the first heading
    assert backlog.started_at == dt.datetime(2022, 11, 30, tzinfo=UTC)  # the file name's date
    assert backlog.body == "Consumers were stuck on a poison message; nobody was paged."
    cron = Incident.objects.get(title="Cron ran twice after the clock change.")  # the summary's first line
    assert cron.started_at == dt.datetime(2023, 3, 26, tzinfo=UTC)
    certificate = Incident.objects.get(title="Certificate expired")  # the file name
    assert certificate.started_at == dt.datetime(2020, 5, 6, tzinfo=UTC)
    assert "title: taken from the first heading." in run.section("5 created")
    assert "started_at: taken from the file name." in run.section("5 created")


def test_files_that_cannot_be_read_are_reported_by_name_and_line_and_the_rest_imports(
    catalogue, repository, run_import
):
    run = run_import(repository)

    failed = run.section("4 failed")
    assert "broken/half-written.md:4: YAML error: expected ',' or ']'" in failed
    assert "legacy/2019-01-01-latin1.md:1: Not UTF-8 (byte 0xe9); save it as UTF-8." in failed
    assert "drafts/huge.md: 1.0 MiB is larger than the 1 MiB a markdown file may be; not read." in failed
    assert "notes.md: No start date" in failed
    assert "1 of no known format left aside" in run  # the PNG; .git is not even looked at
    assert len(imported()) == 5
    assert run.error is None  # something was read: the exit status is 0


def test_another_teams_service_is_refused_and_reported(catalogue, repository, run_import):
    run = run_import(repository)

    created = run.section("5 created")
    assert "service left out: ledger is not one of payments's services (it is owned by another team)." in created
    assert not Incident.objects.filter(source="import", services__slug="ledger").exists()


def test_unknown_tags_are_listed_at_the_end_of_the_report(catalogue, repository, run_import):
    run = run_import(repository)

    assert run.output.splitlines()[-2:] == [
        "Unknown tags (kept as text in the postmortem; map each with --map tag:NAME=CAUSE and run again):",
        "  db-failover (1)",
    ]


def test_a_secret_in_a_body_is_redacted_on_the_way_in(catalogue, tmp_path, run_import):
    folder = write(tmp_path, {"2024-02-01-leak.md": "# Token pasted in the channel\n\nThe deploy used "
                              "token ghp_16C7e42F292c6912E7710c838347Ae178B4a for an hour.\n"})  # fmt: skip
    run = run_import(folder)

    item = imported()[0]
    assert "ghp_16C7e42F292c6912E7710c838347Ae178B4a" not in item.body + item.body_html
    assert "token [secret] for an hour" in item.body
    assert "body: 1 secret ([secret])" in run


def test_yaml_aliases_are_refused_so_a_small_file_cannot_expand(catalogue, tmp_path, run_import):
    laughs = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\ntitle: t\n---\n"
    folder = write(tmp_path, {"2024-01-01-laughs.md": laughs, "2024-01-02-python.md":
                              "---\ntitle: !!python/object/apply:os.system [echo hi]\n---\n"})  # fmt: skip
    run = run_import(folder)

    assert "2024-01-01-laughs.md:3: YAML error: aliases (*name) are not accepted." in run
    assert "2024-01-02-python.md:2: YAML error:" in run
    assert imported() == []
    assert run.error is not None and "Nothing could be read" in str(run.error)


def test_published_sets_what_publishing_sets(catalogue, tmp_path, run_import):
    folder = write(tmp_path, {"2024-03-01-outage.md": "# Outage\n\nText.\n"})
    run_import(folder, "--status", "published")

    item = imported()[0]
    assert item.status == Incident.Status.PUBLISHED
    assert item.revisions.get().status == Incident.Status.PUBLISHED
    assert AuditEntry.objects.get(object_id=str(item.pk), action="created").changes == {
        "status": [None, "published"]
    }


def test_bad_arguments_exit_non_zero(catalogue, tmp_path, run_import):
    assert "is neither a folder nor a file" in str(run_import(tmp_path / "missing").error)
    assert "No team with the slug 'nobody'" in str(run_import(tmp_path, team="nobody").error)
    assert "'when' is not a field" in str(run_import(tmp_path, "--map", "when=Created").error)
    assert "write field=column" in str(run_import(tmp_path, "--map", "title").error)
    unknown_cause = run_import(write(tmp_path, {"2024-01-01-a.md": "# A\n"}), "--map", "tag:x=no-such-cause")
    assert "tag:x=no-such-cause: no active cause" in str(unknown_cause.error)
    assert imported() == []
