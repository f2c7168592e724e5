"""Admin for leads and admins: taxonomy, environments, teams, releases, and incidents with their inlines."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from incidents import importing, policies, services
from incidents.audit import audit_record, audit_trail, confidential_trail, diff, snapshot
from incidents.models import (
    SIGNED_HOOK_SOURCES,
    SUBSCRIBABLE_EVENT_TYPES,
    ActionItem,
    ApiToken,
    AuditEntry,
    Cause,
    ChatWebhook,
    ConfidentialReporter,
    Deployment,
    DigestDelivery,
    DigestSubscription,
    Environment,
    Hook,
    HookDelivery,
    IdempotencyRecord,
    Incident,
    IncidentCause,
    IncidentRevision,
    Membership,
    OutboxMessage,
    Release,
    Service,
    Team,
    TimelineEntry,
    TrendReport,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)
from incidents.outbox import MAX_ATTEMPTS, outbox_dispatch, outbox_gave_up
from incidents.search import number_query
from incidents.selectors.incidents import reference_lookup
from incidents.services import webhooks as webhook_services

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups


admin_actor = policies.viewer_of_request  # the person using the admin, as the policies and services know actors


class AuditedAdmin(admin.ModelAdmin):
    """Changes made here go into the audit trail, and the object's History page shows that trail."""

    object_history_template = "admin/audit_history.html"
    audit_hidden_fields: frozenset[str] = frozenset()  # recorded as changed, never with their values

    def _audited_fields(self, obj, form) -> list[str]:
        concrete = {field.name for field in obj._meta.concrete_fields}
        return [name for name in form.changed_data if name in concrete]

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        fields = self._audited_fields(obj, form)
        before = snapshot(type(obj).objects.get(pk=obj.pk), fields) if change else {}
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            changes = diff(before, snapshot(obj, fields)) if change else {}
            for name in changes.keys() & self.audit_hidden_fields:
                changes[name] = ["(hidden)", "(changed)"]
            audit_record(obj=obj, action="changed" if change else "created", changes=changes)

    def delete_model(self, request: HttpRequest, obj) -> None:
        with transaction.atomic():
            audit_record(obj=obj, action="deleted")
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_record(obj=obj, action="deleted")
            super().delete_queryset(request, queryset)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None):
        obj = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}), "audit_entries": audit_trail(obj) if obj is not None else []}
        return super().history_view(request, object_id, extra_context)


class ConfidentialHiddenAdmin(admin.ModelAdmin):
    """Confidential near-misses, and what hangs off them, exist in the admin for superusers only: for other
    staff they are left out of the rows, and so of every changelist count, filter facet, date drill-down,
    search and object page (confidential means undetectable: docs/confidentiality.md)."""

    confidential_lookup = "incident__confidential"  # the path from a row to its incident's flag

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        rows = super().get_queryset(request)
        if policies.may_see_all_confidential(admin_actor(request)):
            return rows
        return rows.exclude(**{self.confidential_lookup: True})


class SuperuserDeletesAdmin(admin.ModelAdmin):
    """Rows that incidents refer to (teams, services, environments, causes, releases) are deleted by superusers
    only: Django's delete page lists, counts or refuses for the incidents that use the row, confidential ones
    included, so for other staff even offering the deletion would tell them such an item exists."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        allowed = policies.may_delete_referenced_rows(admin_actor(request))
        return bool(allowed) and super().has_delete_permission(request, obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


class UserMembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["team"]


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class PersonAdmin(UserAdmin):
    """Django's user admin, with the person's teams and roles on the same page."""

    inlines = [UserMembershipInline]


@admin.register(Team)
class TeamAdmin(SuperuserDeletesAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(Service)
class ServiceAdmin(SuperuserDeletesAdmin):
    list_display = ["name", "slug", "owner_team"]
    list_filter = [
        ("owner_team", admin.RelatedOnlyFieldListFilter),
        ("owner_team", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["owner_team"]


@admin.register(Environment)
class EnvironmentAdmin(SuperuserDeletesAdmin, AuditedAdmin):
    list_display = ["name", "slug", "kind", "promotion_order"]
    list_filter = ["kind"]
    search_fields = ["name", "slug", "mandate"]


@admin.register(Cause)
class CauseAdmin(SuperuserDeletesAdmin, AuditedAdmin):
    list_display = ["name", "slug", "category", "active", "description"]
    list_filter = ["category", "active"]
    list_editable = ["active"]
    search_fields = ["name", "slug", "description"]
    actions = ["deactivate"]

    def has_delete_permission(self, request: HttpRequest, obj: Cause | None = None) -> bool:
        # A cause that has been used is kept for history; retire it with "active" instead.
        if obj is not None and (obj.incident_causes.exists() or obj.action_items.exists()):
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Retire the selected causes (keep them for history)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Cause]) -> None:
        with transaction.atomic():
            for cause in queryset.filter(active=True):
                cause.active = False
                cause.save(update_fields=["active"])
                audit_record(obj=cause, action="retired", changes={"active": [True, False]})


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 0
    fields = ["environment", "status", "deployed_at", "gates", "rollback_rehearsed", "source", "external_id"]


@admin.register(Release)
class ReleaseAdmin(SuperuserDeletesAdmin):
    list_display = ["service", "version", "commit_sha", "created_at"]
    list_filter = [("service", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["version", "commit_sha", "artifact_digest", "service__slug"]
    list_select_related = ["service"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["service"]
    inlines = [DeploymentInline]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["release", "environment", "status", "deployed_at", "rollback_rehearsed"]
    list_filter = ["status", "environment", "rollback_rehearsed"]
    search_fields = ["release__version", "release__service__slug", "external_id"]
    list_select_related = ["release__service", "environment"]
    date_hierarchy = "deployed_at"
    autocomplete_fields = ["release"]


class IncidentCauseInline(admin.TabularInline):
    model = IncidentCause
    extra = 1
    fields = ["cause", "gate", "note"]


class TimelineEntryInline(admin.TabularInline):
    model = TimelineEntry
    extra = 1


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ["title", "owner", "team", "due_date", "status", "cause", "ticket_url", "completed_at"]
    autocomplete_fields = ["owner"]


@admin.register(Incident)
class IncidentAdmin(ConfidentialHiddenAdmin, AuditedAdmin):
    confidential_lookup = "confidential"

    list_display = ["reference", "title", "kind", "severity", "status", "team", "environment", "started_at"]
    list_filter = ["kind", "status", "severity", "environment", "caught_by", "confidential", "team", "source"]
    search_fields = ["title", "summary", "external_id"]
    list_select_related = ["team", "environment"]
    date_hierarchy = "started_at"
    readonly_fields = ["kind", "number", "version", "created_at", "updated_at", "body_html"]
    autocomplete_fields = ["services", "releases", "reporter"]
    inlines = [IncidentCauseInline, TimelineEntryInline, ActionItemInline]
    fieldsets = [
        (None, {"fields": ["kind", "number", "title", "status", "severity", "team", "confidential"]}),
        ("Where and how", {"fields": ["environment", "caught_by", "services", "releases", "trigger"]}),
        ("Times", {"fields": ["started_at", "detected_at", "mitigated_at", "resolved_at"]}),
        ("Story", {"fields": ["summary", "potential_impact", "body"]}),
        ("Origin", {"fields": ["reporter", "source", "external_id", "version", "created_at", "updated_at"]}),
    ]

    @admin.display(ordering="number", description="Number")
    def reference(self, obj: Incident) -> str:
        return obj.reference

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        # A reference (INC-12, NM-7) names one item; a number (12, #12) finds the items with it, beside the
        # text matches for a bare number.
        term = search_term.strip()
        try:
            return queryset.filter(reference_lookup(term)), False
        except Incident.DoesNotExist:
            pass
        number = number_query(term)
        if number and number[1]:
            return queryset.filter(number=number[0]), False
        found, duplicates = super().get_search_results(request, queryset, term)
        return (found | queryset.filter(number=number[0]) if number else found), duplicates

    def get_readonly_fields(self, request: HttpRequest, obj: Incident | None = None) -> list[str]:
        # The kind and number are chosen once, by the services that allocate numbers. An open item cannot
        # become confidential (its NM number has been seen); a confidential one may be opened.
        if obj is None:
            return ["number", "version", "created_at", "updated_at", "body_html"]
        return [*self.readonly_fields, *([] if obj.confidential else ["confidential"])]

    def get_list_filter(self, request: HttpRequest) -> list:
        if policies.may_see_all_confidential(admin_actor(request)):
            return self.list_filter
        return [name for name in self.list_filter if name != "confidential"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New items are filed through the web forms or the API, which allocate their numbers.
        return False

    def get_urls(self) -> list:
        # Exempt from the middleware's CSRF check only so that the upload handler is set before the form is read:
        # import_view checks CSRF itself, right after (docs/importing.md).
        page = self.admin_site.admin_view(csrf_exempt(self.import_view))
        return [path("import/", page, name="incidents_incident_import"), *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Import postmortems from an uploaded zip, CSV or JSON file, as the import_postmortems command does: staff
        who may add incidents, for the teams they may file for (superusers: every team)."""
        if not request.user.has_perm("incidents.add_incident"):
            raise PermissionDenied
        upload = importing.BoundedMemoryUpload(request)  # in memory, and dropped past MAX_UPLOAD_BYTES
        request.upload_handlers = [upload]
        return csrf_protect(self._import_page)(request, upload)

    def _import_page(self, request: HttpRequest, upload: importing.BoundedMemoryUpload) -> HttpResponse:
        data, files = (request.POST, request.FILES) if request.method == "POST" else (None, None)
        form = PostmortemImportForm(data, files, user=request.user, too_large=upload.too_large)
        report = None
        if form.is_valid():
            chosen = form.cleaned_data
            try:
                report = services.postmortems_import(
                    actor=admin_actor(request), team=chosen["team"], parsed=chosen["parsed"],
                    tag_map=chosen["mappings"].tags, status=chosen["status"], dry_run=chosen["dry_run"],
                    announce=chosen["announce"],
                )  # fmt: skip
            except (ValidationError, PermissionDenied) as error:
                form.add_error(None, " ".join(getattr(error, "messages", [str(error)])))
        context = {**self.admin_site.each_context(request), "title": "Import postmortems", "opts": self.opts,
                   "form": form, "report": report}  # fmt: skip
        return TemplateResponse(request, "admin/incidents/incident/import_postmortems.html", context)

    def get_form(
        self, request: HttpRequest, obj: Incident | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        actor = admin_actor(request)

        # A subclass of the form class the admin builds for this request: mypy takes no variable as a base.
        class ThroughTheServices(form):  # type: ignore[valid-type,misc]
            """The change is checked as incident_update checks it (the workflow, the policy), beside its fields."""

            def clean(self) -> dict:
                cleaned = super().clean()
                if self.instance.pk is not None and not self.errors:
                    stored = Incident.objects.get(pk=self.instance.pk)
                    try:
                        services.incident_update_check(
                            actor=actor, incident=stored, changes=_service_changes(self), causes=None
                        )
                    except policies.NotAllowed as refused:
                        raise ValidationError(str(refused)) from None
                return cleaned

        return ThroughTheServices

    def save_model(self, request: HttpRequest, obj: Incident, form, change: bool) -> None:
        # The change goes through incident_update, as from every other door: the policy, the workflow, redaction,
        # the stored HTML, the audit trail, a new NM number for an opened confidential near-miss, and the edit
        # version, so an editor who opened the postmortem before this change gets a conflict instead of
        # overwriting it. What only the admin changes (the team, the reporter, the origin) is saved beside it.
        stored = Incident.objects.get(pk=obj.pk)
        changed = form.changed_data
        services.incident_update(
            actor=admin_actor(request), incident=stored, expected_version=stored.version,
            changes=_service_changes(form),
            services=list(form.cleaned_data["services"]) if "services" in changed else None,
            releases=list(form.cleaned_data["releases"]) if "releases" in changed else None,
        )  # fmt: skip
        own = [name for name in ADMIN_ONLY_FIELDS if name in form.changed_data]
        if own:
            before = snapshot(stored, own)
            Incident.objects.filter(pk=obj.pk).update(**{name: getattr(obj, name) for name in own})
            audit_record(obj=obj, action="changed", changes=diff(before, snapshot(obj, own)))
        obj.refresh_from_db()


ADMIN_ONLY_FIELDS = ("team", "reporter", "source", "external_id")


class PostmortemImportForm(forms.Form):
    """The admin's import page: what the import_postmortems command takes, for one uploaded file."""

    upload = forms.FileField(
        label="File", help_text=f"A .zip of .md files (or holding .csv or .json files), or one .csv, .json or .md "
        f"file; at most {importing.MAX_UPLOAD_BYTES // 2**20} MiB.",
    )  # fmt: skip
    team = forms.ModelChoiceField(queryset=Team.objects.none())
    format = forms.ChoiceField(
        choices=[("", "By file extension"), *((name, name.upper()) for name in importing.FORMATS)], required=False
    )
    mappings = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}), required=False, max_length=20_000,
        help_text="One a line: field=column (e.g. title=Summary), or tag:NAME=CAUSE (e.g. "
        "tag:db-failover=missing-check; nothing after = drops the tag).",
    )  # fmt: skip
    status = forms.ChoiceField(choices=[("draft", "Draft"), ("published", "Published")], initial="draft")
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Dry run: write nothing, show what would happen"
    )
    announce = forms.BooleanField(
        required=False, label="Announce each new item (leads' mail, chat, webhook events), as if filed now"
    )

    def __init__(self, *args: Any, user, too_large: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large
        self.fields["team"].queryset = Team.objects.filter(policies.filing_teams(user)).distinct()  # type: ignore[attr-defined]
        self.fields["upload"].required = not too_large  # a file past the limit was dropped: say why, once

    def clean_mappings(self) -> importing.ImportMap:
        try:
            return importing.parse_mappings(self.cleaned_data["mappings"].splitlines())
        except importing.ImportInputError as error:
            raise ValidationError(str(error)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.too_large:
            self.add_error("upload", f"The file is larger than {importing.MAX_UPLOAD_BYTES // 2**20} MiB.")
            return cleaned
        upload, mapping = cleaned.get("upload"), cleaned.get("mappings")
        if upload is not None and mapping is not None:
            try:
                gathered = importing.files_from_upload(upload.name or "", upload.read(),
                                                       forced=cleaned.get("format") or None)  # fmt: skip
                cleaned["parsed"] = importing.parse_files(gathered, mapping)
            except importing.ImportInputError as error:
                self.add_error("upload", str(error))
        return cleaned


def _service_changes(form) -> dict:
    """The incident's own columns that the admin form changed, as incident_update takes them."""
    return {
        name: form.cleaned_data[name]
        for name in form.changed_data
        if name in services.UPDATABLE_FIELDS and name in form.cleaned_data
    }


@admin.register(IncidentCause)
class IncidentCauseAdmin(ConfidentialHiddenAdmin):
    """Causes as tagged on incidents: which gates should have caught which causes."""

    list_display = ["incident", "cause", "gate", "note"]
    list_filter = ["cause", "gate"]
    search_fields = ["note", "incident__title", "cause__slug"]
    list_select_related = ["incident", "cause"]
    raw_id_fields = ["incident"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ConfidentialHiddenAdmin):
    list_display = ["incident", "at", "text"]
    search_fields = ["text", "incident__title"]
    list_select_related = ["incident"]
    date_hierarchy = "at"
    raw_id_fields = ["incident"]


@admin.register(ActionItem)
class ActionItemAdmin(ConfidentialHiddenAdmin, AuditedAdmin):
    list_display = ["title", "incident", "owner", "team", "due_date", "status", "cause"]
    list_filter = [
        "status",
        "cause",
        "team",
        ("owner", admin.EmptyFieldListFilter),
        ("due_date", admin.DateFieldListFilter),
    ]
    search_fields = ["title", "incident__title"]
    list_select_related = ["incident", "owner", "team", "cause"]
    autocomplete_fields = ["owner"]
    raw_id_fields = ["incident"]


@admin.register(ConfidentialReporter)
class ConfidentialReporterAdmin(admin.ModelAdmin):
    """Admins only: who filed a confidential near-miss, until the identity is purged."""

    list_display = ["incident", "user", "created_at", "purged_at"]
    readonly_fields = ["incident", "user", "receipt_hash", "created_at", "purged_at"]
    list_select_related = ["incident", "user"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(policies.may_see_all_confidential(admin_actor(request)))

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_module_permission(request)


@admin.register(TrendReport)
class TrendReportAdmin(admin.ModelAdmin):
    list_display = ["week_label", "scope", "audience", "status", "generated_at"]
    list_filter = ["status", "scope"]
    readonly_fields = ["data", "generated_at", "requested_at", "error"]
    date_hierarchy = "week_start"

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrendReport]:
        # The confidential audience counts confidential near-misses: superusers only, as the items themselves.
        reports = super().get_queryset(request)
        if policies.may_see_all_confidential(admin_actor(request)):
            return reports
        return reports.filter(audience=TrendReport.Audience.EVERYONE)


# ---------------------------------------------------------------------------------------------------------
# Weekly trend report digests.


@admin.register(DigestSubscription)
class DigestSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "subscribed", "updated_at"]
    list_filter = ["subscribed"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(admin.ModelAdmin):
    """What was sent: a row per person and week. Failed rows are retried by the next run; deleting a row stuck
    in `sending` (its worker died mid-send) lets the next run send that digest again."""

    list_display = ["week_start", "user", "status", "claimed_at", "sent_at"]
    list_filter = ["status", "week_start"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "week_start", "status", "claimed_at", "sent_at", "error"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# --- The API for tools: tokens and GitHub hooks -------------------------------------------------------------


class TokenManagersOnly(admin.ModelAdmin):
    """Credentials that write for a team (API tokens, GitHub hooks) are managed as policies.may_manage_tokens
    says, whatever model permissions a staff account holds."""

    def _manages(self, request: HttpRequest) -> bool:
        return bool(policies.may_manage_tokens(admin_actor(request)))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._manages(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._manages(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages(request) and super().has_delete_permission(request, obj)


class ApiTokenForm(forms.ModelForm):
    # A hook's token is made with its hook (HookAdmin, create_hook), never on its own.
    scope = forms.ChoiceField(choices=[(ApiToken.Scope.READ, "Read"), (ApiToken.Scope.WRITE, "Read and write")])

    class Meta:
        model = ApiToken
        fields = ["name", "team", "scope"]


@admin.register(ApiToken)
class ApiTokenAdmin(TokenManagersOnly, AuditedAdmin):
    """Tokens are created here (the secret is shown once, in a message) and revoked with an action."""

    list_display = ["name", "team", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", "team", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "team__slug"]
    list_select_related = ["team"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def get_form(
        self, request: HttpRequest, obj: ApiToken | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = ApiTokenForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> _FieldGroups:
        if obj is None:
            return ["name", "team", "scope"]
        return ["name", "team", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        return self.readonly_fields + (["team", "scope"] if obj else [])

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = services.api_token_create(name=obj.name, team=obj.team, scope=obj.scope)
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request, f"Token for {token.team.slug}: {raw} — copy it now, it is not shown again.", messages.WARNING
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            services.api_token_revoke(token=token)


class HookForm(forms.ModelForm):
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Signed senders (GitHub, PagerDuty, Sentry): the signing secret entered in or shown by the sender "
        "(at least 16 characters); empty on a new hook: a new one, shown once. Leave empty to keep it. Senders "
        "with a bearer token get a token when the hook is created, shown once.",
    )

    class Meta:
        model = Hook
        fields = ["name", "source", "team", "service", "secret", "environment_map", "active"]

    def clean(self) -> dict[str, Any]:
        """A hook's service must be one its team may write for, on a change as on creation (hook_create)."""
        super().clean()
        cleaned = self.cleaned_data
        team = cleaned.get("team") or (self.instance.team if self.instance.pk else None)
        service = cleaned.get("service")
        if team is not None and service is not None and not policies.service_writable_by(team, service):
            self.add_error("service", policies.not_writable_detail(team, service))
        return cleaned

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret") or ""
        if not secret and self.instance.pk:
            return self.instance.secret
        if not secret and self.cleaned_data.get("source") in SIGNED_HOOK_SOURCES:
            self.generated_secret = True  # a new signed hook: shown once when it is saved
            return secrets.token_urlsafe(32)
        return secret


@admin.register(Hook)
class HookAdmin(TokenManagersOnly, AuditedAdmin):
    """Hooks are created here or with `create_hook`; the new secret or token is shown once, in a message."""

    form = HookForm
    audit_hidden_fields = frozenset({"secret"})
    list_display = ["name", "source", "team", "service", "active", "last_delivery_at"]
    list_filter = ["source", "active", "team"]
    search_fields = ["name"]
    list_select_related = ["team", "service"]
    autocomplete_fields = ["service"]

    def get_readonly_fields(self, request: HttpRequest, obj: Hook | None = None) -> list[str]:
        # The team too: a bearer hook's token belongs to the team it was made for (make a new hook instead).
        return ["source", "team", "token"] if obj else []

    def save_model(self, request: HttpRequest, obj: Hook, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.hook_create(
            source=obj.source, name=obj.name, team=obj.team, service=obj.service,
            secret=form.cleaned_data.get("secret") or "", environment_map=obj.environment_map,
        )  # fmt: skip
        obj.pk = created.hook.pk
        obj.refresh_from_db()
        url = request.build_absolute_uri(reverse(f"api:hook-{created.hook.source}"))
        if created.hook.signed and not getattr(form, "generated_secret", False):
            self.message_user(request, f"{created.hook}: the sender delivers to {url}, signed with your secret.")
            return
        what = "signing secret" if created.hook.signed else "bearer token"
        self.message_user(
            request, f"{created.hook}: the sender delivers to {url} with the {what} {created.secret} — copy it "
            "now, it is not shown again.", messages.WARNING,
        )  # fmt: skip


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """Read-only: which Idempotency-Keys a token used and the response each replays."""

    list_display = ["key", "token", "state", "response_status", "created_at"]
    list_filter = ["state"]
    search_fields = ["key", "token__name", "token__prefix"]
    list_select_related = ["token"]
    readonly_fields = [
        "token",
        "key",
        "request_fingerprint",
        "state",
        "response_status",
        "response_body",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: IdempotencyRecord | None = None) -> bool:
        return False


@admin.register(HookDelivery)
class HookDeliveryAdmin(admin.ModelAdmin):
    """Read-only: the webhook deliveries the receivers accepted and what came of each (docs/receivers.md)."""

    list_display = ["received_at", "source", "event", "delivery_id", "hook", "token", "outcome", "repeats"]
    list_filter = ["source", "outcome"]
    search_fields = ["delivery_id", "hook__name", "token__name"]
    list_select_related = ["hook", "token"]
    readonly_fields = [
        "source", "hook", "token", "delivery_id", "event", "received_at", "outcome", "detail", "repeats",
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: HookDelivery | None = None) -> bool:
        return False


@admin.register(ChatWebhook)
class ChatWebhookAdmin(admin.ModelAdmin):
    """Read-only, URLs masked: each team's chat channels and their health. Leads set them in the app
    (/teams/<slug>/chat/, docs/chat.md); a delete here stops a team's posts."""

    list_display = ["team", "kind", "masked_url", "disabled_at", "consecutive_failures", "last_success_at"]
    list_filter = ["kind"]
    list_select_related = ["team"]
    readonly_fields = (
        "team", "kind", "masked_url", "created_at", "disabled_at", "disabled_reason", "consecutive_failures",
        "last_success_at", "last_failure_at", "last_error", "last_digest_week",
    )  # fmt: skip
    fields = readonly_fields

    @admin.display(description="URL")
    def masked_url(self, obj: ChatWebhook) -> str:
        return obj.masked_url

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ChatWebhook | None = None) -> bool:
        return False


# --- Outbound webhooks: subscriptions and their delivery log (docs/outbound-webhooks.md) ---------------------


class WebhookSubscriptionAdminForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=[(value, label) for value, label in WebhookEventType.choices if value in SUBSCRIBABLE_EVENT_TYPES],
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every event.",
    )  # fmt: skip

    # Write-only, as on the team's page: many receivers' URLs are credentials (the change form shows it masked).
    url = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"size": 80}), required=False, max_length=2000,
        label="URL", help_text="The URL that receives the events. On a change: leave empty to keep it.",
    )  # fmt: skip

    class Meta:
        model = WebhookSubscription
        fields = ["name", "team", "url", "event_types", "include_confidential"]

    def clean_url(self) -> str:
        given = self.cleaned_data.get("url") or ""
        if not given and self.instance.pk:
            return self.instance.url
        try:
            return webhook_services.webhook_url_check(given)
        except ValidationError as error:
            raise ValidationError(error.message_dict["url"]) from None


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """Every team's subscriptions and the organisation's (team empty), admins only: created here (the signing
    secret is shown once, in a message) or by a team's leads on /teams/<slug>/webhooks/. URLs are shown masked
    in the list; saving goes through the services (the URL check, the audit trail)."""

    form = WebhookSubscriptionAdminForm
    list_display = ["name", "team", "masked_url", "include_confidential", "active", "consecutive_failures",
                    "last_success_at", "last_failure_at"]  # fmt: skip
    list_filter = ["include_confidential", ("disabled_at", admin.EmptyFieldListFilter), "team"]
    search_fields = ["name", "team__slug"]
    list_select_related = ["team"]
    STATE = ["created_by", "created_at", "disabled_at", "disabled_reason", "consecutive_failures", "last_success_at",
             "last_failure_at", "last_error"]  # fmt: skip
    actions = ["send_test", "enable", "disable"]

    def _manages(self, request: HttpRequest) -> bool:
        return bool(policies.may_manage_webhooks(admin_actor(request), None))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._manages(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._manages(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages(request) and super().has_delete_permission(request, obj)

    @admin.display(description="URL")
    def masked_url(self, obj: WebhookSubscription) -> str:
        return obj.masked_url

    @admin.display(boolean=True)
    def active(self, obj: WebhookSubscription) -> bool:
        return obj.active

    def get_fields(self, request: HttpRequest, obj: WebhookSubscription | None = None) -> _FieldGroups:
        if obj is None:
            return ["name", "team", "url", "event_types", "include_confidential"]
        return ["name", "team", "masked_url", "url", "event_types", "include_confidential", *self.STATE]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookSubscription | None = None) -> list[str]:
        return ["team", "masked_url", *self.STATE] if obj else []

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form, change: bool) -> None:
        actor, data = admin_actor(request), form.cleaned_data
        if change:
            current = WebhookSubscription.objects.get(pk=obj.pk)
            changes = {name: data[name] for name in form.changed_data if name in webhook_services.UPDATABLE}
            if changes.get("url") == current.url:
                changes.pop("url")  # left empty: kept
            webhook_services.webhook_subscription_update(actor=actor, subscription=current, changes=changes)
            obj.refresh_from_db()
            return
        created = webhook_services.webhook_subscription_create(
            actor=actor, team=data["team"], name=data["name"], url=data["url"], event_types=data["event_types"],
            include_confidential=data["include_confidential"],
        )  # fmt: skip
        obj.pk = created.pk
        obj.refresh_from_db()
        self.message_user(
            request, f"{created}: events are signed with the secret {created.secret} — copy it now, it is not shown "
            "again.", messages.WARNING,
        )  # fmt: skip

    def delete_model(self, request: HttpRequest, obj: WebhookSubscription) -> None:
        webhook_services.webhook_subscription_delete(actor=admin_actor(request), subscription=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            webhook_services.webhook_subscription_delete(actor=admin_actor(request), subscription=subscription)

    @admin.action(description="Send a test event to the selected (active) subscriptions")
    def send_test(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        active = [subscription for subscription in queryset if subscription.active]
        for subscription in active:
            webhook_services.webhook_test_send(actor=admin_actor(request), subscription=subscription)
        self.message_user(request, f"{len(active)} test event(s) queued.")

    @admin.action(description="Enable the selected subscriptions again")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            webhook_services.webhook_subscription_switch(actor=admin_actor(request), subscription=subscription,
                                                         active=True)  # fmt: skip

    @admin.action(description="Disable the selected subscriptions")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            webhook_services.webhook_subscription_switch(
                actor=admin_actor(request), subscription=subscription, active=False, by=request.user.get_username()
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Read-only log of outbound webhook deliveries: the event, the subscription, the attempts and the last
    answer; "send again" replays a delivery with the same webhook-id. Superusers only: deliveries name events
    about confidential near-misses too."""

    list_display = ["created_at", "event_type", "subscription", "status", "attempts", "last_status_code",
                    "last_attempt_at", "last_duration_ms", "next_attempt_at"]  # fmt: skip
    list_filter = ["status", "event_type"]
    search_fields = ["webhook_id", "subscription__name"]
    list_select_related = ["subscription", "subscription__team"]
    readonly_fields = (
        "subscription", "webhook_id", "event_type", "reference", "occurred_at", "status", "attempts",
        "next_attempt_at", "last_attempt_at", "last_status_code", "last_error", "last_duration_ms", "delivered_at",
        "created_at",
    )  # fmt: skip
    fields = readonly_fields
    actions = ["send_again"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and bool(policies.may_see_operations(admin_actor(request)))

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    @admin.action(description="Send the selected deliveries again (same webhook-id)")
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = sum(
            webhook_services.webhook_delivery_send_again(actor=admin_actor(request), delivery=delivery)
            for delivery in queryset
        )
        self.message_user(request, f"{queued} deliver{'y' if queued == 1 else 'ies'} queued again.")


# --- Web app: postmortem revisions (read-only history kept by the web editor) ---------------------------


@admin.register(IncidentRevision)
class IncidentRevisionAdmin(ConfidentialHiddenAdmin):
    list_display = ["incident", "version", "status", "author", "created_at"]
    list_select_related = ["incident", "author"]
    search_fields = ["incident__title"]
    readonly_fields = [
        "incident",
        "version",
        "author",
        "title",
        "summary",
        "trigger",
        "body",
        "status",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: IncidentRevision | None = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The whole audit trail, read-only; each audited object's History page shows its own part."""

    list_display = ["at", "actor_label", "action", "content_type", "object_repr"]
    list_filter = ["content_type", "action"]
    search_fields = ["object_repr", "actor_label"]
    date_hierarchy = "at"
    list_select_related = ["content_type"]
    readonly_fields = [
        "at",
        "actor",
        "actor_label",
        "action",
        "content_type",
        "object_id",
        "object_repr",
        "changes",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        entries = super().get_queryset(request)
        if policies.may_see_all_confidential(admin_actor(request)):
            return entries
        return entries.exclude(confidential_trail())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False


class OutboxGaveUpFilter(admin.SimpleListFilter):
    """Messages whose handler failed MAX_ATTEMPTS times: the relay no longer hands them over."""

    title = "gave up"
    parameter_name = "gave_up"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Gave up"), ("no", "Did not give up")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> QuerySet[OutboxMessage]:
        gave_up = outbox_gave_up().values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=gave_up)
        if self.value() == "no":
            return queryset.exclude(pk__in=gave_up)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Follow-up work waiting or done; a message that keeps failing shows its last error here. Superusers only:
    a message names the item it follows up, confidential filings included."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and bool(policies.may_see_operations(admin_actor(request)))

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_view_permission(request, obj)

    list_display = ["id", "handler", "created_at", "dispatched_at", "processed_at", "attempts", "gave_up"]
    list_filter = [OutboxGaveUpFilter, "handler", ("processed_at", admin.EmptyFieldListFilter)]
    readonly_fields = [
        "handler", "payload", "created_at", "dispatched_at", "claimed_at", "processed_at", "attempts", "last_error",
    ]  # fmt: skip
    actions = ["retry"]

    @admin.display(boolean=True, description="gave up")
    def gave_up(self, message: OutboxMessage) -> bool:
        return message.processed_at is None and message.attempts >= MAX_ATTEMPTS

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        # The count of messages that need a person is in the title, whatever filter is applied.
        count = outbox_gave_up().count()
        title = f"Outbox messages: {count} gave up" if count else "Outbox messages: none gave up"
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Run the selected messages again (those not yet processed)")
    def retry(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        waiting = queryset.filter(processed_at__isnull=True)
        waiting.update(attempts=0, claimed_at=None, dispatched_at=None)
        handed = outbox_dispatch(message_ids=waiting.values_list("pk", flat=True))
        self.message_user(request, f"{handed} message(s) handed to the workers.")
