"""Notifications: an outbox written in the business transaction, delivered afterwards by a worker.

    notify.send(unit_staff, "case.dispatched", title=_("新派遣：%(t)s") % {"t": case.title},
                url=f"/cases/{case.pk}/", obj=case)

`send()` writes one `Notification` (站内消息) per distinct active recipient and, for each channel in
`settings.GONGZHI_NOTIFY_CHANNELS` ("email", "webhook"), a pending `Delivery` (外发) — inside the
caller's transaction, so messages exist exactly when the change they report was committed.

The periodic job `core.tasks.deliver_notifications` calls `deliver_pending()` every minute. It claims
due deliveries with a conditional UPDATE (two workers never send the same one), sends them, and
retries failures after 1, 2, 4, 8 and 16 minutes; the sixth failed attempt marks the delivery failed.
Delivery is at least once: a worker that dies between sending and recording it sends again once its
claim lapses (`LEASE`), so webhook receivers should deduplicate on the `X-Gongzhi-Delivery` header.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable

from django.conf import settings
from django.core import checks
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Model, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gongzhi.core import clock
from gongzhi.core.models import Delivery, Notification, User

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # the sixth failure is final
WEBHOOK_TIMEOUT = 5  # seconds
# Rows are claimed a few at a time, each claim lasting LEASE; a batch must finish well within it
# (CLAIM_BATCH × the slowest send: 20 × 10 s SMTP timeout), or another worker could claim it again.
CLAIM_BATCH = 20
LEASE = dt.timedelta(minutes=10)
# After this many failures in a row on one channel, the rest of that channel waits for the next run,
# so an unreachable webhook cannot hold the worker for `limit` × timeout seconds.
BREAKER_THRESHOLD = 3
BATCH_SIZE = 500
ERROR_LENGTH = 2000


# ---------------------------------------------------------------- writing


def enabled_channels() -> list[str]:
    """The known channels named in settings.GONGZHI_NOTIFY_CHANNELS, in order, without repeats."""
    configured = getattr(settings, "GONGZHI_NOTIFY_CHANNELS", []) or []
    if isinstance(configured, str):
        configured = configured.split(",")
    channels: list[str] = []
    for name in configured:
        name = name.strip().lower()
        if name in Delivery.Channel.values and name not in channels:
            channels.append(name)
    return channels


def is_local_url(url: str) -> bool:
    """A path on this site ("/cases/12/"), never another host ("//evil.example", "/\\evil.example")."""
    if not url.startswith("/") or url.startswith(("//", "/\\")):
        return False
    parts = urllib.parse.urlsplit(url)
    return not parts.scheme and not parts.netloc and not any(c in url for c in "\r\n\t\\")


def send(
    recipients: Iterable[User] | QuerySet[User] | User,
    kind: str,
    *,
    title: str,
    body: str = "",
    url: str = "",
    obj: Model | None = None,
) -> int:
    """Write a notification for each distinct active recipient, plus a pending delivery per channel.

    Call it inside the service's transaction (outbox pattern): the rows commit or roll back with the
    change they report. Returns how many notifications were written.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify.send() must be called inside the service's transaction")
    if not kind or len(kind) > Notification._meta.get_field("kind").max_length:
        raise ValueError(f"notification kind must be 1-60 characters: {kind!r}")
    if url and not (is_local_url(url) and len(url) <= Notification._meta.get_field("url").max_length):
        raise ValueError(f"notification url must be a path on this site starting with '/': {url!r}")
    recipient_ids = _active_recipient_ids(recipients)
    if not recipient_ids:
        return 0
    now = clock.now()
    title = _fit(" ".join(str(title).split()), Notification._meta.get_field("title").max_length)
    object_type = obj._meta.label_lower if obj is not None else ""
    object_id = str(obj.pk) if obj is not None and obj.pk is not None else ""
    with transaction.atomic(savepoint=False):  # always inside the caller's transaction (checked above)
        notifications = Notification.objects.bulk_create(
            [
                Notification(
                    recipient_id=pk,
                    kind=kind,
                    title=title,
                    body=str(body),
                    url=url,
                    object_type=object_type,
                    object_id=object_id,
                    created_at=now,
                )
                for pk in recipient_ids
            ],
            batch_size=BATCH_SIZE,
        )
        channels = enabled_channels()
        if channels:
            Delivery.objects.bulk_create(
                [
                    Delivery(notification=n, channel=channel, next_attempt_at=now)
                    for n in notifications
                    for channel in channels
                ],
                batch_size=BATCH_SIZE,
            )
    return len(notifications)


def _fit(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _active_recipient_ids(recipients) -> list[int]:
    """Distinct primary keys of the active users among `recipients`, in the order first given."""
    if isinstance(recipients, QuerySet):
        if not issubclass(recipients.model, User):
            raise TypeError(f"notification recipients must be users, not {recipients.model.__name__}")
        return list(
            User.objects.filter(pk__in=recipients.values("pk"), is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    if isinstance(recipients, User):
        recipients = [recipients]
    wanted: dict[int, None] = {}
    for user in recipients:
        if not isinstance(user, User):
            raise TypeError(f"notification recipients must be users, not {type(user).__name__}")
        if user.pk is None:
            raise ValueError("cannot notify an unsaved user")
        wanted.setdefault(user.pk, None)
    pks = list(wanted)
    active: set[int] = set()
    for start in range(0, len(pks), BATCH_SIZE):
        chunk = pks[start : start + BATCH_SIZE]
        active.update(User.objects.filter(pk__in=chunk, is_active=True).values_list("pk", flat=True))
    return [pk for pk in wanted if pk in active]


# ---------------------------------------------------------------- reading


def notifications_of(user) -> QuerySet[Notification]:
    """A person's own notifications, newest first; none for API keys and anonymous visitors."""
    if not isinstance(user, User) or user.pk is None:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")


def unread_count(user) -> int:
    if not isinstance(user, User) or user.pk is None:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own unread notifications read — those in `ids`, or all of them when None.

    Other people's notifications among `ids` are left alone. Returns how many were marked.
    """
    if not isinstance(user, User) or user.pk is None:
        return 0
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        ids = {int(pk) for pk in ids}
        if not ids:
            return 0
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=clock.now())


# ---------------------------------------------------------------- delivering


def deliver_pending(now: dt.datetime | None = None, limit: int = 500) -> dict:
    """Send due pending deliveries (at most `limit`); returns how many ended in each outcome.

    Outcomes: sent, skipped (nowhere to send it), retrying (failed, tried again later), failed (gave
    up), deferred (not tried: its channel kept failing in this run).
    """
    counts = {"sent": 0, "skipped": 0, "retrying": 0, "failed": 0, "deferred": 0}
    channels = set(Delivery.Channel.values)
    failures_in_a_row = dict.fromkeys(channels, 0)
    handled = 0
    while handled < limit and channels:
        moment = now or clock.now()
        token, batch = _claim(moment, min(CLAIM_BATCH, limit - handled), channels)
        if batch is None:
            break
        for delivery in batch:
            handled += 1
            if delivery.channel not in channels:
                _release(delivery, token, moment)
                counts["deferred"] += 1
                continue
            outcome = _attempt(delivery, token, now or clock.now())
            counts[outcome] += 1
            if outcome in ("retrying", "failed"):
                failures_in_a_row[delivery.channel] += 1
                if failures_in_a_row[delivery.channel] >= BREAKER_THRESHOLD:
                    logger.warning(
                        "notification channel %s failed %s times in a row; the rest waits for the next run",
                        delivery.channel,
                        BREAKER_THRESHOLD,
                    )
                    channels.discard(delivery.channel)
            elif outcome == "sent":
                failures_in_a_row[delivery.channel] = 0
    return counts


def _claim(moment: dt.datetime, size: int, channels: set[str]) -> tuple[str, list[Delivery] | None]:
    """Claim up to `size` due deliveries for this caller; None when nothing is due."""
    ids = _due_ids(moment, size, channels)
    if not ids:
        return "", None
    return _take(ids, moment)


def _due_ids(moment: dt.datetime, size: int, channels: set[str]) -> list[int]:
    due = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=moment, channel__in=channels
    )
    return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:size])


def _take(ids: list[int], moment: dt.datetime) -> tuple[str, list[Delivery]]:
    """The conditional UPDATE: take those of `ids` still pending and due, and push them past `moment`.

    A second worker that read the same ids updates nothing: on PostgreSQL its UPDATE waits for the
    first one's row locks and then re-checks the condition, which no longer holds.
    """
    token = secrets.token_hex(16)
    Delivery.objects.filter(pk__in=ids, status=Delivery.Status.PENDING, next_attempt_at__lte=moment).update(
        claim_token=token, next_attempt_at=moment + LEASE, attempts=F("attempts") + 1
    )
    claimed = Delivery.objects.filter(pk__in=ids, claim_token=token).select_related("notification__recipient")
    return token, list(claimed.order_by("pk"))


def _release(delivery: Delivery, token: str, moment: dt.datetime) -> None:
    """Give a claimed delivery back untried: due again at once, the claim's attempt not counted."""
    Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
        claim_token="", next_attempt_at=moment, attempts=F("attempts") - 1
    )


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the `attempts`-th failure: 1, 2, 4, 8, 16 minutes."""
    return dt.timedelta(minutes=2 ** (attempts - 1))


def _attempt(delivery: Delivery, token: str, moment: dt.datetime) -> str:
    notification = delivery.notification
    recipient = notification.recipient
    skip_reason = ""
    try:
        if not recipient.is_active:
            skip_reason = "recipient account is deactivated"
        elif delivery.channel == Delivery.Channel.EMAIL:
            if not recipient.email:
                skip_reason = "recipient has no e-mail address"
            else:
                _send_email(notification, recipient)
        elif delivery.channel == Delivery.Channel.WEBHOOK:
            _post_webhook(notification, delivery)
        else:
            skip_reason = f"unknown channel {delivery.channel!r}"
    except Exception as exc:  # any failure is retried; the error is kept on the row
        error = _describe(exc)
        final = delivery.attempts >= MAX_ATTEMPTS
        log = logger.error if final else logger.warning
        log(
            "notification delivery %s (%s) attempt %s failed: %s",
            delivery.pk,
            delivery.channel,
            delivery.attempts,
            error,
        )
        changes = {"claim_token": "", "last_error": error}
        if final:
            changes["status"] = Delivery.Status.FAILED
        else:
            changes["next_attempt_at"] = moment + backoff(delivery.attempts)
        # Only while still ours: if the claim lapsed and another worker took the row, its record wins.
        Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(**changes)
        return "failed" if final else "retrying"
    if skip_reason:
        Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
            claim_token="", status=Delivery.Status.SKIPPED, last_error=skip_reason
        )
        return "skipped"
    Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
        claim_token="", status=Delivery.Status.SENT, sent_at=moment, last_error=""
    )
    return "sent"


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP {exc.code} {exc.reason}"
    elif isinstance(exc, urllib.error.URLError):
        text = f"URLError: {exc.reason}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:ERROR_LENGTH]


def _send_email(notification: Notification, recipient: User) -> None:
    # Workers have no request language: mail goes out in the site's language.
    with translation.override(settings.LANGUAGE_CODE):
        parts = [notification.body] if notification.body else []
        site = getattr(settings, "GONGZHI_SITE_URL", "")
        if notification.url and site:
            parts.append(_("查看详情：%(url)s") % {"url": site + notification.url})
        parts.append(_("—— 共治 · 社区治理平台（系统邮件，请勿直接回复）"))
        message = "\n\n".join(parts)
    send_mail(
        subject=" ".join(notification.title.split()),
        message=message,
        from_email=None,
        recipient_list=[recipient.email],
        fail_silently=False,
    )


def webhook_payload(notification: Notification) -> dict:
    return {
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "object_type": notification.object_type,
        "object_id": notification.object_id,
        "created_at": timezone.localtime(notification.created_at).isoformat(),
        "recipient": notification.recipient.username,
    }


def signature(body: bytes, secret: str) -> str:
    """The `X-Gongzhi-Signature` value: "sha256=" and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: urllib would otherwise turn the POST into a GET and call it sent."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _post_webhook(notification: Notification, delivery: Delivery) -> None:
    url = getattr(settings, "GONGZHI_WEBHOOK_URL", "")
    secret = getattr(settings, "GONGZHI_WEBHOOK_SECRET", "")
    if not url:
        raise RuntimeError("GONGZHI_WEBHOOK_URL is not set")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise RuntimeError("GONGZHI_WEBHOOK_URL must be an http or https address")
    if not secret:
        raise RuntimeError("GONGZHI_WEBHOOK_SECRET is not set")
    body = json.dumps(webhook_payload(notification), ensure_ascii=False, separators=(",", ":")).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Gongzhi-Webhook/1",
            "X-Gongzhi-Signature": signature(body, secret),
            "X-Gongzhi-Delivery": str(delivery.pk),
        },
    )
    # Any status outside 2xx raises HTTPError (and counts as a failure).
    # A new opener per call, so proxy settings from the environment are read as they are now.
    with urllib.request.build_opener(_NoRedirects).open(request, timeout=WEBHOOK_TIMEOUT) as response:
        response.read(65536)


# ---------------------------------------------------------------- configuration check


@checks.register()
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`gongzhi check` (and every start) reports channels that are named but cannot work."""
    problems: list[checks.CheckMessage] = []
    configured = getattr(settings, "GONGZHI_NOTIFY_CHANNELS", []) or []
    if isinstance(configured, str):
        configured = configured.split(",")
    unknown = sorted({c.strip().lower() for c in configured if c.strip()} - set(Delivery.Channel.values))
    if unknown:
        problems.append(
            checks.Error(
                f"GONGZHI_NOTIFY_CHANNELS names unknown channels: {', '.join(unknown)}",
                hint="Known channels: email, webhook.",
                id="gongzhi.E101",
            )
        )
    if Delivery.Channel.WEBHOOK in enabled_channels():
        url = getattr(settings, "GONGZHI_WEBHOOK_URL", "")
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            problems.append(
                checks.Error(
                    "the webhook channel is enabled but GONGZHI_WEBHOOK_URL is not an http(s) address",
                    id="gongzhi.E102",
                )
            )
        if not getattr(settings, "GONGZHI_WEBHOOK_SECRET", ""):
            problems.append(
                checks.Error(
                    "the webhook channel is enabled but GONGZHI_WEBHOOK_SECRET is empty",
                    hint="Set a long random secret shared with the receiver, which verifies the signature.",
                    id="gongzhi.E103",
                )
            )
    return problems
