"""The people pages: each renders for the people it is for, refuses everyone else, and changes state
only through the services."""

import pytest

from gongzhi.core import scopes
from gongzhi.core.models import AuditEntry
from gongzhi.people import services
from gongzhi.people.models import Resident, ResidentEvent, ResidentStatus, ResidentTag, Tag
from tests.people.ledger import ID_A, ID_A_MASKED, ID_B, PHONE_A, build_ledger


@pytest.fixture
def ledger(tree, frozen_clock):
    return build_ledger(tree)


def page(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def text(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------- every page, for the people it is for


def test_every_page_renders_for_community_staff(client, ledger):
    client.force_login(ledger.staff)
    r = ledger.resident
    for url in [
        "/people/",
        "/people/?q=张三",
        f"/people/residents/{r.pk}/",
        "/people/residents/new/",
        f"/people/households/{ledger.household.pk}/",
        "/people/buildings/",
        f"/people/buildings/{ledger.building.pk}/",
        "/people/organisations/",
        "/people/duplicates/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<script>" not in text(response), url  # CSP: no inline script


def test_search_page_links_follow_permissions(client, ledger):
    staff = text(page(client, ledger.staff, "/people/", q="张三"))
    for label in ["登记人员", "楼栋", "单位组织", "疑似重复", "导入台账", "导出 Excel"]:
        assert label in staff, label
    assert 'href="/people/import/"' in staff
    assert 'href="/people/export.xlsx?q=%E5%BC%A0%E4%B8%89"' in staff

    worker = text(page(client, ledger.worker_a, "/people/"))
    assert "登记人员" in worker and "导出 Excel" in worker
    assert "疑似重复" not in worker  # merging is for community staff
    assert ("导入台账" in worker) == scopes.can(ledger.worker_a, "people.import")

    leader = text(page(client, ledger.leader, "/people/"))
    assert "楼栋" in leader and "单位组织" in leader
    for label in ["登记人员", "疑似重复", "导入台账", "导出 Excel"]:
        assert label not in leader, label


def test_people_pages_refuse_users_without_the_ledger(client, ledger, tree):
    from gongzhi.core.roles import Role
    from tests.factories import user_with

    resident_user = user_with(Role.RESIDENT, tree.community_a)
    client.force_login(resident_user)
    for url in ["/people/", "/people/residents/new/", "/people/buildings/", "/people/organisations/"]:
        assert client.get(url).status_code == 403, url
    assert client.get(f"/people/residents/{ledger.resident.pk}/").status_code == 404
    assert client.get("/people/duplicates/").status_code == 403


# ---------------------------------------------------------------- the neighbour's data stays out of reach


def test_grid_worker_cannot_list_search_or_open_another_grid(client, ledger):
    r = ledger.resident
    client.force_login(ledger.worker_b)
    for q in ["张三", "zhangsan", "7838", ID_A, PHONE_A, "马宗岭路"]:
        body = text(client.get("/people/", {"q": q}))
        assert f"/people/residents/{r.pk}/" not in body and "没有找到" in body, q
    assert f"/people/residents/{ledger.neighbour.pk}/" in text(client.get("/people/", {"q": "李四"}))
    assert client.get(f"/people/residents/{r.pk}/").status_code == 404
    assert client.get(f"/people/households/{ledger.household.pk}/").status_code == 404
    assert client.get(f"/people/buildings/{ledger.building.pk}/").status_code == 404
    buildings = text(client.get("/people/buildings/"))
    assert "金鱼1栋" in buildings and "3栋" not in buildings
    organisations = text(client.get("/people/organisations/"))
    assert "金鱼超市" in organisations and "阳光志愿服务队" not in organisations


def test_grid_worker_cannot_reveal_or_act_on_another_grid(client, ledger):
    r = ledger.resident
    tag = Tag.objects.get(code="veteran")
    services.tag_resident(ledger.staff, r, Tag.objects.get(code="elderly_alone"))
    events_before = ResidentEvent.objects.filter(resident=r).count()
    audit_before = AuditEntry.objects.count()
    client.force_login(ledger.worker_b)
    posts = {
        f"/people/residents/{r.pk}/reveal/id_number/": {},
        f"/people/residents/{r.pk}/reveal/phone/": {},
        f"/people/residents/{r.pk}/edit/": {
            "name": "张三三",
            "id_type": "citizen_id",
            "residence_type": "registered",
        },
        f"/people/residents/{r.pk}/move/": {"to_region": ledger.neighbour.region_id, "on_date": "2026-11-01"},
        f"/people/residents/{r.pk}/move-out/": {"on_date": "2026-11-01"},
        f"/people/residents/{r.pk}/death/": {"on_date": "2026-11-01"},
        f"/people/residents/{r.pk}/tags/": {"tag": tag.pk},
        f"/people/residents/{r.pk}/tags/{Tag.objects.get(code='elderly_alone').pk}/remove/": {},
        f"/people/households/{ledger.household.pk}/householder/": {"resident": ledger.spouse.pk},
    }
    for url, data in posts.items():
        response = client.post(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code in (403, 404), url
        assert ID_A not in text(response) and PHONE_A not in text(response), url
    r.refresh_from_db()
    ledger.household.refresh_from_db()
    assert (r.name, r.status, r.region_id) == ("张三", ResidentStatus.LIVING_HERE, ledger.resident.region_id)
    assert ledger.household.householder_id == r.pk
    assert ResidentEvent.objects.filter(resident=r).count() == events_before
    assert set(ResidentTag.objects.filter(resident=r).values_list("tag__code", flat=True)) == {
        "elderly_alone"
    }
    assert AuditEntry.objects.count() == audit_before  # not even a reveal was recorded


def test_move_target_is_limited_to_grids_the_worker_edits(client, ledger, tree):
    r = ledger.resident
    client.force_login(ledger.worker_a)
    profile = text(client.get(f"/people/residents/{r.pk}/"))
    assert tree.grid_a1.name in profile and tree.grid_b1.name not in profile
    response = client.post(
        f"/people/residents/{r.pk}/move/", {"to_region": tree.grid_b1.pk, "on_date": "2026-11-01"}
    )
    assert response.status_code == 200
    assert "该网格不在您的管辖范围内" in text(response)
    assert Resident.objects.get(pk=r.pk).region == tree.grid_a1


# ---------------------------------------------------------------- reveal


def test_profile_masks_and_reveal_is_audited(client, ledger):
    r = ledger.resident
    profile = text(page(client, ledger.worker_a, f"/people/residents/{r.pk}/"))
    assert ID_A_MASKED in profile and "139****1234" in profile
    assert ID_A not in profile and PHONE_A not in profile
    assert "查看完整号码" in profile

    response = client.post(f"/people/residents/{r.pk}/reveal/id_number/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and ID_A in text(response)
    assert "<html" not in text(response)  # an htmx fragment
    response = client.post(f"/people/residents/{r.pk}/reveal/phone/")  # without JS: a small page
    assert response.status_code == 200 and PHONE_A in text(response) and "审计" in text(response)
    entries = AuditEntry.objects.filter(action="pdata.reveal", object_id=str(r.pk)).order_by("id")
    assert [e.after["field"] for e in entries] == ["id_number", "phone"]
    assert all(e.actor == ledger.worker_a for e in entries)

    assert client.post(f"/people/residents/{r.pk}/reveal/name/").status_code == 404
    assert client.get(f"/people/residents/{r.pk}/reveal/id_number/").status_code == 405


def test_leader_views_but_cannot_reveal_or_act(client, ledger):
    r = ledger.resident
    profile = text(page(client, ledger.leader, f"/people/residents/{r.pk}/"))
    assert ID_A_MASKED in profile and "查看完整号码" not in profile
    assert "修改信息" not in profile and "登记死亡" not in profile and "添加标签" not in profile
    for field in ["id_number", "phone"]:
        response = client.post(f"/people/residents/{r.pk}/reveal/{field}/", HTTP_HX_REQUEST="true")
        assert response.status_code == 403
        assert ID_A not in text(response) and PHONE_A not in text(response)
    assert client.post(f"/people/residents/{r.pk}/move-out/", {"on_date": "2026-11-01"}).status_code == 403
    assert client.post(f"/people/residents/{r.pk}/death/", {"on_date": "2026-11-01"}).status_code == 403
    assert Resident.objects.get(pk=r.pk).status == ResidentStatus.LIVING_HERE
    assert not AuditEntry.objects.filter(action="pdata.reveal").exists()


# ---------------------------------------------------------------- register


def test_register_page_reports_errors_and_registers(client, ledger, tree):
    client.force_login(ledger.worker_a)
    form = text(client.get("/people/residents/new/"))
    assert tree.grid_a1.name in form and tree.grid_a2.name not in form
    bad = {
        "region": tree.grid_a1.pk,
        "name": "赵六",
        "id_type": "citizen_id",
        "id_number": "110105194912310021",
        "phone": "123",
        "residence_type": "registered",
    }
    response = client.post("/people/residents/new/", bad)
    assert response.status_code == 200
    body = text(response)
    assert "校验位错误" in body and "联系电话" in body
    assert not Resident.objects.filter(name="赵六").exists()

    response = client.post("/people/residents/new/", {**bad, "region": tree.grid_b1.pk, "phone": ""})
    assert "该网格不在您的管辖范围内" in text(response)

    response = client.post("/people/residents/new/", {**bad, "id_number": ID_A, "phone": ""})
    assert "该证件号码已登记" in text(response)

    good = {**bad, "id_number": "110101200001010010", "phone": "13900009999", "ethnicity": "汉族"}
    response = client.post("/people/residents/new/", good, follow=True)
    person = Resident.objects.get(name="赵六")
    assert response.redirect_chain[-1][0] == f"/people/residents/{person.pk}/"
    assert "已登记“赵六”" in text(response)
    assert (person.region, person.sex, str(person.birth_date)) == (tree.grid_a1, "M", "2000-01-01")
    assert person.events.get().kind == "register"


def test_register_page_accepts_a_passport(client, ledger, tree):
    client.force_login(ledger.staff)
    response = client.post(
        "/people/residents/new/",
        {
            "region": tree.grid_a2.pk,
            "name": "John Smith",
            "id_type": "passport",
            "id_number": "E12345678",
            "sex": "M",
            "birth_date": "1980-05-06",
            "residence_type": "foreign",
        },
    )
    assert response.status_code == 302
    assert Resident.objects.get(name="JohnSmith").id_type == "passport"


# ---------------------------------------------------------------- actions on the profile


def test_actions_go_through_services_with_messages(client, ledger, tree):
    r = ledger.resident
    client.force_login(ledger.staff)
    url = f"/people/residents/{r.pk}"

    response = client.post(
        f"{url}/edit/",
        {
            "name": "张三",
            "id_type": "citizen_id",
            "phone": "13900005678",
            "ethnicity": "汉族",
            "residence_type": "registered",
        },
        follow=True,
    )
    assert "信息已保存" in text(response)
    r.refresh_from_db()
    assert (r.phone, r.id_number, r.ethnicity) == ("13900005678", ID_A, "汉族")  # empty ID keeps the number
    assert "联系电话：139****1234 → 139****5678" in text(response)

    response = client.post(
        f"{url}/edit/", {"name": "", "id_type": "citizen_id", "residence_type": "registered"}
    )
    assert response.status_code == 200 and "姓名不能为空" in text(response)

    response = client.post(
        f"{url}/move/",
        {"to_region": tree.grid_a2.pk, "on_date": "2026-10-01", "address": "马宗岭路9号"},
        follow=True,
    )
    assert "已办理辖区内迁移" in text(response)
    r.refresh_from_db()
    assert (r.region, r.address) == (tree.grid_a2, "马宗岭路9号")

    response = client.post(f"{url}/death/", {"on_date": "2027-01-01"})
    assert "日期不能晚于今天" in text(response)
    assert Resident.objects.get(pk=r.pk).status == ResidentStatus.LIVING_HERE

    response = client.post(
        f"{url}/move-out/", {"on_date": "2026-11-01", "destination": "成都市"}, follow=True
    )
    assert "已办理迁出" in text(response)
    assert Resident.objects.get(pk=r.pk).status == ResidentStatus.MOVED_OUT

    response = client.post(
        f"{url}/move-in/", {"region": tree.grid_a1.pk, "on_date": "2026-11-20"}, follow=True
    )
    assert "已办理迁入" in text(response)

    response = client.post(f"{url}/death/", {"on_date": "2026-11-22", "note": "病故"}, follow=True)
    assert "已登记死亡" in text(response)
    kinds = list(r.events.values_list("kind", flat=True))
    assert kinds == ["register", "update", "move_within", "move_out", "move_in", "death"]
    profile = text(response)
    for label in ["登记", "信息变更", "辖区内迁移", "迁出", "迁入", "死亡", "病故"]:
        assert label in profile, label


def test_tags_add_and_remove(client, ledger):
    r = ledger.resident
    client.force_login(ledger.worker_a)
    veteran = Tag.objects.get(code="veteran")
    response = client.post(
        f"/people/residents/{r.pk}/tags/", {"tag": veteran.pk, "since": "2020-01-01"}, follow=True
    )
    assert "已添加标签" in text(response) and "退役军人" in text(response)
    assert AuditEntry.objects.filter(action="people.tag", object_id=str(r.pk)).exists()
    response = client.post(f"/people/residents/{r.pk}/tags/{veteran.pk}/remove/", follow=True)
    assert "已移除标签“退役军人”" in text(response)
    assert not r.tags.exists()


def test_sensitive_tag_hidden_from_leader(client, ledger):
    r = ledger.resident
    services.tag_resident(ledger.staff, r, Tag.objects.get(code="released_prisoner"))
    services.tag_resident(ledger.staff, r, Tag.objects.get(code="elderly_alone"))
    leader = text(page(client, ledger.leader, f"/people/residents/{r.pk}/"))
    assert "独居老人" in leader and "刑满释放人员" not in leader
    assert not AuditEntry.objects.filter(action="people.sensitive_read").exists()

    worker = text(page(client, ledger.worker_a, f"/people/residents/{r.pk}/"))
    assert "刑满释放人员" in worker
    assert AuditEntry.objects.filter(action="people.sensitive_read", actor=ledger.worker_a).count() == 1


# ---------------------------------------------------------------- households, buildings, duplicates


def test_household_page_shows_members_and_sets_householder(client, ledger):
    h = ledger.household
    body = text(page(client, ledger.worker_a, f"/people/households/{h.pk}/"))
    assert "H001" in body and "张三" in body and "王芳" in body and "配偶" in body
    assert "本人（户主）" in body and ID_A_MASKED in body and ID_A not in body
    assert f'href="/people/buildings/{ledger.building.pk}/"' in body

    response = client.post(
        f"/people/households/{h.pk}/householder/", {"resident": ledger.spouse.pk}, follow=True
    )
    assert "户主已设为“王芳”" in text(response)
    h.refresh_from_db()
    assert h.householder == ledger.spouse
    response = client.post(f"/people/households/{h.pk}/householder/", {"resident": ledger.neighbour.pk})
    assert "户主必须是该户成员" in text(response)

    leader = text(page(client, ledger.leader, f"/people/households/{h.pk}/"))
    assert "王芳" in leader and "设为户主" not in leader
    assert (
        client.post(f"/people/households/{h.pk}/householder/", {"resident": ledger.resident.pk}).status_code
        == 403
    )


def test_building_page_shows_units_owners_and_occupants(client, ledger):
    body = text(page(client, ledger.worker_a, f"/people/buildings/{ledger.building.pk}/"))
    for value in [
        "阳光小区3栋",
        "2单元301",
        "98.50",
        "80.20",
        "住宅",
        "自住",
        "2单元302",
        "商铺",
        "张三",
        "王芳",
    ]:
        assert value in body, value
    assert f'href="/people/residents/{ledger.resident.pk}/"' in body
    listing = text(client.get("/people/buildings/"))
    assert "阳光小区3栋" in listing and "马宗岭第1网格" in listing


def test_building_page_masks_owners_outside_scope(client, ledger, tree):
    from decimal import Decimal

    from gongzhi.core.principals import SYSTEM

    unit_302 = ledger.building.units.get(label="2单元302")
    services.add_ownership(SYSTEM, ledger.neighbour, unit_302, share=Decimal(1))
    body = text(page(client, ledger.worker_a, f"/people/buildings/{ledger.building.pk}/"))
    assert "李*" in body and "李四" not in body
    assert f"/people/residents/{ledger.neighbour.pk}/" not in body


def test_merge_via_duplicates_page(client, ledger, tree):
    data = {"name": "王小红", "birth_date": "1990-01-01", "address": "马宗岭路18号3栋2单元"}
    keep = services.register_resident(ledger.staff, tree.grid_a1, data)
    dup = services.register_resident(ledger.staff, tree.grid_a1, {**data, "phone": "13900002222"})
    assert client.get("/people/duplicates/").status_code == 302  # login first
    assert page(client, ledger.worker_a, "/people/duplicates/").status_code == 403
    body = text(page(client, ledger.staff, "/people/duplicates/"))
    assert body.count("王小红") >= 2 and "139****2222" in body and "13900002222" not in body

    response = client.post(
        "/people/duplicates/merge/", {"a": keep.pk, "b": dup.pk, "keep": "a", "note": "同一人"}, follow=True
    )
    assert "已合并" in text(response)
    keep.refresh_from_db()
    dup.refresh_from_db()
    assert dup.status == ResidentStatus.MERGED and dup.merged_into == keep and keep.phone == "13900002222"
    assert "没有发现疑似重复的人员" in text(response)

    response = client.post("/people/duplicates/merge/", {"a": keep.pk, "b": ledger.neighbour.pk, "keep": "a"})
    assert response.status_code == 404  # the neighbour is outside the staff member's area
    assert Resident.objects.get(pk=ledger.neighbour.pk).status == ResidentStatus.LIVING_HERE


def test_neighbour_id_never_on_any_page_of_grid_a(client, ledger):
    client.force_login(ledger.staff)
    for url in ["/people/?q=李四", f"/people/residents/{ledger.resident.pk}/", "/people/buildings/"]:
        assert ID_B not in text(client.get(url)), url
