from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from gongzhi.core import queries


@login_required
def home(request):
    """Each role's home: what they cover and the modules they work in."""
    return render(
        request,
        "web/home.html",
        {
            "grants": queries.grants_of(request.user),
            "roots": queries.top_regions_for(request.user),
        },
    )


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_500(request):
    return render(request, "500.html", status=500)


def error_400(request, exception=None):
    return render(request, "400.html", status=400)
