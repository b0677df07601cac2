"""Pages for 台账 import (upload, job progress, templates) and the resident export. Thin: a form, the
import services, scoped queries."""

from __future__ import annotations

from urllib.parse import quote

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.core import scopes
from gongzhi.core.errors import DomainError, PermissionDenied
from gongzhi.core.forms import client_ip
from gongzhi.core.models import Level, Region
from gongzhi.people import exporting, import_services, importing, queries
from gongzhi.people.models import ImportKind, ImportStatus

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RECENT_JOBS = 20


def _deny(request):
    return render(request, "403.html", status=403)


def _attachment(response: HttpResponse, name: str) -> HttpResponse:
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


class RegionChoice(forms.ModelChoiceField):
    def label_from_instance(self, region: Region) -> str:
        return f"{region.name}（{region.get_level_display()} {region.code}）"


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("台账类型"), choices=ImportKind.choices)
    region = RegionChoice(
        label=gettext_lazy("导入范围"),
        queryset=Region.objects.none(),
        help_text=gettext_lazy("表中每行的网格须在此范围内；选择一个网格时表中可以不填网格"),
    )
    file = forms.FileField(
        label=gettext_lazy("台账文件"),
        help_text=gettext_lazy(".xlsx 或 .csv（UTF-8 或 GBK）；第一行为列名"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("仅校验，不写入"),
        required=False,
        help_text=gettext_lazy("先检查一遍文件，看看有没有错误"),
    )
    update_existing = forms.BooleanField(
        label=gettext_lazy("按证件号更新已有人员"),
        required=False,
        help_text=gettext_lazy(
            "证件号码已登记的人员按表中填写的内容更新（空白单元格不清除原有信息）；不选时视为错误"
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        levels = [Level.COUNTY, Level.STREET, Level.COMMUNITY, Level.GRID]
        self.fields["region"].queryset = scopes.visible(
            Region.objects.filter(level__in=levels), user, "people.import"
        ).order_by("path")


@login_required
def import_page(request):
    """导入台账: upload a file, and the user's recent imports."""
    if not scopes.can(request.user, "people.import"):
        return _deny(request)
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = import_services.start_import(
                request.user,
                kind=data["kind"],
                region=data["region"],
                uploaded_file_or_path=data["file"],
                file_name=data["file"].name,
                dry_run=data["dry_run"],
                update_existing=data["update_existing"],
            )
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("people:import_job", job.pk)
    jobs = queries.import_jobs_visible_to(request.user).filter(created_by=request.user)[:RECENT_JOBS]
    return render(request, "people/import.html", {"form": form, "jobs": jobs, "kinds": ImportKind.choices})


def _job_context(job) -> dict:
    running = job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
    return {
        "job": job,
        "running": running,
        "phase": (job.counts or {}).get("phase", ""),
        "error_total": (job.counts or {}).get("errors", len(job.errors)),
        "errors_truncated": (job.counts or {}).get("errors", 0) > len(job.errors),
    }


@login_required
def import_job(request, pk: int):
    """One import: progress while it runs, then the counts or the table of errors."""
    job = get_object_or_404(queries.import_jobs_visible_to(request.user), pk=pk)
    return render(request, "people/import_job.html", _job_context(job))


@login_required
def import_job_status(request, pk: int):
    """The status fragment the job page polls (htmx) every second while the import runs."""
    job = get_object_or_404(queries.import_jobs_visible_to(request.user), pk=pk)
    return render(request, "people/_import_status.html", _job_context(job))


@login_required
def import_template(request, kind: str):
    if not scopes.can(request.user, "people.import"):
        return _deny(request)
    if kind not in ImportKind.values:
        raise Http404
    response = HttpResponse(importing.template_xlsx(kind), content_type=XLSX_TYPE)
    return _attachment(response, _("%(k)s导入模板.xlsx") % {"k": ImportKind(kind).label})


@login_required
def export_residents(request):
    """The resident list as .xlsx: the search results for `q`, or everyone visible when `q` is empty.

    Masked unless `reveal=1` and the user may reveal personal data for every exported person.
    """
    if not scopes.can(request.user, "people.export"):
        return _deny(request)
    q = request.GET.get("q", "").strip()
    include_inactive = request.GET.get("all") == "1"
    residents = (
        queries.search_residents(request.user, q, include_inactive=include_inactive)
        if q
        else queries.residents_visible_to(request.user, include_inactive=include_inactive)
    )
    try:
        file = exporting.export_residents(
            request.user, residents, reveal=request.GET.get("reveal") == "1", query=q, ip=client_ip(request)
        )
    except PermissionDenied:
        return _deny(request)
    return FileResponse(file, as_attachment=True, filename=_("实有人口台账.xlsx"), content_type=XLSX_TYPE)
