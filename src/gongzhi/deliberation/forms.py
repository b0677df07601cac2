"""Forms of the staff deliberation pages. They only shape input; who may act, step order, thresholds and
ballot validity are checked by the services, so a page and the API say the same thing."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gongzhi.core import formats
from gongzhi.deliberation.models import Elector, ProposalStatus, QuestionKind, Vote, VoteRule
from gongzhi.deliberation.processes import Party, Process
from gongzhi.deliberation.services.matters import MAX_ATTACHMENTS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
IMAGE_TYPES = "image/jpeg,image/png,image/webp"
QUESTION_SLOTS = 3  # how many questions the vote form offers (the first is required)


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several images in one <input type=file multiple>; their content is checked by core.uploads."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("照片/附件"))
        kwargs.setdefault("help_text", _("最多 %(n)d 张，JPEG、PNG 或 WebP 格式") % {"n": MAX_ATTACHMENTS})
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": IMAGE_TYPES}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files:
            return []
        if len(files) > MAX_ATTACHMENTS:
            raise ValidationError(_("最多上传 %(n)d 张图片") % {"n": MAX_ATTACHMENTS}, code="too_many")
        return [super(PhotosField, self).clean(f, initial) for f in files]


def image_field(label, *, required: bool) -> forms.FileField:
    return forms.FileField(
        label=label, required=required, widget=forms.ClearableFileInput(attrs={"accept": IMAGE_TYPES})
    )


# ---------------------------------------------------------------- proposals


class ThresholdForm(forms.Form):
    community = forms.ModelChoiceField(queryset=None, label=_("社区/村"), empty_label=None)
    supports = forms.IntegerField(label=_("列入议程所需支持数"), min_value=1, max_value=10_000)

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities


class AnswerForm(forms.Form):
    """Answer in public: accept into an existing or a new matter, decline with a reason, or done."""

    decision = forms.ChoiceField(
        label=_("答复结果"),
        widget=forms.RadioSelect,
        choices=[
            (ProposalStatus.ACCEPTED, _("采纳，转为议题")),
            (ProposalStatus.DECLINED, _("不予采纳")),
            (ProposalStatus.DONE, _("已办结")),
        ],
    )
    text = forms.CharField(
        label=_("答复内容"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("答复向居民公开；不予采纳须说明理由"),
    )
    matter = forms.ModelChoiceField(
        queryset=None, label=_("转入已有议题"), required=False, empty_label=_("— 新建议题 —")
    )
    process = forms.ChoiceField(
        label=_("新议题的议事程序"), choices=[("", "—"), *Process.choices], required=False
    )
    compound = forms.ChoiceField(label=_("小区（业主大会）"), required=False)

    def __init__(self, *args, matters, compounds, only_done: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if only_done:  # an accepted proposal can still be reported done
            self.fields["decision"].choices = [(ProposalStatus.DONE, _("已办结"))]
        self.fields["matter"].queryset = matters
        self.fields["compound"].choices = [("", "—"), *((c, c) for c in compounds)]

    def clean(self):
        data = super().clean()
        accepted = data.get("decision") == ProposalStatus.ACCEPTED
        if accepted and not data.get("matter") and not data.get("process"):
            self.add_error("process", _("请选择已有议题，或选择新议题的议事程序"))
        return data


class ClaimForm(forms.Form):
    """A micro-wish claimed, by a resident on their phone or by staff for a volunteer group."""

    claimant = forms.CharField(
        label=_("认领人或认领单位"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("例如：本人，或某某志愿服务队")}),
        error_messages={"required": _("请填写认领人或认领单位")},
    )


class FulfilForm(forms.Form):
    photo = forms.FileField(
        label=_("心愿实现的照片"),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_TYPES}),
        error_messages={"required": _("请上传心愿实现的照片")},
    )
    note = forms.CharField(
        label=_("实现情况（可不填）"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# ---------------------------------------------------------------- matters


class MatterForm(forms.Form):
    community = forms.ModelChoiceField(queryset=None, label=_("社区/村"), empty_label=None)
    process = forms.ChoiceField(label=_("议事程序"), choices=Process.choices)
    title = forms.CharField(label=_("议题"), max_length=100)
    description = forms.CharField(
        label=_("说明"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    compound = forms.ChoiceField(label=_("小区"), required=False, help_text=_("业主大会须选择小区"))

    def __init__(self, *args, communities, compounds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities
        self.fields["compound"].choices = [("", "—"), *((c, c) for c in compounds)]


class StepForm(forms.Form):
    held_on = forms.DateField(label=_("日期"), widget=DATE)
    place = forms.CharField(label=_("地点"), max_length=100, required=False)
    participants = forms.CharField(
        label=_("参加人员/参与方"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    parties = forms.MultipleChoiceField(
        label=_("参与方"),
        choices=Party.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("民主协商须有至少两类参与方"),
    )
    minutes = forms.CharField(
        label=_("会议记录/公开内容"),
        max_length=8000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    photos = PhotosField()

    def __init__(self, *args, step=None, **kwargs):
        super().__init__(*args, **kwargs)
        if step is None or not step.parties:  # only a consultation names its parties
            del self.fields["parties"]


class TaskForm(forms.Form):
    title = forms.CharField(label=_("任务"), max_length=200)
    owner = forms.CharField(label=_("责任方"), max_length=100)
    due_on = forms.DateField(label=_("完成期限"), required=False, widget=DATE)


# ---------------------------------------------------------------- votes


class VoteForm(forms.Form):
    """A vote with up to three questions; options are typed one per line (yes/no needs none)."""

    title = forms.CharField(label=_("表决事项"), max_length=150)
    rule = forms.ChoiceField(label=_("表决规则"))
    closes_at = forms.DateTimeField(label=_("截止时间"), widget=DATETIME)
    secret = forms.BooleanField(label=_("无记名投票"), required=False)
    online = forms.BooleanField(label=_("允许网上投票"), required=False, initial=True)
    allow_change = forms.BooleanField(label=_("截止前可改票"), required=False)

    def __init__(self, *args, rules, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = [(r, VoteRule(r).label) for r in rules]
        for n in range(1, QUESTION_SLOTS + 1):
            self.fields[f"q{n}_text"] = forms.CharField(
                label=_("第%(n)d项表决内容") % {"n": n}, max_length=300, required=n == 1
            )
            self.fields[f"q{n}_kind"] = forms.ChoiceField(
                label=_("类型"), choices=QuestionKind.choices, initial=QuestionKind.YES_NO
            )
            self.fields[f"q{n}_options"] = forms.CharField(
                label=_("选项/候选人（每行一个）"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=_("“同意/不同意/弃权”无须填写"),
            )
            self.fields[f"q{n}_max"] = forms.IntegerField(
                label=_("最多可选"), min_value=1, max_value=50, initial=1, required=False
            )

    def general_fields(self):
        return [self[name] for name in ("title", "rule", "closes_at", "secret", "online", "allow_change")]

    def question_groups(self):
        """The question fields grouped per question, for the template."""
        return [
            [self[f"q{n}_{part}"] for part in ("text", "kind", "options", "max")]
            for n in range(1, QUESTION_SLOTS + 1)
        ]

    def questions(self) -> list[dict]:
        """The filled-in questions as the service takes them."""
        data = self.cleaned_data
        return [
            {
                "text": data[f"q{n}_text"],
                "kind": data[f"q{n}_kind"],
                "max_choices": data.get(f"q{n}_max") or 1,
                "options": [line.strip() for line in data[f"q{n}_options"].splitlines() if line.strip()],
            }
            for n in range(1, QUESTION_SLOTS + 1)
            if data.get(f"q{n}_text", "").strip()
        ]


class ElectorChangeForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=200)


class BallotForm(forms.Form):
    """What a ballot says: one field per question (`q<id>`: radios for one choice, boxes for several),
    the same for a resident voting on their phone and for staff entering or confirming a paper ballot.
    A resident holding several owner groups also says which one votes (`electors`).

    Required choices and the "at most k" limit are checked by the services, which name the question.
    """

    def __init__(self, *args, vote: Vote, questions=None, electors=(), **kwargs):
        super().__init__(*args, **kwargs)
        if questions is None:
            questions = vote.questions.prefetch_related("options")
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
                field.help_text = _("最多选 %(k)d 项") % {"k": question.max_choices}
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
        """{question id: [option ids]} as the services take them."""
        chosen = {}
        for question in self.questions:
            value = self.cleaned_data.get(f"q{question.pk}")
            if value is None:
                value = []
            chosen[question.pk] = list(value) if isinstance(value, list) else [value]
        return chosen


def _elector_label(elector: Elector) -> str:
    return f"{elector.units}（{formats.area(elector.area)}）" if elector.units else elector.name


def _proxy_fields() -> dict:
    return {
        "proxy_name": forms.CharField(label=_("受托人（委托投票时填写）"), max_length=50, required=False),
        "proxy_authorisation": image_field(_("授权委托书（照片）"), required=False),
    }


class PaperEntryForm(BallotForm):
    """First entry of a named vote's paper ballot: whose it is, what it says, and for a proxy who
    signed for them."""

    def __init__(self, *args, electors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = {
            "elector": forms.ModelChoiceField(queryset=electors, label=_("选民/业主"), empty_label="—"),
            **self.fields,
            **_proxy_fields(),
        }


class HandOutForm(forms.Form):
    """A secret vote's paper ballot handed to a named elector, or to their proxy."""

    def __init__(self, *args, electors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = {
            "elector": forms.ModelChoiceField(queryset=electors, label=_("领票人（选民）"), empty_label="—"),
            **_proxy_fields(),
        }


class DiscardForm(forms.Form):
    reason = forms.CharField(label=_("作废理由"), max_length=200)
