"""Pages for sign-in, the region tree, API keys and the audit log. Thin: forms, services, queries."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.core import queries, scopes, services
from gongzhi.core.errors import DomainError
from gongzhi.core.forms import ApiKeyForm, LockingAuthenticationForm, PasswordChangeForm, client_ip
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
