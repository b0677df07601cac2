"""Every state change in core: accounts and grants, API keys, regions, reveals, logins."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import defaultdict
from pathlib import Path

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, Q
from django.utils.translation import gettext as _
from shapely.geometry import shape

from gongzhi.core import audit, clock, regionfile, rules, scopes
from gongzhi.core.errors import DomainError, NotFound, PermissionDenied
from gongzhi.core.masking import mask_phone
from gongzhi.core.models import ApiKey, Level, LoginFailure, Region, RoleGrant, User
from gongzhi.core.roles import ACTIONS, Role
from gongzhi.core.validators import validate_phone

# ---------------------------------------------------------------- accounts and grants


@transaction.atomic
def create_user(
    actor,
    *,
    username: str,
    password: str | None,
    real_name: str = "",
    phone: str = "",
    title: str = "",
    check_password: bool = True,
) -> User:
    scopes.require(actor, "account.manage")
    username = username.strip()
    if not username:
        raise DomainError("account.username_required", _("用户名不能为空"))
    if User.objects.filter(username=username).exists():
        raise DomainError("account.username_taken", _("用户名“%(u)s”已被使用") % {"u": username})
    user = User(username=username, real_name=real_name.strip(), title=title.strip())
    if phone:
        user.phone = _clean_phone(phone)
    if password:
        if check_password:
            _check_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit.record(actor, "account.create", user, after={"username": username, "real_name": user.real_name})
    return user


@transaction.atomic
def grant_role(actor, user: User, role: str, region: Region) -> RoleGrant:
    if role not in Role.values:
        raise DomainError("account.unknown_role", _("未知角色“%(r)s”") % {"r": role})
    scopes.require(actor, "account.manage", region)
    grant, created = RoleGrant.objects.get_or_create(
        user=user,
        role=role,
        region=region,
        defaults={"granted_at": clock.now(), "granted_by": actor if isinstance(actor, User) else None},
    )
    if created:
        audit.record(actor, "account.grant", user, region=region, after={"role": role, "region": region.code})
    user.__dict__.pop("_scope_grants", None)
    return grant


@transaction.atomic
def revoke_role(actor, grant: RoleGrant) -> None:
    scopes.require(actor, "account.manage", grant.region)
    audit.record(
        actor,
        "account.revoke",
        grant.user,
        region=grant.region,
        before={"role": grant.role, "region": grant.region.code},
    )
    grant.delete()
    grant.user.__dict__.pop("_scope_grants", None)


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError("account.weak_password", "；".join(exc.messages)) from exc


def _clean_phone(phone: str) -> str:
    try:
        return validate_phone(phone)
    except ValidationError as exc:
        raise DomainError("account.bad_phone", exc.messages[0]) from exc


@transaction.atomic
def change_password(actor: User, *, old_password: str, new_password: str, ip: str | None = None) -> None:
    user = User.objects.select_for_update().get(pk=actor.pk)
    if not user.check_password(old_password):
        raise DomainError("account.wrong_password", _("原密码不正确"))
    _check_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    actor.password = user.password
    audit.record(actor, "account.password_change", user, ip=ip)


# ---------------------------------------------------------------- login and lockout


def _window_start() -> dt.datetime:
    return clock.now() - dt.timedelta(minutes=settings.GONGZHI_LOGIN_WINDOW_MINUTES)


def login_lock(username: str, ip: str | None) -> str | None:
    """Why a login attempt is refused before checking the password ('account' or 'ip'), or None."""
    recent = LoginFailure.objects.filter(at__gte=_window_start())
    limit = settings.GONGZHI_LOGIN_MAX_FAILURES
    if recent.filter(username=username.lower()).count() >= limit:
        return "account"
    if ip and recent.filter(ip=ip).count() >= limit:
        return "ip"
    return None


@transaction.atomic
def record_login_failure(username: str, ip: str | None) -> str | None:
    """Remember a failed attempt; returns the lock it caused, if it reached the limit just now."""
    LoginFailure.objects.create(username=username.lower(), ip=ip, at=clock.now())
    user = User.objects.filter(username=username).first()
    audit.record(
        "anonymous", "auth.login_failed", user, ip=ip, object_repr=username, after={"username": username}
    )
    lock = login_lock(username, ip)
    if lock:
        audit.record(
            "anonymous",
            "auth.locked",
            user,
            ip=ip,
            object_repr=username,
            after={"username": username, "by": lock},
        )
    return lock


@transaction.atomic
def record_login(user: User, ip: str | None) -> None:
    LoginFailure.objects.filter(username=user.username.lower()).delete()
    audit.record(user, "auth.login", user, ip=ip)


@transaction.atomic
def record_logout(user: User, ip: str | None) -> None:
    audit.record(user, "auth.logout", user, ip=ip)


# ---------------------------------------------------------------- API keys

KEY_PREFIX = "gz_"


def _hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_api_key(actor, *, name: str, region: Region, actions: list[str]) -> tuple[ApiKey, str]:
    """Create a key; the plaintext is returned once and never stored."""
    scopes.require(actor, "apikey.manage", region)
    name = name.strip()
    if not name:
        raise DomainError("apikey.name_required", _("密钥名称不能为空"))
    if ApiKey.objects.filter(name=name).exists():
        raise DomainError("apikey.name_taken", _("密钥名称“%(n)s”已存在") % {"n": name})
    unknown = sorted(set(actions) - set(ACTIONS))
    if unknown:
        raise DomainError("apikey.unknown_action", _("未知操作：%(a)s") % {"a": "、".join(unknown)})
    if not actions:
        raise DomainError("apikey.actions_required", _("至少选择一项允许的操作"))
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=_hash_key(plaintext),
        region=region,
        actions=sorted(set(actions)),
        created_at=clock.now(),
        created_by=actor if isinstance(actor, User) else None,
    )
    audit.record(actor, "apikey.create", key, region=region, after={"name": name, "actions": key.actions})
    return key, plaintext


@transaction.atomic
def revoke_api_key(actor, key: ApiKey) -> ApiKey:
    scopes.require(actor, "apikey.manage", key.region)
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        key.save(update_fields=["revoked_at"])
        audit.record(actor, "apikey.revoke", key, region=key.region)
    return key


def authenticate_api_key(token: str) -> ApiKey | None:
    """The active key matching a bearer token, or None. Compares hashes in constant time."""
    if not token.startswith(KEY_PREFIX) or token.count("_") < 2:
        return None
    prefix = token[len(KEY_PREFIX) :].split("_", 1)[0]
    try:  # get(), not first(): no ORDER BY on the path of every API request
        key = ApiKey.objects.select_related("region").get(prefix=prefix, revoked_at__isnull=True)
    except ApiKey.DoesNotExist:
        return None
    if not hmac.compare_digest(key.key_hash, _hash_key(token)):
        return None
    now = clock.now()
    # Touch at most once a minute: a busy integrator should not write on every request.
    if key.last_used_at is None or now - key.last_used_at > dt.timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


# ---------------------------------------------------------------- personal data


@transaction.atomic
def reveal(actor, obj: Model, field: str, *, reason: str = "", ip: str | None = None) -> str:
    """Return the full value of an encrypted field; needs `pdata.reveal` on the object and is audited."""
    scopes.require(actor, "pdata.reveal", obj)
    model_field = obj._meta.get_field(field)
    purpose = getattr(model_field, "purpose", None)
    if not purpose:
        raise DomainError("pdata.not_personal", _("该字段不是受保护的个人信息"))
    value = getattr(obj, field) or ""
    audit.record(actor, "pdata.reveal", obj, ip=ip, after={"field": field, "reason": reason})
    return value


# ---------------------------------------------------------------- regions


@transaction.atomic
def import_regions(actor, path: Path, *, dry_run: bool = False, batch_size: int = 5000) -> dict:
    """Import a division list: all rows or none. Existing codes are updated in place.

    Returns counts {"created", "updated", "unchanged"}; raises ImportRejected listing every bad row.
    """
    scopes.require(actor, "region.manage")
    existing = dict(Region.objects.values_list("code", "id"))
    with regionfile.open_text(path) as stream:
        parsed = regionfile.parse(stream, known_codes=set(existing))
    if parsed.errors:
        raise ImportRejected(parsed.errors)

    by_level = defaultdict(list)
    for row in parsed.rows:
        by_level[row.level].append(row)
    # One pass over what exists (no huge IN lists: the national list has 680,000 codes).
    current = {
        r.code: r
        for r in Region.objects.only(
            "id", "code", "name", "parent_id", "path", "urban_rural_code", "level"
        ).iterator(chunk_size=10_000)
    }
    paths = {code: r.path for code, r in current.items()}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for level in ["province", "city", "county", "street", "community"]:
        new, changed = [], []
        for row in by_level.get(level, []):
            parent_id = existing.get(row.parent_code) if row.parent_code else None
            path = rules.child_path(paths.get(row.parent_code, ""), row.code)
            paths[row.code] = path
            region = current.get(row.code)
            urban = row.urban_rural_code or (region.urban_rural_code if region else "")
            if region is None:
                new.append(
                    Region(
                        code=row.code,
                        name=row.name,
                        level=level,
                        parent_id=parent_id,
                        path=path,
                        urban_rural_code=urban,
                        updated_at=clock.now(),
                    )
                )
            elif (region.name, region.parent_id, region.urban_rural_code, region.path) != (
                row.name,
                parent_id,
                urban,
                path,
            ):
                region.name, region.parent_id, region.path, region.urban_rural_code = (
                    row.name,
                    parent_id,
                    path,
                    urban,
                )
                region.updated_at = clock.now()  # caches keyed on it (address index) see the rename
                changed.append(region)
            else:
                counts["unchanged"] += 1
        Region.objects.bulk_create(new, batch_size=batch_size)
        Region.objects.bulk_update(
            changed, ["name", "parent", "path", "urban_rural_code", "updated_at"], batch_size=batch_size
        )
        counts["created"] += len(new)
        counts["updated"] += len(changed)
        if new and new[0].pk is None:  # databases that cannot return ids from a bulk insert
            existing.update(Region.objects.filter(level=level).values_list("code", "id"))
        else:
            existing.update((r.code, r.pk) for r in new)
    audit.record(
        actor,
        "region.import",
        None,
        object_repr=Path(path).name,
        after={**counts, "rows": len(parsed.rows), "dry_run": dry_run},
    )
    if dry_run:
        transaction.set_rollback(True)
    return counts


class ImportRejected(DomainError):
    def __init__(self, errors: list[regionfile.RowError]):
        super().__init__(
            "import.rejected",
            _("文件有 %(n)s 处错误，未导入任何数据") % {"n": len(errors)},
            details=[{"line": e.line, "column": e.column, "message": e.message} for e in errors],
        )
        self.errors = errors


@transaction.atomic
def create_grid(
    actor,
    community: Region,
    *,
    name: str,
    sequence: int | None = None,
    boundary: dict | None = None,
    generated: bool = False,
) -> Region:
    """Add a grid (网格) under a community or village."""
    scopes.require(actor, "region.manage", community)
    if community.level != Level.COMMUNITY:
        raise DomainError("region.grid_parent", _("网格只能设在社区或村之下"))
    if sequence is None:
        sequence = community.children.filter(level=Level.GRID).count() + 1
    code = rules.grid_code(community.code, sequence)
    if Region.objects.filter(code=code).exists():
        raise DomainError("region.code_taken", _("网格代码“%(c)s”已存在") % {"c": code})
    grid = Region(
        code=code,
        name=name.strip(),
        level=Level.GRID,
        parent=community,
        path=rules.child_path(community.path, code),
    )
    _apply_boundary(grid, boundary, generated)
    grid.save()
    audit.record(actor, "region.create", grid, after={"code": code, "name": grid.name})
    return grid


@transaction.atomic
def set_boundary(actor, region: Region, boundary: dict | None, *, generated: bool = False) -> Region:
    """Set or clear a region's boundary; `generated` marks a schematic one (not surveyed)."""
    scopes.require(actor, "region.manage", region)
    region = Region.objects.select_for_update().get(pk=region.pk)
    before = {"had_boundary": region.boundary is not None}
    _apply_boundary(region, boundary, generated)
    region.save()
    audit.record(
        actor, "region.boundary", region, before=before, after={"has_boundary": boundary is not None}
    )
    return region


def _apply_boundary(region: Region, boundary: dict | None, generated: bool) -> None:
    region.boundary_generated = generated and boundary is not None
    if boundary is None:
        region.boundary = None
        region.center_lon = region.center_lat = None
        return
    try:
        geom = shape(boundary)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise DomainError("region.bad_boundary", _("边界不是有效的 GeoJSON 面")) from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty or not geom.is_valid:
        raise DomainError("region.bad_boundary", _("边界必须是有效的面（Polygon 或 MultiPolygon）"))
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise DomainError("region.bad_boundary", _("边界坐标超出经纬度范围，应为 WGS-84 经纬度"))
    region.boundary = boundary
    centre = geom.representative_point()
    region.center_lon, region.center_lat = round(centre.x, 7), round(centre.y, 7)


def region_by_code(code: str) -> Region:
    region = Region.objects.filter(Q(code=code)).first()
    if region is None:
        raise NotFound("region.not_found", _("找不到代码为“%(c)s”的区域") % {"c": code})
    return region


# ---------------------------------------------------------------- exports


@transaction.atomic
def export_regions(actor, regions, *, ip: str | None = None) -> bytes:
    """The region ledger (区域与网格台账) as .xlsx; grid workers' phones masked. Audited."""
    from gongzhi.core import exports, queries

    scopes.require(actor, "region.export")
    rows = []
    for region in regions.select_related("parent"):
        workers = queries.grid_workers_of(region) if region.level == Level.GRID else []
        rows.append(
            [
                region.code,
                region.name,
                region.get_level_display(),
                region.division_code,
                region.parent.name if region.parent else "",
                region.urban_rural_code,
                "、".join(f"{w.display_name} {w.masked_phone}".strip() for w in workers),
            ]
        )
    audit.record(actor, "region.export", None, ip=ip, object_repr=_("区域台账"), after={"rows": len(rows)})
    return exports.xlsx_bytes(
        _("区域台账"),
        [_("代码"), _("名称"), _("层级"), _("统计用区划代码"), _("上级"), _("城乡分类代码"), _("网格员")],
        rows,
    )


# ---------------------------------------------------------------- account administration


@transaction.atomic
def create_account(
    actor,
    *,
    username: str,
    password: str,
    role: str,
    region: Region,
    real_name: str = "",
    phone: str = "",
    title: str = "",
) -> User:
    """Create a staff account with its first role grant: both or neither."""
    scopes.require(actor, "account.manage", region)
    user = create_user(
        actor, username=username, password=password, real_name=real_name, phone=phone, title=title
    )
    grant_role(actor, user, role, region)
    return user


def _require_manages(actor, user: User) -> None:
    """An administrator manages a user only when every one of the user's grants lies in their scope.

    A user with no grants, or a superuser, is managed only by whoever may manage accounts everywhere.
    """
    scopes.require(actor, "account.manage", user)
    if scopes.paths_for(actor, "account.manage") is None:
        return
    if user.is_superuser:
        raise PermissionDenied("permission_denied", _("只有系统管理员可以管理该账号"))
    for grant in RoleGrant.objects.filter(user=user).select_related("region"):
        if not scopes.can(actor, "account.manage", grant.region):
            raise PermissionDenied(
                "account.outside_scope",
                _("该账号在您的管辖范围之外（%(r)s）还有授权，不能由您修改") % {"r": grant.region.name},
            )


def may_manage_account(actor, user: User) -> bool:
    """Whether `actor` may change `user` as a whole (profile, password, active): see `_require_manages`."""
    try:
        _require_manages(actor, user)
    except DomainError:
        return False
    return True


def _home_region(user: User) -> Region | None:
    """The smallest region covering all of a user's grants: where account changes are audited."""
    paths = list(RoleGrant.objects.filter(user=user).values_list("region__path", flat=True))
    if not paths:
        return None
    common = paths[0].rstrip("/").split("/")
    for path in paths[1:]:
        parts = path.rstrip("/").split("/")
        n = 0
        while n < min(len(common), len(parts)) and common[n] == parts[n]:
            n += 1
        common = common[:n]
    if not common:
        return None
    return Region.objects.filter(path="/".join(common) + "/").first()


@transaction.atomic
def set_active(actor, user: User, active: bool) -> User:
    """Activate or deactivate (停用) an account; a deactivated account cannot sign in."""
    _require_manages(actor, user)
    if not active and isinstance(actor, User) and actor.pk == user.pk:
        raise DomainError("account.deactivate_self", _("不能停用自己的账号"))
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_active != active:
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        audit.record(
            actor,
            "account.activate" if active else "account.deactivate",
            locked,
            region=_home_region(locked),
            before={"is_active": not active},
            after={"is_active": active},
        )
    user.is_active = locked.is_active
    return locked


@transaction.atomic
def reset_password(actor, user: User, new_password: str) -> None:
    """Set a new password for someone else's account. The audit entry never holds the password."""
    _require_manages(actor, user)
    if isinstance(actor, User) and actor.pk == user.pk:
        raise DomainError("account.reset_self", _("请通过“修改密码”修改自己的密码"))
    locked = User.objects.select_for_update().get(pk=user.pk)
    _check_password(new_password, locked)
    locked.set_password(new_password)
    locked.save(update_fields=["password"])
    user.password = locked.password
    audit.record(actor, "account.password_reset", locked, region=_home_region(locked))


@transaction.atomic
def update_profile(actor, user: User, *, real_name: str, phone: str, title: str) -> User:
    """Change name, phone and title. The audit shows the phone masked, never in full."""
    _require_manages(actor, user)
    locked = User.objects.select_for_update().get(pk=user.pk)
    new = {
        "real_name": real_name.strip(),
        "phone": _clean_phone(phone) if phone.strip() else "",
        "title": title.strip(),
    }
    old = {"real_name": locked.real_name, "phone": locked.phone or "", "title": locked.title}
    changed = [field for field in new if new[field] != old[field]]
    if not changed:
        return locked
    locked.real_name, locked.phone, locked.title = new["real_name"], new["phone"], new["title"]
    locked.save(update_fields=["real_name", "phone", "phone_index", "title"])

    def shown(values: dict) -> dict:
        return {f: mask_phone(values[f]) if f == "phone" else values[f] for f in changed}

    audit.record(
        actor, "account.update", locked, region=_home_region(locked), before=shown(old), after=shown(new)
    )
    user.real_name, user.phone, user.title = locked.real_name, locked.phone, locked.title
    return locked
