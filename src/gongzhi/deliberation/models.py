"""Deliberation and voting (协商议事与表决): proposals and micro-wishes, matters with their process
steps, votes with a frozen electorate, ballots in a hash chain, and result records.

Who voted (`Participation`) is stored apart from what was voted (`Ballot`): a secret ballot carries
no elector, so nobody — staff included — can join the two.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gongzhi.core.models import Attachment, Region, User
from gongzhi.deliberation.processes import Party, Process
from gongzhi.people.models import Household, Resident

GENESIS = "0" * 64


# ---------------------------------------------------------------- proposals and micro-wishes


class ProposalKind(models.TextChoices):
    PROPOSAL = "proposal", _("民主提事")
    WISH = "wish", _("微心愿")


class ProposalStatus(models.TextChoices):
    OPEN = "open", _("征集支持")
    AGENDA = "agenda", _("已列入议程")
    ACCEPTED = "accepted", _("已采纳")
    DECLINED = "declined", _("不予采纳")
    DONE = "done", _("已办结")
    CLAIMED = "claimed", _("已认领")
    FULFILLED = "fulfilled", _("已实现")


class AgendaThreshold(models.Model):
    """议程门槛：how many supports put a proposal of this community on the agenda."""

    region = models.OneToOneField(
        Region, verbose_name=_("社区/村"), on_delete=models.CASCADE, related_name="+"
    )
    supports = models.PositiveIntegerField(_("列入议程所需支持数"))

    class Meta:
        verbose_name = _("议程门槛")
        verbose_name_plural = _("议程门槛")
        constraints = [models.CheckConstraint(condition=Q(supports__gte=1), name="agenda_threshold_positive")]

    def __str__(self) -> str:
        return f"{self.region_id}: {self.supports}"


class Proposal(models.Model):
    """民主提事 / 微心愿：raised by a resident or staff, supported by residents, answered in public."""

    region = models.ForeignKey(Region, verbose_name=_("社区/村"), on_delete=models.PROTECT, related_name="+")
    compound = models.CharField(_("小区"), max_length=100, blank=True)
    kind = models.CharField(_("类型"), max_length=10, choices=ProposalKind.choices)
    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("内容"), max_length=2000)
    author = models.ForeignKey(User, verbose_name=_("提出人"), on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("状态"), max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.OPEN
    )
    supports_needed = models.PositiveIntegerField(_("列入议程所需支持数"))
    support_count = models.PositiveIntegerField(_("支持数"), default=0)
    on_agenda_at = models.DateTimeField(_("列入议程时间"), null=True, blank=True)
    answer = models.TextField(_("答复"), max_length=2000, blank=True)
    answered_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    matter = models.ForeignKey(
        "Matter",
        verbose_name=_("转为议题"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="proposals",
    )
    claimed_by_name = models.CharField(_("认领人/认领单位"), max_length=100, blank=True)
    claimed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claimed_at = models.DateTimeField(_("认领时间"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("实现时间"), null=True, blank=True)
    fulfilment_note = models.CharField(_("实现情况"), max_length=500, blank=True)
    fulfilment_photo = models.ForeignKey(
        Attachment,
        verbose_name=_("实现照片"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("提出时间"))

    class Meta:
        verbose_name = _("民主提事/微心愿")
        verbose_name_plural = _("民主提事/微心愿")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["region", "status"])]

    def __str__(self) -> str:
        return self.title

    @property
    def supports_missing(self) -> int:
        return max(self.supports_needed - self.support_count, 0)


class Support(models.Model):
    """附议：one support per resident per proposal."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="supports")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("附议")
        verbose_name_plural = _("附议")
        constraints = [
            models.UniqueConstraint(fields=["proposal", "resident"], name="one_support_per_resident")
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id} ← {self.resident_id}"


# ---------------------------------------------------------------- matters and their steps


class MatterStatus(models.TextChoices):
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已办结")


class Matter(models.Model):
    """议题：one matter following one process (四议两公开, 居民会议, 业主大会, 民主协商 …)."""

    region = models.ForeignKey(Region, verbose_name=_("社区/村"), on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("议题"), max_length=100)
    description = models.TextField(_("说明"), max_length=4000, blank=True)
    process = models.CharField(_("议事程序"), max_length=16, choices=Process.choices)
    compound = models.CharField(_("小区"), max_length=100, blank=True, help_text=_("业主大会所在小区"))
    status = models.CharField(
        _("状态"), max_length=10, choices=MatterStatus.choices, default=MatterStatus.OPEN
    )
    outcome = models.TextField(_("协商结果"), max_length=4000, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("创建时间"))
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("议题")
        verbose_name_plural = _("议题")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class MatterStep(models.Model):
    """议事步骤：one recorded step of a matter's process, with its meeting record."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="steps")
    code = models.CharField(_("步骤"), max_length=20)
    held_on = models.DateField(_("日期"))
    place = models.CharField(_("地点"), max_length=100, blank=True)
    participants = models.TextField(_("参加人员/参与方"), max_length=2000, blank=True)
    parties = models.JSONField(_("参与方"), default=list, blank=True, help_text=_("民主协商的参与方类别"))
    minutes = models.TextField(_("会议记录/内容"), max_length=8000, blank=True)
    attachments = models.ManyToManyField(Attachment, verbose_name=_("附件"), blank=True, related_name="+")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    scope_path = "matter__region__path"

    class Meta:
        verbose_name = _("议事步骤")
        verbose_name_plural = _("议事步骤")
        ordering = ["recorded_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["matter", "code"], name="one_record_per_step")]

    def __str__(self) -> str:
        return f"{self.matter_id}:{self.code}"

    @property
    def party_labels(self) -> list[str]:
        return [str(Party(p).label) for p in self.parties if p in Party.values]


class Publication(models.Model):
    """公开：what a publication step published (决议公开, 实施结果公开).

    Held here until the disclosure module takes over 三务公开; it already carries what that module needs.
    """

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="publications")
    step_code = models.CharField(_("步骤"), max_length=20)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("标题"), max_length=150)
    content = models.TextField(_("公开内容"), max_length=8000)
    published_at = models.DateTimeField(_("公开时间"))
    published_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("公开事项")
        verbose_name_plural = _("公开事项")
        ordering = ["-published_at"]
        constraints = [
            models.UniqueConstraint(fields=["matter", "step_code"], name="one_publication_per_step")
        ]

    def __str__(self) -> str:
        return self.title


class FollowUpTask(models.Model):
    """落实任务：a task agreed at a consultation meeting, with who does it by when."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("任务"), max_length=200)
    owner = models.CharField(_("责任方"), max_length=100)
    due_on = models.DateField(_("完成期限"), null=True, blank=True)
    done_on = models.DateField(_("完成日期"), null=True, blank=True)
    done_note = models.CharField(_("落实情况"), max_length=500, blank=True)

    scope_path = "matter__region__path"

    class Meta:
        verbose_name = _("落实任务")
        verbose_name_plural = _("落实任务")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.title


# ---------------------------------------------------------------- votes


class VoteRule(models.TextChoices):
    """Which law decides validity and majority (see `rules.py`)."""

    OWNERS = "owners", _("业主共同决定（一般事项，过半数）")
    OWNERS_SPECIAL = "owners_special", _("业主共同决定（筹集维修资金、改建重建、改变共有部分用途，四分之三）")
    RESIDENTS = "residents", _("居民会议")
    VILLAGERS = "villagers", _("村民会议")
    REPRESENTATIVES = "representatives", _("村民代表会议")
    PARTY_MEMBERS = "party_members", _("党员大会")
    ELECTION = "election", _("选举")


class VoteStatus(models.TextChoices):
    DRAFT = "draft", _("准备中")
    OPEN = "open", _("投票中")
    CLOSED = "closed", _("已结束")


class Vote(models.Model):
    """表决：one vote of a matter, with its questions, frozen electorate, ballots and result."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="votes")
    step_code = models.CharField(_("所属步骤"), max_length=20)
    title = models.CharField(_("表决事项"), max_length=150)
    rule = models.CharField(_("表决规则"), max_length=16, choices=VoteRule.choices)
    secret = models.BooleanField(_("无记名投票"), default=False)
    online = models.BooleanField(_("允许网上投票"), default=True)
    allow_change = models.BooleanField(_("截止前可改票"), default=False)
    closes_at = models.DateTimeField(_("截止时间"))
    status = models.CharField(_("状态"), max_length=8, choices=VoteStatus.choices, default=VoteStatus.DRAFT)
    opened_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    # The head of this vote's ballot chain and how many ballots it holds (checked by `votes verify`).
    chain_head = models.CharField(max_length=64, default=GENESIS)
    ballot_count = models.PositiveIntegerField(default=0)
    # Hash of the frozen electorate, renewed by every audited change to it (checked by `votes verify`).
    electorate_hash = models.CharField(max_length=64, blank=True)

    scope_path = "matter__region__path"

    class Meta:
        verbose_name = _("表决")
        verbose_name_plural = _("表决")
        ordering = ["-created_at"]
        constraints = [
            # A secret ballot cannot be changed: nothing links it back to the voter who would change it.
            models.CheckConstraint(
                condition=~(Q(secret=True) & Q(allow_change=True)), name="secret_ballots_final"
            ),
            # Owners vote by area, so each ballot must carry its owner's area: such votes are by name.
            models.CheckConstraint(
                condition=~(Q(secret=True) & Q(rule__in=["owners", "owners_special"])),
                name="owners_vote_by_name",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def region(self) -> Region:
        return self.matter.region

    @property
    def by_area(self) -> bool:
        return self.rule in (VoteRule.OWNERS, VoteRule.OWNERS_SPECIAL)


class QuestionKind(models.TextChoices):
    YES_NO = "yes_no", _("同意/不同意/弃权")
    SINGLE = "single", _("单选")
    MULTIPLE = "multiple", _("多选")
    ELECTION = "election", _("选举")


class Question(models.Model):
    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(default=1)
    text = models.CharField(_("表决内容"), max_length=300)
    kind = models.CharField(_("类型"), max_length=10, choices=QuestionKind.choices)
    max_choices = models.PositiveSmallIntegerField(_("最多可选"), default=1)

    class Meta:
        verbose_name = _("表决内容")
        verbose_name_plural = _("表决内容")
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(max_choices__gte=1), name="question_max_choices_positive")
        ]

    def __str__(self) -> str:
        return self.text


class Option(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    order = models.PositiveSmallIntegerField(default=1)
    code = models.CharField(
        max_length=10, blank=True, help_text=_("同意/不同意/弃权选项的代码：yes、no、abstain")
    )
    label = models.CharField(_("选项/候选人"), max_length=100)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.label


class Elector(models.Model):
    """选民/业主：one entry of a vote's electorate, frozen when the vote opens.

    Everyone considered is kept with the reason they are or are not eligible. For an owners' vote one
    entry is one owner group (co-owners of a unit, or one buyer of several units, count once), with
    the exclusive-part area of its units; `members` may cast its ballot.
    """

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="electors")
    name = models.CharField(_("姓名/业主"), max_length=200)
    resident = models.ForeignKey(Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # PROTECT: the household is part of the sealed electorate and of the villagers' count.
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    members = models.ManyToManyField(Resident, blank=True, related_name="+")
    units = models.CharField(_("房屋"), max_length=500, blank=True)
    area = models.DecimalField(_("专有部分面积（㎡）"), max_digits=12, decimal_places=2, default=0)
    eligible = models.BooleanField(_("有表决权"))
    reason = models.CharField(_("依据"), max_length=200)
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    change_reason = models.CharField(_("调整理由"), max_length=200, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("选民")
        verbose_name_plural = _("选民")
        ordering = ["pk"]
        indexes = [models.Index(fields=["vote", "eligible"])]

    def __str__(self) -> str:
        return self.name


class Attendance(models.Model):
    """签到：who came to the meeting where a vote is held, signed in against its electorate."""

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="attendance")
    elector = models.ForeignKey(Elector, on_delete=models.CASCADE, related_name="+")
    signed_in_at = models.DateTimeField()
    signed_in_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("签到")
        verbose_name_plural = _("签到")
        constraints = [models.UniqueConstraint(fields=["vote", "elector"], name="one_sign_in_per_elector")]

    def __str__(self) -> str:
        return f"{self.vote_id}:{self.elector_id}"


class Channel(models.TextChoices):
    ONLINE = "online", _("网上投票")
    PAPER = "paper", _("纸质选票")
    PROXY = "proxy", _("委托投票")


class Participation(models.Model):
    """Who voted (and how) — kept apart from what they voted."""

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="participations")
    elector = models.ForeignKey(Elector, on_delete=models.PROTECT, related_name="participations")
    channel = models.CharField(_("方式"), max_length=8, choices=Channel.choices)
    at = models.DateTimeField(_("投票时间"))
    cast_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    confirmed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    proxy_name = models.CharField(_("受托人"), max_length=50, blank=True)
    proxy_authorisation = models.ForeignKey(
        Attachment,
        verbose_name=_("授权委托书"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("投票记录")
        verbose_name_plural = _("投票记录")
        constraints = [
            models.UniqueConstraint(fields=["vote", "elector"], name="one_participation_per_elector")
        ]

    def __str__(self) -> str:
        return f"{self.vote_id}:{self.elector_id}"


class Ballot(models.Model):
    """选票：what was chosen on one question, a link of the vote's hash chain.

    `elector` is empty for secret votes. A changed ballot is a new link that names the one it
    replaces; the database allows one current ballot per elector and question.
    """

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="ballots")
    seq = models.PositiveIntegerField()
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="ballots")
    elector = models.ForeignKey(
        Elector, null=True, blank=True, on_delete=models.PROTECT, related_name="ballots"
    )
    choices = models.JSONField(default=list)
    area = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    cast_at = models.DateTimeField()
    receipt_hash = models.CharField(max_length=64, db_index=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    replaced = models.BooleanField(default=False)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("选票")
        verbose_name_plural = _("选票")
        ordering = ["vote", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["vote", "seq"], name="ballot_chain_order"),
            models.UniqueConstraint(
                fields=["question", "elector"],
                condition=Q(elector__isnull=False, replaced=False),
                name="one_ballot_per_elector_question",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vote_id}#{self.seq}"


class PaperEntry(models.Model):
    """纸质选票录入：a paper (or proxy) ballot entered by one staff member, waiting for a second to confirm.

    The second person types the ballot again without seeing the first entry; only matching entries
    are cast. A secret vote's paper ballots are handed out by name (a `Participation`) and entered
    from the box without one, never more than were handed out.
    """

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="paper_entries")
    # Empty for a secret vote: its ballots come out of the box without a name.
    elector = models.ForeignKey(Elector, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    choices = models.JSONField()
    proxy_name = models.CharField(_("受托人"), max_length=50, blank=True)
    proxy_authorisation = models.ForeignKey(
        Attachment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()

    class Meta:
        verbose_name = _("待确认纸质选票")
        verbose_name_plural = _("待确认纸质选票")
        constraints = [
            models.UniqueConstraint(fields=["vote", "elector"], name="one_paper_entry_per_elector")
        ]

    def __str__(self) -> str:
        return f"{self.vote_id}:{self.elector_id}"


class Result(models.Model):
    """表决结果：the tally at closing, every threshold with its exact fraction, sealed onto the chain."""

    vote = models.OneToOneField(Vote, on_delete=models.CASCADE, related_name="result")
    computed_at = models.DateTimeField()
    electorate = models.PositiveIntegerField(_("有表决权人数"))
    electorate_area = models.DecimalField(_("总面积（㎡）"), max_digits=14, decimal_places=2, default=0)
    participants = models.PositiveIntegerField(_("参与人数"))
    participant_area = models.DecimalField(_("参与面积（㎡）"), max_digits=14, decimal_places=2, default=0)
    present = models.PositiveIntegerField(_("到会人数"), default=0, help_text=_("签到或投票的人数"))
    questions = models.JSONField(_("各项结果"))
    chain_head = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("表决结果")
        verbose_name_plural = _("表决结果")

    def __str__(self) -> str:
        return f"{self.vote_id}"
