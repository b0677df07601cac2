"""Proposals and micro-wishes (民主提事 · 微心愿): raise, support, answer in public, claim, fulfil."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from gongzhi.core import audit, clock, notify, scopes, uploads
from gongzhi.core.errors import Conflict, DomainError, PermissionDenied
from gongzhi.core.models import Level, Region, RoleGrant, User
from gongzhi.core.roles import ROLE_ACTIONS
from gongzhi.core.rules import ancestor_paths
from gongzhi.deliberation.models import (
    AgendaThreshold,
    Matter,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Support,
)

MANAGE = "deliberation.manage"
STORED_LANGUAGE = "zh-hans"  # notifications reach residents in Chinese, whoever acts
ANSWERABLE = {ProposalStatus.OPEN, ProposalStatus.AGENDA}


def resident_of(user):
    """The verified resident record behind a login, or None."""
    return getattr(user, "resident_record", None) if isinstance(user, User) else None


def community_of(region: Region) -> Region | None:
    """The community or village a grid (or the region itself) belongs to."""
    node = region
    while node is not None and node.level != Level.COMMUNITY:
        node = node.parent
    return node


def organisers_of(region: Region):
    """Staff who organise deliberation for this community: grants on it or on its street."""
    roles = [role for role, actions in ROLE_ACTIONS.items() if MANAGE in actions]
    grants = RoleGrant.objects.filter(
        role__in=roles,
        region__path__in=ancestor_paths(region.path),
        region__level__in=[Level.COMMUNITY, Level.STREET],
    )
    return User.objects.filter(pk__in=grants.values("user_id"), is_active=True)


def _tell_author(proposal: Proposal, kind: str, message, **params) -> None:
    """`message` (lazy) is written in Chinese, whatever language the acting staff member uses."""
    with translation.override(STORED_LANGUAGE):
        title = str(message) % params if params else str(message)
    url = reverse("deliberation:resident_proposal", args=[proposal.pk])
    notify.send(proposal.author, kind, title=title, body=proposal.title, url=url, obj=proposal)


def supports_needed(community: Region) -> int:
    threshold = AgendaThreshold.objects.filter(region=community).first()
    return threshold.supports if threshold else settings.GONGZHI_PROPOSAL_SUPPORTS


@transaction.atomic
def set_agenda_threshold(actor, community: Region, supports: int) -> AgendaThreshold:
    scopes.require(actor, MANAGE, community)
    if community.level != Level.COMMUNITY:
        raise DomainError("proposal.threshold_level", _("议程门槛按社区（村）设置"))
    if not 1 <= supports <= 10_000:
        raise DomainError("proposal.threshold_range", _("支持数应在1到10000之间"))
    threshold, _created = AgendaThreshold.objects.update_or_create(
        region=community, defaults={"supports": supports}
    )
    audit.record(actor, "proposal.threshold", community, after={"supports": supports})
    return threshold


@transaction.atomic
def raise_proposal(
    actor, *, kind: str, title: str, body: str, region: Region | None = None, compound: str = ""
) -> Proposal:
    """A verified resident raises one in their community; staff raise one in any community they manage."""
    resident = resident_of(actor)
    if region is None:
        if resident is None:
            raise PermissionDenied("proposal.not_verified", _("实名认证的居民才能提出建议或微心愿"))
        region = resident.region
    elif not scopes.can(actor, MANAGE, region):
        raise PermissionDenied("permission_denied", _("您没有权限在该社区（村）发起提议"))
    community = community_of(region)
    if community is None:
        raise DomainError("proposal.no_community", _("请选择社区（村）"))
    if kind not in ProposalKind.values:
        raise DomainError("proposal.kind", _("请选择类型：民主提事或微心愿"))
    title, body = (title or "").strip(), (body or "").strip()
    if not title or not body:
        raise DomainError("proposal.text_required", _("请填写标题和内容"))
    if len(title) > 100 or len(body) > 2000:
        raise DomainError("proposal.too_long", _("标题最多100字，内容最多2000字"))
    proposal = Proposal.objects.create(
        region=community,
        compound=(compound or "").strip()[:100],
        kind=kind,
        title=title,
        body=body,
        author=actor,
        supports_needed=supports_needed(community),
        created_at=clock.now(),
    )
    audit.record(actor, "proposal.raise", proposal, after={"kind": kind})
    return proposal


def _lock(proposal: Proposal) -> Proposal:
    return Proposal.objects.select_for_update(of=("self",)).select_related("region").get(pk=proposal.pk)


@transaction.atomic
def support(actor, proposal: Proposal) -> Proposal:
    """One support per verified resident of the community; reaching the threshold puts it on the agenda."""
    resident = resident_of(actor)
    if resident is None:
        raise PermissionDenied("proposal.not_verified", _("实名认证的居民才能附议"))
    proposal = _lock(proposal)
    if not resident.region.path.startswith(proposal.region.path):
        raise PermissionDenied("proposal.other_community", _("只能附议本社区（村）的提议"))
    if proposal.status != ProposalStatus.OPEN:
        raise Conflict("proposal.closed_for_support", _("该提议已不在征集支持阶段"))
    try:
        with transaction.atomic():
            Support.objects.create(proposal=proposal, resident=resident, at=clock.now())
    except IntegrityError as exc:
        raise Conflict("proposal.already_supported", _("您已经附议过这条提议")) from exc
    Proposal.objects.filter(pk=proposal.pk).update(support_count=F("support_count") + 1)
    proposal.refresh_from_db()
    if proposal.support_count >= proposal.supports_needed:
        proposal.status, proposal.on_agenda_at = ProposalStatus.AGENDA, clock.now()
        proposal.save(update_fields=["status", "on_agenda_at"])
        audit.record(actor, "proposal.agenda", proposal, after={"supports": proposal.support_count})
        _tell_author(proposal, "proposal_agenda", _lazy("您的提议已获足够附议，列入议程"))
        with translation.override(STORED_LANGUAGE):
            title = _("提议列入议程，请答复：%(title)s") % {"title": proposal.title}
        notify.send(
            organisers_of(proposal.region),
            "proposal_agenda",
            title=title,
            url=reverse("deliberation:proposal", args=[proposal.pk]),
            obj=proposal,
        )
    return proposal


@transaction.atomic
def answer(actor, proposal: Proposal, *, decision: str, text: str, matter: Matter | None = None) -> Proposal:
    """Staff answer in public: accepted (becomes a matter), declined with a reason, or done."""
    proposal = _lock(proposal)
    scopes.require(actor, MANAGE, proposal)
    text = (text or "").strip()
    if not text:
        raise DomainError("proposal.answer_required", _("请填写答复内容（不予采纳须说明理由）"))
    if decision not in (ProposalStatus.ACCEPTED, ProposalStatus.DECLINED, ProposalStatus.DONE):
        raise DomainError("proposal.decision", _("答复结果应为采纳、不予采纳或已办结"))
    if proposal.status not in ANSWERABLE and not (
        decision == ProposalStatus.DONE and proposal.status == ProposalStatus.ACCEPTED
    ):
        raise Conflict("proposal.answered", _("该提议已答复"))
    if decision == ProposalStatus.ACCEPTED:
        if matter is None or matter.region_id != proposal.region_id:
            raise DomainError("proposal.matter_required", _("采纳的提议须转为本社区（村）的议题"))
        proposal.matter = matter
    proposal.status, proposal.answer = decision, text[:2000]
    proposal.answered_by, proposal.answered_at = actor, clock.now()
    proposal.save()
    audit.record(actor, "proposal.answer", proposal, after={"decision": decision})
    with translation.override(STORED_LANGUAGE):
        status = str(proposal.get_status_display())
    _tell_author(proposal, "proposal_answered", _lazy("您的提议已答复：%(status)s"), status=status)
    return proposal


@transaction.atomic
def claim_wish(actor, proposal: Proposal, *, claimant: str) -> Proposal:
    """A volunteer or organisation takes on a micro-wish (认领)."""
    proposal = _lock(proposal)
    if proposal.kind != ProposalKind.WISH:
        raise DomainError("proposal.not_wish", _("只有微心愿可以认领"))
    if proposal.status not in ANSWERABLE:
        raise Conflict("proposal.claimed", _("该微心愿已被认领或已关闭"))
    claimant = (claimant or "").strip()
    if not claimant:
        raise DomainError("proposal.claimant_required", _("请填写认领人或认领单位"))
    resident = resident_of(actor)
    at_home = resident is not None and resident.region.path.startswith(proposal.region.path)
    if not at_home and not scopes.can(actor, MANAGE, proposal):
        raise PermissionDenied(
            "proposal.not_verified", _("本社区（村）实名认证的居民或工作人员才能认领微心愿")
        )
    proposal.status, proposal.claimed_by_name = ProposalStatus.CLAIMED, claimant[:100]
    proposal.claimed_by, proposal.claimed_at = actor, clock.now()
    proposal.save()
    audit.record(actor, "proposal.claim", proposal, after={"claimant": proposal.claimed_by_name})
    _tell_author(proposal, "wish_claimed", _lazy("您的微心愿已由%(who)s认领"), who=proposal.claimed_by_name)
    return proposal


@transaction.atomic
def fulfil_wish(actor, proposal: Proposal, *, photo, note: str = "") -> Proposal:
    """The claimant or staff mark a claimed micro-wish fulfilled, with a photo as evidence."""
    proposal = _lock(proposal)
    if proposal.status != ProposalStatus.CLAIMED:
        raise Conflict("proposal.not_claimed", _("只有已认领的微心愿才能标记为已实现"))
    if proposal.claimed_by_id != getattr(actor, "pk", None) and not scopes.can(actor, MANAGE, proposal):
        raise PermissionDenied("permission_denied", _("只有认领人或社区工作人员可以标记实现"))
    if not photo:
        raise DomainError("proposal.photo_required", _("请上传心愿实现的照片"))
    proposal.fulfilment_photo = uploads.store_image(actor, photo)
    proposal.status, proposal.fulfilled_at = ProposalStatus.FULFILLED, clock.now()
    proposal.fulfilment_note = (note or "").strip()[:500]
    proposal.save()
    audit.record(actor, "proposal.fulfil", proposal, after={"photo": proposal.fulfilment_photo_id})
    _tell_author(proposal, "wish_fulfilled", _lazy("您的微心愿已实现"))
    return proposal
