"""Residents' pages: 随手拍, 我的诉求, rating and supplements — each resident only ever reaches their own."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gongzhi.cases import services
from gongzhi.cases.models import Case, CasePhoto, EventKind, Rating, Source, Status
from gongzhi.core import clock
from gongzhi.core.roles import Role
from gongzhi.people.models import Resident
from tests.cases.conftest import A1_POINT
from tests.factories import user_with

MONDAY = "2026-11-23T10:00:00+08:00"


@pytest.fixture
def now():
    with clock.frozen(MONDAY) as travel:
        yield travel


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded photos go to a throw-away directory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    return tmp_path


def jpeg(name: str = "photo.jpg", colour=(200, 40, 40)) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, "JPEG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def text(response) -> str:
    return response.content.decode()


def form_data(world, **overrides) -> dict:
    data = {
        "title": "路边垃圾堆放",
        "description": "小区门口垃圾三天没人清运",
        "request_type": "complaint",
        "major": world.category("SJ01").pk,
        "minor": world.category("SJ0101").pk,
        "lon": A1_POINT[0],
        "lat": A1_POINT[1],
        "coord_system": "wgs84",
        "address": "幸福路 12 号",
        "photos": [jpeg()],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def submit(world, user=None, **overrides) -> Case:
    """A case reported through the service, as the page would."""
    values = dict(
        source=Source.RESIDENT,
        title="楼道灯坏了",
        description="三单元楼道灯一周没亮",
        lon=A1_POINT[0],
        lat=A1_POINT[1],
        photos=[jpeg("mine.jpg")],
    )
    values.update(overrides)
    return services.submit_case(user or world.resident, **values)


def to_closed(world, case, *, reply_photo=None, verify_photo=None) -> Case:
    case = services.accept_case(world.dispatcher, case, category=world.category("SJ0101"))
    case = services.dispatch_case(world.dispatcher, case, unit=world.department)
    case = services.sign_case(world.officer, case)
    case = services.reply_case(
        world.officer, case, note="已清运", photos=[reply_photo] if reply_photo else []
    )
    return services.verify_case(
        world.grid_worker, case, passed=True, note="现场已清理", photos=[verify_photo] if verify_photo else []
    )


@pytest.fixture
def neighbour(world):
    return user_with(Role.RESIDENT, world.tree.community_a, username="neighbour")


# ---------------------------------------------------------------- 随手拍


def test_report_page_offers_camera_album_map_category_and_anonymity(client, world, now):
    client.force_login(world.resident)
    response = client.get("/cases/report/")
    assert response.status_code == 200
    page = text(response)
    assert 'enctype="multipart/form-data"' in page
    assert 'accept="image/*"' in page and 'capture="environment"' in page and "multiple" in page
    assert "不确定可不选" in page and "<optgroup" in page  # minors grouped under their major
    assert "匿名反映" in page and "办理人员看不到您的姓名" in page
    assert 'type="hidden" name="lon"' in page and 'type="hidden" name="lat"' in page
    # The pick-a-point map (static/gongzhi/casemap.js) writes into the hidden inputs; without
    # JavaScript the form still works and the resident's own area is used.
    assert 'data-casemap="pick"' in page and 'data-lon-input="id_lon"' in page
    assert 'data-lat-input="id_lat"' in page and 'data-coord-input="id_coord_system"' in page
    assert "/static/gongzhi/casemap.js" in page and "使用当前位置" in page and "<noscript>" in page
    assert '<script id="report-regions" type="application/json">' in page
    assert '"code": "510903014006001"' in page  # the grids of the resident's street, to tap on
    assert "<script>" not in page  # CSP: nothing inline
    assert 'value="event"' not in page  # 事件 is the staff's patrol type


def test_report_needs_a_login(client, world):
    response = client.get("/cases/report/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_resident_reports_with_a_photo_and_gets_a_tracking_number(client, world, now):
    client.force_login(world.resident)
    response = client.post("/cases/report/", form_data(world))
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/cases/mine/{case.number}/?submitted=1"
    assert case.source == Source.RESIDENT and case.reporter == world.resident
    assert case.category == world.category("SJ0101")
    assert case.region == world.tree.grid_a1 and case.located_by == "point"
    assert case.address == "幸福路 12 号" and not case.anonymous
    photo = CasePhoto.objects.get(case=case)
    assert photo.event.kind == EventKind.SUBMIT and photo.attachment.content_type == "image/jpeg"

    page = text(client.get(response["Location"]))
    assert "提交成功" in page and f'<p class="tracking-no mono">{case.number}</p>' in page
    assert 'href="/cases/mine/"' in page
    served = client.get(f"/cases/mine/{case.number}/photos/{photo.pk}/")
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (40, 30)


def test_only_the_major_category_and_no_point_falls_back_to_the_residents_grid(client, world, now):
    Resident.objects.create(
        region=world.tree.grid_a2,
        name="周小梅",
        created_at=clock.now(),
        updated_at=clock.now(),
        account=world.resident,
    )
    client.force_login(world.resident)
    response = client.post("/cases/report/", form_data(world, minor="", lon=None, lat=None))
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.category == world.category("SJ01")
    assert case.region == world.tree.grid_a2 and case.located_by == "address"
    assert case.reporter_name == "周小梅" and case.verified_reporter


def test_errors_show_by_their_fields_and_keep_what_was_typed(client, world, now):
    client.force_login(world.resident)
    response = client.post(
        "/cases/report/", form_data(world, title="", description="垃圾桶满了没人管", address="东门口")
    )
    assert response.status_code == 400
    page = text(response)
    assert "请填写标题" in page  # InvalidCase from the service, under its field
    assert "垃圾桶满了没人管" in page and 'value="东门口"' in page
    assert "请重新拍摄或选择照片" in page  # files are not kept by browsers: say so
    assert not Case.objects.exists()


def test_a_file_that_is_not_an_image_is_named_and_nothing_is_saved(client, world, now):
    client.force_login(world.resident)
    bad = SimpleUploadedFile("收据.jpg", b"this is not a picture", content_type="image/jpeg")
    response = client.post("/cases/report/", form_data(world, photos=[jpeg(), bad]))
    assert response.status_code == 400
    page = text(response)
    assert "文件“收据.jpg”不是可识别的图片" in page
    assert "小区门口垃圾三天没人清运" in page
    assert not Case.objects.exists() and not CasePhoto.objects.exists()


def test_at_least_one_and_at_most_nine_photos(client, world, now):
    client.force_login(world.resident)
    response = client.post("/cases/report/", form_data(world, photos=[]))
    assert response.status_code == 400 and "请至少拍摄或选择 1 张照片" in text(response)
    response = client.post(
        "/cases/report/",
        form_data(world, photos=[jpeg(f"{i}.jpg") for i in range(6)], camera=[jpeg(), jpeg()]),
    )
    assert response.status_code == 302  # camera and album together: 8
    response = client.post("/cases/report/", form_data(world, photos=[jpeg(f"{i}.jpg") for i in range(10)]))
    assert response.status_code == 400 and "照片最多 9 张" in text(response)
    assert Case.objects.count() == 1 and CasePhoto.objects.count() == 8


def test_a_minor_class_must_belong_to_the_chosen_major(client, world, now):
    client.force_login(world.resident)
    response = client.post("/cases/report/", form_data(world, major=world.category("SJ08").pk))
    assert response.status_code == 400 and "不属于大类" in text(response)


def test_anonymous_report_hides_the_name_from_staff(client, world, now):
    client.force_login(world.resident)
    client.post("/cases/report/", form_data(world, anonymous="on"))
    client.post("/cases/report/", form_data(world, title="第二件"))
    anonymous, named = Case.objects.order_by("pk")
    assert anonymous.anonymous and anonymous.reporter == world.resident
    assert anonymous.reporter_display == "匿名" and anonymous.masked_phone == ""
    assert named.reporter_display and named.reporter_display != world.resident.real_name  # masked
    assert "匿名（办理人员看不到您的姓名和电话）" in text(client.get(f"/cases/mine/{anonymous.number}/"))


# ---------------------------------------------------------------- 我的诉求


def test_my_requests_are_mine_only_newest_first_in_plain_words(client, world, neighbour, now):
    first = submit(world, title="第一件事")
    now.advance(hours=1)
    second = submit(world, title="第二件事")
    submit(world, neighbour, title="邻居的事")
    services.accept_case(world.dispatcher, first, category=world.category("SJ0101"))
    client.force_login(world.resident)
    page = text(client.get("/cases/mine/"))
    assert "邻居的事" not in page
    assert page.index("第二件事") < page.index("第一件事")
    assert "已提交，等待受理" in page and "已受理，正在安排办理单位" in page
    for step in ["提交", "受理", "办理", "办结", "评价"]:
        assert f"<span>{step}</span>" in page
    assert 'aria-current="step"' in page
    assert f'href="/cases/mine/{second.number}/"' in page


def test_my_requests_empty_invites_a_report(client, world, now):
    client.force_login(world.resident)
    page = text(client.get("/cases/mine/"))
    assert "您还没有反映过问题" in page and 'href="/cases/report/"' in page


def test_another_resident_reaches_nothing_of_my_case(client, world, neighbour, now):
    case = to_closed(world, submit(world))
    photo = case.photos.first()
    client.force_login(neighbour)
    base = f"/cases/mine/{case.number}/"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}photos/{photo.pk}/").status_code == 404
    assert client.post(f"{base}rate/", {"rating": Rating.SATISFIED}).status_code == 404
    assert client.post(f"{base}supplement/", {"note": "x"}).status_code == 404
    case.refresh_from_db()
    assert case.rating == "" and case.rated_at is None
    # Staff use their own pages; the residents' pages are only for the reporter.
    client.force_login(world.dispatcher)
    assert client.get(base).status_code == 404


def test_the_timeline_names_units_not_staff_and_shows_only_public_steps(client, world, now):
    case = to_closed(world, submit(world))
    client.force_login(world.resident)
    page = text(client.get(f"/cases/mine/{case.number}/"))
    for label in [
        "您提交了诉求",
        "已受理",
        "已交办理单位",
        "办理单位已接手",
        "办理单位反馈了处理结果",
        "已办结",
    ]:
        assert label in page, label
    assert "区综合行政执法局" in page and "已清运" in page
    for person in [world.dispatcher, world.officer, world.grid_worker]:
        assert person.real_name not in page and person.username not in page
    assert "已办结" in page and "请您评价" in page


def test_reporter_sees_own_and_reply_photos_but_not_verification_photos(client, world, now):
    case = to_closed(world, submit(world), reply_photo=jpeg("reply.jpg"), verify_photo=jpeg("check.jpg"))
    by_kind = {p.event.kind: p for p in case.photos.select_related("event")}
    assert set(by_kind) == {EventKind.SUBMIT, EventKind.REPLY, EventKind.CLOSE}
    client.force_login(world.resident)
    base = f"/cases/mine/{case.number}/photos/"
    assert client.get(f"{base}{by_kind[EventKind.SUBMIT].pk}/").status_code == 200
    assert client.get(f"{base}{by_kind[EventKind.REPLY].pk}/").status_code == 200
    assert client.get(f"{base}{by_kind[EventKind.CLOSE].pk}/").status_code == 404
    page = text(client.get(f"/cases/mine/{case.number}/"))
    assert (
        f"{base}{by_kind[EventKind.REPLY].pk}/" in page
        and f"{base}{by_kind[EventKind.CLOSE].pk}/" not in page
    )
    # A photo of another case, asked for under this case's number, is not served either.
    other = submit(world, title="另一件")
    assert client.get(f"{base}{other.photos.get().pk}/").status_code == 404


# ---------------------------------------------------------------- rating and supplements


def test_rating_works_once_and_dissatisfied_asks_for_a_callback(client, world, now):
    case = to_closed(world, submit(world))
    client.force_login(world.resident)
    url = f"/cases/mine/{case.number}/"
    page = text(client.get(url))
    assert 'action="/cases/mine/' in page and "评价办理结果" in page and "基本满意" in page
    assert client.get(f"{url}rate/").status_code == 405
    assert client.post(f"{url}rate/", {"comment": "还行"}).status_code == 400

    response = client.post(f"{url}rate/", {"rating": Rating.DISSATISFIED, "comment": "又堆上了"})
    assert response.status_code == 302 and response["Location"] == url
    case.refresh_from_db()
    assert case.rating == Rating.DISSATISFIED and case.callback_pending
    assert case.events.get(kind=EventKind.EVALUATE).note == "又堆上了"
    page = text(client.get(url))
    assert "评价办理结果" not in page and "工作人员会尽快回访您" in page

    again = client.post(f"{url}rate/", {"rating": Rating.SATISFIED})
    assert again.status_code == 409 and "您已评价过本次办理结果" in text(again)
    case.refresh_from_db()
    assert case.rating == Rating.DISSATISFIED
    assert case.events.filter(kind=EventKind.EVALUATE).count() == 1


def test_rating_an_open_case_is_refused(client, world, now):
    case = submit(world)
    client.force_login(world.resident)
    response = client.post(f"/cases/mine/{case.number}/rate/", {"rating": Rating.SATISFIED})
    assert response.status_code == 409 and "不能评价" in text(response)
    assert not Case.objects.get(pk=case.pk).rating


def test_supplement_resumes_a_suspended_case(client, world, now):
    case = submit(world)
    services.suspend_case(world.dispatcher, case, reason="请补拍垃圾堆放的全景照片")
    client.force_login(world.resident)
    url = f"/cases/mine/{case.number}/"
    page = text(client.get(url))
    assert "需要您补充材料" in page and "请补拍垃圾堆放的全景照片" in page
    assert f'action="{url}supplement/"' in page

    assert client.post(f"{url}supplement/", {"note": "  "}).status_code == 400
    assert Case.objects.get(pk=case.pk).status == Status.SUSPENDED

    now.advance(hours=1)
    response = client.post(f"{url}supplement/", {"note": "垃圾在三单元门口，约两立方"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    resume = case.events.get(kind=EventKind.RESUME)
    assert resume.note == "垃圾在三单元门口，约两立方" and resume.actor == world.resident
    assert "提交补充材料" not in text(client.get(url))
    # Not suspended any more: a second supplement is refused with the service's message.
    again = client.post(f"{url}supplement/", {"note": "再补充一点"})
    assert again.status_code == 409 and "不能恢复办理" in text(again)
