"""Notifications outbox: written in the business transaction, delivered once by e-mail or webhook with
backoff, and readable only by their recipient — on the page, in the top bar and over the API."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from gongzhi.core import clock, notify, periodic, services
from gongzhi.core.models import Delivery, Notification
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import user_with

SECRET = "test-webhook-secret"


@pytest.fixture
def staff(tree):
    return user_with(Role.COMMUNITY_STAFF, tree.community_a)


@pytest.fixture
def neighbour(tree):
    return user_with(Role.COMMUNITY_STAFF, tree.community_b)


def with_email(user, address):
    user.email = address
    user.save(update_fields=["email"])
    return user


# ---------------------------------------------------------------- writing


def test_notifications_roll_back_with_the_business_change(staff, settings):
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    with pytest.raises(RuntimeError, match="business rule broken"):
        with transaction.atomic():
            assert notify.send([staff], "case.dispatched", title="新派遣") == 1
            assert Notification.objects.count() == 1 and Delivery.objects.count() == 1
            raise RuntimeError("business rule broken")
    assert Notification.objects.count() == 0
    assert Delivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_send_outside_a_transaction_is_refused():
    from tests.factories import build_tree

    tree = build_tree()
    user = user_with(Role.COMMUNITY_STAFF, tree.community_a)
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        notify.send([user], "case.dispatched", title="新派遣")
    assert Notification.objects.count() == 0


def test_recipients_are_deduplicated_and_inactive_ones_left_out(tree, staff, neighbour):
    retired = user_with(Role.COMMUNITY_STAFF, tree.community_a)
    services.set_active(SYSTEM, retired, False)
    written = notify.send(
        [staff, neighbour, staff, retired, neighbour], "case.dispatched", title="新派遣", obj=tree.grid_a1
    )
    assert written == 2
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(
        [staff.pk, neighbour.pk]
    )
    n = Notification.objects.get(recipient=staff)
    assert (n.kind, n.title, n.object_type, n.object_id) == (
        "case.dispatched",
        "新派遣",
        "core.region",
        str(tree.grid_a1.pk),
    )
    assert n.read_at is None


def test_recipients_may_be_a_queryset(tree, staff, neighbour):
    from gongzhi.core.models import User

    assert notify.send(User.objects.filter(pk__in=[staff.pk, neighbour.pk]), "x.y", title="t") == 2
    assert notify.send(User.objects.none(), "x.y", title="t") == 0
    assert notify.send([], "x.y", title="t") == 0


def test_bad_input_is_a_programming_error(staff, tree):
    with pytest.raises(TypeError):
        notify.send([tree.grid_a1], "x.y", title="t")
    with pytest.raises(ValueError):
        notify.send([staff], "x.y", title="t", url="https://evil.example/")
    for url in ("//evil.example/", "cases/1/", "/\\evil.example/", "/" + "a" * 500):
        with pytest.raises(ValueError):
            notify.send([staff], "x.y", title="t", url=url)
    assert Notification.objects.count() == 0


def test_long_titles_are_shortened_to_fit(staff):
    notify.send([staff], "x.y", title="长" * 300)
    title = Notification.objects.get().title
    assert len(title) == 200 and title.endswith("…")


@pytest.mark.parametrize(
    "configured,expected",
    [
        ([], []),
        (["email"], ["email"]),
        (["email", "webhook"], ["email", "webhook"]),
        ([" Webhook ", "email", "webhook", "sms"], ["email", "webhook"]),
    ],
)
def test_one_delivery_per_enabled_channel(staff, neighbour, settings, configured, expected):
    settings.GONGZHI_NOTIFY_CHANNELS = configured
    notify.send([staff, neighbour], "x.y", title="t")
    for n in Notification.objects.all():
        channels = sorted(n.deliveries.values_list("channel", flat=True))
        assert channels == expected
    assert all(d.status == "pending" for d in Delivery.objects.all())


def test_misconfigured_channels_are_reported_by_the_system_check(settings):
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    assert notify.check_settings() == []
    settings.GONGZHI_NOTIFY_CHANNELS = ["emial", "webhook"]
    settings.GONGZHI_WEBHOOK_URL = ""
    settings.GONGZHI_WEBHOOK_SECRET = ""
    ids = {problem.id for problem in notify.check_settings()}
    assert ids == {"gongzhi.E101", "gongzhi.E102", "gongzhi.E103"}


def test_the_delivery_job_runs_every_minute():
    job = periodic.JOBS["gongzhi.core.tasks.deliver_notifications"]
    assert job.every == dt.timedelta(minutes=1)


# ---------------------------------------------------------------- e-mail


def test_email_is_sent_through_django_mail(staff, neighbour, settings, mailoutbox, frozen_clock):
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    settings.GONGZHI_SITE_URL = "https://gongzhi.example.gov.cn"
    with_email(staff, "staff@example.org")  # the neighbour has no address
    notify.send(
        [staff, neighbour],
        "case.dispatched",
        title="新派遣：路灯不亮",
        body="请在 2 日内处置。",
        url="/cases/7/",
    )
    result = notify.deliver_pending()
    assert result == {"sent": 1, "skipped": 1, "retrying": 0, "failed": 0, "deferred": 0}
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["staff@example.org"]
    assert mail.subject == "新派遣：路灯不亮"
    assert "请在 2 日内处置。" in mail.body and "https://gongzhi.example.gov.cn/cases/7/" in mail.body
    sent = Delivery.objects.get(notification__recipient=staff)
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 1, frozen_clock.at)
    skipped = Delivery.objects.get(notification__recipient=neighbour)
    assert skipped.status == "skipped" and "e-mail" in skipped.last_error
    assert notify.deliver_pending() == {"sent": 0, "skipped": 0, "retrying": 0, "failed": 0, "deferred": 0}
    assert len(mailoutbox) == 1  # nothing is sent twice


def test_deactivated_recipient_is_skipped_at_delivery(staff, settings, mailoutbox):
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    with_email(staff, "staff@example.org")
    notify.send([staff], "x.y", title="t")
    services.set_active(SYSTEM, staff, False)
    assert notify.deliver_pending()["skipped"] == 1
    assert mailoutbox == []


# ---------------------------------------------------------------- webhook


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    status: int = 204
    headers: dict = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)


@pytest.fixture
def webhook(settings, monkeypatch):
    """A real HTTP server on 127.0.0.1 in a thread, recording what it is sent."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            # Recorded before answering: the sender's request returns only after this.
            receiver.requests.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.send_response(receiver.status)
            for name, value in receiver.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "*")
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/gongzhi"
    settings.GONGZHI_NOTIFY_CHANNELS = ["webhook"]
    settings.GONGZHI_WEBHOOK_URL = receiver.url
    settings.GONGZHI_WEBHOOK_SECRET = SECRET
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_webhook_posts_signed_json(staff, tree, webhook, frozen_clock):
    notify.send([staff], "case.dispatched", title="新派遣", body="请处置", url="/cases/7/", obj=tree.grid_a1)
    assert notify.deliver_pending()["sent"] == 1
    assert len(webhook.requests) == 1
    request = webhook.requests[0]
    assert request.path == "/hooks/gongzhi"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-gongzhi-signature"], expected)
    delivery = Delivery.objects.get()
    assert request.headers["x-gongzhi-delivery"] == str(delivery.pk)
    assert json.loads(request.body) == {
        "kind": "case.dispatched",
        "title": "新派遣",
        "body": "请处置",
        "url": "/cases/7/",
        "object_type": "core.region",
        "object_id": str(tree.grid_a1.pk),
        "created_at": "2026-11-23T10:00:00+08:00",
        "recipient": staff.username,
    }
    assert delivery.status == "sent" and delivery.sent_at == frozen_clock.at


def test_a_tampered_body_does_not_match_the_signature(staff, webhook):
    notify.send([staff], "x.y", title="t")
    notify.deliver_pending()
    request = webhook.requests[0]
    forged = request.body.replace(b'"t"', b'"T"')
    assert forged != request.body
    assert notify.signature(forged, SECRET) != request.headers["x-gongzhi-signature"]
    assert notify.signature(request.body, "another secret") != request.headers["x-gongzhi-signature"]


def test_failures_retry_with_exponential_backoff_then_fail(staff, webhook, frozen_clock):
    webhook.status = 500
    notify.send([staff], "x.y", title="t")
    start = frozen_clock.at
    waits = []
    for attempt in range(1, 7):
        outcome = notify.deliver_pending()
        delivery = Delivery.objects.get()
        assert delivery.attempts == attempt and "HTTP 500" in delivery.last_error
        if attempt < 6:
            assert outcome["retrying"] == 1 and delivery.status == "pending"
            wait = delivery.next_attempt_at - frozen_clock.at
            waits.append(wait)
            frozen_clock.advance(seconds=wait.total_seconds() - 1)
            assert notify.deliver_pending()["retrying"] == 0  # not due a second early
            frozen_clock.advance(seconds=1)
        else:
            assert outcome["failed"] == 1 and delivery.status == "failed"
    assert waits == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert frozen_clock.at == start + dt.timedelta(minutes=31)
    assert len(webhook.requests) == 6
    frozen_clock.advance(days=1)
    assert notify.deliver_pending() == {"sent": 0, "skipped": 0, "retrying": 0, "failed": 0, "deferred": 0}


def test_a_later_attempt_can_succeed(staff, webhook, frozen_clock):
    webhook.status = 503
    notify.send([staff], "x.y", title="t")
    notify.deliver_pending()
    webhook.status = 200
    frozen_clock.advance(minutes=1)
    assert notify.deliver_pending()["sent"] == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")


def test_a_redirect_is_a_failure_not_a_success(staff, webhook):
    webhook.status = 302
    webhook.headers = {"Location": webhook.url + "/elsewhere"}
    notify.send([staff], "x.y", title="t")
    assert notify.deliver_pending()["retrying"] == 1
    assert [r.path for r in webhook.requests] == ["/hooks/gongzhi"]  # not followed
    assert "HTTP 302" in Delivery.objects.get().last_error


def test_unreachable_webhook_is_retried(staff, settings, frozen_clock):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.GONGZHI_NOTIFY_CHANNELS = ["webhook"]
    settings.GONGZHI_WEBHOOK_URL = f"http://127.0.0.1:{port}/"
    settings.GONGZHI_WEBHOOK_SECRET = SECRET
    notify.send([staff], "x.y", title="t")
    assert notify.deliver_pending()["retrying"] == 1
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.last_error.startswith("URLError")
    assert delivery.next_attempt_at == frozen_clock.at + dt.timedelta(minutes=1)


def test_a_failing_channel_stops_for_the_rest_of_the_run(tree, webhook, settings, mailoutbox, frozen_clock):
    webhook.status = 500
    settings.GONGZHI_NOTIFY_CHANNELS = ["webhook", "email"]
    people = [with_email(user_with(Role.RESIDENT, tree.community_a), f"r{i}@example.org") for i in range(5)]
    notify.send(people, "x.y", title="t")
    result = notify.deliver_pending()
    assert len(webhook.requests) == notify.BREAKER_THRESHOLD
    assert result["retrying"] == notify.BREAKER_THRESHOLD
    assert result["sent"] == 5 and len(mailoutbox) == 5  # e-mail is unaffected
    untried = Delivery.objects.filter(channel="webhook", attempts=0)
    assert untried.count() == 5 - notify.BREAKER_THRESHOLD
    assert all(d.next_attempt_at <= frozen_clock.at and d.claim_token == "" for d in untried)


# ---------------------------------------------------------------- claiming


def test_a_claimed_delivery_is_not_sent_by_a_second_worker(staff, settings, mailoutbox, frozen_clock):
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    with_email(staff, "staff@example.org")
    notify.send([staff], "x.y", title="t")
    channels = {"email"}
    # Both workers read the same due row before either claims it …
    seen_by_a = notify._due_ids(frozen_clock.at, 10, channels)
    seen_by_b = notify._due_ids(frozen_clock.at, 10, channels)
    assert seen_by_a == seen_by_b and len(seen_by_a) == 1
    # … but only the first conditional UPDATE takes it.
    _, claimed_by_a = notify._take(seen_by_a, frozen_clock.at)
    _, claimed_by_b = notify._take(seen_by_b, frozen_clock.at)
    assert len(claimed_by_a) == 1 and claimed_by_b == []
    # A third worker running the whole loop meanwhile finds nothing due.
    assert notify.deliver_pending()["sent"] == 0
    assert mailoutbox == []


def test_a_claim_lapses_when_its_worker_died(staff, settings, mailoutbox, frozen_clock):
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    with_email(staff, "staff@example.org")
    notify.send([staff], "x.y", title="t")
    notify._take(notify._due_ids(frozen_clock.at, 10, {"email"}), frozen_clock.at)  # then the worker dies
    frozen_clock.advance(seconds=notify.LEASE.total_seconds() - 1)
    assert notify.deliver_pending()["sent"] == 0
    frozen_clock.advance(seconds=1)
    assert notify.deliver_pending()["sent"] == 1
    assert len(mailoutbox) == 1
    assert Delivery.objects.get().attempts == 2


def test_limit_bounds_one_run(tree, settings, mailoutbox):
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    people = [with_email(user_with(Role.RESIDENT, tree.community_a), f"p{i}@example.org") for i in range(5)]
    notify.send(people, "x.y", title="t")
    assert notify.deliver_pending(limit=3)["sent"] == 3
    assert notify.deliver_pending(limit=3)["sent"] == 2
    assert len(mailoutbox) == 5


def test_explicit_now_is_used_instead_of_the_clock(staff, settings, mailoutbox, frozen_clock):
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    with_email(staff, "staff@example.org")
    notify.send([staff], "x.y", title="t")
    assert notify.deliver_pending(now=frozen_clock.at - dt.timedelta(seconds=1))["sent"] == 0
    later = frozen_clock.at + dt.timedelta(hours=1)
    assert notify.deliver_pending(now=later)["sent"] == 1
    assert Delivery.objects.get().sent_at == later


# ---------------------------------------------------------------- reading and marking read


def test_unread_count_and_mark_read_touch_only_own_notifications(staff, neighbour, frozen_clock):
    notify.send([staff, neighbour], "x.y", title="一")
    notify.send([staff], "x.y", title="二")
    assert notify.unread_count(staff) == 2 and notify.unread_count(neighbour) == 1
    theirs = Notification.objects.get(recipient=neighbour)
    mine = Notification.objects.filter(recipient=staff).order_by("pk").first()
    assert notify.mark_read(staff, [theirs.pk, mine.pk]) == 1
    assert notify.unread_count(neighbour) == 1
    mine.refresh_from_db()
    assert mine.read_at == frozen_clock.at
    assert notify.mark_read(staff, []) == 0
    assert notify.mark_read(staff) == 1
    assert notify.unread_count(staff) == 0 and notify.unread_count(neighbour) == 1
    assert notify.unread_count(SYSTEM) == 0 and notify.mark_read(SYSTEM) == 0


def test_page_lists_only_own_notifications_newest_first(client, staff, neighbour, frozen_clock):
    notify.send([staff], "x.y", title="较早的消息")
    frozen_clock.advance(minutes=5)
    notify.send([staff], "x.y", title="较新的消息", body="详情")
    notify.send([neighbour], "x.y", title="邻居的消息")
    client.force_login(staff)
    page = client.get("/notifications/").content.decode()
    assert "邻居的消息" not in page
    assert page.index("较新的消息") < page.index("较早的消息")
    assert page.count('class="notification unread"') == 2
    assert "全部标为已读" in page


def test_anonymous_visitors_are_sent_to_login(client, db):
    assert client.get("/notifications/").status_code == 302
    assert client.post("/notifications/read/").status_code == 302


def test_page_is_paginated(client, staff):
    for i in range(25):
        notify.send([staff], "x.y", title=f"消息{i:02d}")
    client.force_login(staff)
    first = client.get("/notifications/").content.decode()
    second = client.get("/notifications/?page=2").content.decode()
    assert first.count("data-notification=") == 20 and second.count("data-notification=") == 5
    assert 'class="pagination"' in first


def test_mark_all_read_button(client, staff, neighbour):
    notify.send([staff, neighbour], "x.y", title="t")
    client.force_login(staff)
    response = client.post("/notifications/read/")
    assert response.status_code == 302 and response.url == "/notifications/"
    assert notify.unread_count(staff) == 0 and notify.unread_count(neighbour) == 1
    page = client.get("/notifications/").content.decode()
    assert 'class="notification unread"' not in page and "全部标为已读" not in page


def test_opening_marks_read_and_follows_only_local_links(client, staff, neighbour):
    notify.send([staff], "x.y", title="t", url="/regions/?page=2")
    mine = Notification.objects.get(recipient=staff)
    client.force_login(staff)
    response = client.get(f"/notifications/{mine.pk}/open/")
    assert response.status_code == 302 and response.url == "/regions/?page=2"
    mine.refresh_from_db()
    assert mine.read_at is not None
    # A link that is not a path on this site (written around send()'s check) is never followed.
    for url in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "evil.example/",
        "javascript:alert(1)",
        "",
    ):
        Notification.objects.filter(pk=mine.pk).update(url=url)
        response = client.get(f"/notifications/{mine.pk}/open/")
        assert response.status_code == 302 and response.url == "/notifications/", url


def test_cannot_open_someone_elses_notification(client, staff, neighbour):
    notify.send([neighbour], "x.y", title="t", url="/regions/")
    theirs = Notification.objects.get()
    client.force_login(staff)
    assert client.get(f"/notifications/{theirs.pk}/open/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_unread_badge_in_the_top_bar_costs_one_count_query(client, staff, neighbour):
    from django.db import connection

    client.force_login(staff)
    assert 'class="badge count"' not in client.get("/").content.decode()
    notify.send([staff, neighbour], "x.y", title="t")
    notify.send([staff], "x.y", title="t")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/").content.decode()
    assert '<span class="badge count" aria-hidden="true">2</span>' in page
    assert "消息（2 条未读）" in page
    notification_queries = [q["sql"] for q in queries.captured_queries if "core_notification" in q["sql"]]
    assert len(notification_queries) == 1 and "COUNT(" in notification_queries[0].upper()
    notify.mark_read(staff)
    assert 'class="badge count"' not in client.get("/").content.decode()


def test_badge_shows_99_plus(client, staff):
    for _ in range(100):
        notify.send([staff], "x.y", title="t")
    client.force_login(staff)
    assert '<span class="badge count" aria-hidden="true">99+</span>' in client.get("/").content.decode()


def test_api_lists_only_own_notifications(client, staff, neighbour, tree, frozen_clock):
    notify.send([staff], "case.dispatched", title="一", url="/cases/1/", obj=tree.grid_a1)
    frozen_clock.advance(minutes=1)
    notify.send([staff, neighbour], "x.y", title="二")
    client.force_login(staff)
    body = client.get("/api/v1/notifications").json()
    assert [n["title"] for n in body] == ["二", "一"]
    assert body[1]["url"] == "/cases/1/" and body[1]["object_type"] == "core.region"
    assert body[1]["read_at"] is None
    first = Notification.objects.get(recipient=staff, title="一")
    theirs = Notification.objects.get(recipient=neighbour)
    response = client.post(
        "/api/v1/notifications/read", {"ids": [first.pk, theirs.pk]}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {"marked": 1}
    assert [n["title"] for n in client.get("/api/v1/notifications?unread=true").json()] == ["二"]
    assert client.post("/api/v1/notifications/read", {}, content_type="application/json").json() == {
        "marked": 1
    }
    assert notify.unread_count(neighbour) == 1
    assert client.get("/api/v1/notifications?limit=1&offset=1").json()[0]["title"] == "一"


def test_api_keys_have_no_notifications(client, staff, tree):
    notify.send([staff], "x.y", title="t")
    _, token = services.create_api_key(SYSTEM, name="热线", region=tree.street, actions=["region.view"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/notifications", **auth).json() == []
    response = client.post("/api/v1/notifications/read", {}, content_type="application/json", **auth)
    assert response.json() == {"marked": 0}
    assert notify.unread_count(staff) == 1


def test_api_requires_authentication(client, db):
    assert client.get("/api/v1/notifications").status_code == 401


def test_api_rejects_out_of_range_ids(client, staff):
    client.force_login(staff)
    response = client.post("/api/v1/notifications/read", {"ids": [2**63]}, content_type="application/json")
    assert response.status_code == 422


def test_clock_is_the_only_time_source(staff):
    with clock.frozen("2030-01-01T08:00:00+08:00") as at:
        notify.send([staff], "x.y", title="t")
    assert Notification.objects.get().created_at == at.at


def test_page_and_bell_in_english(client, staff):
    notify.send([staff], "x.y", title="t")
    client.force_login(staff)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    try:
        page = client.get("/notifications/").content.decode()
    finally:
        # The last request's language stays active in this thread; later tests expect Chinese.
        client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "Mark all as read" in page and "Messages (1 unread)" in page


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_delivery_exactly_once(settings, mailoutbox):
    """Four workers in their own threads and database connections drain the same outbox at once."""
    import contextlib

    from django.db import OperationalError, connection

    from tests.factories import build_tree

    tree = build_tree()
    settings.GONGZHI_NOTIFY_CHANNELS = ["email"]
    people = [with_email(user_with(Role.RESIDENT, tree.community_a), f"w{i}@example.org") for i in range(60)]
    with transaction.atomic():
        notify.send(people, "x.y", title="t")
    start = threading.Barrier(4)
    results, errors = [], []

    def retry_while_locked(execute, sql, params, many, context):
        # The in-memory SQLite test database shares one cache between connections, where a writer
        # makes others fail at once with "table is locked" instead of waiting as the file database
        # in production does (busy timeout). Retrying the statement gives that waiting back.
        while True:
            try:
                return execute(sql, params, many, context)
            except OperationalError as exc:
                if "locked" not in str(exc):
                    raise

    def worker():
        try:
            with contextlib.ExitStack() as stack:
                if connection.vendor == "sqlite":
                    stack.enter_context(connection.execute_wrapper(retry_while_locked))
                start.wait()
                sent = 0
                while True:
                    outcome = notify.deliver_pending(limit=7)
                    sent += outcome["sent"]
                    if not any(outcome.values()):
                        break
                results.append(sent)
        except Exception as exc:  # reported below: an assertion in a thread would be lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(results) == 60
    assert sorted(m.to[0] for m in mailoutbox) == sorted(p.email for p in people)
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}
