"""Pages of the people ledger. Thin: scoped queries in, services for changes."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from gongzhi.core import scopes
from gongzhi.core.forms import client_ip
from gongzhi.people import queries, services


def _deny(request):
    return render(request, "403.html", status=403)


@login_required
def search(request):
    """找人: one box for a name, pinyin, initials, ID tail, full ID, phone or address."""
    if not scopes.can(request.user, "people.view"):
        return _deny(request)
    q = request.GET.get("q", "").strip()
    include_inactive = request.GET.get("all") == "1"
    results = queries.search_residents(request.user, q, include_inactive=include_inactive) if q else None
    page = (
        Paginator(results.select_related("region", "household"), 30).get_page(request.GET.get("page"))
        if results is not None
        else None
    )
    return render(request, "people/search.html", {"q": q, "page": page, "include_inactive": include_inactive})


@login_required
def resident_detail(request, pk: int):
    resident = get_object_or_404(queries.residents_visible_to(request.user, include_inactive=True), pk=pk)
    return render(
        request,
        "people/resident_detail.html",
        {
            "resident": resident,
            "tags": services.read_sensitive_tags(request.user, resident, ip=client_ip(request)),
            "events": resident.events.select_related("from_region", "to_region").order_by("at", "id"),
            "can_reveal": scopes.can(request.user, "pdata.reveal", resident),
            "can_edit": scopes.can(request.user, "people.edit", resident),
        },
    )
