"""The append-only, hash-chained audit log.

`record()` is called by every service inside its transaction. Each entry's hash is SHA-256 over a
canonical JSON of its content and the previous entry's hash, so changing, deleting or inserting a
row breaks the chain at that point; `verify()` finds the first broken link.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.db import transaction
from django.db.models import Model

from gongzhi.core import clock
from gongzhi.core.models import ApiKey, AuditChainHead, AuditEntry, Region, User
from gongzhi.core.principals import SystemActor

GENESIS = "0" * 64


def _canonical(entry: AuditEntry) -> bytes:
    content = {
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "region_path": entry.region_path,
        "before": entry.before,
        "after": entry.after,
        "ip": entry.ip,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def compute_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def actor_label(actor) -> str:
    if isinstance(actor, SystemActor):
        return actor.username
    if isinstance(actor, ApiKey):
        return f"apikey:{actor.name}"
    if isinstance(actor, User):
        return actor.username
    return actor or "system"


def record(
    actor,
    action: str,
    obj: Model | None = None,
    *,
    before: dict | None = None,
    after: dict | None = None,
    region: Region | None = None,
    ip: str | None = None,
    object_repr: str | None = None,
) -> AuditEntry:
    """Append an entry; call inside the service's transaction so it commits or rolls back with it."""
    from gongzhi.core.scopes import region_path_of

    # No savepoint: inside a service any failure rolls the whole transaction back anyway.
    with transaction.atomic(savepoint=False):
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_hash": GENESIS}
        )
        entry = AuditEntry(
            at=clock.now(),
            actor=actor if isinstance(actor, User) and actor.pk else None,
            actor_label=actor_label(actor),
            action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
            object_repr=(object_repr if object_repr is not None else str(obj) if obj is not None else "")[
                :200
            ],
            region_path=region.path
            if region is not None
            else (region_path_of(obj) if obj is not None else ""),
            before=before,
            after=after,
            ip=ip,
            prev_hash=head.last_hash,
        )
        # JSON round trip so the hash covers exactly what the database will give back.
        entry.before = json.loads(json.dumps(before, default=str)) if before is not None else None
        entry.after = json.loads(json.dumps(after, default=str)) if after is not None else None
        entry.hash = compute_hash(entry)
        entry.save()
        AuditChainHead.objects.filter(id=1).update(last_hash=entry.hash, last_entry_id=entry.pk)
    return entry


@dataclass
class VerifyResult:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(chunk_size: int = 2000) -> VerifyResult:
    """Recompute the chain in id order; report the first entry whose hash or link does not hold."""
    prev = GENESIS
    checked = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=chunk_size):
        if entry.prev_hash != prev:
            return VerifyResult(checked, entry.pk, "prev_hash does not match the previous entry")
        if compute_hash(entry) != entry.hash:
            return VerifyResult(checked, entry.pk, "content does not match its hash")
        prev = entry.hash
        checked += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and head.last_hash != prev:
        return VerifyResult(checked, head.last_entry_id, "the latest entries are missing")
    return VerifyResult(checked)
