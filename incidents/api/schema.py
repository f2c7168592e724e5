"""OpenAPI: every operation documents the errors it can answer with, bodies included."""

from __future__ import annotations

import inspect

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "detail": serializers.CharField(help_text="What went wrong."),
        "current_version": serializers.IntegerField(
            required=False, help_text="On a version conflict: the version now stored."
        ),
    },
)
ValidationErrorSerializer = inline_serializer(
    name="ValidationError",
    fields={
        "non_field_errors": serializers.ListField(child=serializers.CharField(), required=False),
    },
)

DESCRIPTIONS = {
    "400": "Bad input: the body names each field (or query parameter, or header) to fix.",
    "401": "No token, an unknown token or a revoked token (for GitHub: a missing or wrong signature).",
    "403": "A read token that writes, a session that writes, or an item of another team.",
    "404": "Not found, or not visible to this token's team.",
    "409": "A request with the same Idempotency-Key is still running, or the version field is stale.",
    "412": "The If-Match version is stale.",
    "413": "The body is larger than API_MAX_BODY_BYTES.",
    "415": "The body is not JSON.",
    "422": "The Idempotency-Key was used before with a different body.",
    "428": "Neither a version field nor an If-Match header was sent.",
    "429": "Too many writes; retry after the Retry-After header's seconds.",
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False, pattern=r"^[!-~]([ -~]{0,253}[!-~])?$",
    description="Retries with the same key get the first response again (same status and body).",
)  # fmt: skip
IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=False, pattern=r'^(W/)?"?[0-9]{1,9}"?$',
    description='The version you last read, e.g. "3" (or send a version field).',
)  # fmt: skip


def own_doc(obj: object) -> str:
    """The docstring written on `obj` itself: never one inherited from a base class or mixin."""
    if obj is None:
        return ""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if doc else ""


class HindsightAutoSchema(AutoSchema):
    """Adds the error responses each kind of operation can give, so clients and schema checks know them all."""

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature, not DRF's
        """The operation's own description (extend_schema on each view sets one). drf-spectacular's default
        falls back on the first docstring of the view's bases, which would give every viewset that of
        ApiViewMixin; here only a docstring written on the action or on the view class itself counts."""
        action = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        return own_doc(action) or own_doc(self.view.__class__)

    def _error_codes(self) -> list[str]:
        codes = ["401", "403"] if getattr(self.view, "authentication_classes", None) != [] else []
        action = getattr(self.view, "action", None)
        codes += ["400"]  # bad filters, query parameters, body or headers
        if self.method == "GET" or "{" in self.path:
            codes += ["404"]  # an unknown page or object
        if self.method != "GET":
            codes += ["413", "415", "429"]
        if action == "create":
            codes += ["409", "422"]
        if action == "partial_update" and getattr(self.view, "versioned", False):
            codes += ["409", "412", "428"]
        return sorted(set(codes) | set(getattr(self.view, "extra_error_codes", ())))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code in responses:
                continue
            serializer = ValidationErrorSerializer if code == "400" else ErrorSerializer
            response = self._get_response_for_code(serializer, code, direction=direction)
            response["description"] = DESCRIPTIONS[code]
            responses[code] = response
        return responses

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        action = getattr(self.view, "action", None)
        if action == "create":
            parameters.append(IDEMPOTENCY_KEY)
        if action == "partial_update" and getattr(self.view, "versioned", False):
            parameters.append(IF_MATCH)
        return parameters


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "incidents.api.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `python manage.py create_api_token` or the admin.",
        }


class HookSignatureScheme(OpenApiAuthenticationExtension):
    """Signed senders: each operation names its own signature header as a required parameter."""

    target_class = "incidents.api.receivers.base.SignedHookAuthentication"
    name = "hookSignature"

    def get_security_definition(self, auto_schema):
        header = auto_schema.view.receiver.signature_header
        return {
            "type": "apiKey",
            "in": "header",
            "name": header,
            "description": "The HMAC-SHA256 of the body with a hook's secret, as the sender sends it "
            "(X-Hub-Signature-256 for GitHub, X-PagerDuty-Signature for PagerDuty; docs/receivers.md).",
        }


ERROR_EXAMPLE = {"detail": "No such incident."}
VALIDATION_ERROR_EXAMPLE = {"service": ["Object with slug=checkout-apii does not exist."]}

# Text the API refuses: NUL characters (PostgreSQL cannot store them; every door answers them with a 400).
NO_NUL_PATTERN = r"^[^\x00]*$"


def _refuse_nul(schema: object) -> None:
    """Adds NO_NUL_PATTERN to every free-text string of a schema, nested ones included (anything else is left)."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NO_NUL_PATTERN
    for key in ("items", "additionalProperties"):
        _refuse_nul(schema.get(key))
    for child in schema.get("properties", {}).values():
        _refuse_nul(child)
    for key in ("allOf", "oneOf", "anyOf"):
        for child in schema.get(key, []):
            _refuse_nul(child)


PAGING_PARAMETERS = ("page", "page_size")


def postprocess_text_patterns(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: the schema says which text is refused, so clients and schema checks know it."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _refuse_nul(parameter.get("schema"))
                schema = parameter.get("schema", {})
                if parameter["in"] != "query" or parameter["name"] in PAGING_PARAMETERS:
                    continue
                # A filter left empty is a filter not set. In a list the empty entry is one of the items' values
                # (`?status=`, `?ordering=,number`; slug lists say so in their pattern); other parameters allow
                # an empty value.
                if "enum" in schema.get("items", {}):
                    if "" not in schema["items"]["enum"]:
                        schema["items"]["enum"] = ["", *schema["items"]["enum"]]
                elif schema.get("type") != "array":
                    parameter["allowEmptyValue"] = True
    components = result.get("components", {}).get("schemas", {})
    for component in components.values():
        _refuse_nul(component)
    # Error bodies get an example too, so the docs show a realistic one rather than text made up from patterns.
    for name, example in (("Error", ERROR_EXAMPLE), ("ValidationError", VALIDATION_ERROR_EXAMPLE)):
        if name in components:
            components[name]["example"] = example
    return result
