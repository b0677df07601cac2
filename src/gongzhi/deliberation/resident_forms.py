"""Forms of the residents' deliberation pages (议事厅). They only shape input: what a proposal, a claim
or a ballot must be is checked by the services, whose messages are shown on the page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.core import formats
from gongzhi.deliberation.models import Elector, ProposalKind, QuestionKind, Vote

# Receipt codes are 12 letters and digits, usually written in groups of four.
RECEIPT_MAX_LENGTH = 40


class ProposeForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("类型"),
        choices=ProposalKind.choices,
        initial=ProposalKind.PROPOSAL,
        widget=forms.RadioSelect,
        help_text=_("民主提事：希望社区商量解决的公共事务；微心愿：需要他人帮一把的小心愿。"),
    )
    title = forms.CharField(
        label=_("标题"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("例如：小区增设电动车充电桩"), "autocomplete": "off"}),
    )
    body = forms.CharField(
        label=_("内容"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": _("说明情况、理由和您的建议")}),
    )


class ClaimForm(forms.Form):
    claimant = forms.CharField(
        label=_("认领人或认领单位"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("例如：本人，或某某志愿服务队")}),
        error_messages={"required": _("请填写认领人或认领单位")},
    )


class FulfilForm(forms.Form):
    photo = forms.ImageField(
        label=_("心愿实现的照片"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
        error_messages={"required": _("请上传心愿实现的照片")},
    )
    note = forms.CharField(
        label=_("实现情况（可不填）"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class BallotForm(forms.Form):
    """One field per question (`q<id>`), plus which owner group to vote for when the voter has several.

    Required choices and the "at most k" limit are checked by `services.votes.cast_online`.
    """

    def __init__(self, *args, vote: Vote, questions, electors: list[Elector], **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        if len(electors) > 1:
            self.fields["elector"] = forms.TypedChoiceField(
                label=_("以哪个业主身份投票"),
                choices=[(e.pk, _elector_label(e)) for e in electors],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": _("请先选择以哪个业主身份投票")},
            )
        for question in self.questions:
            options = [(o.pk, o.label) for o in question.options.all()]
            if question.kind in (QuestionKind.MULTIPLE, QuestionKind.ELECTION):
                field = forms.TypedMultipleChoiceField(
                    choices=options, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
                )
            else:
                field = forms.TypedChoiceField(
                    choices=options, coerce=int, required=False, widget=forms.RadioSelect, empty_value=None
                )
            field.label = question.text
            self.fields[f"q{question.pk}"] = field

    def question_fields(self):
        """(question, bound field) in the vote's order, for the template."""
        return [(q, self[f"q{q.pk}"]) for q in self.questions]

    def choices(self) -> dict[int, list[int]]:
        """{question id: [option ids]} as `cast_online` takes them."""
        chosen = {}
        for question in self.questions:
            value = self.cleaned_data.get(f"q{question.pk}")
            if value is None:
                value = []
            chosen[question.pk] = list(value) if isinstance(value, list) else [value]
        return chosen


def _elector_label(elector: Elector) -> str:
    return f"{elector.units}（{formats.area(elector.area)}）" if elector.units else elector.name


class ReceiptForm(forms.Form):
    vote = forms.IntegerField(
        label=_("表决编号"),
        min_value=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": _("请填写表决编号"), "invalid": _("表决编号是一个数字")},
    )
    code = forms.CharField(
        label=_("回执码"),
        max_length=RECEIPT_MAX_LENGTH,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "placeholder": "XXXX-XXXX-XXXX"}
        ),
        error_messages={"required": _("请填写回执码")},
    )
