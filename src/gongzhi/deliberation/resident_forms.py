"""Forms of the residents' deliberation pages (议事厅). They only shape input: what a proposal must be
is checked by the services, whose messages are shown on the page. The ballot, claim and fulfilment
forms are the staff pages' own (`deliberation.forms`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.deliberation.models import ProposalKind

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
