"""The API of a team's chat channels: /api/v1/teams/<slug>/chat/<kind>/ (kind: slack or teams)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import policies
from incidents.api import examples as ex
from incidents.api.exceptions import validation_error
from incidents.api.permissions import request_viewer
from incidents.api.strict import StrictJsonMixin
from incidents.api.views import ApiViewMixin
from incidents.models import ChatWebhook, Team
from incidents.selectors import chat as chat_selectors
from incidents.services import chat as chat_services

WHO = (
    "\n\nWho may call it: an API token of the write scope of the team (or, to read, one of the team's leads or an "
    "admin signed in); another team's token, a read token or a member gets 403, no token 401. The URL is a "
    "secret: it is never answered back, only masked (its host and last four characters)."
)


PARAMETERS = [
    OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The team's slug, e.g. payments."),
    OpenApiParameter(
        "kind", str, OpenApiParameter.PATH, enum=ChatWebhook.Kind.values, description="slack or teams."
    ),
]


class ChatWebhookSerializer(serializers.ModelSerializer):
    url_masked = serializers.CharField(
        source="masked_url", read_only=True, help_text="Host and last 4 characters."
    )
    active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ChatWebhook
        fields = ["kind", "url_masked", "active", "disabled_at", "disabled_reason", "consecutive_failures",
                  "last_success_at", "last_failure_at", "last_error", "created_at"]  # fmt: skip
        read_only_fields = fields


class ChatWebhookInputSerializer(StrictJsonMixin, serializers.Serializer):
    url = serializers.CharField(
        write_only=True, max_length=chat_services.URL_MAX_LENGTH, trim_whitespace=True,
        help_text="The channel's incoming webhook URL (https; a host of the kind's allow-list).",
    )  # fmt: skip


@extend_schema_view(
    get=extend_schema(
        summary="Get a team's chat channel",
        parameters=PARAMETERS,
        description="The team's Slack or Teams webhook, masked, with its state: active or disabled (and why), its "
        "failures in a row and its last successful post. A kind that is not set is a 404." + WHO,
        responses={200: ChatWebhookSerializer, 404: OpenApiResponse(description="Not set, or no such team.")},
        examples=[ex.response("An active Slack channel", ex.CHAT_WEBHOOK)],
    ),
    put=extend_schema(
        summary="Set a team's chat channel",
        parameters=PARAMETERS,
        description="Sets or replaces the team's webhook of this kind; a replaced webhook starts afresh (enabled, "
        "no failures), so this is also how a disabled one is enabled again. A URL that is not https, or whose "
        "host is not allowed for the kind, is a 400 naming `url`." + WHO,
        request=ChatWebhookInputSerializer,
        responses={200: ChatWebhookSerializer},
        examples=[
            ex.request("A Slack incoming webhook", ex.CHAT_WEBHOOK_SET),
            ex.response("Saved", ex.CHAT_WEBHOOK),
        ],
    ),
    delete=extend_schema(
        summary="Clear a team's chat channel",
        parameters=PARAMETERS,
        description="Forgets the team's webhook of this kind: nothing more is posted there (posts already queued "
        "finish without posting). Clearing a kind that is not set is a 404." + WHO,
        responses={204: None, 404: OpenApiResponse(description="Not set, or no such team.")},
    ),
)
class ChatWebhookView(ApiViewMixin):
    """A team's Slack or Teams channel webhook."""

    serializer_class = ChatWebhookSerializer

    def _team(self, request: Request, slug: str, kind: str) -> Team:
        if kind not in ChatWebhook.Kind.values:
            raise Http404("No such chat kind: use slack or teams.")
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            raise Http404("No such team.")
        policies.require(policies.may_manage_chat(request_viewer(request), team))
        return team

    def get(self, request: Request, slug: str, kind: str) -> Response:
        webhook = chat_selectors.chat_webhook_of(team=self._team(request, slug, kind), kind=kind)
        if webhook is None:
            raise Http404("This chat channel is not set.")
        return Response(ChatWebhookSerializer(webhook).data)

    def put(self, request: Request, slug: str, kind: str) -> Response:
        team = self._team(request, slug, kind)
        body = ChatWebhookInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            webhook = chat_services.chat_webhook_set(
                actor=request_viewer(request), team=team, kind=kind, url=body.validated_data["url"]
            )
        except DjangoValidationError as error:
            raise validation_error(error) from None
        return Response(ChatWebhookSerializer(webhook).data)

    def delete(self, request: Request, slug: str, kind: str) -> Response:
        team = self._team(request, slug, kind)
        if not chat_services.chat_webhook_clear(actor=request_viewer(request), team=team, kind=kind):
            raise Http404("This chat channel is not set.")
        return Response(status=status.HTTP_204_NO_CONTENT)
