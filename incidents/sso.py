"""Single sign-on with OpenID Connect, on mozilla-django-oidc (docs/sso.md).

Off unless OIDC_ISSUER is set. The provider's endpoints come from its discovery document, fetched when first
needed and kept for DISCOVERY_TTL seconds; a provider that does not answer gives a page that says so (503), never a
500. People are Django users: created at their first sign-in, their e-mail, name and the memberships of the teams
OIDC_GROUP_MAP manages kept current at every sign-in (incidents/services/accounts.py).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any
from urllib.parse import urlencode

import requests
from django import forms
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core import checks
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.middleware import SessionRefresh as OIDCSessionRefresh
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from incidents import policies
from incidents.audit import acting_as, audit_record
from incidents.services.accounts import group_map_unknown_teams, memberships_sync

logger = logging.getLogger(__name__)

DISCOVERY_TTL = 3600  # seconds a discovery document is kept
MAX_GROUPS = 1000  # groups read from one claim; a longer list is refused
REFUSAL = "_hindsight_sso_refusal"  # request attribute: why the backend refused a sign-in, in words


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def password_login() -> bool:
    return settings.PASSWORD_LOGIN or not enabled()


# --- The discovery document ------------------------------------------------------------------------------


class ProviderUnavailable(Exception):
    """The identity provider did not answer, or answered something that is not its discovery document."""


_discovered: dict[str, tuple[float, dict[str, Any]]] = {}
_discovered_lock = threading.Lock()
_REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


def discovery() -> dict[str, Any]:
    issuer: str = settings.OIDC_ISSUER or ""
    with _discovered_lock:
        cached = _discovered.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL:
        return cached[1]
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        logger.warning("OpenID provider discovery at %s failed: %s", url, error)
        raise ProviderUnavailable(f"{url} did not answer with a discovery document.") from error
    if not isinstance(document, dict) or any(not isinstance(document.get(key), str) for key in _REQUIRED):
        raise ProviderUnavailable(f"{url} is not a discovery document (it lacks {', '.join(_REQUIRED)}).")
    if document["issuer"].rstrip("/") != issuer:
        raise ProviderUnavailable(f"{url} names another issuer ({document['issuer']}).")
    with _discovered_lock:
        _discovered[issuer] = (time.monotonic(), document)
    return document


def discovery_forget() -> None:
    with _discovered_lock:
        _discovered.clear()


def unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.warning("Single sign-on is unavailable: %s", error)
    context = {"provider_name": settings.OIDC_PROVIDER_NAME, "password_login": password_login()}
    return render(request, "registration/sso_unavailable.html", context, status=503)


# --- The authentication backend ----------------------------------------------------------------------------


def _refuse(request: HttpRequest | None, reason: str) -> None:
    if request is not None:
        setattr(request, REFUSAL, reason)


def _username_from(claims: dict[str, Any]) -> str:
    """preferred_username when it is a valid username nobody has, else the e-mail's local part made unique."""
    preferred = str(claims.get("preferred_username") or "")[:150]
    try:
        UnicodeUsernameValidator()(preferred)
        if preferred and not User.objects.filter(username__iexact=preferred).exists():
            return preferred
    except ValidationError:
        pass
    base = re.sub(r"[^\w.@+-]", "", str(claims["email"]).split("@", 1)[0])[:140] or "user"
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}{n}"
    return candidate


def _groups(claims: dict[str, Any]) -> list[str] | None:
    """The groups claim as a list of names (none when the claim is absent); None when it is malformed, and then
    memberships are left as they are."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_GROUPS or not all(isinstance(g, str) for g in value):
        logger.warning(
            "The %s claim is not a list of group names: memberships left as they are.", settings.OIDC_GROUPS_CLAIM
        )
        return None
    return value


class Backend(OIDCAuthenticationBackend):
    """The provider's ID token and user info, checked (signature against the JWKS, nonce, PKCE), then mapped onto
    a Django user."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No endpoint is read here: Django builds a backend for every authentication and every request's user.
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.UserModel = User

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return discovery()["token_endpoint"]

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return discovery()["jwks_uri"]

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str | None:
        return discovery().get("userinfo_endpoint")

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The library checks the signature, the expiry and the nonce; the ID token must also come from the issuer
        and be meant for this client."""
        payload = super().verify_token(token, **kwargs)
        if "nonce" in kwargs:  # the ID token (a signed user info answer has no nonce)
            audience = payload.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if str(payload.get("iss", "")).rstrip("/") != settings.OIDC_ISSUER:
                raise SuspiciousOperation("The ID token comes from another issuer.")
            if settings.OIDC_RP_CLIENT_ID not in audiences:
                raise SuspiciousOperation("The ID token is meant for another client.")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The ID token's claims, completed by the user info endpoint's where the provider has one."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            info = super().get_userinfo(access_token, id_token, payload)
            if info.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("The user info describes someone else than the ID token.")
            claims.update(info)
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email or len(email) > 254:
            _refuse(self.request, "The provider sent no e-mail address: Hindsight needs one to sign you in.")
            return False
        if claims.get("email_verified") is False:
            _refuse(
                self.request, "The provider has not verified your e-mail address: verify it, then sign in again."
            )
            return False
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]):
        """The one active user with this e-mail (any case); several, or only inactive ones, refuse the sign-in."""
        same_email = User.objects.filter(email__iexact=claims["email"])
        active = same_email.filter(is_active=True)
        if len(active) == 1:
            return active
        if len(active) > 1:
            _refuse(self.request, "Several accounts have your e-mail address: ask an admin to merge them.")
        elif same_email.exists():
            _refuse(self.request, "Your Hindsight account is deactivated: ask an admin.")
        return same_email

    def create_user(self, claims: dict[str, Any]) -> User:
        user = User.objects.create_user(_username_from(claims), email=claims["email"])
        logger.info("Single sign-on created the user %s", user.username)
        return self.update_user(user, claims)

    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        if not user.is_active:
            return user  # refused by the callback; nothing of theirs changes
        first, last = claims.get("given_name"), claims.get("family_name")
        if not isinstance(first, str) or not isinstance(last, str):
            first, _, last = str(claims.get("name") or "").partition(" ")
        fields = {"email": claims["email"], "first_name": first.strip()[:150], "last_name": last.strip()[:150]}
        changed = [name for name, value in fields.items() if getattr(user, name) != value]
        for name in changed:
            setattr(user, name, fields[name])
        if changed:
            user.save(update_fields=changed)
        groups = _groups(claims)
        if groups is not None and settings.OIDC_GROUP_MAP:
            with acting_as(user=user, label=f"{user.get_username()} (single sign-on)"):
                memberships_sync(user=user, groups=groups)
        return user


# --- The views ----------------------------------------------------------------------------------------------


class AuthenticateView(OIDCAuthenticationRequestView):
    """/accounts/oidc/authenticate/: off (404) without OIDC_ISSUER; to the provider's authorization endpoint."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404("Single sign-on is off.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery()["authorization_endpoint"]
        except ProviderUnavailable as error:
            return unavailable(request, error)
        return super().get(request)


_PROVIDER_ERRORS = {
    "login_required": "Your single sign-on session has ended: sign in again.",
    "access_denied": "The provider refused the sign-in.",
}


class CallbackView(OIDCAuthenticationCallbackView):
    """/accounts/oidc/callback/: the provider's answer. A refusal says why, on the login page, signed out."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            raise Http404("Single sign-on is off.")
        try:
            return super().get(request)
        except SuspiciousOperation as error:
            logger.warning("Single sign-on refused a callback: %s", error)
            auth.logout(request)
            _refuse(
                request,
                "The sign-in could not be verified (its state, nonce or token did not match): sign in again.",
            )
            return self.login_failure()
        except requests.HTTPError as error:  # the token endpoint refused the code (used, expired, or forged)
            logger.warning("Single sign-on: the provider refused the code: %s", error)
            auth.logout(request)
            _refuse(request, "The provider refused the sign-in: sign in again.")
            return self.login_failure()
        except (ProviderUnavailable, requests.RequestException) as error:
            auth.logout(request)
            return unavailable(request, error)

    def login_failure(self) -> HttpResponse:
        request = self.request
        reason = getattr(request, REFUSAL, None)
        if reason is None and getattr(self, "user", None) is not None and not self.user.is_active:
            reason = "Your Hindsight account is deactivated: ask an admin."
        if reason is None:
            error = str(request.GET.get("error", ""))[:100]
            reason = _PROVIDER_ERRORS.get(error, "Single sign-on did not complete: sign in again.")
        messages.error(request, reason)
        return super().login_failure()

    def login_success(self) -> HttpResponse:
        logger.info("%s signed in through single sign-on", self.user.get_username())
        return super().login_success()


def _signed_in_through_sso(request: HttpRequest) -> bool:
    return request.session.get(BACKEND_SESSION_KEY) == settings.OIDC_BACKEND


def provider_logout_url(request: HttpRequest) -> str:
    """Where logging out sends the browser: the provider's end_session_endpoint, which ends the provider's session
    too and comes back to the login page, where the provider has one; else the login page."""
    local = reverse("login")
    if not enabled() or not _signed_in_through_sso(request):
        return local
    try:
        end_session = discovery().get("end_session_endpoint")
    except ProviderUnavailable:
        return local
    if not isinstance(end_session, str):
        return local
    query = {
        "post_logout_redirect_uri": request.build_absolute_uri(local),
        "client_id": settings.OIDC_RP_CLIENT_ID,
    }
    if id_token := request.session.get("oidc_id_token"):
        query["id_token_hint"] = id_token
    return f"{end_session}?{urlencode(query)}"


class LogoutView(auth_views.LogoutView):
    """/accounts/logout/: signs out here, then at the provider when the session came from it."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        target = provider_logout_url(request)
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(target) if target != reverse("login") else response


class SessionRefresh(OIDCSessionRefresh):
    """Checks a signed-in session with the provider again every OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS (a silent
    prompt=none round trip: a provider session that ended signs the person out here). With PASSWORD_LOGIN=false
    the admin's login page sends people to single sign-on."""

    def __init__(self, get_response: Any) -> None:
        super(OIDCSessionRefresh, self).__init__(get_response)
        self.OIDC_EXEMPT_URLS = ["login", "logout", "break_glass"]
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_STATE_SIZE = 32
        self.OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
        self.OIDC_RP_SCOPES = settings.OIDC_RP_SCOPES
        self.OIDC_USE_NONCE = True
        self.OIDC_NONCE_SIZE = 32

    @property
    def OIDC_OP_AUTHORIZATION_ENDPOINT(self) -> str:
        return discovery()["authorization_endpoint"]

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if not enabled():
            return None
        if not password_login() and request.path == reverse("admin:login"):
            target = request.GET.get("next") or reverse("admin:index")
            return HttpResponseRedirect(f"{reverse('oidc_authentication_init')}?{urlencode({'next': target})}")
        try:
            return super().process_request(request)
        except ProviderUnavailable as error:
            auth.logout(request)
            return unavailable(request, error)


class LoginView(auth_views.LoginView):
    """/accounts/login/: as always without single sign-on; with it, a "Sign in with …" button, and the password
    form only while PASSWORD_LOGIN is true."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if enabled():
            context["sso"] = {"provider_name": settings.OIDC_PROVIDER_NAME, "password_login": password_login()}
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if password_login():
            return super().post(request, *args, **kwargs)
        decision = policies.may_log_in_with_password(policies.ANONYMOUS, password_login=False)
        refused = f"{decision.rule} Sign in with {settings.OIDC_PROVIDER_NAME}."
        return self.render_to_response(self.get_context_data(refused=refused), status=403)


class BreakGlassForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Enter the username and password of an active superuser.",
    }

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not policies.may_log_in_with_password(policies.viewer_for_user(user), password_login=False):
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")


class BreakGlassView(auth_views.LoginView):
    """/accounts/break-glass/: with PASSWORD_LOGIN=false, a superuser's password still signs them in (when the
    provider is down or misconfigured). Behind the login lockout like every login; each use is logged and
    audited."""

    form_class = BreakGlassForm
    template_name = "registration/break_glass.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if password_login():
            raise Http404("Password login is on: use the login page.")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        logger.warning("Break-glass sign-in by the superuser %s", user.get_username())
        with acting_as(user=user):
            audit_record(obj=user, action="signed in (break-glass)")
        return super().form_valid(form)


# --- The system check ---------------------------------------------------------------------------------------


@checks.register()
def group_map_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """OIDC_GROUP_MAP naming a team that does not exist: reported, not fatal (that group maps to nothing)."""
    if not enabled() or not settings.OIDC_GROUP_MAP:
        return []
    try:
        unknown = group_map_unknown_teams()
    except DatabaseError:  # no database yet (before migrate): nothing to compare with
        return []
    if not unknown:
        return []
    return [
        checks.Warning(
            f"OIDC_GROUP_MAP names teams that do not exist: {', '.join(unknown)}.",
            hint="Create the teams (slugs as written) or correct OIDC_GROUP_MAP; those groups map to nothing.",
            id="hindsight.W001",
        )
    ]
