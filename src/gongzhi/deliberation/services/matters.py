"""Matters (议题) and their process steps: create, record each step in order, publish, sign in,
agree follow-up tasks, close."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from gongzhi.core import audit, clock, scopes, uploads
from gongzhi.core.errors import Conflict, DomainError
from gongzhi.core.models import Level, Region
from gongzhi.deliberation import processes
from gongzhi.deliberation.models import (
    Attendance,
    Elector,
    FollowUpTask,
    Matter,
    MatterStatus,
    MatterStep,
    Process,
    Publication,
    Vote,
    VoteStatus,
)
from gongzhi.deliberation.processes import Party, StepKind

MANAGE = "deliberation.manage"
MAX_ATTACHMENTS = 9


@transaction.atomic
def create_matter(
    actor, *, region: Region, title: str, process: str, description: str = "", compound: str = ""
) -> Matter:
    scopes.require(actor, MANAGE, region)
    if region.level != Level.COMMUNITY:
        raise DomainError("matter.region_level", _("议题须建在社区（村）一级"))
    if process not in Process.values:
        raise DomainError("matter.process", _("请选择议事程序"))
    title = (title or "").strip()
    if not title:
        raise DomainError("matter.title_required", _("请填写议题"))
    compound = (compound or "").strip()
    if process == Process.OWNERS_ASSEMBLY and not compound:
        raise DomainError("matter.compound_required", _("业主大会须选择小区"))
    matter = Matter.objects.create(
        region=region,
        title=title[:100],
        description=(description or "").strip()[:4000],
        process=process,
        compound=compound[:100],
        created_by=actor,
        created_at=clock.now(),
    )
    audit.record(actor, "matter.create", matter, after={"process": process})
    return matter


def _lock(matter: Matter) -> Matter:
    return Matter.objects.select_for_update(of=("self",)).select_related("region").get(pk=matter.pk)


@transaction.atomic
def record_step(
    actor,
    matter: Matter,
    *,
    code: str,
    held_on: dt.date,
    place: str = "",
    participants: str = "",
    minutes: str = "",
    photos: Sequence = (),
    parties: Sequence[str] = (),
) -> MatterStep:
    """Record the next step of the process. A voting step needs its vote closed; a publication step
    publishes its text (the minutes) as a disclosure."""
    matter = _lock(matter)
    scopes.require(actor, MANAGE, matter)
    if matter.status != MatterStatus.OPEN:
        raise Conflict("matter.closed", _("议题已办结"))
    step = processes.step_of(matter.process, code)
    if step is None:
        raise DomainError("matter.unknown_step", _("该议事程序没有这一步骤"))
    done = set(matter.steps.values_list("code", flat=True))
    if code in done:
        raise Conflict("matter.step_recorded", _("“%(step)s”已经记录过") % {"step": step.label})
    if not processes.can_record(matter.process, done, code):
        following = processes.next_step(matter.process, done)
        raise Conflict(
            "matter.step_order",
            _("请先完成“%(step)s”") % {"step": following.label if following else ""},
        )
    if held_on > clock.today():
        raise DomainError("matter.future_date", _("步骤日期不能晚于今天"))
    minutes = (minutes or "").strip()
    if step.kind in (StepKind.PUBLICATION, StepKind.OUTCOME) and not minutes:
        raise DomainError("matter.text_required", _("请填写公开内容或协商结果"))
    parties = _parties(step, parties)
    require_adopted(matter, step)
    if processes.rules_for(matter.process, code):
        step_votes = Vote.objects.filter(matter=matter, step_code=code)
        if not step_votes.exists() or step_votes.exclude(status=VoteStatus.CLOSED).exists():
            raise Conflict("matter.vote_not_closed", _("这一步骤的表决全部结束后才能记录"))

    if len(photos) > MAX_ATTACHMENTS:
        raise DomainError("matter.too_many_photos", _("最多上传%(n)s张图片") % {"n": MAX_ATTACHMENTS})
    record = MatterStep.objects.create(
        matter=matter,
        code=code,
        held_on=held_on,
        place=(place or "").strip()[:100],
        participants=(participants or "").strip()[:2000],
        minutes=minutes[:8000],
        parties=parties,
        recorded_by=actor,
        recorded_at=clock.now(),
    )
    if photos:
        record.attachments.set([uploads.store_image(actor, photo) for photo in photos])
    if step.kind == StepKind.PUBLICATION:
        Publication.objects.create(
            matter=matter,
            step_code=code,
            region=matter.region,
            title=f"{matter.title}：{step.label}"[:150],
            content=minutes[:8000],
            published_at=record.recorded_at,
            published_by=actor,
        )
    if step.kind == StepKind.OUTCOME:
        matter.outcome = minutes[:4000]
        matter.save(update_fields=["outcome"])
    audit.record(actor, "matter.step", matter, after={"step": code, "held_on": held_on})
    return record


def _latest_vote(matter: Matter, code: str) -> Vote | None:
    return Vote.objects.filter(matter=matter, step_code=code).select_related("result").order_by("-pk").first()


def adopted(vote: Vote) -> bool:
    """A closed vote decided its matter: every question valid and carried."""
    result = getattr(vote, "result", None)
    return result is not None and all(q["valid"] and q["passed"] for q in result.questions)


def require_adopted(matter: Matter, step: processes.Step) -> None:
    """A step that follows only a carried vote is refused after that vote failed."""
    if step.needs_adopted and _vote_failed(matter, step.needs_adopted):
        raise Conflict(
            "matter.vote_failed", _("前一步骤的表决未获通过，不能进入这一步；可重新表决，或终止议题")
        )


def _vote_failed(matter: Matter, code: str) -> bool:
    """The step's latest vote closed without carrying (a step not yet voted on has not failed)."""
    vote = _latest_vote(matter, code)
    return vote is not None and vote.status == VoteStatus.CLOSED and not adopted(vote)


def _parties(step: processes.Step, parties: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(parties or ()))
    if any(party not in Party.values for party in chosen):
        raise DomainError("matter.unknown_party", _("参与方类别不正确"))
    if len(chosen) < step.parties:
        raise DomainError(
            "matter.parties_required",
            _("民主协商须有至少%(n)s类参与方（如居民代表、业主委员会、物业服务企业、驻区单位）")
            % {"n": step.parties},
        )
    return chosen


@transaction.atomic
def close_matter(actor, matter: Matter) -> Matter:
    """Only a matter whose every step is recorded — both publications included — can be closed, or
    one whose latest vote did not pass (the process ends there)."""
    matter = _lock(matter)
    scopes.require(actor, MANAGE, matter)
    if matter.status == MatterStatus.CLOSED:
        raise Conflict("matter.closed", _("议题已办结"))
    if matter.votes.exclude(status=VoteStatus.CLOSED).exists():
        raise Conflict("matter.vote_running", _("还有未结束的表决，请先结束表决"))
    done = set(matter.steps.values_list("code", flat=True))
    missing = processes.next_step(matter.process, done)
    failed = (
        missing is not None and bool(missing.needs_adopted) and _vote_failed(matter, missing.needs_adopted)
    )
    if missing is not None and not failed:
        raise Conflict("matter.steps_missing", _("还有步骤未完成：%(step)s") % {"step": missing.label})
    if failed and not matter.outcome:  # ended by a vote that did not pass: say so where the outcome goes
        ended_at = processes.step_of(matter.process, missing.needs_adopted)
        with translation.override("zh-hans"):  # stored for residents to read, whoever closes
            matter.outcome = _("“%(step)s”表决未获通过，议题终止") % {"step": ended_at.label}
    matter.status, matter.closed_at = MatterStatus.CLOSED, clock.now()
    matter.save(update_fields=["status", "closed_at", "outcome"])
    audit.record(actor, "matter.close", matter, after={"ended_by_failed_vote": failed})
    return matter


@transaction.atomic
def add_task(actor, matter: Matter, *, title: str, owner: str, due_on: dt.date | None = None) -> FollowUpTask:
    """A follow-up task agreed at a consultation (who does what by when)."""
    matter = _lock(matter)
    scopes.require(actor, MANAGE, matter)
    if matter.status != MatterStatus.OPEN:
        raise Conflict("matter.closed", _("议题已办结"))
    title, owner = (title or "").strip(), (owner or "").strip()
    if not title or not owner:
        raise DomainError("task.fields_required", _("请填写任务和责任方"))
    task = FollowUpTask.objects.create(matter=matter, title=title[:200], owner=owner[:100], due_on=due_on)
    audit.record(actor, "matter.task_add", matter, after={"task": task.pk})
    return task


@transaction.atomic
def complete_task(actor, task: FollowUpTask, *, note: str) -> FollowUpTask:
    task = (
        FollowUpTask.objects.select_for_update(of=("self",)).select_related("matter__region").get(pk=task.pk)
    )
    scopes.require(actor, MANAGE, task.matter)
    if task.done_on is not None:
        raise Conflict("task.done", _("该任务已完成"))
    task.done_on, task.done_note = clock.today(), (note or "").strip()[:500]
    task.save(update_fields=["done_on", "done_note"])
    audit.record(actor, "matter.task_done", task.matter, after={"task": task.pk})
    return task


@transaction.atomic
def sign_in(actor, vote: Vote, elector: Elector) -> Attendance:
    """Sign an elector in at the meeting where the vote is held."""
    vote = Vote.objects.select_for_update(of=("self",)).select_related("matter__region").get(pk=vote.pk)
    scopes.require(actor, MANAGE, vote.matter)
    if vote.status != VoteStatus.OPEN:
        raise Conflict("vote.not_open", _("表决进行中才能签到"))
    if elector.vote_id != vote.pk or not elector.eligible:
        raise DomainError(
            "vote.not_in_electorate", _("%(name)s不在本次表决的名单中") % {"name": elector.name}
        )
    try:
        with transaction.atomic():
            attendance = Attendance.objects.create(
                vote=vote, elector=elector, signed_in_at=clock.now(), signed_in_by=actor
            )
    except IntegrityError as exc:
        raise Conflict("attendance.exists", _("%(name)s已签到") % {"name": elector.name}) from exc
    audit.record(actor, "vote.sign_in", vote, after={"elector": elector.pk})
    return attendance
