"""The transactional outbox: follow-up work that survives a broker outage and runs exactly once.

1. A service calls `outbox_enqueue` inside its transaction: the message row commits or rolls back with the
   change itself, so a rolled-back transaction enqueues nothing.
2. After commit, `outbox_dispatch` hands the message to Celery on a connection that fails fast; if the broker
   is down the request still succeeds and the row simply waits.
3. `outbox_relay` (a beat task) hands over every message that is still waiting once the broker is back.
4. A worker runs `outbox_process`: it claims the row with a conditional UPDATE, runs the handler and marks the
   row processed, so a message dispatched twice (by the request and by the relay) runs once.

Handlers are known by name: a module of follow-up work (incidents/tasks.py) registers each with
`@outbox_handler("name")` when the app starts (IncidentsConfig.ready imports it). The outbox itself imports
the models only, and hands messages to its Celery task by the task's registered name.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.celery import app
from incidents.models import OutboxMessage

logger = logging.getLogger(__name__)

# A claim older than this is a worker that died mid-way: the message may be run again.
STALE_CLAIM = dt.timedelta(minutes=10)
# Relay messages the request could not hand over, or that were handed over but never ran.
REDISPATCH_AFTER = dt.timedelta(minutes=5)
RELAY_BATCH = 500
# A message whose handler failed this many times is left for a person to look at (admin: Outbox messages).
MAX_ATTEMPTS = 10


# The Celery task that runs one message (incidents/tasks.py registers it under this name).
PROCESS_TASK = "incidents.outbox_process"

Handler = TypeVar("Handler", bound=Callable[..., Any])
_handlers: dict[str, Callable[..., Any]] = {}


def outbox_handler(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of the messages enqueued as `name`. It is called with
    the message's payload as keyword arguments; a second, different handler for one name is refused."""

    def register(handler: Handler) -> Handler:
        known = _handlers.get(name)
        if known is not None and _qualified(known) != _qualified(handler):
            raise ValueError(f"Outbox handler {name!r} is already {_qualified(known)}.")
        _handlers[name] = handler
        return handler

    return register


def _qualified(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def outbox_handler_names() -> list[str]:
    return sorted(_handlers)


def outbox_pending() -> QuerySet[OutboxMessage]:
    """Messages still to run: not processed, and not given up."""
    return OutboxMessage.objects.filter(processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS)


def outbox_gave_up() -> QuerySet[OutboxMessage]:
    """Messages whose handler failed MAX_ATTEMPTS times: the relay leaves them for a person to look at."""
    return OutboxMessage.objects.filter(processed_at__isnull=True, attempts__gte=MAX_ATTEMPTS)


def outbox_enqueue(*, handler: str, **payload: Any) -> OutboxMessage:
    """Record follow-up work in the current transaction and hand it to Celery once it commits."""
    if handler not in _handlers:
        raise ValueError(f"Unknown outbox handler {handler!r}.")
    message = OutboxMessage.objects.create(handler=handler, payload=payload)
    transaction.on_commit(lambda: outbox_dispatch(message_ids=[message.pk]))
    return message


def outbox_dispatch(*, message_ids: Iterable[int]) -> int:
    """Hand messages to the broker; returns how many were handed over. Never raises: a message that could
    not be handed over stays waiting for the relay."""
    ids = list(message_ids)
    if not ids:
        return 0
    process = app.tasks[PROCESS_TASK]
    handed = []
    try:
        # Fail fast: a request must not wait for a broker that is down (the relay will try again).
        with app.connection_for_write(
            connect_timeout=settings.OUTBOX_BROKER_TIMEOUT,
            transport_options={"max_retries": 0, "socket_connect_timeout": settings.OUTBOX_BROKER_TIMEOUT},
        ) as connection:
            for message_id in ids:
                process.apply_async(args=[message_id], connection=connection, retry=False, ignore_result=True)
                handed.append(message_id)
    except Exception as error:  # the broker is unreachable: keep the rows for the relay
        logger.warning("Outbox: could not reach the broker (%s); %d message(s) wait for the relay.", error,
                       len(ids) - len(handed))  # fmt: skip
    if handed:
        OutboxMessage.objects.filter(pk__in=handed).update(dispatched_at=timezone.now())
    return len(handed)


def outbox_relay(*, now: dt.datetime | None = None) -> int:
    """Hand over the messages still waiting: never handed over, or handed over long ago and not processed."""
    now = now or timezone.now()
    waiting = (
        outbox_pending()
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - REDISPATCH_AFTER))
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM))
        .order_by("created_at")
        .values_list("pk", flat=True)[:RELAY_BATCH]
    )
    return outbox_dispatch(message_ids=list(waiting))


def outbox_process(*, message_id: int, now: dt.datetime | None = None) -> bool:
    """Run one message exactly once; returns whether this call ran it.

    1. Claim it: a conditional UPDATE that only one of several concurrent workers can win.
    2. Run its handler.
    3. Mark it processed; on failure release the claim and record the error, for the relay to retry.
    """
    now = now or timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=message_id, processed_at__isnull=True)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM))
        .update(claimed_at=now)
    )
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    try:
        _handlers[message.handler](**message.payload)
    except Exception as error:
        last_error = repr(error)[:2000]
        OutboxMessage.objects.filter(pk=message_id).update(
            claimed_at=None, dispatched_at=None, attempts=message.attempts + 1, last_error=last_error
        )
        if message.attempts + 1 >= MAX_ATTEMPTS:
            # The relay will not hand it over again: a person must look (admin: Outbox messages, "gave up").
            logger.error("Outbox: message %d (%s) gave up after %d attempts; last error: %s",
                         message_id, message.handler, message.attempts + 1, last_error)  # fmt: skip
        raise
    OutboxMessage.objects.filter(pk=message_id).update(processed_at=timezone.now(), attempts=message.attempts + 1)
    return True
