"""The processes a matter (议题) can follow, and their steps in order.

Fixed by law and practice, so code rather than configuration: 四议两公开 for village major matters,
decisions of the residents'/villagers'/representatives' meeting, the owners' assembly (业主大会), and
a consultation meeting (民主协商). Each step is recorded once; a step can only be recorded after the
one before it, and a matter is closed only after its last step.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Process(models.TextChoices):
    FOUR_TWO = "four_two", _("四议两公开")
    RESIDENTS_MEETING = "residents", _("居民会议")
    VILLAGERS_MEETING = "villagers", _("村民会议")
    REPRESENTATIVES_MEETING = "representatives", _("村民代表会议")
    OWNERS_ASSEMBLY = "owners", _("业主大会")
    CONSULTATION = "consultation", _("民主协商")


class StepKind(models.TextChoices):
    MEETING = "meeting", _("会议")
    VOTE = "vote", _("表决")
    PUBLICATION = "publication", _("公开")
    OUTCOME = "outcome", _("协商结果")


class Party(models.TextChoices):
    """Who takes part in a consultation (民主协商): "the parties concerned" of the policy documents."""

    RESIDENTS = "residents", _("居民（村民）代表")
    OWNERS_COMMITTEE = "owners_committee", _("业主委员会")
    PROPERTY = "property", _("物业服务企业")
    COMMITTEE = "committee", _("社区（村）两委")
    UNITS = "units", _("驻区单位")
    DEPARTMENTS = "departments", _("职能部门")
    SOCIAL = "social", _("社会组织")
    EXPERTS = "experts", _("专业人士")


# A consultation brings several parties to one table; one party alone is a meeting, not a consultation.
MIN_CONSULTATION_PARTIES = 2


@dataclass(frozen=True)
class Step:
    code: str
    label: str
    kind: str
    # A step that only follows when the vote of that earlier step carried (else the matter ends there).
    needs_adopted: str = ""
    # How many kinds of parties the step's record must name.
    parties: int = 0


_PUBLISH_RESULT = Step("publish_decision", _("决议公开"), StepKind.PUBLICATION)

STEPS: dict[str, tuple[Step, ...]] = {
    Process.FOUR_TWO: (
        Step("propose", _("村党组织提议"), StepKind.MEETING),
        Step("discuss", _("村“两委”会议商议"), StepKind.MEETING),
        Step("review", _("党员大会审议"), StepKind.VOTE),
        Step("decide", _("村民会议或村民代表会议决议"), StepKind.VOTE, needs_adopted="review"),
        _PUBLISH_RESULT,
        Step("publish_result", _("实施结果公开"), StepKind.PUBLICATION, needs_adopted="decide"),
    ),
    Process.RESIDENTS_MEETING: (
        Step("convene", _("召集会议并通知居民"), StepKind.MEETING),
        Step("decide", _("居民会议表决"), StepKind.VOTE),
        _PUBLISH_RESULT,
    ),
    Process.VILLAGERS_MEETING: (
        Step("convene", _("召集会议并提前十日通知村民"), StepKind.MEETING),
        Step("decide", _("村民会议表决"), StepKind.VOTE),
        _PUBLISH_RESULT,
    ),
    Process.REPRESENTATIVES_MEETING: (
        Step("convene", _("召集村民代表会议"), StepKind.MEETING),
        Step("decide", _("村民代表会议表决"), StepKind.VOTE),
        _PUBLISH_RESULT,
    ),
    Process.OWNERS_ASSEMBLY: (
        Step("announce", _("会议公告（提前十五日）"), StepKind.MEETING),
        Step("decide", _("业主共同决定（表决）"), StepKind.VOTE),
        _PUBLISH_RESULT,
    ),
    Process.CONSULTATION: (
        Step("prepare", _("确定协商议题和参与方"), StepKind.MEETING),
        Step("consult", _("召开协商会议"), StepKind.MEETING, parties=MIN_CONSULTATION_PARTIES),
        Step("outcome", _("形成书面协商结果和落实任务"), StepKind.OUTCOME),
    ),
}


def steps_of(process: str) -> tuple[Step, ...]:
    return STEPS[process]


def step_of(process: str, code: str) -> Step | None:
    return next((step for step in STEPS[process] if step.code == code), None)


def next_step(process: str, done: set[str] | list[str]) -> Step | None:
    """The first step not yet recorded; None when the process is complete."""
    return next((step for step in STEPS[process] if step.code not in done), None)


def can_record(process: str, done: set[str] | list[str], code: str) -> bool:
    """A step may be recorded only when every step before it has been."""
    step = next_step(process, done)
    return step is not None and step.code == code


def is_complete(process: str, done: set[str] | list[str]) -> bool:
    return next_step(process, done) is None


# Which vote rules each voting step may use.
_RULES: dict[tuple[str, str], tuple[str, ...]] = {
    (Process.FOUR_TWO, "review"): ("party_members",),
    (Process.FOUR_TWO, "decide"): ("villagers", "representatives"),
    (Process.RESIDENTS_MEETING, "decide"): ("residents", "election"),
    (Process.VILLAGERS_MEETING, "decide"): ("villagers", "election"),
    (Process.REPRESENTATIVES_MEETING, "decide"): ("representatives",),
    (Process.OWNERS_ASSEMBLY, "decide"): ("owners", "owners_special"),
}


def rules_for(process: str, step_code: str) -> tuple[str, ...]:
    """The vote rules allowed at a step; empty when the step holds no vote."""
    return _RULES.get((process, step_code), ())


def voting_steps(process: str) -> list[Step]:
    return [step for step in STEPS[process] if rules_for(process, step.code)]
