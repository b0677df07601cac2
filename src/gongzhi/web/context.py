import functools

from gongzhi.core import notify, queries, scopes
from gongzhi.web import nav


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = set(scopes.roles_of(user))
    entries = nav.entries_for(user, roles)
    primary = queries.primary_role(user)
    return {
        "nav_entries": [e for e in entries if e.url_name and e.in_menu],
        "home_entries": entries,
        "primary_role": primary,
        "primary_role_label": dict(queries.Role.choices).get(primary, ""),
        # A COUNT query run only when a template shows it (base.html does, once; fragments do not).
        "unread_notifications": functools.cache(functools.partial(notify.unread_count, user)),
    }
