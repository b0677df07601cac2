"""Pages for sign-in, the region tree, accounts, API keys, the audit log and notifications.

Thin: forms, services, queries.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.core import notify, queries, scopes, services
from gongzhi.core.errors import DomainError
from gongzhi.core.forms import (
    AccountCreateForm,
    ApiKeyForm,
    GrantForm,
    LockingAuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    ProfileForm,
    client_ip,
)
from gongzhi.core.models import Level, User


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    authentication_form = LockingAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        services.record_login(form.get_user(), client_ip(self.request))
        return response


@require_POST
def logout_view(request):
    from django.contrib.auth import logout

    if request.user.is_authenticated:
        services.record_logout(request.user, client_ip(request))
    logout(request)
    messages.info(request, _("您已安全退出。"))
    return redirect("login")


@login_required
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_password(
                request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
                ip=client_ip(request),
            )
        except DomainError as exc:
            field = "old_password" if exc.code == "account.wrong_password" else "new_password"
            form.add_error(field, exc.message)
        else:
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request, request.user)
            messages.success(request, _("密码已修改。"))
            return redirect("home")
    return render(request, "core/password_change.html", {"form": form})


def _deny(request):
    return render(request, "403.html", status=403)


@login_required
def region_list(request):
    if not scopes.can(request.user, "region.view"):
        return _deny(request)
    q = request.GET.get("q", "").strip()
    level = request.GET.get("level", "")
    regions = queries.regions_visible_to(request.user, q=q or None, level=level or None).select_related(
        "parent"
    )
    page = Paginator(regions, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "core/region_list.html",
        {
            "page": page,
            "q": q,
            "level": level,
            "roots": queries.top_regions_for(request.user),
            "can_export": scopes.can(request.user, "region.export"),
            "levels": Level.choices,
        },
    )


@login_required
def region_export(request):
    if not scopes.can(request.user, "region.export"):
        return _deny(request)
    regions = queries.regions_visible_to(request.user, action="region.export")
    data = services.export_regions(request.user, regions, ip=client_ip(request))
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = "attachment; filename*=UTF-8''regions.xlsx"
    return response


@login_required
def region_detail(request, code: str):
    region = get_object_or_404(queries.regions_visible_to(request.user).select_related("parent"), code=code)
    visible = queries.regions_visible_to(request.user)
    return render(
        request,
        "core/region_detail.html",
        {
            "region": region,
            "ancestors": visible.filter(code__in=region.ancestor_codes),
            "children": visible.filter(parent=region),
            "grid_workers": queries.grid_workers_of(region),
            "staff": queries.staff_of(region),
            "can_reveal": scopes.can(request.user, "pdata.reveal", region),
        },
    )


@login_required
@require_POST
def reveal_phone(request, pk: int):
    """Show one staff member's full phone number (htmx fragment); audited by the service."""
    person = get_object_or_404(User, pk=pk)
    try:
        phone = services.reveal(
            request.user, person, "phone", reason=request.POST.get("reason", ""), ip=client_ip(request)
        )
    except DomainError as exc:
        return HttpResponseForbidden(exc.message)
    return render(request, "core/_revealed.html", {"value": phone})


@login_required
def audit_log(request):
    if not scopes.can(request.user, "audit.view"):
        return _deny(request)
    action = request.GET.get("action", "").strip()
    q = request.GET.get("q", "").strip()
    entries = queries.audit_visible_to(request.user, action=action or None, q=q or None)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "core/audit_log.html", {"page": page, "action": action, "q": q})


@login_required
def api_keys(request):
    if not scopes.can(request.user, "apikey.manage"):
        return _deny(request)
    regions = queries.regions_visible_to(request.user, action="apikey.manage")
    form = ApiKeyForm(request.POST or None, regions=regions)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            key, created = services.create_api_key(
                request.user,
                name=form.cleaned_data["name"],
                region=form.cleaned_data["region"],
                actions=form.cleaned_data["actions"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, _("密钥“%(n)s”已创建。请立即复制保存，它只显示这一次。") % {"n": key.name}
            )
            form = ApiKeyForm(regions=regions)
    return render(
        request,
        "core/api_keys.html",
        {"form": form, "keys": queries.api_keys_visible_to(request.user), "created": created},
    )


@login_required
@require_POST
def api_key_revoke(request, pk: int):
    key = get_object_or_404(queries.api_keys_visible_to(request.user), pk=pk)
    services.revoke_api_key(request.user, key)
    messages.success(request, _("密钥“%(n)s”已吊销。") % {"n": key.name})
    return redirect("api_keys")


# ---------------------------------------------------------------- account administration

# Which form field a service's error belongs to; anything else is shown above the form.
_ACCOUNT_ERROR_FIELDS = {
    "account.username_required": "username",
    "account.username_taken": "username",
    "account.weak_password": "password",
    "account.bad_phone": "phone",
    "account.unknown_role": "role",
}


def _form_error(form, exc: DomainError) -> None:
    field = _ACCOUNT_ERROR_FIELDS.get(exc.code)
    form.add_error(field if field in form.fields else None, exc.message)


def _account_regions(request):
    return queries.regions_visible_to(request.user, action="account.manage")


@login_required
def account_list(request):
    if not scopes.can(request.user, "account.manage"):
        return _deny(request)
    form = AccountCreateForm(request.POST or None, regions=_account_regions(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = services.create_account(
                request.user,
                username=data["username"],
                password=data["password"],
                role=data["role"],
                region=data["region"],
                real_name=data["real_name"],
                phone=data["phone"],
                title=data["title"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("账号“%(u)s”已创建。") % {"u": person.username})
            return redirect("account_detail", pk=person.pk)
    q = request.GET.get("q", "").strip()
    people = queries.users_manageable_by(request.user, q=q or None)
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    return render(request, "core/account_list.html", {"page": page, "q": q, "form": form})


def _manageable(request, pk: int) -> User:
    return get_object_or_404(queries.users_manageable_by(request.user), pk=pk)


def _render_account(request, person: User, **forms):
    grants = list(queries.grants_of(person).select_related("granted_by"))
    for grant in grants:
        grant.in_scope = scopes.can(request.user, "account.manage", grant.region)
    context = {
        "person": person,
        "grants": grants,
        "manages_all": services.may_manage_account(request.user, person),
        "is_self": person.pk == request.user.pk,
        "profile_form": ProfileForm(initial={"real_name": person.real_name, "title": person.title}),
        "grant_form": GrantForm(regions=_account_regions(request)),
        "password_form": PasswordResetForm(),
        **forms,
    }
    return render(request, "core/account_detail.html", context)


def _saved(request, message: str, person: User):
    messages.success(request, message)
    return redirect("account_detail", pk=person.pk)


@login_required
def account_detail(request, pk: int):
    """One account: profile, grants, password reset, activation. POST saves the profile."""
    if not scopes.can(request.user, "account.manage"):
        return _deny(request)
    person = _manageable(request, pk)
    if request.method != "POST":
        return _render_account(request, person)
    form = ProfileForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        # The edit form never shows the stored number (administrators may not read personal data):
        # an empty field keeps it, the checkbox clears it.
        phone = "" if data["clear_phone"] else (data["phone"] or person.phone or "")
        try:
            services.update_profile(
                request.user, person, real_name=data["real_name"], phone=phone, title=data["title"]
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return _saved(request, _("资料已保存。"), person)
    return _render_account(request, person, profile_form=form)


@login_required
@require_POST
def account_grant(request, pk: int):
    if not scopes.can(request.user, "account.manage"):
        return _deny(request)
    person = _manageable(request, pk)
    form = GrantForm(request.POST, regions=_account_regions(request))
    if form.is_valid():
        role, region = form.cleaned_data["role"], form.cleaned_data["region"]
        try:
            services.grant_role(request.user, person, role, region)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return _saved(request, _("已授予角色。"), person)
    return _render_account(request, person, grant_form=form)


@login_required
@require_POST
def account_revoke(request, pk: int, grant_pk: int):
    if not scopes.can(request.user, "account.manage"):
        return _deny(request)
    person = _manageable(request, pk)
    grant = get_object_or_404(queries.grants_of(person), pk=grant_pk)
    try:
        services.revoke_role(request.user, grant)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("account_detail", pk=person.pk)
    messages.success(request, _("已撤销授权。"))
    if not queries.users_manageable_by(request.user).filter(pk=person.pk).exists():
        return redirect("account_list")  # the last grant in the administrator's area is gone
    return redirect("account_detail", pk=person.pk)


@login_required
@require_POST
def account_password_reset(request, pk: int):
    if not scopes.can(request.user, "account.manage"):
        return _deny(request)
    person = _manageable(request, pk)
    form = PasswordResetForm(request.POST)
    if form.is_valid():
        try:
            services.reset_password(request.user, person, form.cleaned_data["password"])
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return _saved(request, _("密码已重置，请通过安全渠道告知本人。"), person)
    return _render_account(request, person, password_form=form)


@login_required
@require_POST
def account_set_active(request, pk: int):
    if not scopes.can(request.user, "account.manage"):
        return _deny(request)
    person = _manageable(request, pk)
    active = request.POST.get("active") == "1"
    try:
        services.set_active(request.user, person, active)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("account_detail", pk=person.pk)
    return _saved(request, _("账号已启用。") if active else _("账号已停用。"), person)


# ---------------------------------------------------------------- notifications


@login_required
def notification_list(request):
    """The person's own messages, newest first; unread ones stand out."""
    page = Paginator(notify.notifications_of(request.user), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "core/notifications.html",
        {"page": page, "has_unread": notify.unread_count(request.user) > 0},
    )


@login_required
@require_POST
def notifications_read(request):
    marked = notify.mark_read(request.user)
    if marked:
        messages.success(request, _("已将 %(n)s 条消息标为已读。") % {"n": marked})
    return redirect("notifications")


@login_required
def notification_open(request, pk: int):
    """Mark one of the person's messages read and go where it points (only ever a path on this site)."""
    notification = get_object_or_404(notify.notifications_of(request.user), pk=pk)
    notify.mark_read(request.user, [notification.pk])
    if notification.url and notify.is_local_url(notification.url):
        return redirect(notification.url)
    return redirect("notifications")
