"""Hindsight settings. Every value comes from the environment; .env.example lists them all.

Importing this module only reads the environment: it creates no folder and touches no file. The folders under
HINDSIGHT_VAR_DIR that the processes write to are made before they are first needed (config/folders.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_database,
    env_durations,
    env_field_policies,
    env_group_map,
    env_int,
    env_list,
    env_networks,
    env_pg_memory,
    env_rate,
    env_redis_url,
    env_str,
    env_time,
    env_timezone,
    env_weekday,
)

# --- Core: the instance, its apps, requests, templates, time, static files ----------------------------------

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("HINDSIGHT_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# Which instance this is: shown on every page, with a banner outside production.
HINDSIGHT_ENV = env_choice(
    "HINDSIGHT_ENV", "development" if DEBUG else "production", ["development", "staging", "production"]
)
if HINDSIGHT_ENV == "production" and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when HINDSIGHT_ENV is production.")

SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-key-never-used-with-debug-off"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = (env_str("SITE_URL", "http://127.0.0.1:8000") or "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "csp",
    "incidents",
    # The API's OpenAPI schema, and Swagger UI served from local static files.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Login brute-force lockout (see "Authentication" below).
    "axes",
]

MIDDLEWARE = [
    # First, so that it counts and times every answer, redirects and static files included (docs/operations.md).
    "incidents.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "incidents.audit.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it answers a locked-out log-in once everything else has run.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "incidents.context_processors.hindsight_environment",
                "incidents.context_processors.navigation",
            ],
        },
    },
]

LANGUAGE_CODE = "en"
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security: transport and browser ------------------------------------------------------------------------
# Everything is on unless DEBUG; HSTS only in production.

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):  # behind a proxy that terminates TLS and sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers and Kubernetes probe over plain HTTP: the probes and the scrape are answered without the HTTPS
# redirect. They still need an allowed Host header (ALLOWED_HOSTS), which probes must send.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HINDSIGHT_ENV == "production" else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts anywhere: every script is a static file. Inline styles are allowed for server-drawn SVG charts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Database -----------------------------------------------------------------------------------------------

DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'hindsight.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server and worker share one file: WAL lets readers run beside the writer, IMMEDIATE
    # transactions take the write lock up front instead of failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # Per-connection PostgreSQL settings (bench/RESULTS.md). JIT compilation pays off on long analytical scans,
    # not on Hindsight's short queries: a report query whose cost estimate crossed jit_above_cost spent more
    # time compiling than running. work_mem: at PostgreSQL's default 4MB the list's search ANDed with a
    # filter's bitmap of 200,000 rows went lossy, and every row of those pages was searched again.
    _session = [] if env_bool("DATABASE_JIT", False) else ["-c jit=off"]
    if (_work_mem := env_pg_memory("DATABASE_WORK_MEM", "16MB")) is not None:
        _session.append(f"-c work_mem={_work_mem}")
    if _session:
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        _options["options"] = " ".join([_options.get("options", ""), *_session]).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and login lockout (django-axes) ---------------------------------------------------------
# Login brute force: django-axes counts failed log-ins per username and address (the web login and the admin's)
# and locks that pair out for AXES_COOLOFF_MINUTES after AXES_FAILURE_LIMIT failures, answering 429 with a page
# that says so and a Retry-After header. A successful log-in resets the count.

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1, maximum=100)
AXES_COOLOFF_MINUTES = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1, maximum=7 * 24 * 60)
AXES_COOLOFF_TIME = AXES_COOLOFF_MINUTES / 60  # axes reads a number as hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "incidents.views.lockout.locked_out"
AXES_USERNAME_CALLABLE = "incidents.views.lockout.attempt_username"  # storable on PostgreSQL

# --- Single sign-on: OpenID Connect (docs/sso.md) ------------------------------------------------------------
# Off unless OIDC_ISSUER is set. The provider's endpoints come from its discovery document
# (<issuer>/.well-known/openid-configuration), fetched by incidents/sso.py when first needed, never here.

OIDC_ISSUER = (env_str("OIDC_ISSUER") or "").rstrip("/") or None
if OIDC_ISSUER is not None and (not OIDC_ISSUER.startswith(("https://", "http://")) or len(OIDC_ISSUER) > 500):
    raise ImproperlyConfigured(f"OIDC_ISSUER={OIDC_ISSUER!r} is not valid: expected an https:// URL.")
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET", "")
if OIDC_ISSUER is not None and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ImproperlyConfigured("OIDC_ISSUER is set: OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET must be set too.")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
if "openid" not in OIDC_RP_SCOPES.split():
    raise ImproperlyConfigured(f"OIDC_RP_SCOPES={OIDC_RP_SCOPES!r} is not valid: expected openid among them.")
# The ID token's claim that lists a person's groups, and group → team slug (":lead" for the lead role).
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_GROUP_MAP = env_group_map("OIDC_GROUP_MAP")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")[:60]
# false: people sign in only through the provider (the admin too); /accounts/break-glass/ stays for superusers.
PASSWORD_LOGIN = env_bool("PASSWORD_LOGIN", True)
if not PASSWORD_LOGIN and OIDC_ISSUER is None:
    raise ImproperlyConfigured("PASSWORD_LOGIN=false needs OIDC_ISSUER: nobody could sign in otherwise.")
# How often a signed-in session is checked again with the provider (a silent prompt=none round trip).
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env_int("OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS", 900, minimum=60, maximum=86_400)
# Fixed choices: PKCE, RS256 ID tokens checked against the provider's JWKS, the ID token kept for logout.
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True
OIDC_TIMEOUT = 5  # seconds, every request to the provider (discovery, token, keys, user info)
OIDC_AUTHENTICATE_CLASS = "incidents.sso.AuthenticateView"
OIDC_CALLBACK_CLASS = "incidents.sso.CallbackView"
OIDC_OP_LOGOUT_URL_METHOD = "incidents.sso.provider_logout_url"
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/"
OIDC_BACKEND = "incidents.sso.Backend"
OIDC_MIDDLEWARE = "incidents.sso.SessionRefresh"
if OIDC_ISSUER is not None:
    # The log-out form's answer redirects to the provider's end_session_endpoint, which form-action must allow.
    _issuer_origin = "/".join(OIDC_ISSUER.split("/")[:3])
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] = [SELF, _issuer_origin]
    AUTHENTICATION_BACKENDS.insert(1, OIDC_BACKEND)
    _after_auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
    MIDDLEWARE.insert(_after_auth, OIDC_MIDDLEWARE)

# --- Chat: Slack and Microsoft Teams channel webhooks (docs/chat.md) -----------------------------------------
# Off until a team's lead sets a channel's webhook URL. A URL must be https and its host one of these (an entry
# "*.example.com" allows every subdomain of example.com).
CHAT_SLACK_WEBHOOK_HOSTS = env_list("CHAT_SLACK_WEBHOOK_HOSTS", ["hooks.slack.com"])
CHAT_TEAMS_WEBHOOK_HOSTS = env_list(
    "CHAT_TEAMS_WEBHOOK_HOSTS",
    ["*.webhook.office.com", "*.logic.azure.com", "*.environment.api.powerplatform.com"],
)
CHAT_WEBHOOK_ALLOW_HTTP = env_bool("CHAT_WEBHOOK_ALLOW_HTTP", False)  # for a local test receiver only
CHAT_WEBHOOK_TIMEOUT = env_int("CHAT_WEBHOOK_TIMEOUT", 5, minimum=1, maximum=30)  # seconds per post
CHAT_WEBHOOK_MAX_FAILURES = env_int("CHAT_WEBHOOK_MAX_FAILURES", 5, minimum=1, maximum=100)

# --- Outbound webhooks: Hindsight's events to subscribers (docs/outbound-webhooks.md) ----------------------------
# Off until a lead or an admin adds a subscription. URLs must be https and reach public addresses only; the tests'
# local receiver needs WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8.
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 5, minimum=1, maximum=30)  # seconds for one attempt, all of it
# The waits before each retry of a delivery that failed (its first attempt is at once): 7 attempts by default.
WEBHOOK_RETRY_SCHEDULE = env_durations(
    "WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h", max_items=12, max_seconds=7 * 24 * 3600
)
WEBHOOK_RETRY_POLL_SECONDS = env_int("WEBHOOK_RETRY_POLL_SECONDS", 10, minimum=1, maximum=3600)
# Deliveries in a row that failed every attempt before a subscription is disabled (410 Gone disables at once).
WEBHOOK_MAX_FAILURES = env_int("WEBHOOK_MAX_FAILURES", 5, minimum=1, maximum=1000)
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)  # for a local test receiver only
# Networks that webhook URLs may reach although they are not public (an internal pipeline); empty: none.
WEBHOOK_ALLOWED_NETWORKS = env_networks("WEBHOOK_ALLOWED_NETWORKS")
WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("WEBHOOK_DELIVERY_RETENTION_DAYS", 30, minimum=1, maximum=3650)

# --- Slack app: the /nearmiss command (docs/slack.md) --------------------------------------------------------
# Off unless SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are set.
SLACK_SIGNING_SECRET = env_str("SLACK_SIGNING_SECRET")
SLACK_BOT_TOKEN = env_str("SLACK_BOT_TOKEN")
if bool(SLACK_SIGNING_SECRET) != bool(SLACK_BOT_TOKEN):
    raise ImproperlyConfigured("Set both SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN, or neither (the Slack app).")
# Slack's Web API (users.info, views.open); tests point it at a local stub.
SLACK_API_URL = env_str("SLACK_API_URL", "https://slack.com/api/")
if not SLACK_API_URL.startswith(("https://", "http://")) or len(SLACK_API_URL) > 200:
    raise ImproperlyConfigured(f"SLACK_API_URL={SLACK_API_URL!r} is not valid: expected an http(s) URL.")
SLACK_API_URL = SLACK_API_URL.rstrip("/") + "/"
# The one workspace whose requests are answered (its team id, e.g. T0123ABCD); unset: any workspace the app is in.
SLACK_TEAM_ID = env_str("SLACK_TEAM_ID")
if SLACK_TEAM_ID and not (SLACK_TEAM_ID.isascii() and SLACK_TEAM_ID.isalnum() and len(SLACK_TEAM_ID) < 21):
    raise ImproperlyConfigured(f"SLACK_TEAM_ID={SLACK_TEAM_ID!r} is not valid: expected a team id like T0123ABCD.")
# Seconds each call to Slack (Web API, response_url) may take.
SLACK_TIMEOUT_SECONDS = env_int("SLACK_TIMEOUT_SECONDS", 2, minimum=1, maximum=10)
# Hosts a reply may be posted to (the response_url Slack sends); https only, plain http only to loopback.
SLACK_RESPONSE_URL_HOSTS = env_list("SLACK_RESPONSE_URL_HOSTS", ["hooks.slack.com"])
# Slack request bodies larger than this get 413 (bytes).
SLACK_MAX_BODY_BYTES = env_int("SLACK_MAX_BODY_BYTES", 262_144, minimum=16_384, maximum=2_097_152)

# --- The API for tools (/api/) ------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "incidents.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "incidents.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["incidents.api.permissions.TokenScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["incidents.api.throttling.WriteRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["incidents.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "incidents.api.schema.HindsightAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hindsight API",
    "DESCRIPTION": "Post incidents, near-misses, releases and deployments; read what your team may see. "
    "Send `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "incidents.api.schema.postprocess_text_patterns",
    ],
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.IncidentStatus",
        "IncidentKindEnum": "incidents.models.IncidentKind",
        "DeploymentStatusEnum": "incidents.models.DeploymentStatus",
        "ActionItemStatusEnum": "incidents.models.ActionItemStatus",
        "TrendReportStatusEnum": "incidents.models.TrendReportStatus",
        "EnvironmentKindEnum": "incidents.models.EnvironmentKind",
        "ToolIncidentStatusEnum": ["triage", "draft", "in_review", "published"],
        "ActionItemClosingStatusEnum": ["done", "wont_do"],
        "AlertStatusEnum": ["firing", "resolved"],
    },
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}
# Writes per token (or per webhook sender) before 429 Too Many Requests.
API_WRITE_THROTTLE_RATE = env_rate("API_WRITE_THROTTLE_RATE", "120/min")
# How long an Idempotency-Key's first response is replayed.
API_IDEMPOTENCY_TTL_HOURS = env_int("API_IDEMPOTENCY_TTL_HOURS", 24, minimum=1, maximum=24 * 30)
# Webhook deliveries (GitHub's X-GitHub-Delivery ids) are remembered this many days to refuse replays; a daily
# task forgets older ones. Keep it longer than the sender retries (GitHub redeliveries: 3 days).
HOOK_DELIVERY_RETENTION_DAYS = env_int("HOOK_DELIVERY_RETENTION_DAYS", 30, minimum=1, maximum=3650)
# Alertmanager label names read for an alert's environment, service and severity (first present wins).
ALERTMANAGER_ENVIRONMENT_LABELS = env_list("ALERTMANAGER_ENVIRONMENT_LABELS", ["environment", "env"])
ALERTMANAGER_SERVICE_LABELS = env_list("ALERTMANAGER_SERVICE_LABELS", ["service", "app"])
ALERTMANAGER_SEVERITY_LABELS = env_list("ALERTMANAGER_SEVERITY_LABELS", ["severity"])

# --- Mail ---------------------------------------------------------------------------------------------------
# The console backend prints mails; smtp sends them through EMAIL_HOST; file writes them to var/mail.

_EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
EMAIL_BACKEND = _EMAIL_BACKENDS[env_choice("EMAIL_BACKEND", "console", list(_EMAIL_BACKENDS))]
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Hindsight <hindsight@localhost>")

# --- Incidents and near-misses ------------------------------------------------------------------------------

# Confidential near-misses: the reporter's identity is kept apart from the report and forgotten after this many
# days (the receipt link keeps working). A daily task purges what is due.
CONFIDENTIAL_REPORTER_RETENTION_DAYS = env_int("CONFIDENTIAL_REPORTER_RETENTION_DAYS", 30, minimum=0, maximum=3650)

# Releases deployed to an incident's environment this many hours before it started are listed as suspects.
SUSPECT_RELEASE_WINDOW_HOURS = env_int("SUSPECT_RELEASE_WINDOW_HOURS", 24, minimum=1, maximum=24 * 30)

# Redaction on ingest (incidents/redaction.py): what happens to personal data and secrets found in free text.
# REDACTION_DEFAULT_POLICY is redact, reject or off; REDACTION_FIELD_POLICIES overrides it per field, e.g.
# "title=reject,body=redact,timeline.text=redact,action_item.title=off".
REDACTION_DEFAULT_POLICY = env_choice("REDACTION_DEFAULT_POLICY", "redact", ["redact", "reject", "off"])
REDACTION_FIELD_POLICIES = env_field_policies("REDACTION_FIELD_POLICIES")

# Blame-language hints beside the postmortem editor: comma-separated phrases, each optionally followed by
# "=cause-slug", the system cause the hint suggests instead (missing-check when not given).
BLAME_PHRASES = env_list(
    "BLAME_PHRASES",
    [
        "human error=missing-check",
        "should have known=documentation-gap",
        "forgot to=missing-check",
        "careless=missing-check",
        "negligent=missing-check",
        "didn't follow=documentation-gap",
        "did not follow=documentation-gap",
        "failed to notice=weak-monitoring",
        "should have noticed=weak-monitoring",
        "should have checked=missing-check",
        "not paying attention=alert-fatigue",
        "operator error=missing-check",
        "user error=missing-check",
        "sloppy=missing-check",
        "by mistake=manual-change",
    ],
)

# --- Weekly trend reports -----------------------------------------------------------------------------------

# Weekly trend reports are generated for last week on this weekday and local time (CELERY_TIMEZONE).
REPORT_WEEKDAY = env_weekday("REPORT_WEEKDAY", "monday")
REPORT_TIME = env_time("REPORT_TIME", "07:00")
# When the scheduler (Celery beat) starts and last week has no report yet (a new instance, or beat was down on
# the weekly run), it queues last week's weekly run at once (incidents.reports_catch_up).
REPORT_CATCH_UP_ON_START = env_bool("REPORT_CATCH_UP_ON_START", True)

# The report task's limits, in seconds (CELERY_VISIBILITY_TIMEOUT is derived from the time limit).
REPORT_TASK_TIME_LIMIT = env_int("REPORT_TASK_TIME_LIMIT", 600, minimum=10, maximum=6 * 3600)
REPORT_TASK_MAX_RETRIES = env_int("REPORT_TASK_MAX_RETRIES", 3, minimum=0, maximum=20)
REPORT_TASK_RETRY_DELAY = env_int("REPORT_TASK_RETRY_DELAY", 30, minimum=1, maximum=3600)

# --- Limits: sizes of requests and pages --------------------------------------------------------------------

# Request bodies larger than this get 413 (bytes).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1_048_576, minimum=1024, maximum=50 * 1_048_576)
# Django reads at most this much of a body itself; keep it above the API's own limit so the API answers 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, API_MAX_BODY_BYTES + 1)
# JSON bodies nested deeper than this many levels of arrays and objects get 400 (docs/receivers.md).
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32, minimum=4, maximum=200)
# Alerts one Alertmanager notification may carry (400 past it); each alert counts as one write of the rate.
ALERTMANAGER_MAX_ALERTS = env_int("ALERTMANAGER_MAX_ALERTS", 100, minimum=1, maximum=1000)
# How many items a page of the incident list, the triage inbox and the action items shows.
WEB_PAGE_SIZE = env_int("WEB_PAGE_SIZE", 25, minimum=5, maximum=200)
# Receipt look-ups (signed out too) one client address may make per minute before a 429 (docs/web.md).
RECEIPT_LOOKUPS_PER_MINUTE = env_int("RECEIPT_LOOKUPS_PER_MINUTE", 20, minimum=1, maximum=10_000)

# --- Logging ------------------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"]),
    },
}

# --- Metrics: Prometheus at /metrics (docs/operations.md) ---------------------------------------------------
# Off (404) unless METRICS_ENABLED; with METRICS_TOKEN set, a scrape must send `Authorization: Bearer
# <METRICS_TOKEN>` (401 otherwise). Request counters are per process unless PROMETHEUS_MULTIPROC_DIR is set.

METRICS_ENABLED = env_bool("METRICS_ENABLED", False)
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and not METRICS_ENABLED:
    raise ImproperlyConfigured("METRICS_TOKEN is set but METRICS_ENABLED is not true: /metrics would stay off.")

# --- Cache, broker and Celery -------------------------------------------------------------------------------
# Redis when REDIS_URL is set. Otherwise a per-process memory cache, and an embedded broker and result store in
# files under var/, so that nothing but Python is needed to run the whole stack. Last, because the beat schedule
# reads the settings of the sections above.

REDIS_URL = env_redis_url("REDIS_URL")

# Throttle counters live in the cache: Redis (shared by every web process) when REDIS_URL is set.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Fail fast when Redis is away: callers (the API throttle) carry on without it.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hindsight"}
}

# Redis redelivers a task whose worker died before acknowledging it (tasks are acks_late) once this many seconds
# have passed since it was handed out. It must be longer than the longest task (REPORT_TASK_TIME_LIMIT + 30 s),
# or a task still running would be handed to a second worker as well.
CELERY_VISIBILITY_TIMEOUT = env_int(
    "CELERY_VISIBILITY_TIMEOUT", max(3600, 2 * (REPORT_TASK_TIME_LIMIT + 30)), minimum=1, maximum=7 * 24 * 3600
)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any]
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
else:
    # The embedded broker's folders, its control (broadcast) tables included, live under var/ rather than in
    # the current directory. They are created before first use (config/folders.py).
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "broker"),
        "data_folder_out": str(VAR_DIR / "celery" / "broker"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery' / 'results'}"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 24 * 3600

# Transactional outbox (incidents/outbox.py): how long a web request waits for the broker before leaving the
# follow-up work to the relay, and how often the relay hands over what is still waiting.
OUTBOX_BROKER_TIMEOUT = env_int("OUTBOX_BROKER_TIMEOUT", 1, minimum=1, maximum=30)
OUTBOX_RELAY_SECONDS = env_int("OUTBOX_RELAY_SECONDS", 30, minimum=1, maximum=3600)

CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Every OUTBOX_RELAY_SECONDS seconds (30 by default): hands the broker the outbox messages still waiting.
    "outbox-relay": {"task": "incidents.outbox_relay", "schedule": OUTBOX_RELAY_SECONDS},
    # Every day at 03:15: forgets the confidential reporters whose retention has passed.
    "purge-confidential-reporters": {
        "task": "incidents.confidential_reporters_purge",
        "schedule": crontab(minute=15, hour=3),
    },
    # Every week on REPORT_WEEKDAY at REPORT_TIME (Monday 07:00 by default): generates last week's trend
    # reports, then sends the digests.
    "weekly-trend-reports": {
        "task": "incidents.reports_weekly",
        "schedule": crontab(minute=REPORT_TIME.minute, hour=REPORT_TIME.hour, day_of_week=REPORT_WEEKDAY),
    },
    # Every day at 03:45: forgets the webhook deliveries older than HOOK_DELIVERY_RETENTION_DAYS.
    "purge-hook-deliveries": {
        "task": "incidents.hook_deliveries_purge",
        "schedule": crontab(minute=45, hour=3),
    },
    # Every day at 08:00: one chat post per team listing its action items that became overdue (docs/chat.md).
    "chat-overdue-action-items": {
        "task": "incidents.chat_overdue_announce",
        "schedule": crontab(minute=0, hour=8),
    },
    # Every WEBHOOK_RETRY_POLL_SECONDS seconds (10 by default): sends the outbound webhook retries that are due.
    "webhook-retries": {"task": "incidents.webhook_retries_send", "schedule": WEBHOOK_RETRY_POLL_SECONDS},
    # Every day at 03:50: forgets the outbound webhook deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS.
    "purge-webhook-deliveries": {
        "task": "incidents.webhook_deliveries_purge",
        "schedule": crontab(minute=50, hour=3),
    },
}
