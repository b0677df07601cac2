"""Deliberation over the API (/api/v1/deliberation/…). Thin: scoped queries in, services for every change.

- Staff see what their roles cover; a verified resident sees the proposals, matters and opened votes of
  the community or village they live in. Anything else is 404.
- Every change is made by a person signed in: an integrator's key may read, never propose, vote or count.
- Secrecy: no answer names what anyone chose. Staff see turnout and who voted; a resident sees whether
  they themselves voted; a receipt code shows its holder's own ballot and nothing else.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status

from gongzhi.core import scopes
from gongzhi.core.api import MAX_OFFSET, Text
from gongzhi.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from gongzhi.core.models import Region, User
from gongzhi.core.rules import MAX_ID
from gongzhi.deliberation import queries
from gongzhi.deliberation.models import (
    Elector,
    Matter,
    MatterStatus,
    Party,
    Process,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Vote,
    VoteStatus,
)
from gongzhi.deliberation.services import matters, proposals, votes

router = Router(tags=["deliberation"])

VIEW = queries.VIEW
Choices = dict[str, list[int]]


# ---------------------------------------------------------------- schemas


class RegionRef(Schema):
    code: str
    name: str


class ProposalOut(Schema):
    id: int
    kind: str = Field(description="proposal 民主提事 / wish 微心愿")
    title: str
    body: str
    region: RegionRef = Field(description="所在社区（村）")
    compound: str
    status: str = Field(description="状态：" + "、".join(ProposalStatus.values))
    supports_needed: int = Field(description="列入议程所需支持数")
    support_count: int
    supports_missing: int
    supported_by_me: bool = Field(False, description="本人是否已附议（居民）")
    on_agenda_at: dt.datetime | None
    answer: str = Field(description="公开答复")
    answered_at: dt.datetime | None
    matter_id: int | None = Field(description="采纳后转成的议题")
    claimed_by_name: str = Field(description="微心愿认领人/认领单位")
    fulfilled_at: dt.datetime | None
    created_at: dt.datetime


class ProposalIn(Schema):
    kind: Text = Field(ProposalKind.PROPOSAL.value, description="proposal 民主提事 / wish 微心愿")
    title: Text = Field(..., description="标题，不超过 100 字")
    body: Text = Field(..., description="内容，不超过 2000 字")
    compound: Text = Field("", description="小区（可省略）")
    region: Text | None = Field(
        None, description="社区（村）代码：工作人员代为提出时填写；居民省略，即本人所在社区"
    )


class AnswerIn(Schema):
    decision: Literal["accepted", "declined", "done"] = Field(
        ..., description="accepted 采纳（须转为议题）/ declined 不予采纳 / done 已办结"
    )
    text: Text = Field(..., description="答复内容；不予采纳须说明理由")
    matter: int | None = Field(None, ge=1, le=MAX_ID, description="采纳时转成的本社区议题编号")


class ProposalFilter(Schema):
    status: Literal[tuple(ProposalStatus.values)] | None = None  # type: ignore[valid-type]
    kind: Literal[tuple(ProposalKind.values)] | None = None  # type: ignore[valid-type]


class StepRecordOut(Schema):
    code: str
    held_on: dt.date
    place: str
    participants: str
    parties: list[str]
    minutes: str = Field(description="会议记录、公开内容或协商结果")
    recorded_at: dt.datetime


class StepOut(Schema):
    code: str
    label: str
    kind: str = Field(description="meeting 会议 / vote 表决 / publication 公开 / outcome 协商结果")
    is_next: bool = Field(description="下一个可以记录的步骤")
    rules: list[str] = Field(description="这一步骤可用的表决规则；空表示不表决")
    record: StepRecordOut | None = Field(description="已记录的内容；未进行为空")


class VoteRowOut(Schema):
    id: int
    title: str
    step_code: str
    rule: str
    rule_label: str
    secret: bool = Field(description="无记名投票")
    online: bool = Field(description="允许网上投票")
    allow_change: bool = Field(description="截止前可改票")
    status: str = Field(description="draft 准备中 / open 投票中 / closed 已结束")
    closes_at: dt.datetime
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_rule_label(obj) -> str:
        return str(obj.get_rule_display())


class MatterRowOut(Schema):
    id: int
    title: str
    process: str
    process_label: str
    compound: str
    status: str = Field(description="open 进行中 / closed 已办结")
    region: RegionRef
    created_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_process_label(obj) -> str:
        return str(obj.get_process_display())


class MatterDetailOut(MatterRowOut):
    description: str
    outcome: str = Field(description="协商结果")
    steps: list[StepOut] = Field(alias="steps_out", description="议事程序的各步骤，按顺序")
    votes: list[VoteRowOut] = Field(alias="votes_out")


class MatterIn(Schema):
    region: Text = Field(..., description="社区（村）代码")
    title: Text = Field(..., description="议题，不超过 100 字")
    process: Text = Field(..., description="议事程序：" + "、".join(Process.values))
    description: Text = ""
    compound: Text = Field("", description="小区（业主大会必填）")


class MatterFilter(Schema):
    status: Literal[tuple(MatterStatus.values)] | None = None  # type: ignore[valid-type]
    process: Literal[tuple(Process.values)] | None = None  # type: ignore[valid-type]


class StepIn(Schema):
    code: Text = Field(..., description="步骤代码（见议题详情的 steps）")
    held_on: dt.date = Field(..., description="日期")
    place: Text = ""
    participants: Text = Field("", description="参加人员/参与方")
    parties: list[Literal[tuple(Party.values)]] = Field(  # type: ignore[valid-type]
        default_factory=list, description="民主协商的参与方类别（协商会议须至少两类）"
    )
    minutes: Text = Field("", description="会议记录；公开步骤为公开内容，协商结果步骤为书面结果")


class QuestionIn(Schema):
    text: Text = Field(..., description="表决内容")
    kind: Text = Field(
        "yes_no", description="yes_no 同意/不同意/弃权、single 单选、multiple 多选、election 选举"
    )
    max_choices: int = Field(1, ge=1, le=votes.MAX_OPTIONS, description="多选或选举最多可选")
    options: list[Text] = Field(
        [], max_length=votes.MAX_OPTIONS, description="选项或候选人（同意/不同意题不填）"
    )


class VoteIn(Schema):
    title: Text = Field(..., description="表决事项")
    rule: Text = Field(..., description="表决规则，须为该步骤允许的规则（见议题详情 steps.rules）")
    closes_at: dt.datetime = Field(..., description="截止时间；不带时区按北京时间")
    questions: list[QuestionIn] = Field(..., min_length=1, max_length=votes.MAX_QUESTIONS)
    step_code: Text = Field("decide", description="所属步骤")
    secret: bool = Field(False, description="无记名投票（投出后不能更改）")
    online: bool = Field(True, description="允许网上投票")
    allow_change: bool = Field(False, description="截止前可改票（记名投票）")


class OptionOut(Schema):
    id: int
    code: str = Field(description="同意/不同意题为 yes、no、abstain")
    label: str


class QuestionOut(Schema):
    id: int
    order: int
    text: str
    kind: str
    max_choices: int
    options: list[OptionOut]

    @staticmethod
    def resolve_options(obj) -> list:
        return list(obj.options.all())


class ThresholdOut(Schema):
    code: str
    label: str
    part: str
    whole: str
    fraction: str | None = Field(description="实际比例，精确分数如 18/25；分母为零时为空")
    requirement: str = Field(description="法定要求，如 ≥ 2/3、> 1/2")
    met: bool


class TurnoutOut(Schema):
    electorate: int = Field(description="有表决权人数（业主大会为业主人数）")
    electorate_area: Decimal = Field(description="专有部分总面积（㎡）")
    voted: int
    voted_area: Decimal
    signed_in: int = Field(description="会议签到人数")
    pending_paper: int = Field(description="待第二人确认的纸质选票")
    quorum: ThresholdOut | None = Field(description="到会/参与是否已达法定人数（按面积计的表决为空）")


class PaperEntryOut(Schema):
    id: int
    number: int = Field(description="待确认选票的序号（无记名选票只以序号区分）")
    elector_id: int | None = Field(description="记名表决的选民；无记名投票为空")
    elector: str | None = Field(description="选民姓名；无记名投票为空")
    entered_at: dt.datetime

    @staticmethod
    def resolve_elector(obj) -> str | None:
        return obj.elector.name if obj.elector is not None else None


class ElectorRef(Schema):
    id: int
    name: str


class MineOut(Schema):
    may_vote: bool = Field(description="本人在表决名单中")
    electors: list[ElectorRef] = Field(description="本人可以代表投票的身份（一人多个业主身份时选择）")
    voted: bool = Field(description="本人（或同一房屋的共有人）是否已投票；不含投票内容")
    channel: str | None = Field(description="online 网上 / paper 纸质 / proxy 委托")
    voted_at: dt.datetime | None


class VoteDetailOut(VoteRowOut):
    matter_id: int
    matter_title: str = Field(alias="matter.title")
    questions: list[QuestionOut]
    turnout: TurnoutOut | None = Field(description="投票进度（工作人员）")
    pending_paper: list[PaperEntryOut] = Field(description="待确认的纸质选票（工作人员；不含选择内容）")
    me: MineOut | None = Field(description="本人的投票情况（实名居民）")

    @staticmethod
    def resolve_questions(obj) -> list:
        return list(obj.questions.prefetch_related("options"))


class ElectorOut(Schema):
    id: int
    name: str
    units: str = Field(description="房屋（业主大会）")
    area: Decimal = Field(description="专有部分面积（㎡）")
    eligible: bool
    reason: str = Field(description="有或没有表决权的依据")
    change_reason: str = Field(description="工作人员调整名单的理由")
    voted: bool
    channel: str | None = Field(description="投票方式；记名与无记名都不含投票内容")
    signed_in: bool


class BallotIn(Schema):
    choices: Choices = Field(..., description="表决内容编号 → 所选选项编号列表")
    elector: int | None = Field(None, ge=1, le=MAX_ID, description="以哪个业主身份投票（有多个身份时）")


class ReceiptOut(Schema):
    receipt: str = Field(description="回执码：只显示一次，凭它核对本人选票已按所投计入")


class PaperIn(Schema):
    elector: int | None = Field(
        None, ge=1, le=MAX_ID, description="选民编号（见 electors）：记名表决必填，无记名投票不填"
    )
    choices: Choices = Field(..., description="按纸质选票录入：表决内容编号 → 选项编号列表")


class ElectorIdIn(Schema):
    elector: int = Field(..., ge=1, le=MAX_ID, description="选民编号（见 electors）")


class HandOutOut(Schema):
    elector_id: int
    elector: str
    channel: str = Field(description="paper 纸质 / proxy 委托")
    at: dt.datetime
    handed_out: int = Field(description="本次表决已发放的纸质选票张数")
    entered: int = Field(description="已录入（含待确认）的纸质选票张数")


class AttendanceOut(Schema):
    elector_id: int
    elector: str = Field(alias="elector.name")
    signed_in_at: dt.datetime


class ElectorAddIn(Schema):
    resident: int = Field(..., ge=1, le=MAX_ID, description="居民编号（本社区实有人口）")
    reason: Text = Field(..., description="加入表决名单的理由")


class ReasonIn(Schema):
    reason: Text = Field(..., description="理由")


class ConfirmIn(Schema):
    choices: Choices = Field(..., description="第二位工作人员不看第一次录入，再次按纸质选票录入")


class OptionTallyOut(Schema):
    id: int
    code: str
    label: str
    count: int
    area: str


class QuestionResultOut(Schema):
    question: int
    text: str
    kind: str
    ballots: int
    area: str
    options: list[OptionTallyOut]
    valid: bool = Field(description="参与人数（面积）是否达到法定要求")
    passed: bool
    adopted: list[str] = Field([], description="通过的选项")
    elected: list[str] = Field([], description="当选人（选举）")
    thresholds: list[ThresholdOut] = Field(description="各项法定条件，精确分数")
    option_thresholds: dict[str, list[ThresholdOut]] = Field({}, description="单选、多选题各选项的条件")


class ResultOut(Schema):
    vote_id: int
    computed_at: dt.datetime
    electorate: int
    electorate_area: Decimal
    participants: int
    participant_area: Decimal
    present: int = Field(description="到会人数：签到或投票的人（会议按到会人数表决）")
    questions: list[QuestionResultOut]
    chain_head: str = Field(description="结束时选票哈希链的末端")
    hash: str = Field(description="结果的封存哈希")


class ReceiptIn(Schema):
    code: Text = Field(..., max_length=40, description="回执码，如 K7PX-3M9Q-TB2W")


class ReceiptBallotOut(Schema):
    seq: int
    question: str
    choices: list[str]
    counted: bool = Field(description="是否计入（改票后旧票不计入）")
    hash: str


class ListPage(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


# ---------------------------------------------------------------- helpers


def _person(request) -> User:
    """Changes are made by someone signed in as themselves; a key is not a person."""
    principal = request.principal
    if not isinstance(principal, User):
        raise PermissionDenied("deliberation.person_required", _("这项操作须由本人登录后进行"))
    return principal


def _staff(principal, obj) -> bool:
    return scopes.can(principal, VIEW, obj)


def _proposals(principal):
    return queries.proposals_visible_to(principal) | queries.proposals_for_resident(principal)


def _matters(principal):
    return queries.matters_visible_to(principal) | queries.matters_for_resident(principal)


def _votes(principal):
    return queries.votes_visible_to(principal) | queries.votes_for_resident(principal)


def _proposal(request, pk: int) -> Proposal:
    return get_object_or_404(_proposals(request.principal), pk=pk)


def _matter(request, pk: int) -> Matter:
    return get_object_or_404(_matters(request.principal), pk=pk)


def _vote(request, pk: int) -> Vote:
    return get_object_or_404(_votes(request.principal), pk=pk)


def _managed_region(actor: User, code: str) -> Region:
    region = scopes.visible(Region.objects.filter(code=code), actor, "deliberation.manage").first()
    if region is None:
        raise NotFound(
            "deliberation.unknown_region", _("找不到社区（村）“%(r)s”，或不在您的管辖范围内") % {"r": code}
        )
    return region


def _mark_supported(principal, items: list[Proposal]) -> list[Proposal]:
    mine = queries.supported_ids(principal, [p.pk for p in items])
    for proposal in items:
        proposal.supported_by_me = proposal.pk in mine
    return items


def _matter_detail(principal, matter: Matter) -> Matter:
    matter.steps_out = [
        {
            "code": s["step"].code,
            "label": str(s["step"].label),
            "kind": s["step"].kind,
            "is_next": s["is_next"],
            "rules": list(s["rules"]),
            "record": s["record"],
        }
        for s in queries.steps_of(matter)
    ]
    shown = _votes(principal).filter(matter=matter)
    matter.votes_out = list(shown.order_by("created_at", "pk"))
    return matter


def _vote_detail(principal, vote: Vote) -> Vote:
    vote.turnout, vote.pending_paper, vote.me = None, [], None
    if _staff(principal, vote):
        vote.turnout = queries.turnout_summary(vote)
        vote.pending_paper = queries.pending_entries(vote)
    if queries.resident_of(principal) is not None:
        mine = list(votes.electors_of(principal, vote))
        took_part = queries.my_participation(principal, vote)
        vote.me = {
            "may_vote": bool(mine),
            "electors": [{"id": e.pk, "name": e.name} for e in mine],
            "voted": took_part is not None,
            "channel": took_part.channel if took_part else None,
            "voted_at": took_part.at if took_part else None,
        }
    return vote


def _deadline(moment: dt.datetime) -> dt.datetime:
    moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    try:
        moment.astimezone(dt.UTC)  # how the database stores it
    except OverflowError as exc:
        raise DomainError("vote.bad_deadline", _("截止时间无效")) from exc
    return moment


# ---------------------------------------------------------------- proposals and micro-wishes


@router.get("/proposals", response=list[ProposalOut], summary="民主提事与微心愿")
def list_proposals(request, filters: Query[ProposalFilter], page: Query[ListPage]):
    qs = _proposals(request.principal)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    items = list(qs.order_by("-created_at", "-pk")[page.offset : page.offset + page.limit])
    return _mark_supported(request.principal, items)


@router.get("/proposals/{proposal_id}", response=ProposalOut, summary="提议详情")
def proposal_detail(request, proposal_id: int = Path(..., ge=1, le=MAX_ID)):
    return _mark_supported(request.principal, [_proposal(request, proposal_id)])[0]


@router.post("/proposals", response={201: ProposalOut}, summary="提出建议或微心愿")
def raise_proposal(request, payload: ProposalIn):
    actor = _person(request)
    region = _managed_region(actor, payload.region) if payload.region else None
    proposal = proposals.raise_proposal(
        actor,
        kind=payload.kind,
        title=payload.title,
        body=payload.body,
        region=region,
        compound=payload.compound,
    )
    return Status(201, _mark_supported(actor, [proposal])[0])


@router.post("/proposals/{proposal_id}/support", response=ProposalOut, summary="附议")
def support_proposal(request, proposal_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    proposal = proposals.support(actor, _proposal(request, proposal_id))
    return _mark_supported(actor, [proposal])[0]


@router.post("/proposals/{proposal_id}/answer", response=ProposalOut, summary="公开答复（工作人员）")
def answer_proposal(request, payload: AnswerIn, proposal_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    proposal = _proposal(request, proposal_id)
    matter = None
    if payload.matter is not None:
        matter = queries.matters_visible_to(actor).filter(pk=payload.matter).first()
        if matter is None:
            raise NotFound("deliberation.unknown_matter", _("找不到该议题，或不在您的管辖范围内"))
    proposal = proposals.answer(actor, proposal, decision=payload.decision, text=payload.text, matter=matter)
    return _mark_supported(actor, [proposal])[0]


# ---------------------------------------------------------------- matters


@router.get("/matters", response=list[MatterRowOut], summary="议题")
def list_matters(request, filters: Query[MatterFilter], page: Query[ListPage]):
    qs = _matters(request.principal)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.process:
        qs = qs.filter(process=filters.process)
    return qs.order_by("-created_at", "-pk")[page.offset : page.offset + page.limit]


@router.get("/matters/{matter_id}", response=MatterDetailOut, summary="议题详情：步骤与表决")
def matter_detail(request, matter_id: int = Path(..., ge=1, le=MAX_ID)):
    return _matter_detail(request.principal, _matter(request, matter_id))


@router.post("/matters", response={201: MatterDetailOut}, summary="建立议题（工作人员）")
def create_matter(request, payload: MatterIn):
    actor = _person(request)
    matter = matters.create_matter(
        actor,
        region=_managed_region(actor, payload.region),
        title=payload.title,
        process=payload.process,
        description=payload.description,
        compound=payload.compound,
    )
    return Status(201, _matter_detail(actor, matter))


@router.post("/matters/{matter_id}/steps", response={201: StepRecordOut}, summary="记录议事步骤（工作人员）")
def record_step(request, payload: StepIn, matter_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    record = matters.record_step(
        actor,
        _matter(request, matter_id),
        code=payload.code,
        held_on=payload.held_on,
        place=payload.place,
        participants=payload.participants,
        parties=payload.parties,
        minutes=payload.minutes,
    )
    return Status(201, record)


# ---------------------------------------------------------------- votes


@router.post("/matters/{matter_id}/votes", response={201: VoteDetailOut}, summary="发起表决（工作人员）")
def create_vote(request, payload: VoteIn, matter_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    vote = votes.create_vote(
        actor,
        _matter(request, matter_id),
        title=payload.title,
        rule=payload.rule,
        closes_at=_deadline(payload.closes_at),
        questions=[q.dict() for q in payload.questions],
        step_code=payload.step_code,
        secret=payload.secret,
        online=payload.online,
        allow_change=payload.allow_change,
    )
    return Status(201, _vote_detail(actor, vote))


@router.get("/votes/{vote_id}", response=VoteDetailOut, summary="表决详情")
def vote_detail(request, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    return _vote_detail(request.principal, _vote(request, vote_id))


@router.post("/votes/{vote_id}/open", response=VoteDetailOut, summary="开始表决，冻结选民名单（工作人员）")
def open_vote(request, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    return _vote_detail(actor, votes.open_vote(actor, _vote(request, vote_id)))


@router.post("/votes/{vote_id}/close", response=ResultOut, summary="结束表决并计票（工作人员）")
def close_vote(request, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    return votes.close_vote(actor, _vote(request, vote_id))


@router.get("/votes/{vote_id}/electors", response=list[ElectorOut], summary="选民名单（工作人员）")
def list_electors(
    request,
    vote_id: int = Path(..., ge=1, le=MAX_ID),
    limit: int = Query(500, ge=1, le=5000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    vote = _vote(request, vote_id)
    scopes.require(request.principal, VIEW, vote)
    return queries.electors_table(vote, offset=offset, limit=limit)


def _elector(vote: Vote, pk: int) -> Elector:
    elector = queries.elector_of(vote, pk)
    if elector is None:
        raise NotFound("vote.unknown_elector", _("本次表决的名单中没有该选民"))
    return elector


def _elector_row(elector: Elector) -> Elector:
    return next(e for e in queries.electors_table(elector.vote) if e.pk == elector.pk)


@router.post("/votes/{vote_id}/electors", response={201: ElectorOut}, summary="加入表决名单（工作人员）")
def add_elector(request, payload: ElectorAddIn, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    vote = _vote(request, vote_id)
    scopes.require(actor, "deliberation.manage", vote.matter)
    resident = queries.addable_residents(actor, vote).filter(pk=payload.resident).first()
    if resident is None:
        raise NotFound("vote.unknown_resident", _("本社区（村）没有该居民"))
    return Status(201, _elector_row(votes.add_elector(actor, vote, resident=resident, reason=payload.reason)))


@router.post("/electors/{elector_id}/remove", response=ElectorOut, summary="移出表决名单（工作人员）")
def remove_elector(request, payload: ReasonIn, elector_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    elector = get_object_or_404(queries.electors_in_votes(_votes(actor)), pk=elector_id)
    return _elector_row(votes.remove_elector(actor, elector, reason=payload.reason))


@router.post("/votes/{vote_id}/sign-in", response={201: AttendanceOut}, summary="会议签到（工作人员）")
def sign_in(request, payload: ElectorIdIn, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    vote = _vote(request, vote_id)
    return Status(201, matters.sign_in(actor, vote, _elector(vote, payload.elector)))


@router.post("/votes/{vote_id}/ballots", response={201: ReceiptOut}, summary="网上投票（实名居民）")
def cast_ballot(request, payload: BallotIn, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    vote = _vote(request, vote_id)
    elector = None
    if payload.elector is not None:
        elector = votes.electors_of(actor, vote).filter(pk=payload.elector).first()
        if elector is None:
            raise PermissionDenied("vote.not_in_electorate", _("您不能以该身份在本次表决中投票"))
    return Status(201, {"receipt": votes.cast_online(actor, vote, payload.choices, elector=elector)})


@router.post("/votes/{vote_id}/paper", response={201: PaperEntryOut}, summary="录入纸质选票（第一人）")
def enter_paper(request, payload: PaperIn, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    vote = _vote(request, vote_id)
    elector = _elector(vote, payload.elector) if payload.elector is not None else None
    entry = votes.enter_paper_ballot(actor, vote, choices=payload.choices, elector=elector)
    return Status(201, queries.pending_entry(vote, entry.pk))


@router.post(
    "/votes/{vote_id}/hand-out", response={201: HandOutOut}, summary="发放无记名投票的纸质选票（工作人员）"
)
def hand_out(request, payload: ElectorIdIn, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    """Handing a ballot to a proxy needs the signed authorisation uploaded: that is done on the page."""
    actor = _person(request)
    vote = _vote(request, vote_id)
    participation = votes.hand_out_paper_ballot(actor, vote, elector=_elector(vote, payload.elector))
    box = queries.paper_box(vote)
    return Status(
        201,
        {
            "elector_id": participation.elector_id,
            "elector": participation.elector.name,
            "channel": participation.channel,
            "at": participation.at,
            **box,
        },
    )


@router.post("/paper/{entry_id}/confirm", response={201: ReceiptOut}, summary="确认纸质选票（第二人）")
def confirm_paper(request, payload: ConfirmIn, entry_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    entry = get_object_or_404(queries.pending_entries_in(_votes(actor)), pk=entry_id)
    return Status(201, {"receipt": votes.confirm_paper_ballot(actor, entry, choices=payload.choices)})


@router.post("/paper/{entry_id}/discard", response={204: None}, summary="作废待确认的纸质选票（工作人员）")
def discard_paper(request, payload: ReasonIn, entry_id: int = Path(..., ge=1, le=MAX_ID)):
    actor = _person(request)
    entry = get_object_or_404(queries.pending_entries_in(_votes(actor)), pk=entry_id)
    votes.discard_paper_entry(actor, entry, reason=payload.reason)
    return Status(204, None)


@router.get("/votes/{vote_id}/result", response=ResultOut, summary="表决结果（结束后）")
def vote_result(request, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    vote = _vote(request, vote_id)
    result = queries.result_of(vote)
    if vote.status != VoteStatus.CLOSED or result is None:
        raise Conflict("vote.result_pending", _("表决结束后才公布结果"))
    return result


@router.post("/votes/{vote_id}/receipt", response=list[ReceiptBallotOut], summary="凭回执码核对本人选票")
def check_receipt(request, payload: ReceiptIn, vote_id: int = Path(..., ge=1, le=MAX_ID)):
    found = votes.receipt_ballots(_vote(request, vote_id), payload.code)
    if not found:
        raise NotFound("vote.unknown_receipt", _("回执码不正确，或不属于本次表决"))
    return found
