"""The admin's import page: uploads within their limits, the same report as the command, staff only."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from incidents.importing import MAX_FILES, sources
from incidents.models import AuditEntry, Incident, OutboxMessage
from tests.factories import MembershipFactory, UserFactory
from tests.imports.conftest import JEKYLL_POST, imported

pytestmark = pytest.mark.django_db

URL = "/admin/incidents/incident/import/"


def zipped(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def post(client, content: bytes, *, name: str = "postmortems.zip", team, dry_run: bool = False, **fields):
    upload = SimpleUploadedFile(name, content, content_type="application/zip")
    data = {"upload": upload, "team": team.pk, "format": "", "mappings": "", "status": "draft", **fields}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(URL, data)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_incident_list_links_to_the_import_page(admin_client):
    page = admin_client.get("/admin/incidents/incident/").content.decode()
    assert f'href="{URL}"' in page and "Import postmortems" in page
    form = admin_client.get(URL).content.decode()
    assert 'enctype="multipart/form-data"' in form and 'name="csrfmiddlewaretoken"' in form
    assert 'id="id_dry_run" checked' in form  # a dry run unless unticked


def test_a_zip_of_markdown_files_is_imported_and_reported(catalogue, admin_client, admin_user):
    content = zipped({"repo/2021-03-04-db.md": JEKYLL_POST, "repo/broken.md": "---\ntitle: [\n---\n",
                      "repo/README.txt": "not a postmortem"})  # fmt: skip
    response = post(admin_client, content, team=catalogue)

    assert response.status_code == 200
    page = response.content.decode()
    item = imported()[0]
    assert item.external_id == "payments:repo/2021-03-04-db.md"
    assert f"{item.reference} Checkout outage after the database failover" in page
    assert "repo/broken.md:3" in page and "YAML error" in page
    assert "<code>db-failover</code> (1)" in page  # the unknown tags, to map on the next run
    assert "service left out: ledger is not one of payments" in page
    assert AuditEntry.objects.get(object_id=str(item.pk), action="created").actor == admin_user


@pytest.mark.parametrize("announce", [False, True])
def test_the_page_announces_new_items_only_when_ticked(catalogue, admin_client, lead, announce):
    fields = {"announce": "on"} if announce else {}
    post(admin_client, zipped({"2021-03-04-db.md": JEKYLL_POST}), team=catalogue, **fields)

    assert len(imported()) == 1
    filed = OutboxMessage.objects.filter(handler="incident_filed").count()
    assert filed == (1 if announce else 0)


def test_a_dry_run_on_the_page_writes_nothing(catalogue, admin_client):
    response = post(admin_client, zipped({"2021-03-04-db.md": JEKYLL_POST}), team=catalogue, dry_run=True)

    assert "Dry run: nothing was written" in response.content.decode()
    assert "Would be created (1)" in response.content.decode()
    assert imported() == []


def test_a_csv_file_with_mappings(catalogue, admin_client):
    table = "What,When,Labels\nDisk filled up,2023-05-02,db-failover\n"
    response = post(admin_client, table.encode(), name="table.csv", team=catalogue,
                    mappings="title=What\ndate=When\ntag:db-failover=capacity-limit")  # fmt: skip

    assert response.status_code == 200
    item = imported()[0]
    assert (item.title, list(item.causes.values_list("slug", flat=True))) == ("Disk filled up", ["capacity-limit"])


def test_a_zip_bomb_is_refused_before_it_is_unpacked(catalogue, admin_client, monkeypatch):
    monkeypatch.setattr(sources, "MAX_ZIP_TOTAL_BYTES", 1024 * 1024)
    bomb = zipped({"2021-01-01-a.md": b"0" * (2 * 1024 * 1024)})  # a few kilobytes that unpack to 2 MiB
    assert len(bomb) < 10_000

    response = post(admin_client, bomb, team=catalogue)

    assert "The zip would unpack to 2 MiB; at most 1 MiB." in response.content.decode()
    assert imported() == []


def test_a_member_that_lies_about_its_size_is_not_trusted(catalogue, admin_client):
    content = bytearray(zipped({"2021-01-01-a.md": b"# Bomb\n" + b"0" * 5_000_000, "2021-01-02-b.md": "# Fine\n"}))
    # Make the central directory say the first member unpacks to 10 bytes.
    central = content.index(b"PK\x01\x02")
    content[central + 24 : central + 28] = struct.pack("<I", 10)
    response = post(admin_client, bytes(content), team=catalogue)

    page = response.content.decode()
    assert "<td><code>2021-01-01-a.md</code></td><td>Cannot be unpacked (Bad CRC-32" in page
    assert [item.title for item in imported()] == ["Fine"]


def test_paths_that_climb_out_or_are_absolute_are_refused(catalogue, admin_client, tmp_path):
    content = zipped({"../../evil.md": "# Evil\n", "/etc/abs.md": "# Abs\n", "ok/2021-01-02-b.md": "# Fine\n"})
    page = post(admin_client, content, team=catalogue).content.decode()

    assert "<code>../../evil.md</code>" in page and "<code>/etc/abs.md</code>" in page
    assert page.count("An absolute path or one that climbs out (..); not read.") == 2
    assert [(item.title, item.external_id) for item in imported()] == [("Fine", "payments:ok/2021-01-02-b.md")]


def test_a_zip_with_too_many_files_is_refused(catalogue, admin_client):
    many = zipped({f"2021-01-01-{number}.md": f"# {number}\n" for number in range(MAX_FILES + 1)})
    page = post(admin_client, many, team=catalogue).content.decode()

    assert f"The zip holds more than {MAX_FILES} files to import; import it in parts." in page
    assert imported() == []


def test_an_upload_past_the_size_limit_is_dropped_and_refused(catalogue, admin_client, monkeypatch):
    monkeypatch.setattr(sources, "MAX_UPLOAD_BYTES", 1_000)
    page = post(admin_client, b"a,b\n" + b"x" * 5_000, name="big.csv", team=catalogue).content.decode()

    assert "The file is larger than" in page
    assert imported() == []


def test_many_file_parts_are_bounded_together(catalogue, admin_client, monkeypatch):
    """The limit holds for all the files of a request: a form posting many parts holds no more in memory."""
    monkeypatch.setattr(sources, "MAX_UPLOAD_BYTES", 1_000)
    parts = [SimpleUploadedFile(f"part{n}.csv", b"x" * 600, content_type="text/csv") for n in range(5)]
    data = {"upload": parts, "team": catalogue.pk, "format": "", "mappings": "", "status": "draft"}
    page = admin_client.post(URL, data).content.decode()

    assert "The file is larger than" in page
    assert imported() == []


def test_the_page_is_refused_to_people_who_are_not_staff(catalogue, reporter, lead, client):
    for person in (reporter, lead):
        client.force_login(person)
        assert client.get(URL).status_code == 302
        response = post(client, zipped({"2021-03-04-db.md": JEKYLL_POST}), team=catalogue)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert imported() == []


def test_staff_need_the_permission_to_add_incidents_and_import_only_for_their_teams(catalogue, other_team, client):
    staff = UserFactory(username="sam", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="add_incident"))
    MembershipFactory(user=staff, team=other_team)
    staff = type(staff).objects.get(pk=staff.pk)  # permissions are cached on the user
    client.force_login(staff)

    refused = post(client, zipped({"2021-03-04-db.md": JEKYLL_POST}), team=catalogue).content.decode()
    assert "Select a valid choice" in refused
    own = post(client, zipped({"2021-03-04-db.md": JEKYLL_POST}), team=other_team)
    assert Incident.objects.get(source="import").team == other_team and own.status_code == 200
    published = post(client, zipped({"2021-03-05-db.md": JEKYLL_POST}), team=other_team, status="published")
    assert "Only the team&#x27;s leads and admins publish." in published.content.decode()


def test_the_page_checks_csrf(catalogue, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = post(client, zipped({"2021-03-04-db.md": JEKYLL_POST}), team=catalogue)

    assert response.status_code == 403
    assert imported() == []
