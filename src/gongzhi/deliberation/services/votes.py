"""Every state change of a vote: create, open (freezing the electorate), adjust the electorate, cast
online, enter and confirm paper and proxy ballots, close with a sealed result.

Ballots are appended to the vote's hash chain under a lock on the vote row, so links never fork.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from gongzhi.core import audit, clock, notify, scopes, uploads
from gongzhi.core.errors import Conflict, DomainError, PermissionDenied
from gongzhi.core.models import User
from gongzhi.deliberation import chain, electorate, processes, queries, rules
from gongzhi.deliberation.models import (
    GENESIS,
    Ballot,
    Channel,
    Elector,
    Matter,
    MatterStatus,
    Option,
    PaperEntry,
    Participation,
    Question,
    QuestionKind,
    Result,
    Vote,
    VoteRule,
    VoteStatus,
)
from gongzhi.deliberation.services import matters
from gongzhi.people.models import Resident

MANAGE = "deliberation.manage"
COUNT = "deliberation.count"
YES_NO_OPTIONS = (("yes", _("同意")), ("no", _("不同意")), ("abstain", _("弃权")))
MAX_QUESTIONS = 20
MAX_OPTIONS = 50
STORED_LANGUAGE = "zh-hans"  # what is stored or sent to residents is in Chinese, whoever acts
SECRET_CHANNEL = ""  # what a secret ballot records of how it was cast: nothing
_shuffle = random.SystemRandom().shuffle


def _lock(vote: Vote) -> Vote:
    return Vote.objects.select_related("matter__region").select_for_update(of=("self",)).get(pk=vote.pk)


def _ensure_status(vote: Vote, *statuses: str) -> None:
    if vote.status not in statuses:
        messages = {
            VoteStatus.DRAFT: _("表决尚未开始"),
            VoteStatus.OPEN: _("表决正在进行中"),
            VoteStatus.CLOSED: _("表决已经结束，不能再投票或修改"),
        }
        raise Conflict(f"vote.{vote.status}", messages[vote.status])


# ---------------------------------------------------------------- preparing


@transaction.atomic
def create_vote(
    actor,
    matter: Matter,
    *,
    title: str,
    rule: str,
    closes_at: dt.datetime,
    questions: Sequence[Mapping],
    step_code: str = "decide",
    secret: bool = False,
    online: bool = True,
    allow_change: bool = False,
) -> Vote:
    """A vote in preparation. `questions`: [{"text", "kind", "max_choices", "options": [labels]}]."""
    matter = Matter.objects.select_for_update(of=("self",)).select_related("region").get(pk=matter.pk)
    scopes.require(actor, MANAGE, matter)
    if matter.status != MatterStatus.OPEN:
        raise Conflict("matter.closed", _("议题已办结，不能再发起表决"))
    allowed = processes.rules_for(matter.process, step_code)
    if rule not in allowed:
        raise DomainError("vote.rule_not_allowed", _("该议事程序的这一步骤不能使用所选表决规则"))
    title = (title or "").strip()
    if not title:
        raise DomainError("vote.title_required", _("请填写表决事项"))
    if secret and rule in (VoteRule.OWNERS, VoteRule.OWNERS_SPECIAL):
        raise DomainError("vote.owners_by_name", _("业主共同决定按专有部分面积计票，须记名表决"))
    if secret and allow_change:
        raise DomainError("vote.secret_final", _("无记名投票一经投出不能更改，请取消“截止前可改票”"))
    if not questions:
        raise DomainError("vote.questions_required", _("请至少填写一项表决内容"))
    if len(questions) > MAX_QUESTIONS:
        raise DomainError("vote.too_many_questions", _("一次表决最多%(n)s项内容") % {"n": MAX_QUESTIONS})
    vote = Vote.objects.create(
        matter=matter,
        step_code=step_code,
        title=title[:150],
        rule=rule,
        secret=secret,
        online=online,
        allow_change=allow_change,
        closes_at=closes_at,
        created_by=actor,
        created_at=clock.now(),
    )
    for order, spec in enumerate(questions, start=1):
        _add_question(vote, order, spec)
    audit.record(
        actor, "vote.create", vote, after={"rule": rule, "questions": len(questions), "secret": secret}
    )
    return vote


def _add_question(vote: Vote, order: int, spec: Mapping) -> None:
    text = (spec.get("text") or "").strip()
    kind = spec.get("kind") or QuestionKind.YES_NO
    if not text:
        raise DomainError("vote.question_text_required", _("第%(n)s项表决内容为空") % {"n": order})
    if kind not in QuestionKind.values:
        raise DomainError("vote.question_kind", _("第%(n)s项的类型不正确") % {"n": order})
    if vote.rule == VoteRule.ELECTION and kind != QuestionKind.ELECTION:
        raise DomainError("vote.election_kind", _("选举只能设置候选人选项"))
    if kind == QuestionKind.YES_NO:
        labels = [label for _code, label in YES_NO_OPTIONS]
    else:
        labels = [label.strip() for label in spec.get("options") or [] if label and label.strip()]
        if len(labels) < 2:
            raise DomainError("vote.options_required", _("第%(n)s项至少需要两个选项或候选人") % {"n": order})
        if len(labels) > MAX_OPTIONS or len(set(labels)) != len(labels):
            raise DomainError("vote.options_invalid", _("第%(n)s项的选项重复或过多") % {"n": order})
    max_choices = (
        int(spec.get("max_choices") or 1) if kind in (QuestionKind.MULTIPLE, QuestionKind.ELECTION) else 1
    )
    if not 1 <= max_choices <= len(labels):
        raise DomainError("vote.max_choices", _("第%(n)s项的最多可选数应在1到选项数之间") % {"n": order})
    question = Question.objects.create(
        vote=vote, order=order, text=text[:300], kind=kind, max_choices=max_choices
    )
    codes = [code for code, _label in YES_NO_OPTIONS] if kind == QuestionKind.YES_NO else [""] * len(labels)
    Option.objects.bulk_create(
        Option(question=question, order=i, code=code, label=label[:100])
        for i, (code, label) in enumerate(zip(codes, labels, strict=True), start=1)
    )


@transaction.atomic
def open_vote(actor, vote: Vote) -> Vote:
    """Start the vote and freeze its electorate from the people ledger as it stands now."""
    vote = _lock(vote)
    scopes.require(actor, MANAGE, vote.matter)
    _ensure_status(vote, VoteStatus.DRAFT)
    now = clock.now()
    if vote.closes_at <= now:
        raise DomainError("vote.deadline_past", _("截止时间已过，请先修改截止时间"))
    processes_done = set(vote.matter.steps.values_list("code", flat=True))
    if not processes.can_record(vote.matter.process, processes_done, vote.step_code):
        raise Conflict("vote.step_not_reached", _("议事程序尚未进行到这一步骤，请先记录前面的步骤"))
    matters.require_adopted(vote.matter, processes.step_of(vote.matter.process, vote.step_code))
    considered = electorate.candidates(vote, clock.today())
    electors = Elector.objects.bulk_create(
        Elector(
            vote=vote,
            name=c.name[:200],
            resident_id=c.resident_id,
            household_id=c.household_id,
            units=c.units,
            area=c.area,
            eligible=c.eligible,
            reason=c.reason[:200],
        )
        for c in considered
    )
    Elector.members.through.objects.bulk_create(
        Elector.members.through(elector_id=elector.pk, resident_id=member)
        for elector, c in zip(electors, considered, strict=True)
        for member in c.member_ids
    )
    vote.status, vote.opened_at = VoteStatus.OPEN, now
    vote.save(update_fields=["status", "opened_at"])
    _seal_electorate(vote)
    eligible = sum(1 for c in considered if c.eligible)
    audit.record(actor, "vote.open", vote, after={"considered": len(considered), "eligible": eligible})
    deadline = timezone.localtime(vote.closes_at)
    _tell_electorate(
        vote,
        "vote_opened",
        _lazy("请投票：%(title)s（%(m)s月%(d)s日%(t)s截止）"),
        title=vote.title,
        m=deadline.month,
        d=deadline.day,
        t=f"{deadline:%H:%M}",
    )
    return vote


@transaction.atomic
def add_elector(actor, vote: Vote, *, resident: Resident, reason: str) -> Elector:
    """Staff add a person the ledger did not make eligible (e.g. an elected representative)."""
    vote = _lock(vote)
    scopes.require(actor, MANAGE, vote.matter)
    _ensure_status(vote, VoteStatus.OPEN)
    reason = _required_reason(reason)
    if vote.by_area:
        raise DomainError(
            "elector.owners_from_register", _("业主名单按房屋产权登记生成，请先在人房台账中登记产权")
        )
    if not resident.region.path.startswith(vote.matter.region.path):
        raise DomainError("elector.outside_region", _("该居民不在本社区（村），不能加入表决"))
    elector = Elector.objects.filter(vote=vote, resident=resident).first()
    if elector is not None and elector.eligible:
        raise Conflict("elector.exists", _("%(name)s已在表决名单中") % {"name": elector.name})
    if elector is None:
        elector = Elector(
            vote=vote, name=resident.name, resident=resident, household_id=resident.household_id
        )
    with translation.override(STORED_LANGUAGE):
        elector.eligible, elector.reason = True, _("工作人员加入")
    _mark_change(actor, elector, reason)
    elector.members.add(resident)
    _seal_electorate(vote)
    audit.record(actor, "vote.elector_add", vote, after={"elector": elector.pk, "reason": reason})
    return elector


@transaction.atomic
def remove_elector(actor, elector: Elector, *, reason: str) -> Elector:
    """Staff take someone off the electorate (e.g. moved away since the ledger was updated)."""
    vote = _lock(elector.vote)
    scopes.require(actor, MANAGE, vote.matter)
    _ensure_status(vote, VoteStatus.OPEN)
    reason = _required_reason(reason)
    if vote.by_area:
        raise DomainError(
            "elector.owners_from_register", _("业主名单按房屋产权登记生成，请先在人房台账中变更产权")
        )
    if Participation.objects.filter(vote=vote).exists():
        # Taking people off once votes are in could lower the bar the votes are measured against.
        raise Conflict("elector.voting_started", _("已有人投票，不能再移出名单"))
    elector = Elector.objects.select_for_update().get(pk=elector.pk)
    if not elector.eligible:
        raise Conflict("elector.not_eligible", _("%(name)s不在表决名单中") % {"name": elector.name})
    if (
        Participation.objects.filter(elector=elector).exists()
        or PaperEntry.objects.filter(elector=elector).exists()
    ):
        raise Conflict("elector.has_voted", _("%(name)s已经投票，不能移出名单") % {"name": elector.name})
    with translation.override(STORED_LANGUAGE):
        elector.eligible, elector.reason = False, _("工作人员移出")
    _mark_change(actor, elector, reason)
    _seal_electorate(vote)
    audit.record(actor, "vote.elector_remove", vote, after={"elector": elector.pk, "reason": reason})
    return elector


def _tell_electorate(vote: Vote, kind: str, message, **params) -> None:
    """Everyone on the electorate with a verified login (owners of a unit each get it), in Chinese."""
    with translation.override(STORED_LANGUAGE):
        title = str(message) % params
    accounts = User.objects.filter(
        resident_record__in=Resident.objects.filter(
            pk__in=Elector.members.through.objects.filter(elector__vote=vote, elector__eligible=True).values(
                "resident_id"
            )
        )
    )
    url = reverse("deliberation:resident_vote", args=[vote.pk])
    notify.send(accounts, kind, title=title, body=vote.matter.title, url=url, obj=vote)


def _seal_electorate(vote: Vote) -> None:
    vote.electorate_hash = chain.electorate_hash(vote)
    vote.save(update_fields=["electorate_hash"])


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("elector.reason_required", _("调整表决名单必须填写理由"))
    return reason[:200]


def _mark_change(actor, elector: Elector, reason: str) -> None:
    elector.changed_by = actor if isinstance(actor, User) else None
    elector.change_reason, elector.changed_at = reason, clock.now()
    elector.save()


# ---------------------------------------------------------------- casting


def electors_of(user, vote: Vote):
    """The eligible entries a resident may vote for (usually one; an owner in two groups has two)."""
    resident = getattr(user, "resident_record", None) if isinstance(user, User) else None
    if resident is None:
        return Elector.objects.none()
    return Elector.objects.filter(vote=vote, eligible=True, members=resident).order_by("pk")


@transaction.atomic
def cast_online(actor, vote: Vote, choices: Mapping, *, elector: Elector | None = None) -> str:
    """A verified resident votes on their phone; returns the receipt code (shown once)."""
    vote = _lock(vote)
    _ensure_status(vote, VoteStatus.OPEN)
    if clock.now() >= vote.closes_at:
        raise Conflict("vote.deadline_passed", _("投票已截止"))
    if not vote.online:
        raise Conflict("vote.paper_only", _("本次表决只接受纸质投票"))
    mine = list(electors_of(actor, vote))
    if elector is not None:
        mine = [e for e in mine if e.pk == elector.pk]
    if not mine:
        raise PermissionDenied("vote.not_in_electorate", _("您不在本次表决的名单中，不能投票"))
    if len(mine) > 1:
        raise DomainError("vote.choose_elector", _("您代表多个业主身份，请先选择以哪个身份投票"))
    elector = mine[0]
    parsed = _parse_choices(vote, choices)
    if PaperEntry.objects.filter(vote=vote, elector=elector).exists():
        raise Conflict("vote.already_voted", _("您的纸质选票已交回并在录入中，不能再网上投票"))
    existing = Participation.objects.filter(vote=vote, elector=elector).first()
    if existing is not None:
        if not (vote.allow_change and existing.channel == Channel.ONLINE and existing.cast_by_id == actor.pk):
            raise Conflict("vote.already_voted", _("您已经投过票，不能重复投票"))
        existing.at, existing.cast_by = clock.now(), actor
        existing.save(update_fields=["at", "cast_by"])
        receipt = _append_ballots(vote, elector, parsed, Channel.ONLINE, replace=True)
        audit.record(actor, "vote.change", vote, after={"elector": elector.pk})
        return receipt
    _participate(vote, elector, Channel.ONLINE, cast_by=actor)
    receipt = _append_ballots(vote, elector, parsed, Channel.ONLINE)
    audit.record(
        actor,
        "vote.cast",
        vote,
        after={"channel": Channel.ONLINE} | ({} if vote.secret else {"elector": elector.pk}),
    )
    return receipt


def _participate(vote: Vote, elector: Elector, channel: str, **extra) -> Participation:
    try:
        with transaction.atomic():
            return Participation.objects.create(
                vote=vote, elector=elector, channel=channel, at=clock.now(), **extra
            )
    except IntegrityError as exc:  # the database's word on "one vote per elector", whatever raced
        raise Conflict(
            "vote.already_voted", _("%(name)s已经投过票，不能重复投票") % {"name": elector.name}
        ) from exc


def _parse_choices(vote: Vote, choices: Mapping) -> dict[Question, list[int]]:
    """{question id: [option ids]} → checked choices for every question of the vote."""
    questions = list(vote.questions.prefetch_related("options"))
    given = {str(key): value for key, value in (choices or {}).items()}
    unknown = set(given) - {str(q.pk) for q in questions}
    if unknown:
        raise DomainError("ballot.unknown_question", _("选票中有不属于本次表决的内容"))
    parsed = {}
    for question in questions:
        raw = given.get(str(question.pk))
        chosen = raw if isinstance(raw, list | tuple) else ([] if raw in (None, "") else [raw])
        try:
            chosen = [int(value) for value in chosen]
        except (TypeError, ValueError) as exc:
            raise DomainError("ballot.bad_choice", _("“%(q)s”的选择无效") % {"q": question.text}) from exc
        try:
            rules.check_choice(
                question.kind, chosen, [o.pk for o in question.options.all()], question.max_choices
            )
        except ValueError as exc:
            if not chosen:
                message = _("请对“%(q)s”作出选择") % {"q": question.text}
            elif len(chosen) > question.max_choices:
                message = _("“%(q)s”最多选%(k)s项") % {"q": question.text, "k": question.max_choices}
            else:
                message = _("“%(q)s”的选择无效") % {"q": question.text}
            raise DomainError("ballot.bad_choice", message) from exc
        parsed[question] = sorted(chosen)
    return parsed


def _append_ballots(
    vote: Vote, elector: Elector | None, parsed: dict, channel: str, *, replace: bool = False
) -> str:
    """Add one link per question to the vote's chain (the caller holds the vote's row lock)."""
    receipt = chain.new_receipt()
    digest = chain.receipt_hash(receipt)
    now = clock.now()
    if vote.secret:  # one time and no channel for every secret ballot: neither can point at its voter
        now, channel = vote.opened_at, SECRET_CHANNEL
    for question, chosen in parsed.items():
        previous = None
        if replace:
            previous = Ballot.objects.select_for_update().get(
                question=question, elector=elector, replaced=False
            )
            previous.replaced = True
            previous.save(update_fields=["replaced"])
        ballot = Ballot(
            vote=vote,
            seq=vote.ballot_count + 1,
            question=question,
            elector=None if vote.secret else elector,
            choices=chosen,
            area=elector.area if vote.by_area else Decimal(0),  # owners' votes are never secret
            channel=channel,
            cast_at=now,
            receipt_hash=digest,
            replaces=previous,
            prev_hash=vote.chain_head,
        )
        ballot.hash = chain.ballot_hash(ballot)
        ballot.save()
        vote.ballot_count, vote.chain_head = ballot.seq, ballot.hash
    vote.save(update_fields=["ballot_count", "chain_head"])
    return receipt


# ---------------------------------------------------------------- paper and proxy ballots


@transaction.atomic
def hand_out_paper_ballot(
    actor, vote: Vote, *, elector: Elector, proxy_name: str = "", proxy_authorisation=None
):
    """A secret vote's paper ballot is handed to a named elector (or their proxy): that is their
    participation. What they mark comes back through the box and is entered without a name."""
    vote = _lock(vote)
    scopes.require(actor, COUNT, vote.matter)
    _ensure_status(vote, VoteStatus.OPEN)
    if not vote.secret:
        raise DomainError("ballot.not_secret", _("记名表决的纸质选票直接按选民录入"))
    if clock.now() >= vote.closes_at:
        raise Conflict("vote.deadline_passed", _("投票已截止，不能再发放选票"))
    elector = _eligible(vote, elector)
    proxy_name, authorisation = _proxy(actor, proxy_name, proxy_authorisation)
    participation = _participate(
        vote,
        elector,
        Channel.PROXY if proxy_name else Channel.PAPER,
        cast_by=actor,
        proxy_name=proxy_name,
        proxy_authorisation=authorisation,
    )
    audit.record(actor, "vote.paper_hand_out", vote, after={"elector": elector.pk, "proxy": bool(proxy_name)})
    return participation


def _proxy(actor, proxy_name: str, proxy_authorisation):
    proxy_name = (proxy_name or "").strip()[:50]
    if bool(proxy_name) != bool(proxy_authorisation):
        raise DomainError("ballot.proxy_incomplete", _("委托投票须同时填写受托人并上传授权委托书"))
    return proxy_name, (uploads.store_image(actor, proxy_authorisation) if proxy_authorisation else None)


@transaction.atomic
def enter_paper_ballot(
    actor,
    vote: Vote,
    *,
    choices: Mapping,
    elector: Elector | None = None,
    proxy_name: str = "",
    proxy_authorisation=None,
) -> PaperEntry:
    """First of two entries of a paper ballot. A named vote's ballot names its elector (a proxy ballot
    also needs the signed authorisation); a secret vote's ballot names nobody."""
    vote = _lock(vote)
    scopes.require(actor, COUNT, vote.matter)
    _ensure_status(vote, VoteStatus.OPEN)
    parsed = _parse_choices(vote, choices)
    if vote.secret:
        if elector is not None or proxy_name:
            raise DomainError(
                "ballot.secret_unnamed", _("无记名投票的选票不记录投票人，委托在发放选票时登记")
            )
        if clock.now() < vote.closes_at:  # entering ballots as they come back would pair them with hand-outs
            raise Conflict("ballot.box_not_open", _("无记名投票的票箱在投票截止后开箱录入"))
        _check_box_count(vote)
        authorisation = None
    else:
        if elector is None:
            raise DomainError("ballot.elector_required", _("请选择这张选票的投票人"))
        elector = _eligible(vote, elector)
        if Participation.objects.filter(vote=vote, elector=elector).exists():
            raise Conflict(
                "vote.already_voted", _("%(name)s已经投过票，不能重复投票") % {"name": elector.name}
            )
        if PaperEntry.objects.filter(vote=vote, elector=elector).exists():
            raise Conflict(
                "ballot.entry_pending",
                _("%(name)s的纸质选票已录入，等待另一位工作人员确认") % {"name": elector.name},
            )
        proxy_name, authorisation = _proxy(actor, proxy_name, proxy_authorisation)
    entry = PaperEntry.objects.create(
        vote=vote,
        elector=elector,
        choices={str(q.pk): chosen for q, chosen in parsed.items()},
        proxy_name=proxy_name,
        proxy_authorisation=authorisation,
        entered_by=actor,
        entered_at=clock.now(),
    )
    audit.record(actor, "vote.paper_enter", vote, after={"entry": entry.pk, "proxy": bool(proxy_name)})
    return entry


def _check_box_count(vote: Vote) -> None:
    """The box cannot hold more ballots than were handed out."""
    box = queries.paper_box(vote)
    if box["entered"] >= box["handed_out"]:
        raise Conflict(
            "ballot.more_than_handed_out",
            _("已录入的纸质选票（%(n)s张）已达到发放数（%(m)s张），不能再录入")
            % {"n": box["entered"], "m": box["handed_out"]},
        )


@transaction.atomic
def confirm_paper_ballot(actor, entry: PaperEntry, *, choices: Mapping) -> str:
    """Second entry by another staff member; matching entries are cast. Returns the receipt code."""
    vote = _lock(entry.vote)
    scopes.require(actor, COUNT, vote.matter)
    _ensure_status(vote, VoteStatus.OPEN)
    entry = _pending_entry(entry)
    if entry.entered_by_id == getattr(actor, "pk", None):
        raise PermissionDenied("ballot.same_person", _("录入和确认须由两位不同的工作人员完成"))
    parsed = _parse_choices(vote, choices)
    if {str(q.pk): chosen for q, chosen in parsed.items()} != entry.choices:
        raise Conflict("ballot.entries_differ", _("两次录入不一致，请核对纸质选票后重新确认"))
    channel = Channel.PROXY if entry.proxy_name else Channel.PAPER
    if entry.elector is not None:  # a named ballot: its participation is recorded now
        _participate(
            vote,
            entry.elector,
            channel,
            cast_by=entry.entered_by,
            confirmed_by=actor,
            proxy_name=entry.proxy_name,
            proxy_authorisation=entry.proxy_authorisation,
        )
    receipt = _append_ballots(vote, entry.elector, parsed, channel)
    entry.delete()
    audit.record(actor, "vote.paper_confirm", vote, after={"channel": channel})
    return receipt


@transaction.atomic
def discard_paper_entry(actor, entry: PaperEntry, *, reason: str) -> None:
    vote = _lock(entry.vote)
    scopes.require(actor, COUNT, vote.matter)
    _ensure_status(vote, VoteStatus.OPEN)
    reason = _required_reason(reason)
    entry = _pending_entry(entry)
    audit.record(actor, "vote.paper_discard", vote, after={"elector": entry.elector_id, "reason": reason})
    entry.delete()


def _pending_entry(entry: PaperEntry) -> PaperEntry:
    """The entry still waiting (another staff member may have just confirmed or discarded it)."""
    waiting = PaperEntry.objects.select_for_update(of=("self",)).select_related("elector")
    found = waiting.filter(pk=entry.pk).first()
    if found is None:
        raise Conflict("ballot.entry_gone", _("这张选票已由其他工作人员确认或作废"))
    return found


def _eligible(vote: Vote, elector: Elector) -> Elector:
    """The elector as it stands now (read under the caller's lock on the vote), if it may vote."""
    elector = Elector.objects.filter(pk=elector.pk, vote=vote).first() or elector
    if elector.vote_id != vote.pk or not elector.eligible:
        raise PermissionDenied(
            "vote.not_in_electorate", _("%(name)s不在本次表决的名单中") % {"name": elector.name}
        )
    return elector


# ---------------------------------------------------------------- closing and counting


@transaction.atomic
def close_vote(actor, vote: Vote) -> Result:
    """End the vote, count it and seal the result onto the chain."""
    vote = _lock(vote)
    scopes.require(actor, MANAGE, vote.matter)
    _ensure_status(vote, VoteStatus.OPEN)
    if PaperEntry.objects.filter(vote=vote).exists():
        raise Conflict("vote.entries_pending", _("还有纸质选票等待确认，请确认或作废后再结束表决"))
    if vote.secret:
        _reshuffle(vote)
    vote.status, vote.closed_at = VoteStatus.CLOSED, clock.now()
    vote.save(update_fields=["status", "closed_at"])
    result = Result(vote=vote, computed_at=vote.closed_at, chain_head=vote.chain_head, **count(vote))
    result.hash = chain.result_hash(result)
    result.save()
    _tell_electorate(vote, "vote_closed", _lazy("表决结果已公布：%(title)s"), title=vote.title)
    audit.record(
        actor,
        "vote.close",
        vote,
        after={"participants": result.participants, "hash": result.hash, "chain_checked": vote.secret},
    )
    return result


def _reshuffle(vote: Vote) -> None:
    """Re-link a secret vote's ballots in random order once voting ends, so that neither their row ids
    nor their places in the chain follow the order people voted in (participations keep that order).
    The chain as cast is checked first; its head is not kept, as it would give that order back."""
    check = chain.verify(vote, count)
    if not check.ok:
        raise Conflict("vote.chain_broken", _("选票哈希链核验未通过：%(p)s") % {"p": check.problem})
    ballots = list(Ballot.objects.filter(vote=vote))
    _shuffle(ballots)
    Ballot.objects.filter(vote=vote).delete()
    head = GENESIS
    for seq, ballot in enumerate(ballots, start=1):
        ballot.pk, ballot.seq, ballot.prev_hash = None, seq, head
        ballot.hash = head = chain.ballot_hash(ballot)
    Ballot.objects.bulk_create(ballots)
    vote.ballot_count, vote.chain_head = len(ballots), head
    vote.save(update_fields=["ballot_count", "chain_head"])


def count(vote: Vote) -> dict:
    """Turnout and the tally of every question with each threshold's exact fraction: what closing
    stores and what `votes verify` recomputes. In Chinese, whatever the language of who closed it."""
    with translation.override(STORED_LANGUAGE):
        electors = list(Elector.objects.filter(vote=vote, eligible=True))
        participations = list(Participation.objects.filter(vote=vote).select_related("elector"))
        present = queries.present(vote, electors, participations)
        current = Ballot.objects.filter(vote=vote, replaced=False)
        by_question: dict[int, list[tuple[list[int], Decimal]]] = {}
        for question_id, choices, area in current.values_list("question_id", "choices", "area"):
            by_question.setdefault(question_id, []).append((choices, area))
        return {
            "electorate": len(electors),
            "electorate_area": sum((e.area for e in electors), Decimal(0)),
            "participants": len(participations),
            "participant_area": sum((p.elector.area for p in participations), Decimal(0)),
            "present": len(present),
            "questions": [
                _count_question(
                    vote, question, by_question.get(question.pk, []), electors, participations, present
                )
                for question in vote.questions.prefetch_related("options")
            ],
        }


def _count_question(vote, question, ballots, electors, participations, present) -> dict:
    options = list(question.options.all())
    totals = rules.tally(ballots, [o.pk for o in options])
    cast = len(ballots)
    cast_area = sum((area for _choices, area in ballots), Decimal(0))
    tallies = [
        {
            "id": o.pk,
            "code": o.code,
            "label": o.label,
            "count": totals[o.pk][0],
            "area": f"{totals[o.pk][1]:.2f}",
        }
        for o in options
    ]
    outcome = {
        "question": question.pk,
        "text": question.text,
        "kind": question.kind,
        "ballots": cast,
        "area": f"{cast_area:.2f}",
        "options": tallies,
    }
    if question.kind == QuestionKind.ELECTION:
        turnout = rules.election_turnout(len(electors), len(participations))
        elected = rules.elected({o.pk: totals[o.pk][0] for o in options}, cast, question.max_choices)
        by_pk = {o.pk: o.label for o in options}
        outcome |= {
            "valid": turnout.met,
            "passed": turnout.met and bool(elected),
            "thresholds": [turnout.as_dict()],
            "elected": [by_pk[pk] for pk in elected] if turnout.met else [],
        }
        return outcome
    # Yes/no questions decide on "同意"; for choice questions each option is held to the same majority.
    candidates = [o for o in options if o.code == "yes"] if question.kind == QuestionKind.YES_NO else options
    decisions = []
    for option in candidates:
        check = queries.decision(vote, electors, present, cast, cast_area, totals[option.pk])
        decisions.append((option, check))
    yes_no = question.kind == QuestionKind.YES_NO
    outcome |= {
        "valid": all(check.valid for _o, check in decisions),
        "passed": any(check.passed for _o, check in decisions),
        "adopted": [o.label for o, check in decisions if check.passed],
        "thresholds": [t.as_dict() for t in decisions[0][1].thresholds] if yes_no else [],
        "option_thresholds": {}
        if yes_no
        else {str(o.pk): [t.as_dict() for t in c.thresholds] for o, c in decisions},
    }
    return outcome


def verify(vote: Vote) -> chain.Check:
    return chain.verify(vote, count)


def receipt_ballots(vote: Vote, code: str) -> list[dict]:
    """What the holder of a receipt code chose, question by question (empty when the code is unknown)."""
    digest = chain.receipt_hash(code)
    ballots = (
        Ballot.objects.filter(vote=vote, receipt_hash=digest)
        .select_related("question")
        .prefetch_related("question__options")
        .order_by("seq")
    )
    found = []
    for ballot in ballots:
        labels = {o.pk: o.label for o in ballot.question.options.all()}
        found.append(
            {
                "seq": ballot.seq,
                "question": ballot.question.text,
                "choices": [labels.get(pk, "?") for pk in ballot.choices],
                "counted": not ballot.replaced,
                "hash": ballot.hash,
            }
        )
    return found
