import datetime as dt

import pytest

from gongzhi.core import crypto
from gongzhi.core.errors import DomainError, PermissionDenied
from gongzhi.core.models import AuditEntry
from gongzhi.core.roles import Role
from gongzhi.people import queries, services
from gongzhi.people.models import Resident, ResidentEvent, ResidentStatus, Tag
from tests.factories import user_with

ID1 = "11010519491231002X"
ID2 = "110101199003077838"


@pytest.fixture
def staff(tree):
    return user_with(Role.COMMUNITY_STAFF, tree.community_a)


def register(actor, region, **data):
    return services.register_resident(actor, region, {"name": "张三", **data})


def test_register_derives_birth_sex_and_search_keys(tree, staff):
    r = register(staff, tree.grid_a1, id_number="11010519491231002x", phone="139-0000-1234")
    r.refresh_from_db()
    assert (r.birth_date, r.sex, r.id_number) == (dt.date(1949, 12, 31), "F", ID1)
    assert r.name_pinyin == "zhangsan" and r.name_initials == "zs"
    assert r.id_index == crypto.blind_index(ID1, purpose="citizen_id")
    assert [e.kind for e in r.events.all()] == ["register"]
    assert AuditEntry.objects.filter(action="people.register", object_id=str(r.pk)).exists()


def test_same_id_is_the_same_person(tree, staff):
    register(staff, tree.grid_a1, id_number=ID1)
    with pytest.raises(DomainError) as info:
        register(staff, tree.grid_a2, name="李四", id_number=ID1)
    assert info.value.code == "people.duplicate_id"
    assert Resident.objects.count() == 1


def test_invalid_person_lists_every_problem(tree, staff):
    with pytest.raises(services.InvalidPerson) as info:
        register(staff, tree.grid_a1, id_number="110105194912310021", phone="123", sex="男")
    fields = [label for label, _ in info.value.errors]
    assert fields == ["证件号码", "联系电话"]
    assert "校验位错误，应为 X" in info.value.message


def test_foreigner_with_passport_needs_no_checksum(tree, staff):
    r = register(
        staff,
        tree.grid_a1,
        name="John Smith",
        id_type="护照",
        id_number="E12345678",
        sex="男",
        birth_date="1980年5月6日",
        residence_type="境外",
    )
    assert (r.id_type, r.sex, r.birth_date, r.residence_type) == (
        "passport",
        "M",
        dt.date(1980, 5, 6),
        "foreign",
    )


def test_cannot_register_outside_scope_or_above_grid(tree, staff):
    with pytest.raises(PermissionDenied):
        register(staff, tree.grid_b1)
    with pytest.raises(DomainError, match="网格"):
        register(staff, tree.community_a)


def test_move_out_keeps_history_and_record(tree, staff, frozen_clock):
    r = register(staff, tree.grid_a1, id_number=ID2, address="马宗岭路1号")
    services.move(staff, r, to_region=tree.grid_a2, on_date=dt.date(2026, 3, 1), address="马宗岭路9号")
    services.move_out(staff, r, on_date=dt.date(2026, 11, 1), destination="成都市")
    r.refresh_from_db()
    assert r.status == ResidentStatus.MOVED_OUT and r.region == tree.grid_a2
    kinds = list(r.events.values_list("kind", "from_address", "to_address"))
    assert kinds == [
        ("register", "", "马宗岭路1号"),
        ("move_within", "马宗岭路1号", "马宗岭路9号"),
        ("move_out", "马宗岭路9号", "成都市"),
    ]
    assert not queries.residents_visible_to(staff).filter(pk=r.pk).exists()
    assert queries.residents_visible_to(staff, include_inactive=True).filter(pk=r.pk).exists()
    with pytest.raises(DomainError):
        services.move_out(staff, r, on_date=dt.date(2026, 11, 2))
    services.move_in(staff, r, region=tree.grid_a1, on_date=dt.date(2026, 11, 20))
    assert Resident.objects.get(pk=r.pk).status == ResidentStatus.LIVING_HERE


def test_death_date_checks(tree, staff, frozen_clock):
    r = register(staff, tree.grid_a1, id_number=ID2)
    with pytest.raises(DomainError, match="晚于今天"):
        services.record_death(staff, r, on_date=dt.date(2027, 1, 1))
    with pytest.raises(DomainError, match="出生日期"):
        services.record_death(staff, r, on_date=dt.date(1980, 1, 1))
    services.record_death(staff, r, on_date=dt.date(2026, 11, 1))
    assert Resident.objects.get(pk=r.pk).status == ResidentStatus.DECEASED


def test_update_records_masked_changes(tree, staff):
    r = register(staff, tree.grid_a1, phone="13900001234")
    services.update_resident(staff, r, {"phone": "13900005678", "ethnicity": "汉"})
    event = r.events.get(kind="update")
    assert event.changes == {"phone": ["139****1234", "139****5678"], "ethnicity": ["", "汉族"]}


def test_merge_moves_id_tags_and_history(tree, staff):
    keep = register(staff, tree.grid_a1, birth_date="1990-03-07", sex="男", address="马宗岭路1号")
    dup = register(staff, tree.grid_a1, id_number=ID2, address="马宗岭路1号", phone="13900001111")
    tag = Tag.objects.get(code="veteran")
    services.tag_resident(staff, dup, tag)
    services.merge_residents(staff, keep, dup)
    keep.refresh_from_db()
    dup.refresh_from_db()
    assert keep.id_number == ID2 and keep.phone == "13900001111" and dup.id_number is None
    assert dup.status == ResidentStatus.MERGED and dup.merged_into == keep
    assert list(keep.tags.values_list("tag__code", flat=True)) == ["veteran"]
    assert queries.search_residents(staff, ID2).get() == keep


def test_merge_refuses_two_different_ids(tree, staff):
    a = register(staff, tree.grid_a1, id_number=ID1)
    b = register(staff, tree.grid_a1, id_number=ID2)
    with pytest.raises(DomainError, match="不是同一人"):
        services.merge_residents(staff, a, b)


def test_search_by_every_key_and_scoped(tree, staff):
    r = register(staff, tree.grid_a1, id_number=ID2, phone="13900001234", address="马宗岭路18号")
    other = register(user_with(Role.COMMUNITY_STAFF, tree.community_b), tree.grid_b1, name="张三丰")
    for text in ["张三", "zhangsan", "zs", "ZS", "7838", "77838", "077838", ID2, "13900001234", "马宗岭路"]:
        assert list(queries.search_residents(staff, text)) == [r], text
    assert other not in queries.search_residents(staff, "张")
    worker_b = user_with(Role.GRID_WORKER, tree.grid_b1)
    assert not queries.search_residents(worker_b, "zhangsan").filter(pk=r.pk).exists()


def test_likely_duplicates_need_name_birth_and_similar_address(tree, staff):
    a = register(staff, tree.grid_a1, name="王小红", birth_date="1990-01-01", address="马宗岭路18号3栋2单元")
    b = register(
        staff, tree.grid_a1, name="王小红", birth_date="1990-01-01", address="马宗岭路18号3栋2单元201"
    )
    register(staff, tree.grid_a1, name="王小红", birth_date="1990-01-01", address="金鱼街99号")
    pairs = queries.likely_duplicates(staff)
    assert [(p[0], p[1]) for p in pairs] == [(a, b)]


def test_sensitive_tags_only_for_granted_roles_and_audited(tree, staff):
    r = register(staff, tree.grid_a1)
    sensitive = Tag.objects.get(code="released_prisoner")
    services.tag_resident(staff, r, sensitive)
    services.tag_resident(staff, r, Tag.objects.get(code="elderly_alone"))
    leader = user_with(Role.LEADER, tree.street)
    assert [t.tag.code for t in services.read_sensitive_tags(leader, r)] == ["elderly_alone"]
    assert not AuditEntry.objects.filter(action="people.sensitive_read").exists()
    seen = services.read_sensitive_tags(staff, r, ip="10.0.0.1")
    assert {t.tag.code for t in seen} == {"released_prisoner", "elderly_alone"}
    assert AuditEntry.objects.get(action="people.sensitive_read").after == {"tags": ["released_prisoner"]}


def test_units_and_ownership_shares(tree, staff):
    from decimal import Decimal

    b = services.create_building(
        staff, tree.grid_a1, name="3栋", address="马宗岭路18号3栋", compound="阳光小区"
    )
    u = services.create_unit(
        staff, b, label="2单元301", building_area=Decimal("98.50"), exclusive_area=Decimal("80.2")
    )
    owner1 = register(staff, tree.grid_a1, id_number=ID1)
    owner2 = register(staff, tree.grid_a1, id_number=ID2)
    services.add_ownership(staff, owner1, u, share=Decimal("0.5"))
    services.add_ownership(staff, owner2, u, share=Decimal("0.5"))
    with pytest.raises(DomainError, match="100%"):
        services.add_ownership(
            staff, user_with and register(staff, tree.grid_a1, name="赵六"), u, share=Decimal("0.1")
        )
    with pytest.raises(DomainError, match="专有部分面积"):
        services.create_unit(staff, b, label="x", building_area=Decimal(50), exclusive_area=Decimal(60))
    assert ResidentEvent.objects.count() == 3
