"""Every state change of the people ledger. Each takes the actor first, checks scope, validates,
writes, records a ResidentEvent where a person's life changes, and audits — in one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from gongzhi.core import audit, clock, crypto, scopes
from gongzhi.core.errors import Conflict, DomainError
from gongzhi.core.models import Level, Region, User
from gongzhi.people import rules
from gongzhi.people.models import (
    Building,
    Household,
    Organisation,
    Ownership,
    Resident,
    ResidentEvent,
    ResidentEventKind,
    ResidentStatus,
    ResidentTag,
    Tag,
    Unit,
)
from gongzhi.people.validation import check_person

PERSON_FIELDS = (
    "name",
    "id_type",
    "id_number",
    "sex",
    "birth_date",
    "phone",
    "ethnicity",
    "political_status",
    "residence_type",
    "relation",
    "address",
)


class InvalidPerson(DomainError):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(
            "people.invalid",
            "；".join(f"{label}：{msg}" for label, msg in errors),
            details=[{"field": label, "message": msg} for label, msg in errors],
        )
        self.errors = errors


def derive_search_keys(resident: Resident) -> None:
    """Fill the columns search depends on; call before saving (bulk paths included)."""
    resident.name_pinyin, resident.name_initials = rules.name_search_keys(resident.name)
    tails = rules.id_tails(resident.id_number)
    resident.id_tail4, resident.id_tail5, resident.id_tail6 = (
        crypto.blind_index(t, purpose="citizen_id_tail") if t else None for t in tails
    )


def _require_grid(region: Region) -> None:
    if region.level != Level.GRID:
        raise DomainError("people.not_a_grid", _("人员、房屋和户须登记到网格"))


def _event(actor, resident: Resident, kind: str, **fields) -> ResidentEvent:
    return ResidentEvent.objects.create(
        resident=resident,
        kind=kind,
        actor=actor if isinstance(actor, User) else None,
        actor_label=audit.actor_label(actor),
        at=clock.now(),
        **fields,
    )


def _id_taken(resident: Resident) -> bool:
    if not resident.id_index:
        return False
    return Resident.objects.filter(id_index=resident.id_index).exclude(pk=resident.pk).exists()


@transaction.atomic
def register_resident(
    actor, region: Region, data: dict, *, household: Household | None = None, unit: Unit | None = None
) -> Resident:
    """Enter a person once (登记). `data` as for validation.check_person; problems raise InvalidPerson."""
    scopes.require(actor, "people.edit", region)
    _require_grid(region)
    check = check_person(data)
    if not check.ok:
        raise InvalidPerson(check.errors)
    now = clock.now()
    resident = Resident(
        region=region,
        household=household,
        unit=unit,
        created_at=now,
        updated_at=now,
        status=ResidentStatus.LIVING_HERE,
        moved_in_on=check.values.pop("moved_in_on"),
        **check.values,
    )
    derive_search_keys(resident)
    if _id_taken(resident):
        raise Conflict("people.duplicate_id", _("该证件号码已登记，同一证件号码只能对应一人"))
    try:
        with transaction.atomic():
            resident.save()
    except IntegrityError as exc:  # a concurrent registration of the same number
        raise Conflict("people.duplicate_id", _("该证件号码已登记，同一证件号码只能对应一人")) from exc
    _event(
        actor,
        resident,
        ResidentEventKind.REGISTER,
        on_date=resident.moved_in_on,
        to_region=region,
        to_address=resident.address,
    )
    audit.record(actor, "people.register", resident, object_repr=resident.masked_name)
    return resident


@transaction.atomic
def update_resident(actor, resident: Resident, data: dict) -> Resident:
    """Correct a person's details. Changed fields are kept in the history (ID and phone masked)."""
    scopes.require(actor, "people.edit", resident)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    merged = {f: getattr(resident, f) for f in PERSON_FIELDS} | data
    check = check_person(merged)
    if not check.ok:
        raise InvalidPerson(check.errors)
    check.values.pop("moved_in_on")
    changes = {}
    for key, value in check.values.items():
        old = getattr(resident, key)
        if old != value:
            changes[key] = _masked_change(key, old, value)
            setattr(resident, key, value)
    if not changes:
        return resident
    derive_search_keys(resident)
    if _id_taken(resident):
        raise Conflict("people.duplicate_id", _("该证件号码已登记，同一证件号码只能对应一人"))
    resident.updated_at = clock.now()
    resident.save()
    _event(actor, resident, ResidentEventKind.UPDATE, changes=changes)
    audit.record(actor, "people.update", resident, object_repr=resident.masked_name, after=changes)
    return resident


def _masked_change(key: str, old, new) -> list:
    from gongzhi.core.masking import mask_citizen_id, mask_phone

    mask = {"id_number": mask_citizen_id, "phone": mask_phone}.get(key)
    show = (lambda x: mask(x) if x else "") if mask else (lambda x: "" if x is None else str(x))
    return [show(old), show(new)]


@transaction.atomic
def move(
    actor,
    resident: Resident,
    *,
    to_region: Region,
    on_date: dt.date,
    address: str = "",
    unit: Unit | None = None,
    household: Household | None = None,
    note: str = "",
) -> Resident:
    """Move within the deployment (辖区内迁移): needs edit rights where the person leaves and arrives."""
    scopes.require(actor, "people.edit", resident)
    scopes.require(actor, "people.edit", to_region)
    _require_grid(to_region)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    _require_living_here(resident)
    event = dict(
        from_region=resident.region,
        to_region=to_region,
        from_address=resident.address,
        to_address=address or resident.address,
        on_date=on_date,
        note=note,
    )
    resident.region, resident.unit, resident.household = to_region, unit, household
    resident.address = address or resident.address
    resident.updated_at = clock.now()
    resident.save()
    _event(actor, resident, ResidentEventKind.MOVE_WITHIN, **event)
    audit.record(
        actor,
        "people.move",
        resident,
        object_repr=resident.masked_name,
        after={"to": to_region.code, "on": on_date},
    )
    return resident


@transaction.atomic
def move_out(
    actor, resident: Resident, *, on_date: dt.date, destination: str = "", note: str = ""
) -> Resident:
    """迁出: the person leaves the area. The record stays, with its history, marked as moved out."""
    scopes.require(actor, "people.edit", resident)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    _require_living_here(resident)
    _check_date(on_date, resident)
    resident.status, resident.moved_out_on, resident.updated_at = (
        ResidentStatus.MOVED_OUT,
        on_date,
        clock.now(),
    )
    resident.save(update_fields=["status", "moved_out_on", "updated_at"])
    _event(
        actor,
        resident,
        ResidentEventKind.MOVE_OUT,
        on_date=on_date,
        from_region=resident.region,
        from_address=resident.address,
        to_address=destination,
        note=note,
    )
    audit.record(actor, "people.move_out", resident, object_repr=resident.masked_name, after={"on": on_date})
    return resident


@transaction.atomic
def move_in(
    actor,
    resident: Resident,
    *,
    region: Region,
    on_date: dt.date,
    address: str = "",
    unit: Unit | None = None,
    household: Household | None = None,
    note: str = "",
) -> Resident:
    """迁入: someone who had moved out comes back (a new person is registered instead)."""
    scopes.require(actor, "people.edit", region)
    _require_grid(region)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    if resident.status != ResidentStatus.MOVED_OUT:
        raise DomainError("people.not_moved_out", _("只有已迁出的人员可以办理迁入；新人员请直接登记"))
    resident.status, resident.moved_in_on, resident.moved_out_on = ResidentStatus.LIVING_HERE, on_date, None
    resident.region, resident.unit, resident.household = region, unit, household
    resident.address = address or resident.address
    resident.updated_at = clock.now()
    resident.save()
    _event(
        actor,
        resident,
        ResidentEventKind.MOVE_IN,
        on_date=on_date,
        to_region=region,
        to_address=resident.address,
        note=note,
    )
    audit.record(actor, "people.move_in", resident, object_repr=resident.masked_name, after={"on": on_date})
    return resident


@transaction.atomic
def record_death(actor, resident: Resident, *, on_date: dt.date, note: str = "") -> Resident:
    scopes.require(actor, "people.edit", resident)
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    if resident.status in (ResidentStatus.DECEASED, ResidentStatus.MERGED):
        raise DomainError("people.not_living", _("该人员已登记死亡或已被合并"))
    _check_date(on_date, resident)
    resident.status, resident.died_on, resident.updated_at = ResidentStatus.DECEASED, on_date, clock.now()
    resident.save(update_fields=["status", "died_on", "updated_at"])
    _event(actor, resident, ResidentEventKind.DEATH, on_date=on_date, note=note)
    audit.record(actor, "people.death", resident, object_repr=resident.masked_name, after={"on": on_date})
    return resident


def _require_living_here(resident: Resident) -> None:
    if resident.status != ResidentStatus.LIVING_HERE:
        raise DomainError(
            "people.not_living_here",
            _("该人员当前状态为“%(s)s”，不能办理此项") % {"s": resident.get_status_display()},
        )


def _check_date(on_date: dt.date, resident: Resident) -> None:
    if on_date > clock.today():
        raise DomainError("people.future_date", _("日期不能晚于今天"))
    if resident.birth_date and on_date < resident.birth_date:
        raise DomainError("people.before_birth", _("日期不能早于出生日期"))


@transaction.atomic
def merge_residents(actor, keep: Resident, duplicate: Resident, *, note: str = "") -> Resident:
    """并档: two records of one person become one. The duplicate's tags, ownerships and history move to
    the kept record; the duplicate stays, marked merged, pointing at it."""
    scopes.require(actor, "people.merge", keep)
    scopes.require(actor, "people.merge", duplicate)
    if keep.pk == duplicate.pk:
        raise DomainError("people.merge_self", _("不能与自身合并"))
    keep = Resident.objects.select_for_update().get(pk=keep.pk)
    duplicate = Resident.objects.select_for_update().get(pk=duplicate.pk)
    if duplicate.status == ResidentStatus.MERGED or keep.status == ResidentStatus.MERGED:
        raise DomainError("people.already_merged", _("已合并的记录不能再次合并"))
    if keep.id_number and duplicate.id_number and keep.id_number != duplicate.id_number:
        raise DomainError("people.merge_conflict", _("两条记录的证件号码不同，不是同一人"))
    filled = {}
    for f in ("id_number", "phone", "birth_date", "ethnicity", "political_status", "address"):
        if not getattr(keep, f) and getattr(duplicate, f):
            filled[f] = getattr(duplicate, f)
    if "id_number" in filled:
        keep.id_type = duplicate.id_type
        duplicate.id_number = None  # the number moves: it may exist once only
        duplicate.id_tail4 = duplicate.id_tail5 = duplicate.id_tail6 = None
    duplicate.status, duplicate.merged_into, duplicate.updated_at = ResidentStatus.MERGED, keep, clock.now()
    duplicate.save()
    for f, value in filled.items():
        setattr(keep, f, value)
    derive_search_keys(keep)
    keep.updated_at = clock.now()
    keep.save()
    for tag in ResidentTag.objects.filter(resident=duplicate):
        if not ResidentTag.objects.filter(resident=keep, tag=tag.tag_id).exists():
            ResidentTag.objects.filter(pk=tag.pk).update(resident=keep)
    for own in Ownership.objects.filter(resident=duplicate):
        if not Ownership.objects.filter(resident=keep, unit=own.unit_id).exists():
            Ownership.objects.filter(pk=own.pk).update(resident=keep)
    Household.objects.filter(householder=duplicate).update(householder=keep)
    _event(
        actor,
        keep,
        ResidentEventKind.MERGE,
        note=note,
        changes={"merged": duplicate.pk, "filled": sorted(filled)},
    )
    audit.record(
        actor,
        "people.merge",
        keep,
        object_repr=keep.masked_name,
        after={"merged": duplicate.pk, "filled": sorted(filled)},
    )
    return keep


# ---------------------------------------------------------------- places and households


@transaction.atomic
def create_building(
    actor,
    region: Region,
    *,
    name: str,
    address: str,
    compound: str = "",
    kind: str = "residential",
    floors: int | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> Building:
    scopes.require(actor, "people.edit", region)
    _require_grid(region)
    if not name.strip() or not address.strip():
        raise DomainError("people.building_required", _("楼栋名称和地址不能为空"))
    if Building.objects.filter(region=region, compound=compound.strip(), name=name.strip()).exists():
        raise Conflict("people.building_exists", _("该网格内已有同名楼栋"))
    building = Building.objects.create(
        region=region,
        name=name.strip(),
        address=address.strip(),
        compound=compound.strip(),
        kind=kind,
        floors=floors,
        lon=lon,
        lat=lat,
        created_at=clock.now(),
    )
    audit.record(actor, "people.building_create", building)
    return building


@transaction.atomic
def create_unit(
    actor,
    building: Building,
    *,
    label: str,
    building_area: Decimal | None = None,
    exclusive_area: Decimal | None = None,
    use: str = "home",
    status: str = "owner",
) -> Unit:
    scopes.require(actor, "people.edit", building)
    if not label.strip():
        raise DomainError("people.unit_label", _("房号不能为空"))
    for value in (building_area, exclusive_area):
        if value is not None and Decimal(value) <= 0:
            raise DomainError("people.unit_area", _("面积必须大于 0"))
    if building_area and exclusive_area and Decimal(exclusive_area) > Decimal(building_area):
        raise DomainError("people.unit_area", _("专有部分面积不能大于建筑面积"))
    if Unit.objects.filter(building=building, label=label.strip()).exists():
        raise Conflict("people.unit_exists", _("该楼栋已有房号“%(l)s”") % {"l": label.strip()})
    unit = Unit.objects.create(
        building=building,
        label=label.strip(),
        building_area=building_area,
        exclusive_area=exclusive_area,
        use=use,
        status=status,
    )
    audit.record(actor, "people.unit_create", unit)
    return unit


@transaction.atomic
def create_household(
    actor,
    region: Region,
    *,
    kind: str = "residence",
    number: str = "",
    address: str = "",
    unit: Unit | None = None,
) -> Household:
    scopes.require(actor, "people.edit", region)
    _require_grid(region)
    household = Household.objects.create(
        region=region,
        kind=kind,
        number=number.strip(),
        address=address.strip() or (str(unit) if unit else ""),
        unit=unit,
        created_at=clock.now(),
    )
    audit.record(actor, "people.household_create", household)
    return household


@transaction.atomic
def set_householder(actor, household: Household, resident: Resident) -> Household:
    scopes.require(actor, "people.edit", household)
    if resident.household_id != household.pk:
        raise DomainError("people.not_member", _("户主必须是该户成员"))
    household.householder = resident
    household.save(update_fields=["householder"])
    audit.record(actor, "people.householder", household, after={"resident": resident.pk})
    return household


@transaction.atomic
def add_ownership(actor, resident: Resident, unit: Unit, *, share: Decimal = Decimal(1)) -> Ownership:
    scopes.require(actor, "people.edit", unit)
    share = Decimal(share)
    if not (0 < share <= 1):
        raise DomainError("people.share", _("产权份额应大于 0 且不超过 1"))
    held = sum((o.share for o in Ownership.objects.filter(unit=unit).exclude(resident=resident)), Decimal(0))
    if held + share > 1:
        raise DomainError("people.share", _("该房屋的产权份额合计将超过 100%"))
    ownership, _created = Ownership.objects.update_or_create(
        resident=resident, unit=unit, defaults={"share": share}
    )
    audit.record(actor, "people.ownership", unit, after={"resident": resident.pk, "share": str(share)})
    return ownership


@transaction.atomic
def create_organisation(
    actor,
    region: Region,
    *,
    kind: str,
    name: str,
    credit_code: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
) -> Organisation:
    from django.core.exceptions import ValidationError

    from gongzhi.core.validators import validate_credit_code, validate_phone

    scopes.require(actor, "people.edit", region)
    if not name.strip():
        raise DomainError("people.org_name", _("单位名称不能为空"))
    try:
        credit_code = validate_credit_code(credit_code) if credit_code.strip() else ""
        contact_phone = validate_phone(contact_phone) if contact_phone.strip() else ""
    except ValidationError as exc:
        raise DomainError("people.org_invalid", exc.messages[0]) from exc
    if credit_code and Organisation.objects.filter(credit_code=credit_code).exists():
        raise Conflict("people.org_exists", _("该统一社会信用代码已登记"))
    org = Organisation.objects.create(
        region=region,
        kind=kind,
        name=name.strip(),
        credit_code=credit_code,
        contact_name=contact_name.strip(),
        contact_phone=contact_phone or None,
        address=address.strip(),
        created_at=clock.now(),
    )
    audit.record(actor, "people.org_create", org)
    return org


# ---------------------------------------------------------------- tags


def can_see_tag(actor, tag: Tag, resident: Resident) -> bool:
    if not scopes.can(actor, "people.view", resident):
        return False
    if not tag.sensitive:
        return True
    if getattr(actor, "is_superuser", False) and not isinstance(actor, User):
        return True
    paths = [p for role in tag.roles for p in scopes.paths_for_role(actor, role)]
    return any(resident.region.path.startswith(p) for p in paths)


@transaction.atomic
def tag_resident(
    actor, resident: Resident, tag: Tag, *, since: dt.date | None = None, note: str = ""
) -> ResidentTag:
    scopes.require(actor, "people.tags", resident)
    if not can_see_tag(actor, tag, resident):
        raise DomainError("people.tag_forbidden", _("您无权设置该标签"))
    rt, created = ResidentTag.objects.get_or_create(
        resident=resident, tag=tag, defaults={"since": since, "note": note, "created_at": clock.now()}
    )
    if created:
        audit.record(actor, "people.tag", resident, object_repr=resident.masked_name, after={"tag": tag.code})
    return rt


@transaction.atomic
def untag_resident(actor, resident: Resident, tag: Tag) -> None:
    scopes.require(actor, "people.tags", resident)
    if not can_see_tag(actor, tag, resident):
        raise DomainError("people.tag_forbidden", _("您无权设置该标签"))
    deleted, _n = ResidentTag.objects.filter(resident=resident, tag=tag).delete()
    if deleted:
        audit.record(
            actor, "people.untag", resident, object_repr=resident.masked_name, before={"tag": tag.code}
        )


@transaction.atomic
def read_sensitive_tags(actor, resident: Resident, *, ip: str | None = None) -> list[ResidentTag]:
    """The resident's tags the actor may see; reading sensitive ones leaves an audit entry."""
    tags = [rt for rt in resident.tags.select_related("tag") if can_see_tag(actor, rt.tag, resident)]
    sensitive = [rt.tag.code for rt in tags if rt.tag.sensitive]
    if sensitive:
        audit.record(
            actor,
            "people.sensitive_read",
            resident,
            ip=ip,
            object_repr=resident.masked_name,
            after={"tags": sensitive},
        )
    return tags


@transaction.atomic
def link_account(actor, resident: Resident, user: User | None) -> Resident:
    """实名核验: tie a resident's login to their ledger entry (or untie it with None).

    A linked account reports as a verified resident, located by its grid. One login, one person.
    """
    scopes.require(actor, "people.edit", resident)
    if user is not None:
        taken = Resident.objects.filter(account=user).exclude(pk=resident.pk).first()
        if taken is not None:
            raise Conflict("people.account_taken", _("该账号已与另一位居民关联"))
    before = {"account": resident.account.username if resident.account_id else None}
    resident.account, resident.updated_at = user, clock.now()
    resident.save(update_fields=["account", "updated_at"])
    audit.record(
        actor,
        "people.link_account",
        resident,
        before=before,
        after={"account": user.username if user else None},
    )
    return resident
