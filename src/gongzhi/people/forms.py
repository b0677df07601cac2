"""Forms of the people pages. They only shape input: the checks that matter (ID checksum, dates, scope)
are in validation.check_person and the services, so a page, the API and an import say the same thing."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.people.models import IdType, PoliticalStatus, Relation, ResidenceType, Sex
from gongzhi.people.validation import ETHNICITIES

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _region_label(region) -> str:
    return f"{region.name}（{region.code}）"


def _blank(choices, label=None):
    return [("", label or "—"), *choices]


class _Form(forms.Form):
    """Several forms share the profile page: each gets its own element ids (`<id_prefix>_<field>`)."""

    id_prefix = "id"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class PersonForm(_Form):
    """One person's details, as text: validation.check_person parses and checks them."""

    name = forms.CharField(label=_("姓名"), max_length=50, required=False)
    id_type = forms.ChoiceField(label=_("证件类型"), choices=IdType.choices, initial=IdType.CITIZEN_ID)
    id_number = forms.CharField(
        label=_("证件号码"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("居民身份证号码填 18 位，出生日期和性别由号码自动得出"),
    )
    sex = forms.ChoiceField(label=_("性别"), choices=_blank(Sex.choices), required=False)
    birth_date = forms.CharField(label=_("出生日期"), required=False, widget=DATE)
    phone = forms.CharField(
        label=_("联系电话"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    ethnicity = forms.ChoiceField(
        label=_("民族"), choices=_blank([(e, e) for e in ETHNICITIES]), required=False
    )
    political_status = forms.ChoiceField(
        label=_("政治面貌"), choices=_blank(PoliticalStatus.choices), required=False
    )
    residence_type = forms.ChoiceField(
        label=_("人口类型"), choices=ResidenceType.choices, initial=ResidenceType.REGISTERED
    )
    relation = forms.ChoiceField(label=_("与户主关系"), choices=_blank(Relation.choices), required=False)
    address = forms.CharField(label=_("现住址"), max_length=200, required=False)

    def person_data(self) -> dict:
        """The cleaned values as check_person reads them."""
        return {key: self.cleaned_data.get(key, "") for key in self.fields if key in PERSON_KEYS}

    def add_person_errors(self, errors: list[tuple[str, str]]) -> None:
        """Put each (label, message) from InvalidPerson under its field; the rest above the form."""
        by_label = {str(field.label): name for name, field in self.fields.items()}
        for label, message in errors:
            name = by_label.get(str(label))
            self.add_error(name, message if name else f"{label}：{message}")


PERSON_KEYS = {
    "name",
    "id_type",
    "id_number",
    "sex",
    "birth_date",
    "phone",
    "ethnicity",
    "political_status",
    "residence_type",
    "relation",
    "address",
    "moved_in_on",
}


class RegisterForm(PersonForm):
    region = forms.ModelChoiceField(
        label=_("网格"),
        queryset=None,
        error_messages={"invalid_choice": _("该网格不在您的管辖范围内")},
    )
    moved_in_on = forms.CharField(label=_("迁入日期"), required=False, widget=DATE)

    field_order = ["region", "name", "id_type", "id_number"]

    def __init__(self, *args, grids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = grids
        self.fields["region"].label_from_instance = _region_label


class EditForm(PersonForm):
    """The stored ID and phone numbers are never put back into the form: empty keeps them."""

    id_prefix = "edit"

    clear_phone = forms.BooleanField(label=_("清除联系电话"), required=False)

    def __init__(self, *args, resident=None, **kwargs):
        if resident is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": resident.name,
                "id_type": resident.id_type,
                "sex": resident.sex,
                "birth_date": resident.birth_date.isoformat() if resident.birth_date else "",
                "ethnicity": resident.ethnicity,
                "political_status": resident.political_status,
                "residence_type": resident.residence_type,
                "relation": resident.relation,
                "address": resident.address,
            }
        super().__init__(*args, **kwargs)
        self.fields["id_number"].label = _("新证件号码")
        self.fields["id_number"].help_text = _("留空则保持原号码不变")
        self.fields["phone"].label = _("新联系电话")
        self.fields["phone"].help_text = _("留空则保持原号码不变")
        if resident is not None:
            self.fields["id_number"].widget.attrs["placeholder"] = resident.masked_id
            self.fields["phone"].widget.attrs["placeholder"] = resident.masked_phone

    def clean(self):
        data = super().clean()
        if data.get("clear_phone") and data.get("phone"):
            self.add_error("phone", _("不能同时填写新号码并清除联系电话"))
        return data

    def person_data(self) -> dict:
        data = super().person_data()
        for key in ("id_number", "phone"):
            if not data.get(key):
                data.pop(key, None)  # keep what is stored
        if data.get("id_number") and data.get("id_type") == IdType.CITIZEN_ID:
            # A new ID number brings its own birth date and sex: untouched old values must not contradict it.
            for key in ("birth_date", "sex"):
                if key not in self.changed_data:
                    data[key] = ""
        if self.cleaned_data.get("clear_phone"):
            data["phone"] = ""
        return data

    def add_person_errors(self, errors):
        aliases = {_("证件号码"): "id_number", _("联系电话"): "phone"}
        by_label = {str(k): v for k, v in aliases.items()}
        rest = []
        for label, message in errors:
            if str(label) in by_label:
                self.add_error(by_label[str(label)], message)
            else:
                rest.append((label, message))
        super().add_person_errors(rest)


class _GridMixin:
    def _grids(self, field: str, grids) -> None:
        self.fields[field].queryset = grids
        self.fields[field].label_from_instance = _region_label


class MoveForm(_GridMixin, _Form):
    id_prefix = "move"

    to_region = forms.ModelChoiceField(
        label=_("迁往网格"),
        queryset=None,
        error_messages={"invalid_choice": _("该网格不在您的管辖范围内")},
    )
    on_date = forms.DateField(label=_("迁移日期"), widget=DATE)
    address = forms.CharField(
        label=_("新住址"), max_length=200, required=False, help_text=_("留空则沿用原住址")
    )
    note = forms.CharField(label=_("说明"), max_length=200, required=False)

    def __init__(self, *args, grids, **kwargs):
        super().__init__(*args, **kwargs)
        self._grids("to_region", grids)


class MoveInForm(_GridMixin, _Form):
    id_prefix = "move_in"

    region = forms.ModelChoiceField(
        label=_("迁入网格"),
        queryset=None,
        error_messages={"invalid_choice": _("该网格不在您的管辖范围内")},
    )
    on_date = forms.DateField(label=_("迁入日期"), widget=DATE)
    address = forms.CharField(
        label=_("住址"), max_length=200, required=False, help_text=_("留空则沿用原住址")
    )
    note = forms.CharField(label=_("说明"), max_length=200, required=False)

    def __init__(self, *args, grids, **kwargs):
        super().__init__(*args, **kwargs)
        self._grids("region", grids)


class MoveOutForm(_Form):
    id_prefix = "move_out"

    on_date = forms.DateField(label=_("迁出日期"), widget=DATE)
    destination = forms.CharField(label=_("迁往地"), max_length=200, required=False)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)


class DeathForm(_Form):
    id_prefix = "death"

    on_date = forms.DateField(label=_("死亡日期"), widget=DATE)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)


class TagForm(_Form):
    id_prefix = "tag"

    tag = forms.ModelChoiceField(
        label=_("标签"), queryset=None, error_messages={"invalid_choice": _("您无权设置该标签")}
    )
    since = forms.DateField(label=_("起始日期"), required=False, widget=DATE)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, tags, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].queryset = tags


class HouseholderForm(_Form):
    id_prefix = "householder"

    resident = forms.ModelChoiceField(
        label=_("户主"), queryset=None, error_messages={"invalid_choice": _("户主必须是该户成员")}
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resident"].queryset = members


class MergeForm(_Form):
    id_prefix = "merge"

    a = forms.IntegerField(widget=forms.HiddenInput)
    b = forms.IntegerField(widget=forms.HiddenInput)
    keep = forms.ChoiceField(
        label=_("保留哪条记录"),
        choices=[("a", _("左侧记录")), ("b", _("右侧记录"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("说明"), max_length=200, required=False)
