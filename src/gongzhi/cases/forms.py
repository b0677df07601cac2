"""Forms of the staff case pages. They only shape input; the checks that matter (who may act, which step
may follow which status, reasons, photo counts) are in the services, so a page and the API say the same
thing."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gongzhi.cases.models import Category, RequestType, Sla, Source, Status
from gongzhi.cases.queries import parse_id
from gongzhi.cases.services import MAX_PHOTOS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
IMAGE_TYPES = "image/jpeg,image/png,image/webp"
STAFF_SOURCES = [
    (Source.HOTLINE, Source.HOTLINE.label),
    (Source.PATROL, Source.PATROL.label),
    (Source.REFERRAL, Source.REFERRAL.label),
]


# ---------------------------------------------------------------- shared pieces


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to nine images in one <input type=file multiple>; their content is checked by core.uploads."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("照片"))
        kwargs.setdefault(
            "help_text", _("最多 %(n)d 张，JPEG、PNG 或 WebP 格式；位置等元数据会被去除") % {"n": MAX_PHOTOS}
        )
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": IMAGE_TYPES}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        if len(files) > MAX_PHOTOS:
            raise ValidationError(_("照片最多 %(n)d 张") % {"n": MAX_PHOTOS}, code="too_many")
        return [super(PhotosField, self).clean(f, initial) for f in files]


def category_choices(*, blank: str | None = None) -> list:
    """Active categories grouped by major class (大类) for a <select> with <optgroup>s.

    A major class is itself selectable (listed first in its group) for matters that fit no minor class.
    """
    categories = list(Category.objects.filter(is_active=True).select_related("parent").order_by("code"))
    groups: dict[int, list] = {}
    majors = [c for c in categories if c.parent_id is None]
    for c in categories:
        if c.parent_id is not None:
            groups.setdefault(c.parent_id, []).append((str(c.pk), c.name))
    choices: list = [("", blank)] if blank is not None else []
    for major in majors:
        options = [(str(major.pk), _("%(name)s（大类）") % {"name": major.name}), *groups.get(major.pk, [])]
        choices.append((major.name, options))
    return choices


class CategoryField(forms.TypedChoiceField):
    """A grouped category select whose cleaned value is the Category (or None)."""

    def __init__(self, *args, blank: str | None = None, **kwargs):
        kwargs.setdefault("label", _("事件分类"))
        super().__init__(
            *args, choices=lambda: category_choices(blank=blank), coerce=int, empty_value=None, **kwargs
        )

    def clean(self, value):
        pk = super().clean(value)
        if pk is None:
            return None
        category = Category.objects.filter(pk=pk, is_active=True).select_related("parent").first()
        if category is None:
            raise ValidationError(_("该分类已停用"), code="inactive")
        return category


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, unit):
        return f"{unit.name}（{unit.get_kind_display()}）"


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, unit):
        return f"{unit.name}（{unit.get_kind_display()}）"

    def _check_values(self, value):
        # An id beyond 64 bits in "IN (…)" is an OverflowError on SQLite: refuse it as the bad choice it is.
        for pk in value:
            if parse_id(pk) is None:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)


class _StepForm(forms.Form):
    """One action form on the case page: each has its own element ids (`<step>_<field>`)."""

    step = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.step}_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


NOTE_LABEL = _("说明")


def _note(label=NOTE_LABEL, *, required=False, rows=3, help_text=""):
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


# ---------------------------------------------------------------- the dispatch centre


class AcceptForm(_StepForm):
    step = "accept"
    category = CategoryField(blank="—", required=True)
    note = _note()

    def __init__(self, *args, case=None, suggested=None, **kwargs):
        """The reporter's category, else the classifier's first suggestion, is offered first."""
        initial = case.category_id if case is not None and case.category_id else suggested
        if initial:
            kwargs.setdefault("initial", {"category": str(initial)})
        super().__init__(*args, **kwargs)
        self.fields["category"].error_messages["required"] = _("立案前请选择事件分类")


class ReasonForm(_StepForm):
    """Reject, return, escalate, suspend: each needs a reason the next person reads."""

    reason = _note(_("理由"), required=True)

    def __init__(self, *args, step: str, label=None, **kwargs):
        self.step = step
        super().__init__(*args, **kwargs)
        if label:
            self.fields["reason"].label = label
        self.fields["reason"].error_messages["required"] = _("请填写%(label)s") % {
            "label": self.fields["reason"].label
        }


class DispatchForm(_StepForm):
    step = "dispatch"
    unit = UnitChoiceField(label=_("主办单位"), queryset=None, empty_label="—")
    assist_units = UnitMultipleChoiceField(
        label=_("协办单位"),
        queryset=None,
        required=False,
        help_text=_("可多选；协办单位签收后向主办单位反馈意见"),
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    note = _note(_("派遣意见"))

    def __init__(self, *args, units=None, case=None, **kwargs):
        if case is not None and case.suggested_unit_id:
            kwargs.setdefault("initial", {"unit": case.suggested_unit_id})
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        self.fields["assist_units"].queryset = units
        self.fields["unit"].error_messages["required"] = _("请选择主办单位")

    def clean(self):
        data = super().clean()
        unit = data.get("unit")
        data["assist_units"] = [u for u in data.get("assist_units") or [] if u != unit]
        return data


class NoteForm(_StepForm):
    """Close, resume: an optional note."""

    note = _note()

    def __init__(self, *args, step: str, **kwargs):
        self.step = step
        super().__init__(*args, **kwargs)


class SignForm(_StepForm):
    step = "sign"


# ---------------------------------------------------------------- the handling unit and the grid worker


class ReplyForm(_StepForm):
    step = "reply"
    note = _note(_("处置结果"), required=True, rows=4)
    photos = PhotosField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].error_messages["required"] = _("请填写处置结果")


class AssistReplyForm(_StepForm):
    step = "assist_reply"
    note = _note(_("协办意见"), required=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].error_messages["required"] = _("请填写协办意见")


class VerifyForm(_StepForm):
    step = "verify"
    result = forms.ChoiceField(
        label=_("核查结果"),
        choices=[("pass", _("通过：问题已解决")), ("fail", _("不通过：退回返工"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择核查结果")},
    )
    note = _note(_("核查情况"), help_text=_("不通过时必须说明原因"))
    photos = PhotosField()

    def clean(self):
        data = super().clean()
        if data.get("result") == "fail" and not (data.get("note") or "").strip():
            self.add_error("note", _("核查不通过请说明原因"))
        return data


class CallbackForm(_StepForm):
    step = "callback"
    note = _note(_("回访情况"), required=True)
    reopen = forms.BooleanField(
        label=_("返工"), required=False, help_text=_("勾选后退回原承办单位重新办理，办理时限重新计算")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].error_messages["required"] = _("请填写回访情况")


# ---------------------------------------------------------------- staff intake


class IntakeForm(forms.Form):
    """热线电话、网格巡查、部门转办: the fields of services.submit_case."""

    source = forms.ChoiceField(label=_("来源"), choices=STAFF_SOURCES, widget=forms.RadioSelect)
    request_type = forms.ChoiceField(label=_("诉求类型"), choices=RequestType.choices)
    title = forms.CharField(label=_("标题"), max_length=100, required=False)
    description = forms.CharField(
        label=_("描述"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    category = CategoryField(blank=_("暂不分类（由受理人员分类）"), required=False)
    grid = forms.ModelChoiceField(
        label=_("所在网格"),
        queryset=None,
        required=False,
        empty_label=_("按地图选点定位"),
        help_text=_("地图选点落在网格内时以选点为准"),
    )
    lon = forms.FloatField(required=False, widget=forms.HiddenInput)
    lat = forms.FloatField(required=False, widget=forms.HiddenInput)
    coord_system = forms.ChoiceField(
        choices=[("wgs84", "WGS-84"), ("gcj02", "GCJ-02"), ("bd09", "BD-09")],
        initial="wgs84",
        widget=forms.HiddenInput,
    )
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    reporter_name = forms.CharField(label=_("来电人（反映人）姓名"), max_length=50, required=False)
    reporter_phone = forms.CharField(
        label=_("联系电话"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
        help_text=_("热线来电必须记录来电号码，匿名来电除外；页面上只显示脱敏号码"),
    )
    anonymous = forms.BooleanField(label=_("匿名反映"), required=False)
    photos = PhotosField()

    def __init__(self, *args, grids=None, default_source=Source.HOTLINE, **kwargs):
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("source", default_source)
        initial.setdefault(
            "request_type", RequestType.EVENT if default_source == Source.PATROL else RequestType.COMPLAINT
        )
        grid_list = list(grids) if grids is not None else []
        if len(grid_list) == 1:
            initial.setdefault("grid", grid_list[0].pk)
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["grid"].queryset = grids
        self.fields["grid"].label_from_instance = lambda g: (
            f"{g.parent.name if g.parent_id else ''} {g.name}".strip()
        )

    def add_case_errors(self, errors: list[tuple[str, str]]) -> None:
        """Put each (field, message) from InvalidCase under its field; the point's under the map."""
        for field, message in errors:
            if field in ("lon", "lat"):
                field = "lon"
            self.add_error(field if field in self.fields else None, message)


# ---------------------------------------------------------------- filters


class FilterForm(forms.Form):
    """The dispatch centre's filters (queries.filter_cases) and sort (queries.sort_cases)."""

    q = forms.CharField(label=_("编号、标题或地址"), required=False)
    status = forms.ChoiceField(
        label=_("状态"), choices=[("", _("全部状态")), *Status.choices], required=False
    )
    sla = forms.ChoiceField(label=_("时限"), choices=[("", _("全部")), *Sla.choices], required=False)
    category = forms.ChoiceField(label=_("分类"), required=False)
    unit = forms.ChoiceField(label=_("主办单位"), required=False)
    source = forms.ChoiceField(
        label=_("来源"), choices=[("", _("全部来源")), *Source.choices], required=False
    )
    region = forms.ChoiceField(label=_("区域"), required=False)
    from_ = forms.DateField(label=_("提交日期从"), required=False, widget=DATE)
    to = forms.DateField(label=_("至"), required=False, widget=DATE)
    sort = forms.ChoiceField(
        label=_("排序"),
        required=False,
        choices=[
            ("", _("默认（超期优先）")),
            ("due", _("时限最近")),
            ("-created", _("最新提交")),
            ("created", _("最早提交")),
            ("number", _("编号")),
        ],
    )

    def __init__(self, data=None, *, units=(), regions=(), **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(data, **kwargs)
        categories = [
            ("", _("全部分类")),
            *[
                (c.code, c.name if c.parent_id is None else f"　{c.name}")
                for c in Category.objects.filter(is_active=True).order_by("code")
            ],
        ]
        self.fields["category"].choices = categories
        self.fields["unit"].choices = [("", _("全部单位")), *[(str(u.pk), u.name) for u in units]]
        self.fields["region"].choices = [("", _("全部区域")), *[(r.code, r.name) for r in regions]]

    def add_prefix(self, field_name):
        # "from" is a Python keyword, so the field is from_ but the parameter stays "from".
        return "from" if field_name == "from_" else super().add_prefix(field_name)


class MergeForm(forms.Form):
    """并案: the likely duplicates the dispatcher ticks are folded into the case on the page."""

    numbers = forms.MultipleChoiceField(
        label=_("并入本案的事件"), widget=forms.CheckboxSelectMultiple, choices=()
    )
    note = _note()

    def __init__(self, *args, numbers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["numbers"].choices = [(n, n) for n in numbers]
        self.fields["numbers"].error_messages["required"] = _("请选择要并入的事件")
