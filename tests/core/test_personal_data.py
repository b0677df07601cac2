import pytest
from cryptography.exceptions import InvalidTag
from django.db import connection

from gongzhi.core import crypto, masking, services
from gongzhi.core.errors import PermissionDenied
from gongzhi.core.models import AuditEntry, User
from gongzhi.core.roles import Role
from tests.factories import user_with


def test_phone_is_encrypted_at_rest_and_found_by_blind_index(tree):
    user = user_with(Role.GRID_WORKER, tree.grid_a1, phone="139 0000 1006")
    with connection.cursor() as cur:
        cur.execute("SELECT phone, phone_index FROM core_user WHERE id = %s", [user.pk])
        stored, index = cur.fetchone()
    assert "13900001006" not in stored
    assert index == crypto.blind_index("13900001006", purpose="phone")
    assert User.objects.get(pk=user.pk).phone == "13900001006"
    assert User.objects.filter(phone_index=crypto.blind_index("13900001006", purpose="phone")).get() == user


def test_ciphertext_is_randomised_and_bound_to_its_column():
    a = crypto.encrypt("13900001006", context=b"core.user.phone")
    b = crypto.encrypt("13900001006", context=b"core.user.phone")
    assert a != b
    assert crypto.decrypt(a, context=b"core.user.phone") == "13900001006"
    with pytest.raises(InvalidTag):
        crypto.decrypt(a, context=b"people.resident.phone")


def test_blind_index_separates_purposes():
    assert crypto.blind_index("110101199003077838", purpose="citizen_id") != crypto.blind_index(
        "110101199003077838", purpose="phone"
    )


def test_key_rotation_old_ciphertext_still_reads(monkeypatch):
    import base64
    import os

    k1 = base64.urlsafe_b64encode(os.urandom(32)).decode()
    k2 = base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("GONGZHI_PDATA_KEYS", f"1:{k1}")
    crypto.reset_keys()
    old = crypto.encrypt("secret")
    monkeypatch.setenv("GONGZHI_PDATA_KEYS", f"2:{k2},1:{k1}")
    crypto.reset_keys()
    new = crypto.encrypt("secret")
    assert base64.b64decode(new)[0] == 2
    assert crypto.decrypt(old) == crypto.decrypt(new) == "secret"
    monkeypatch.delenv("GONGZHI_PDATA_KEYS")
    crypto.reset_keys()


@pytest.mark.parametrize(
    "value,masked",
    [
        ("510903199001011234", "510903********1234"),
        ("11010519491231002X", "110105********002X"),
    ],
)
def test_mask_citizen_id(value, masked):
    assert masking.mask_citizen_id(value) == masked


@pytest.mark.parametrize(
    "value,masked",
    [
        ("13812345678", "138****5678"),
        ("0825-1234567", "0825-***4567"),
        ("", ""),
    ],
)
def test_mask_phone(value, masked):
    assert masking.mask_phone(value) == masked


def test_mask_name():
    assert masking.mask_name("张三") == "张*"
    assert masking.mask_name("欧阳修远") == "欧***"


def test_reveal_needs_permission_in_scope_and_is_audited(tree):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1, phone="13900001006")
    colleague = user_with(Role.COMMUNITY_STAFF, tree.community_a)
    outsider = user_with(Role.COMMUNITY_STAFF, tree.community_b)
    leader = user_with(Role.LEADER, tree.street)

    assert services.reveal(colleague, worker, "phone", reason="联系处置", ip="10.0.0.8") == "13900001006"
    entry = AuditEntry.objects.filter(action="pdata.reveal").get()
    assert (entry.actor, entry.object_id, entry.ip) == (colleague, str(worker.pk), "10.0.0.8")
    assert entry.after == {"field": "phone", "reason": "联系处置"}

    for refused in (outsider, leader):
        with pytest.raises(PermissionDenied):
            services.reveal(refused, worker, "phone")
    assert AuditEntry.objects.filter(action="pdata.reveal").count() == 1


def test_grid_page_masks_and_reveal_endpoint_reveals(client, tree):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1, phone="13900001006")
    staff = user_with(Role.COMMUNITY_STAFF, tree.community_a)
    client.force_login(staff)
    page = client.get(f"/regions/{tree.grid_a1.code}/").content.decode()
    assert "139****1006" in page and "13900001006" not in page
    response = client.post(f"/people/staff/{worker.pk}/phone/")
    assert response.status_code == 200 and "13900001006" in response.content.decode()

    outsider = user_with(Role.COMMUNITY_STAFF, tree.community_b)
    client.force_login(outsider)
    assert client.post(f"/people/staff/{worker.pk}/phone/").status_code == 403


def test_contacts_typed_into_free_text_are_masked_for_the_public():
    text = "我是张三，电话13812345678，也可打138-1234-5678，身份证510903199001011234，门牌号12号3栋"
    assert masking.redact_contacts(text) == (
        "我是张三，电话138****5678，也可打138****5678，身份证510903********1234，门牌号12号3栋"
    )
    # Longer digit runs (order numbers, meter numbers) are not phone numbers.
    assert masking.redact_contacts("水表号 2013812345678901") == "水表号 2013812345678901"
    assert masking.redact_contacts("") == "" and masking.redact_contacts(None) == ""
