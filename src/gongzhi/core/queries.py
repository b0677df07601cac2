"""Reads that already apply scope. Pages, API handlers and exports start here."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from gongzhi.core import scopes
from gongzhi.core.models import ApiKey, AuditEntry, Level, Region, RoleGrant, User
from gongzhi.core.roles import ROLE_ACTIONS, ROLE_PRIORITY, Role


def regions_visible_to(
    principal,
    *,
    action: str = scopes.VIEW,
    level: str | None = None,
    parent: str | None = None,
    q: str | None = None,
) -> QuerySet[Region]:
    qs = scopes.visible(Region.objects.all(), principal, action)
    if level:
        qs = qs.filter(level=level)
    if parent:
        qs = qs.filter(parent__code=parent)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(code__startswith=q))
    return qs.order_by("path")


def top_regions_for(principal) -> QuerySet[Region]:
    """The roots of a principal's visible subtrees (where their grants are)."""
    paths = scopes.paths_for(principal, scopes.VIEW)
    if paths is None:
        return Region.objects.filter(parent__isnull=True).order_by("path")
    return Region.objects.filter(path__in=paths).order_by("path")


def grid_workers_of(region: Region) -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True, grants__role=Role.GRID_WORKER, grants__region=region)
        .distinct()
        .order_by("real_name")
    )


def staff_of(region: Region) -> QuerySet[RoleGrant]:
    return RoleGrant.objects.filter(region=region).exclude(role=Role.RESIDENT).select_related("user")


def primary_role(user) -> str | None:
    roles = set(scopes.roles_of(user))
    for role in ROLE_PRIORITY:
        if role in roles:
            return role
    return Role.ADMIN if getattr(user, "is_superuser", False) else None


def grants_of(user: User) -> QuerySet[RoleGrant]:
    return RoleGrant.objects.filter(user=user).select_related("region").order_by("region__path")


def describe_principal(principal) -> dict:
    if isinstance(principal, ApiKey):
        return {
            "kind": "api_key",
            "name": principal.name,
            "roles": [],
            "actions": sorted(principal.actions),
        }
    grants = [
        {
            "role": g.role,
            "role_name": str(g.get_role_display()),
            "region": g.region.code,
            "region_name": g.region.name,
        }
        for g in grants_of(principal)
    ]
    actions = sorted({a for g in grants for a in ROLE_ACTIONS.get(g["role"], ())})
    return {"kind": "user", "name": principal.display_name, "roles": grants, "actions": actions}


def audit_visible_to(user, *, action: str | None = None, q: str | None = None) -> QuerySet[AuditEntry]:
    """Audit entries in the user's audit scope; entries with no region only for whole-deployment scope."""
    qs = scopes.visible(AuditEntry.objects.select_related("actor"), user, "audit.view")
    if action:
        qs = qs.filter(action__startswith=action)
    if q:
        qs = qs.filter(Q(actor_label__contains=q) | Q(object_repr__contains=q))
    return qs.order_by("-id")


def api_keys_visible_to(user) -> QuerySet[ApiKey]:
    return scopes.visible(ApiKey.objects.select_related("region", "created_by"), user, "apikey.manage")


def communities_and_grids(region: Region) -> QuerySet[Region]:
    return Region.objects.filter(path__startswith=region.path, level__in=[Level.COMMUNITY, Level.GRID])


def users_manageable_by(actor, *, q: str | None = None) -> QuerySet[User]:
    """Users holding at least one grant where `actor` may manage accounts.

    Whoever may manage accounts everywhere (a superuser) also sees users with no grants at all.
    """
    qs = User.objects.all()
    if scopes.paths_for(actor, "account.manage") is not None:
        in_scope = scopes.visible(RoleGrant.objects.all(), actor, "account.manage")
        qs = qs.filter(pk__in=in_scope.values("user_id"))
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(real_name__contains=q))
    grants = RoleGrant.objects.select_related("region").order_by("region__path", "role")
    return qs.prefetch_related(Prefetch("grants", queryset=grants)).order_by("username")
