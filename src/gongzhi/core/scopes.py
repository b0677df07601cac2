"""Who may see and do what, where. The one place scoping is applied.

A principal is a logged-in `User` (scope from role grants) or an `ApiKey` (bound to one region and
a set of actions). Every page, API handler, export, search and map starts from `visible()`.

    scopes.visible(Region.objects.all(), user)            # regions the user may view
    scopes.visible(qs, user, action="region.export")      # where they may export
    scopes.require(user, "pdata.reveal", obj)             # raises PermissionDenied
"""

from __future__ import annotations

from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _

from gongzhi.core.errors import PermissionDenied
from gongzhi.core.models import ApiKey, Region, RoleGrant, User
from gongzhi.core.principals import SystemActor
from gongzhi.core.roles import role_allows
from gongzhi.core.rules import minimal_paths

VIEW = "region.view"


def paths_for(principal, action: str) -> list[str] | None:
    """Region paths where `principal` may do `action`; None means everywhere (superuser)."""
    if isinstance(principal, ApiKey):
        if principal.is_active and action in principal.actions:
            return [principal.region.path]
        return []
    if isinstance(principal, SystemActor):
        return None
    if principal is None or not getattr(principal, "is_authenticated", False) or not principal.is_active:
        return []
    if principal.is_superuser:
        return None
    return minimal_paths([path for role, path in _grants(principal) if role_allows(role, action)])


def paths_for_role(principal, role: str) -> list[str]:
    """Region paths where a user holds one particular role (e.g. who may see a sensitive tag)."""
    if not isinstance(principal, User) or not principal.is_active:
        return []
    return minimal_paths([path for r, path in _grants(principal) if r == role])


def _grants(user: User) -> list[tuple[str, str]]:
    """A user's (role, region path) pairs, read once per request object."""
    cache = user.__dict__.get("_scope_grants")
    if cache is None:
        cache = list(RoleGrant.objects.filter(user=user).values_list("role", "region__path"))
        user.__dict__["_scope_grants"] = cache
    return cache


def can(principal, action: str, obj: Model | None = None) -> bool:
    """Whether `principal` may do `action` — on `obj` if given, or anywhere at all."""
    paths = paths_for(principal, action)
    if paths is None:
        return True
    if obj is None:
        return bool(paths)
    return any(target.startswith(p) for target in region_paths_of(obj) for p in paths)


def require(principal, action: str, obj: Model | None = None) -> None:
    if not can(principal, action, obj):
        raise PermissionDenied("permission_denied", _("您没有权限执行此操作，或该对象不在您的管辖范围内"))


def visible(queryset: QuerySet, principal, action: str = VIEW) -> QuerySet:
    """Filter any region-bearing queryset to the union of the principal's subtrees for `action`."""
    paths = paths_for(principal, action)
    if paths is None:
        return queryset
    if not paths:
        return queryset.none()
    lookup = f"{path_field(queryset.model)}__startswith"
    condition = Q()
    for path in paths:
        condition |= Q(**{lookup: path})
    return queryset.filter(condition)


def path_field(model: type[Model]) -> str:
    """The lookup reaching a model's region path: `path` on Region, `region__path` on others.

    A model whose region is reached another way sets `scope_path = "household__region__path"`.
    """
    if model is Region:
        return "path"
    return getattr(model, "scope_path", "region__path")


def region_paths_of(obj: Model) -> list[str]:
    """Where an object lives; a user lives wherever they hold a role."""
    if isinstance(obj, User):
        return [path for path in obj.grants.values_list("region__path", flat=True)]
    path = region_path_of(obj)
    return [path] if path else []


def region_path_of(obj: Model) -> str:
    if isinstance(obj, Region):
        return obj.path
    value = obj
    for part in path_field(type(obj)).split("__"):
        value = getattr(value, part, None)
        if value is None:
            return ""
    return value


def roles_of(user: User) -> list[str]:
    if not isinstance(user, User) or not user.is_authenticated:
        return []
    return sorted({role for role, _path in _grants(user)})  # the same cached read as scoping
