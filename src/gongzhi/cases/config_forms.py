"""Forms of the administrators' configuration pages and the KPI page. They shape input; the services
check permission and scope, and say what is wrong in words the page shows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.cases import rules
from gongzhi.cases.models import AttributeType, Category, LimitUnit, UnitKind
from gongzhi.core.models import Level

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def indented_region_label(region) -> str:
    depth = max(region.path.count("/") - 3, 0)
    return f"{'　' * depth}{region.name}（{region.get_level_display()}）"


class CategoryAttributeForm(forms.Form):
    """One extra field of a category; list values are typed one per line as 代码=名称."""

    code = forms.SlugField(
        label=_("字段代码"), max_length=40, help_text=_("英文字母、数字、下划线，如 cover_no")
    )
    description = forms.CharField(label=_("提问"), max_length=200)
    datatype = forms.ChoiceField(label=_("类型"), choices=AttributeType.choices)
    required = forms.BooleanField(label=_("必填"), required=False)
    datatype_description = forms.CharField(label=_("填写说明"), max_length=200, required=False)
    order = forms.IntegerField(label=_("顺序"), min_value=1, max_value=99, initial=1)
    values = forms.CharField(
        label=_("可选值"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("单选、多选时每行一个，写成“代码=名称”，如 night=夜间"),
    )

    def clean_values(self) -> list[dict]:
        values = []
        for number, line in enumerate(self.cleaned_data["values"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, name = line.partition("=")
            if not sep or not key.strip() or not name.strip():
                raise forms.ValidationError(_("第 %(n)d 行应写成“代码=名称”") % {"n": number})
            values.append({"key": key.strip(), "name": name.strip()})
        return values


class CategoryForm(forms.Form):
    """The editable parts of a category (services.CATEGORY_FIELDS); code, parent and kind are fixed."""

    name = forms.CharField(label=_("名称"), max_length=50)
    accept_hours = forms.DecimalField(
        label=_("受理时限（工作小时）"),
        max_digits=5,
        decimal_places=1,
        min_value=Decimal("0.1"),
        help_text=_("从提交到立案的时限"),
    )
    handle_limit = forms.IntegerField(label=_("办理时限"), min_value=1, max_value=9999)
    handle_unit = forms.ChoiceField(label=_("办理时限单位"), choices=LimitUnit.choices)
    warn_percent = forms.IntegerField(
        label=_("预警阈值（已用时限 %）"),
        min_value=1,
        max_value=100,
        help_text=_("办理用时达到时限的这一比例时亮黄灯"),
    )
    requires_verification = forms.BooleanField(label=_("需网格员核查"), required=False)
    auto_escalate = forms.BooleanField(label=_("超期自动上报"), required=False)
    is_active = forms.BooleanField(
        label=_("启用"), required=False, help_text=_("停用后居民和工作人员不能再选择该分类，已有事件不受影响")
    )

    @classmethod
    def for_category(cls, category: Category, data=None) -> CategoryForm:
        initial = {name: getattr(category, name) for name in cls.base_fields}
        return cls(data, initial=initial)


class UnitForm(forms.Form):
    name = forms.CharField(label=_("单位名称"), max_length=100)
    kind = forms.ChoiceField(label=_("单位类型"), choices=UnitKind.choices)
    region = forms.ModelChoiceField(
        label=_("所在区域"),
        queryset=None,
        help_text=_("职能部门一般设在区县，社区（村）设在本社区"),
        error_messages={"invalid_choice": _("该区域不在您的管辖范围内")},
    )
    phone = forms.CharField(label=_("值班电话"), max_length=30, required=False)

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = indented_region_label


class MemberForm(forms.Form):
    username = forms.CharField(
        label=_("用户名"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    is_head = forms.BooleanField(
        label=_("负责人"), required=False, help_text=_("负责人会收到本单位超期事件的督办提醒")
    )


class RuleForm(forms.Form):
    category = forms.ModelChoiceField(
        label=_("分类"), queryset=None, error_messages={"invalid_choice": _("请从列表中选择分类")}
    )
    region = forms.ModelChoiceField(
        label=_("适用区域"),
        queryset=None,
        help_text=_("规则适用于该区域及其下级；范围越小越优先"),
        error_messages={"invalid_choice": _("该区域不在您的管辖范围内")},
    )
    unit = forms.ModelChoiceField(
        label=_("责任单位"), queryset=None, error_messages={"invalid_choice": _("请从列表中选择单位")}
    )
    note = forms.CharField(
        label=_("依据"), max_length=200, required=False, help_text=_("例如：权责清单第 12 项")
    )

    def __init__(self, *args, categories, regions, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories
        self.fields["category"].label_from_instance = lambda c: f"{c.code} {c.full_name}"
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = indented_region_label
        self.fields["unit"].queryset = units
        self.fields["unit"].label_from_instance = lambda u: f"{u.name}（{u.region.name}）"


# ---------------------------------------------------------------- KPI period

PERIODS = [
    ("this_month", _("本月")),
    ("last_month", _("上月")),
    ("this_year", _("本年")),
    ("custom", _("自定义")),
]
GROUPS = [("region", _("按区域")), ("unit", _("按单位")), ("category", _("按分类"))]


# As the API: a day outside it would overflow the window's datetimes (a 500) or mean nothing.
KPI_WINDOW = [MinValueValidator(rules.KPI_FIRST_DAY), MaxValueValidator(rules.KPI_LAST_DAY)]


class KpiForm(forms.Form):
    """Which events count: a period in the deployment's time zone, a grouping and an optional subtree."""

    period = forms.ChoiceField(label=_("期间"), choices=PERIODS, required=False)
    start = forms.DateField(label=_("开始日期"), required=False, widget=DATE, validators=KPI_WINDOW)
    end = forms.DateField(label=_("结束日期（含）"), required=False, widget=DATE, validators=KPI_WINDOW)
    group = forms.ChoiceField(label=_("分组"), choices=GROUPS, required=False)
    region = forms.ModelChoiceField(
        label=_("区域"),
        queryset=None,
        required=False,
        to_field_name="code",
        empty_label=_("全部（我的管辖范围）"),
        error_messages={"invalid_choice": _("该区域不在您的管辖范围内")},
    )

    def __init__(self, *args, regions, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = indented_region_label

    def clean(self):
        data = super().clean()
        data["period"] = data.get("period") or "this_month"
        data["group"] = data.get("group") or "region"
        first, last = self._days(data)
        if first is not None and last is not None and last < first:
            self.add_error("end", _("结束日期不能早于开始日期"))
        data["first_day"], data["last_day"] = first, last
        return data

    def _days(self, data) -> tuple[dt.date | None, dt.date | None]:
        today = self.today
        period = data["period"]
        if period == "last_month":
            last = today.replace(day=1) - dt.timedelta(days=1)
            return last.replace(day=1), last
        if period == "this_year":
            return today.replace(month=1, day=1), today
        if period == "custom":
            first, last = data.get("start"), data.get("end")
            if first is None:
                self.add_error("start", _("请选择开始日期"))
            if last is None:
                self.add_error("end", _("请选择结束日期"))
            return first, last
        return today.replace(day=1), today

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware datetimes: local midnight of the first day to that after the last."""
        tz = timezone.get_default_timezone()
        first, last = self.cleaned_data["first_day"], self.cleaned_data["last_day"]
        start = timezone.make_aware(dt.datetime.combine(first, dt.time.min), tz)
        end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min), tz)
        return start, end


KPI_REGION_LEVELS = (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.STREET, Level.COMMUNITY)
