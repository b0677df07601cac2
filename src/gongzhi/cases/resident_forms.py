"""Forms of the residents' pages (随手拍, 评价, 补充材料). They only shape input: what a case must be is
checked by services.submit_case, whose InvalidCase errors come back under the fields here."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.cases.models import Category, Rating, RequestType
from gongzhi.cases.services import MAX_PHOTOS

# What residents may ask for; "事件" is the staff's word for patrol findings.
RESIDENT_REQUEST_TYPES = [
    (value, label) for value, label in RequestType.choices if value != RequestType.EVENT
]

# Browsers' geolocation and the vector map are WGS-84; phone map apps hand over GCJ-02 or BD-09.
COORD_SYSTEMS = [("wgs84", "WGS-84"), ("gcj02", "GCJ-02"), ("bd09", "BD-09")]

# Fields of InvalidCase that are about where the problem is: shown beside the map.
LOCATION_FIELDS = {"lon", "lat", "grid", "coord_system"}


class MultiplePhotoInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several image files under one name; their content is checked by the service (uploads.clean_image)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultiplePhotoInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        return [super(PhotosField, self).clean(f, initial) for f in files]


def _category_label(category: Category) -> str:
    return category.name


class ReportForm(forms.Form):
    """随手拍: what, where, a photo or more. Category is optional: the dispatcher sets it when accepting."""

    title = forms.CharField(
        label=_("标题"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("例如：小区门口路灯不亮"), "autocomplete": "off"}),
    )
    description = forms.CharField(
        label=_("问题描述"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": _("发生了什么、在哪里、持续多久了")}),
    )
    request_type = forms.ChoiceField(
        label=_("诉求类型"), choices=RESIDENT_REQUEST_TYPES, initial=RequestType.COMPLAINT
    )
    major = forms.ModelChoiceField(
        label=_("问题大类"),
        queryset=Category.objects.none(),
        required=False,
        empty_label=_("不确定可不选"),
        error_messages={"invalid_choice": _("请从列表中选择分类")},
    )
    minor = forms.ModelChoiceField(
        label=_("问题小类"),
        queryset=Category.objects.none(),
        required=False,
        empty_label=_("不确定可不选"),
        error_messages={"invalid_choice": _("请从列表中选择分类")},
    )
    camera = PhotosField(
        label=_("拍照"),
        required=False,
        widget=MultiplePhotoInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    photos = PhotosField(label=_("从相册选择"), required=False)
    lon = forms.FloatField(required=False, widget=forms.HiddenInput)
    lat = forms.FloatField(required=False, widget=forms.HiddenInput)
    coord_system = forms.ChoiceField(
        choices=COORD_SYSTEMS, required=False, initial="wgs84", widget=forms.HiddenInput
    )
    address = forms.CharField(
        label=_("详细地址（可不填）"),
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={"placeholder": _("例如：幸福路 12 号东门"), "autocomplete": "street-address"}
        ),
    )
    anonymous = forms.BooleanField(
        label=_("匿名反映"),
        required=False,
        help_text=_("勾选后，办理人员看不到您的姓名和电话；您仍可以在“我的诉求”里查看进度和评价。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        active = Category.objects.filter(is_active=True).select_related("parent")
        self.fields["major"].queryset = active.filter(parent__isnull=True).order_by("code")
        self.fields["major"].label_from_instance = _category_label
        minors = active.filter(parent__isnull=False, parent__is_active=True).order_by("code")
        self.fields["minor"].queryset = minors
        # Grouped by major so the list works without JavaScript.
        groups: dict[str, list] = {}
        for category in minors:
            groups.setdefault(category.parent.name, []).append((category.pk, category.name))
        self.fields["minor"].choices = [("", _("不确定可不选")), *groups.items()]
        self.location_errors: list[str] = []

    def clean(self):
        data = super().clean()
        photos = [*data.get("camera", []), *data.get("photos", [])]
        data["all_photos"] = photos
        if not photos:
            self.add_error("photos", _("请至少拍摄或选择 1 张照片"))
        elif len(photos) > MAX_PHOTOS:
            self.add_error(
                "photos", _("照片最多 %(n)d 张，您选择了 %(m)d 张") % {"n": MAX_PHOTOS, "m": len(photos)}
            )
        major, minor = data.get("major"), data.get("minor")
        if major and minor and minor.parent_id != major.pk:
            self.add_error(
                "minor",
                _("小类“%(minor)s”不属于大类“%(major)s”") % {"minor": minor.name, "major": major.name},
            )
        if (data.get("lon") is None) != (data.get("lat") is None):
            self.location_errors.append(str(_("位置不完整，请重新在地图上选点")))
            data["lon"] = data["lat"] = None
        data["coord_system"] = data.get("coord_system") or "wgs84"
        return data

    @property
    def category(self) -> Category | None:
        return self.cleaned_data.get("minor") or self.cleaned_data.get("major")

    def add_case_errors(self, errors: list[tuple[str, str]]) -> None:
        """Put each (field, message) of InvalidCase where the resident will see it."""
        for field, message in errors:
            if field in LOCATION_FIELDS:
                self.location_errors.append(message)
            elif field == "category":
                self.add_error("minor" if self.cleaned_data.get("minor") else "major", message)
            elif field in self.fields:
                self.add_error(field, message)
            else:
                self.add_error(None, message)

    @property
    def has_problems(self) -> bool:
        return bool(self.errors or self.location_errors)


class RateForm(forms.Form):
    rating = forms.ChoiceField(
        label=_("您对办理结果满意吗？"),
        choices=Rating.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择满意、基本满意或不满意")},
    )
    comment = forms.CharField(
        label=_("说说您的看法（可不填）"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SupplementForm(forms.Form):
    note = forms.CharField(
        label=_("补充说明"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("请按照办理人员的要求补充说明情况")}),
        error_messages={"required": _("请填写需要补充的内容")},
    )
