import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError

from gongzhi.core import audit, services
from gongzhi.core.models import AuditEntry
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import user_with


def _entries(tree, n=5):
    for i in range(n):
        user_with(None, None, username=f"a{i}")
    return list(AuditEntry.objects.order_by("id"))


def test_every_service_change_is_audited_in_order(tree):
    user = user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    actions = list(AuditEntry.objects.filter(object_id=str(user.pk)).values_list("action", flat=True))
    assert actions == ["account.create", "account.grant"]
    grant = AuditEntry.objects.get(action="account.grant", object_id=str(user.pk))
    assert grant.region_path == tree.grid_a1.path
    assert grant.after == {"role": "grid_worker", "region": tree.grid_a1.code}


def test_chain_links_each_entry_to_the_previous(tree):
    entries = _entries(tree)
    assert entries[0].prev_hash == audit.GENESIS
    for prev, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == prev.hash
    assert audit.verify().ok and audit.verify().checked == len(entries)


def _tamper(sql, params):
    """What an attacker with database access would do: get past the trigger, then edit."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL session_replication_role = replica")  # superuser: triggers off
            cur.execute(sql, params)
            cur.execute("SET LOCAL session_replication_role = origin")
        else:
            cur.execute("DROP TRIGGER core_auditentry_no_update")
            cur.execute(sql, params)


def test_verify_names_the_first_tampered_entry(tree):
    entries = _entries(tree)
    victim = entries[3]
    _tamper("UPDATE core_auditentry SET object_repr = %s WHERE id = %s", ["someone else", victim.pk])
    result = audit.verify()
    assert not result.ok
    assert result.broken_id == victim.pk
    assert result.checked == 3
    with pytest.raises(CommandError, match=f"第 {victim.pk} 条"):
        call_command("audit", "verify")


def test_verify_detects_a_deleted_entry(tree):
    entries = _entries(tree)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE id = %s", [entries[2].pk])
    result = audit.verify()
    assert result.broken_id == entries[3].pk


def test_verify_detects_a_removed_tail(tree):
    entries = _entries(tree)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE id = %s", [entries[-1].pk])
    assert not audit.verify().ok


def test_database_refuses_updates(tree):
    entry = _entries(tree, 1)[0]
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="changed")


def test_model_refuses_changes_and_deletes(tree):
    entry = _entries(tree, 1)[0]
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()


def test_audit_rolls_back_with_the_service(tree):
    before = AuditEntry.objects.count()
    with pytest.raises(Exception, match="已被使用"):
        services.create_user(SYSTEM, username="dup", password="x" * 12, check_password=False)
        services.create_user(SYSTEM, username="dup", password="x" * 12, check_password=False)
    assert AuditEntry.objects.count() == before + 1  # the first create only


def test_audit_command_reports_a_good_chain(tree, capsys):
    _entries(tree, 2)
    call_command("audit", "verify")
    assert "审计链完好" in capsys.readouterr().out
