"""Residents' pages of deliberation (议事厅), made for phones: proposals and micro-wishes, support,
matters and their steps, the ballot, results, and the receipt check.

Everything is read through `queries.*_for_resident`, so another community's proposal or vote is a 404
and a vote in preparation does not exist. A resident sees whether they voted, never what anyone else
chose; their own choice is shown only to whoever holds the receipt code.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.core import clock, uploads
from gongzhi.core.errors import DomainError
from gongzhi.deliberation import queries
from gongzhi.deliberation.forms import BallotForm, ClaimForm, FulfilForm
from gongzhi.deliberation.models import (
    Channel,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Vote,
    VoteRule,
    VoteStatus,
)
from gongzhi.deliberation.resident_forms import ProposeForm, ReceiptForm
from gongzhi.deliberation.services import proposals as proposal_services
from gongzhi.deliberation.services import votes as vote_services

# Kept in the session only between casting and the page that shows it once.
RECEIPT_SESSION_KEY = "deliberation_receipt"

# "What counts", one plain sentence per rule (民法典第二百七十八条, 村民委员会组织法, 城市居民委员会组织法).
WHAT_COUNTS = {
    VoteRule.OWNERS: gettext_lazy(
        "须经参与表决专有部分面积过半数且参与表决人数过半数的业主同意；"
        "参与表决的业主须占专有部分面积和人数的三分之二以上。"
    ),
    VoteRule.OWNERS_SPECIAL: gettext_lazy(
        "须经参与表决专有部分面积四分之三以上且参与表决人数四分之三以上的业主同意；"
        "参与表决的业主须占专有部分面积和人数的三分之二以上。"
    ),
    VoteRule.RESIDENTS: gettext_lazy(
        "须有本社区过半数的年满十八周岁的居民（或户代表、居民小组代表）参加，并经参加人员过半数同意。"
    ),
    VoteRule.VILLAGERS: gettext_lazy(
        "须有本村过半数的年满十八周岁的村民参加，或者本村三分之二以上的户的代表参加，并经到会人员过半数同意。"
    ),
    VoteRule.REPRESENTATIVES: gettext_lazy(
        "须有村民代表会议三分之二以上的组成人员参加，并经到会人员过半数同意。"
    ),
    VoteRule.PARTY_MEMBERS: gettext_lazy("须有三分之二以上的党员到会，并经到会党员过半数同意。"),
    VoteRule.ELECTION: gettext_lazy(
        "须有过半数的登记选民参加投票；候选人获得参加投票的选民过半数的选票方能当选。"
    ),
}

# Why someone with no entry in the frozen electorate is not on it, by rule.
_NOT_AN_OWNER = gettext_lazy(
    "本次表决由该小区的业主参加，表决名单在投票开始时按房屋产权登记确定，您名下没有该小区的房屋。"
)
NOT_LISTED = {
    VoteRule.OWNERS: _NOT_AN_OWNER,
    VoteRule.OWNERS_SPECIAL: _NOT_AN_OWNER,
    VoteRule.REPRESENTATIVES: gettext_lazy("本次表决由村民代表会议的组成人员参加。"),
    VoteRule.PARTY_MEMBERS: gettext_lazy("本次表决由本村（社区）的正式党员参加。"),
}
NOT_LISTED_DEFAULT = gettext_lazy("表决名单在投票开始时按实有人口信息确定，您不在名单中。")


def _resident(request):
    return queries.resident_of(request.user)


# ---------------------------------------------------------------- 议事厅


@login_required
def home(request):
    resident = _resident(request)
    if resident is None:
        return render(request, "deliberation/resident_home.html", {"unverified": True})
    user = request.user
    items = queries.proposals_with_support(user).order_by("-created_at", "-pk")[:50]
    votes = queries.votes_with_standing(user).select_related("matter", "result").order_by("closes_at", "pk")
    open_votes = sorted(
        (v for v in votes if v.status == VoteStatus.OPEN), key=lambda v: (not v.can_vote, v.closes_at)
    )
    closed_votes = sorted(
        (v for v in votes if v.status == VoteStatus.CLOSED), key=lambda v: v.closed_at, reverse=True
    )[:20]
    return render(
        request,
        "deliberation/resident_home.html",
        {
            "proposals": [p for p in items if p.kind == ProposalKind.PROPOSAL],
            "wishes": [p for p in items if p.kind == ProposalKind.WISH],
            "open_votes": open_votes,
            "closed_votes": [{"vote": v, "decision": _decision_of(v)} for v in closed_votes],
            "publications": queries.publications_for_resident(user).order_by("-published_at")[:20],
            "now": clock.now(),
        },
    )


def _decision_of(vote: Vote) -> str:
    result = getattr(vote, "result", None)
    if result is None:
        return ""
    outcomes = result.questions
    if not all(q.get("valid") for q in outcomes):
        return _("表决无效")
    if all(q.get("passed") for q in outcomes):
        return _("通过")
    return _("未通过") if len(outcomes) == 1 else _("部分通过")


@login_required
def propose(request):
    if _resident(request) is None:
        return render(request, "deliberation/resident_home.html", {"unverified": True}, status=403)
    form = ProposeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            proposal = proposal_services.raise_proposal(
                request.user, kind=data["kind"], title=data["title"], body=data["body"]
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("已提交，邻居们现在可以附议了。"))
            return redirect("deliberation:resident_proposal", pk=proposal.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "deliberation/resident_propose.html", {"form": form}, status=status)


# ---------------------------------------------------------------- a proposal or micro-wish


@login_required
def proposal(request, pk: int):
    item = get_object_or_404(queries.proposals_for_resident(request.user), pk=pk)
    if request.method != "POST":
        return _proposal_page(request, item)
    action = request.POST.get("action")
    if action == "support":
        return _support(request, item)
    if action == "claim":
        return _claim(request, item)
    if action == "fulfil":
        return _fulfil(request, item)
    return _proposal_page(request, item, status=400)


def _support(request, item: Proposal):
    try:
        item = proposal_services.support(request.user, item)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _proposal_page(request, item, status=exc.status)
    if item.status == ProposalStatus.AGENDA:
        messages.success(
            request,
            _("附议成功！支持人数已达到%(n)s人，这条提议已列入议程，社区将公开答复。")
            % {"n": item.support_count},
        )
    else:
        messages.success(request, _("附议成功！还差%(n)s人附议即可列入议程。") % {"n": item.supports_missing})
    return redirect("deliberation:resident_proposal", pk=item.pk)


def _claim(request, item: Proposal):
    form, status = ClaimForm(request.POST), 400
    if form.is_valid():
        try:
            proposal_services.claim_wish(request.user, item, claimant=form.cleaned_data["claimant"])
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            messages.success(request, _("认领成功！心愿实现后请上传照片。"))
            return redirect("deliberation:resident_proposal", pk=item.pk)
    return _proposal_page(request, item, claim_form=form, status=status)


def _fulfil(request, item: Proposal):
    form, status = FulfilForm(request.POST, request.FILES), 400
    if form.is_valid():
        try:
            proposal_services.fulfil_wish(
                request.user, item, photo=form.cleaned_data["photo"], note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            form.add_error("photo" if exc.code.startswith("upload.") else None, exc.message)
            status = exc.status
        else:
            messages.success(request, _("已标记为心愿已实现，谢谢您！"))
            return redirect("deliberation:resident_proposal", pk=item.pk)
    return _proposal_page(request, item, fulfil_form=form, status=status)


def _proposal_page(request, item: Proposal, *, claim_form=None, fulfil_form=None, status: int = 200):
    item.refresh_from_db()
    resident = _resident(request)
    supported = resident is not None and queries.has_supported(request.user, item)
    is_wish = item.kind == ProposalKind.WISH
    context = {
        "item": item,
        "supported": supported,
        "mine": item.author_id == request.user.pk,
        "can_support": resident is not None and not supported and item.status == ProposalStatus.OPEN,
        "answered": item.status in (ProposalStatus.ACCEPTED, ProposalStatus.DECLINED, ProposalStatus.DONE),
        "matter": (
            queries.matters_for_resident(request.user).filter(pk=item.matter_id).first()
            if item.matter_id
            else None
        ),
    }
    if is_wish and item.status in (ProposalStatus.OPEN, ProposalStatus.AGENDA) and resident is not None:
        context["claim_form"] = claim_form or ClaimForm()
    if is_wish and item.status == ProposalStatus.CLAIMED and item.claimed_by_id == request.user.pk:
        context["fulfil_form"] = fulfil_form or FulfilForm()
    return render(request, "deliberation/resident_proposal.html", context, status=status)


@login_required
def proposal_photo(request, pk: int):
    """The photo of a fulfilled micro-wish, to residents of its community."""
    item = get_object_or_404(
        queries.proposals_for_resident(request.user).select_related("fulfilment_photo"),
        pk=pk,
        fulfilment_photo__isnull=False,
    )
    return uploads.file_response(item.fulfilment_photo)


# ---------------------------------------------------------------- a matter


@login_required
def matter(request, pk: int):
    item = get_object_or_404(queries.matters_for_resident(request.user), pk=pk)
    votes = (
        queries.votes_for_resident(request.user)
        .filter(matter=item)
        .select_related("result")
        .order_by("created_at", "pk")
    )
    return render(
        request,
        "deliberation/resident_matter.html",
        {
            "matter": item,
            "steps": queries.steps_of(item),
            "publications": item.publications.order_by("published_at", "pk"),
            "votes": votes,
            "proposals": queries.proposals_for_resident(request.user).filter(matter=item),
        },
    )


# ---------------------------------------------------------------- the ballot


@login_required
def vote(request, pk: int):
    item = get_object_or_404(queries.votes_for_resident(request.user), pk=pk)
    if request.method != "POST":
        return _vote_page(request, item)
    ballot = _ballot_state(request, item)
    # Whom this ballot is for: the one chosen, or the only one left (someone who voted for all of
    # theirs gets the service's "already voted").
    candidates = ballot["can_cast"] or ballot["mine"][:1]
    form = BallotForm(request.POST, vote=item, questions=ballot["questions"], electors=candidates)
    if not form.is_valid():
        problems = " ".join(str(m) for errors in form.errors.values() for m in errors)
        return _vote_page(request, item, form=form, error=problems, status=400)
    chosen_pk = form.cleaned_data.get("elector")
    elector = next(
        (e for e in candidates if e.pk == chosen_pk), candidates[0] if len(candidates) == 1 else None
    )
    try:
        receipt = vote_services.cast_online(request.user, item, form.choices(), elector=elector)
    except DomainError as exc:
        return _vote_page(request, item, form=form, error=exc.message, status=exc.status)
    request.session[RECEIPT_SESSION_KEY] = {"vote": item.pk, "code": receipt}
    messages.success(request, _("投票成功！"))
    return redirect("deliberation:resident_vote", pk=item.pk)


def _ballot_state(request, item: Vote) -> dict:
    """The owner groups (or the one entry) this resident may vote for, and which of them voted."""
    mine = list(vote_services.electors_of(request.user, item))
    voted = queries.participations_of(item, mine)
    may_change = item.allow_change
    can_cast = [
        e for e in mine if e.pk not in voted or (may_change and voted[e.pk].channel == Channel.ONLINE)
    ]
    return {
        "mine": mine,
        "voted": [{"elector": e, "participation": voted[e.pk]} for e in mine if e.pk in voted],
        "can_cast": can_cast,
        "questions": list(item.questions.prefetch_related("options")),
    }


def _result_of(item: Vote):
    """The sealed result once the vote is closed (rendered by the shared `_result.html`)."""
    return getattr(item, "result", None) if item.status == VoteStatus.CLOSED else None


def _not_listed_reason(request, item: Vote) -> str:
    resident = _resident(request)
    if resident is None:
        return _("实名认证的居民才能参加网上投票。")
    entry = queries.ineligible_entry(item, resident)
    if entry is not None:
        return _("您不在本次表决的名单中：%(reason)s。") % {"reason": entry.reason}
    return str(NOT_LISTED.get(item.rule, NOT_LISTED_DEFAULT))


def _vote_page(request, item: Vote, *, form=None, error: str = "", status: int = 200):
    ballot = _ballot_state(request, item)
    receipt = None
    flashed = request.session.pop(RECEIPT_SESSION_KEY, None)
    if flashed and flashed.get("vote") == item.pk:
        receipt = flashed.get("code")
    is_open = item.status == VoteStatus.OPEN and clock.now() < item.closes_at
    show_form = is_open and item.online and bool(ballot["can_cast"])
    if show_form and form is None:
        form = BallotForm(vote=item, questions=ballot["questions"], electors=ballot["can_cast"])
    context = {
        "vote": item,
        "matter": item.matter,
        "questions": ballot["questions"],
        "what_counts": WHAT_COUNTS.get(item.rule, ""),
        "is_open": is_open,
        "in_electorate": bool(ballot["mine"]),
        "voted": ballot["voted"],
        "form": form if show_form else None,
        "error": error,
        "changing": show_form and bool(ballot["voted"]),
        "not_listed": "" if ballot["mine"] else _not_listed_reason(request, item),
        "receipt": receipt,
        "result": _result_of(item),
    }
    return render(request, "deliberation/resident_vote.html", context, status=status)


# ---------------------------------------------------------------- receipt check (anyone)


def receipt(request):
    form = ReceiptForm(request.POST or None, initial={"vote": request.GET.get("vote", "")})
    found, checked = [], False
    item = None
    if request.method == "POST" and form.is_valid():
        checked = True
        item = queries.public_vote(form.cleaned_data["vote"])
        found = vote_services.receipt_ballots(item, form.cleaned_data["code"]) if item else []
        if not found:
            item = None  # a wrong code tells nothing, not even the vote's title
    status = 400 if request.method == "POST" and not form.is_valid() else 200
    return render(
        request,
        "deliberation/resident_receipt.html",
        {"form": form, "found": found, "checked": checked, "found_vote": item},
        status=status,
    )
