"""Staff pages of deliberation: the proposal queue and answers, matters with their process steps, votes
with their electorate, sign-in, paper ballots entered by two people, results and printable documents.

Thin like the API: every record is read through `queries.*_visible_to` (outside the user's scope it is a
404), every change is one service call, and a DomainError comes back on the page in Chinese. Nothing
here shows which option an elector chose: staff see who voted, never what.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.core import clock, formats, pdf, scopes, uploads
from gongzhi.core.errors import DomainError
from gongzhi.core.models import Level, Region
from gongzhi.core.roles import Role
from gongzhi.deliberation import forms, processes, queries
from gongzhi.deliberation.models import MatterStatus, ProposalKind, ProposalStatus, VoteStatus
from gongzhi.deliberation.processes import Process, StepKind
from gongzhi.deliberation.services import matters, proposals, votes
from gongzhi.people.models import Building

MANAGE = "deliberation.manage"
COUNT = "deliberation.count"
PAGE_SIZE = 30
SEARCH_LIMIT = 20
DEFAULT_VOTE_DAYS = 7


def _deny(request):
    return render(request, "403.html", status=403)


def _fail(request, exc: DomainError) -> None:
    messages.error(request, exc.message)


def _act(request, change, success: str, to: str):
    """A POST button's one state change: its error or `success` is shown on the page `to`."""
    try:
        change()
    except DomainError as exc:
        _fail(request, exc)
    else:
        messages.success(request, success)
    return redirect(to)


def _pk(value) -> int:
    """A posted id, or a 404 when it is none."""
    if not str(value or "").isdigit():
        raise Http404
    return int(value)


def _communities(user):
    """Communities and villages where the user may organise deliberation."""
    return scopes.visible(Region.objects.filter(level=Level.COMMUNITY), user, MANAGE).order_by("path")


def _compounds(user, community: Region | None = None) -> list[str]:
    """Compound names of the buildings the user may see (within one community when given)."""
    buildings = scopes.visible(Building.objects.exclude(compound=""), user, MANAGE)
    if community is not None:
        buildings = buildings.filter(region__path__startswith=community.path)
    return sorted(set(buildings.values_list("compound", flat=True)))


# ---------------------------------------------------------------- home and proposals


@login_required
def home(request):
    """The proposals waiting for an answer (those on the agenda first) and the matters in progress."""
    user = request.user
    if not scopes.can(user, queries.VIEW):
        if Role.RESIDENT in scopes.roles_of(user):
            return redirect("deliberation:resident_home")
        return _deny(request)
    queue = (
        queries.proposals_visible_to(user)
        .filter(status__in=proposals.ANSWERABLE)
        .order_by(F("on_agenda_at").asc(nulls_last=True), "-created_at")
    )
    closed = request.GET.get("matters") == "closed"
    matter_list = list(
        queries.matters_visible_to(user)
        .filter(status=MatterStatus.CLOSED if closed else MatterStatus.OPEN)
        .prefetch_related("steps", "votes")[:200]
    )
    for matter in matter_list:
        matter.next_step = processes.next_step(matter.process, {s.code for s in matter.steps.all()})
        matter.open_votes = sum(1 for v in matter.votes.all() if v.status == VoteStatus.OPEN)
    return render(
        request,
        "deliberation/staff_home.html",
        {
            "queue": queue[:100],
            "queue_total": queue.count(),
            "matters": matter_list,
            "closed": closed,
            "can_manage": scopes.can(user, MANAGE),
        },
    )


@login_required
def proposal_list(request):
    qs = queries.proposals_visible_to(request.user)
    status, kind = request.GET.get("status", ""), request.GET.get("kind", "")
    if status in ProposalStatus.values:
        qs = qs.filter(status=status)
    if kind in ProposalKind.values:
        qs = qs.filter(kind=kind)
    return render(
        request,
        "deliberation/staff_proposals.html",
        {
            "page": Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page")),
            "statuses": ProposalStatus.choices,
            "kinds": ProposalKind.choices,
            "status": status,
            "kind": kind,
        },
    )


def _answer_form(user, proposal, data=None):
    return forms.AnswerForm(
        data,
        matters=queries.matters_visible_to(user).filter(region=proposal.region, status=MatterStatus.OPEN),
        compounds=_compounds(user, proposal.region),
        only_done=proposal.status == ProposalStatus.ACCEPTED,
        initial={"compound": proposal.compound},
        prefix="answer",
    )


def _proposal_page(request, proposal, *, bound=None, error="", status=200):
    user = request.user
    bound = bound or {}
    manage = scopes.can(user, MANAGE, proposal)
    answerable = proposal.status in proposals.ANSWERABLE or proposal.status == ProposalStatus.ACCEPTED
    wish = proposal.kind == ProposalKind.WISH
    context = {
        "proposal": proposal,
        "error": error,
        "answer_form": bound.get("answer")
        or (_answer_form(user, proposal) if manage and answerable else None),
        "claim_form": bound.get("claim")
        or (
            forms.ClaimForm(prefix="claim")
            if manage and wish and proposal.status in proposals.ANSWERABLE
            else None
        ),
        "fulfil_form": bound.get("fulfil")
        or (
            forms.FulfilForm(prefix="fulfil")
            if manage and proposal.status == ProposalStatus.CLAIMED
            else None
        ),
    }
    return render(request, "deliberation/staff_proposal.html", context, status=status)


@login_required
def proposal_detail(request, pk: int):
    """Answer a proposal in public; claim a micro-wish and mark it fulfilled with a photo."""
    user = request.user
    proposal = get_object_or_404(queries.proposals_visible_to(user).select_related("matter"), pk=pk)
    if request.method != "POST":
        return _proposal_page(request, proposal)
    action = request.POST.get("action")
    if action == "answer":
        form = _answer_form(user, proposal, request.POST)
    elif action == "claim":
        form = forms.ClaimForm(request.POST, prefix="claim")
    elif action == "fulfil":
        form = forms.FulfilForm(request.POST, request.FILES, prefix="fulfil")
    else:
        return _proposal_page(request, proposal, error=_("未知的操作"), status=400)
    if not form.is_valid():
        return _proposal_page(
            request, proposal, bound={action: form}, error=_("请修改以下问题后再提交"), status=400
        )
    data = form.cleaned_data
    try:
        if action == "answer":
            matter = _answer(user, proposal, data)
            messages.success(request, _("已答复"))
            if matter is not None:
                return redirect("deliberation:matter", pk=matter.pk)
        elif action == "claim":
            proposals.claim_wish(user, proposal, claimant=data["claimant"])
            messages.success(request, _("已认领"))
        else:
            proposals.fulfil_wish(user, proposal, photo=data["photo"], note=data["note"])
            messages.success(request, _("已标记为已实现"))
    except DomainError as exc:
        return _proposal_page(request, proposal, bound={action: form}, error=exc.message, status=exc.status)
    return redirect("deliberation:proposal", pk=proposal.pk)


def _answer(user, proposal, data):
    """Answer; an accepted proposal goes into the chosen matter, or a new one made from it."""
    if data["decision"] != ProposalStatus.ACCEPTED:
        proposals.answer(user, proposal, decision=data["decision"], text=data["text"])
        return None
    with transaction.atomic():
        matter = data["matter"] or matters.create_matter(
            user,
            region=proposal.region,
            title=proposal.title,
            process=data["process"],
            description=proposal.body,
            compound=data["compound"] or proposal.compound,
        )
        proposals.answer(user, proposal, decision=data["decision"], text=data["text"], matter=matter)
    return matter


@login_required
def agenda_threshold(request):
    """How many supports put a proposal on the agenda, per community."""
    user = request.user
    communities = _communities(user)
    if not communities.exists():
        return _deny(request)
    form = forms.ThresholdForm(request.POST or None, communities=communities)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                proposals.set_agenda_threshold(
                    user, form.cleaned_data["community"], form.cleaned_data["supports"]
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("议程门槛已保存"))
                return redirect("deliberation:threshold")
        else:
            status = 400
    rows = [{"community": c, "supports": proposals.supports_needed(c)} for c in communities[:500]]
    configured = queries.configured_thresholds([r["community"] for r in rows])
    for row in rows:
        row["configured"] = row["community"].pk in configured
    return render(request, "deliberation/staff_threshold.html", {"form": form, "rows": rows}, status=status)


# ---------------------------------------------------------------- matters


@login_required
def matter_new(request):
    user = request.user
    communities = _communities(user)
    if not communities.exists():
        return _deny(request)
    form = forms.MatterForm(request.POST or None, communities=communities, compounds=_compounds(user))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            if data["compound"] and data["compound"] not in _compounds(user, data["community"]):
                form.add_error("compound", _("该小区不在所选社区（村）"))
            else:
                try:
                    matter = matters.create_matter(
                        user,
                        region=data["community"],
                        title=data["title"],
                        process=data["process"],
                        description=data["description"],
                        compound=data["compound"],
                    )
                except DomainError as exc:
                    form.add_error(None, exc.message)
                    status = exc.status
                else:
                    messages.success(request, _("议题已建立"))
                    return redirect("deliberation:matter", pk=matter.pk)
    return render(request, "deliberation/staff_matter_new.html", {"form": form}, status=status)


def _visible_matter(request, pk: int):
    return get_object_or_404(queries.matters_visible_to(request.user), pk=pk)


def _step_vote(matter, code: str):
    """The latest vote held at a step (the one a step record waits for)."""
    return next((v for v in reversed(matter.vote_list) if v.step_code == code), None)


def _matter_page(request, matter, *, step_form=None, task_form=None, error="", status=200):
    user = request.user
    manage = scopes.can(user, MANAGE, matter) and matter.status == MatterStatus.OPEN
    matter.vote_list = list(matter.votes.order_by("created_at", "pk"))
    results = queries.results_of(matter.vote_list)
    for vote in matter.vote_list:
        vote.result_record = results.get(vote.pk)
    steps = queries.steps_of(matter)
    following = next((s for s in steps if s["is_next"]), None)
    failed = queries.failed_vote_step(matter)
    if following is not None:
        following["vote"] = _step_vote(matter, following["step"].code) if following["rules"] else None
        waiting = following["rules"] and (
            following["vote"] is None or following["vote"].status != VoteStatus.CLOSED
        )
        following["can_record"] = manage and not waiting and failed is None
        following["can_vote"] = manage and bool(following["rules"]) and following["vote"] is None
        if following["can_record"] and step_form is None:
            step_form = forms.StepForm(step=following["step"], initial={"held_on": clock.today()})
    voting = {s["step"].code for s in steps if s["rules"] and s["record"] is None}
    running = any(v.step_code in voting and v.status != VoteStatus.CLOSED for v in matter.vote_list)
    done = {s["step"].code for s in steps if s["record"] is not None}
    context = {
        "matter": matter,
        "steps": steps,
        "following": following,
        "step_form": step_form,
        "publication_step": following is not None and following["step"].kind == StepKind.PUBLICATION,
        "outcome_step": following is not None and following["step"].kind == StepKind.OUTCOME,
        "votes": matter.vote_list,
        "can_new_vote": manage and bool(voting) and not running,
        "publications": matter.publications.all(),
        "consultation": matter.process == Process.CONSULTATION,
        "tasks": matter.tasks.all(),
        "task_form": task_form or (forms.TaskForm() if manage else None),
        "can_manage": manage,
        "can_close": manage and (processes.is_complete(matter.process, done) or failed is not None),
        "failed_step": failed,
        "linked_proposals": matter.proposals.all(),
        "error": error,
    }
    return render(request, "deliberation/staff_matter.html", context, status=status)


@login_required
def matter_detail(request, pk: int):
    return _matter_page(request, _visible_matter(request, pk))


@login_required
@require_POST
def record_step(request, pk: int, code: str):
    matter = _visible_matter(request, pk)
    form = forms.StepForm(request.POST, request.FILES, step=processes.step_of(matter.process, code))
    if not form.is_valid():
        return _matter_page(request, matter, step_form=form, error=_("请修改以下问题后再提交"), status=400)
    try:
        matters.record_step(request.user, matter, code=code, **form.cleaned_data)
    except DomainError as exc:
        return _matter_page(request, matter, step_form=form, error=exc.message, status=exc.status)
    step = processes.step_of(matter.process, code)
    messages.success(request, _("已记录“%(step)s”") % {"step": step.label})
    return redirect("deliberation:matter", pk=matter.pk)


@login_required
@require_POST
def matter_close(request, pk: int):
    matter = _visible_matter(request, pk)
    to = reverse("deliberation:matter", args=[matter.pk])
    return _act(request, lambda: matters.close_matter(request.user, matter), _("议题已办结"), to)


@login_required
@require_POST
def task_add(request, pk: int):
    matter = _visible_matter(request, pk)
    form = forms.TaskForm(request.POST)
    if not form.is_valid():
        return _matter_page(request, matter, task_form=form, error=_("请修改以下问题后再提交"), status=400)
    try:
        matters.add_task(request.user, matter, **form.cleaned_data)
    except DomainError as exc:
        return _matter_page(request, matter, task_form=form, error=exc.message, status=exc.status)
    messages.success(request, _("已添加落实任务"))
    return redirect(reverse("deliberation:matter", args=[matter.pk]) + "#tasks")


@login_required
@require_POST
def task_done(request, pk: int):
    task = get_object_or_404(queries.tasks_visible_to(request.user), pk=pk)
    note = request.POST.get("note", "")
    to = reverse("deliberation:matter", args=[task.matter_id]) + "#tasks"
    return _act(request, lambda: matters.complete_task(request.user, task, note=note), _("任务已完成"), to)


# ---------------------------------------------------------------- votes


@login_required
def vote_new(request, pk: int):
    """A vote for one voting step of the matter, with its rule limited to what the step allows."""
    user = request.user
    matter = _visible_matter(request, pk)
    if not scopes.can(user, MANAGE, matter):
        return _deny(request)
    done = set(matter.steps.values_list("code", flat=True))
    steps = [s for s in processes.voting_steps(matter.process) if s.code not in done]
    if not steps:
        messages.error(request, _("该议题没有待表决的步骤"))
        return redirect("deliberation:matter", pk=matter.pk)
    wanted = request.POST.get("step") or request.GET.get("step")
    step = next((s for s in steps if s.code == wanted), steps[0])
    rules = processes.rules_for(matter.process, step.code)
    initial = {
        "closes_at": clock.now().replace(second=0, microsecond=0) + dt.timedelta(days=DEFAULT_VOTE_DAYS)
    }
    form = forms.VoteForm(request.POST or None, rules=rules, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                vote = votes.create_vote(
                    user,
                    matter,
                    title=data["title"],
                    rule=data["rule"],
                    closes_at=data["closes_at"],
                    questions=form.questions(),
                    step_code=step.code,
                    secret=data["secret"],
                    online=data["online"],
                    allow_change=data["allow_change"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("表决已建立，核对无误后即可开始"))
                return redirect("deliberation:vote", pk=vote.pk)
    return render(
        request,
        "deliberation/staff_vote_new.html",
        {"matter": matter, "form": form, "step": step, "steps": steps},
        status=status,
    )


def _visible_vote(request, pk: int):
    return get_object_or_404(queries.votes_visible_to(request.user), pk=pk)


@login_required
def vote_detail(request, pk: int):
    vote = _visible_vote(request, pk)
    user = request.user
    manage = scopes.can(user, MANAGE, vote.matter)
    return render(
        request,
        "deliberation/staff_vote.html",
        {
            "vote": vote,
            "questions": vote.questions.prefetch_related("options"),
            "turnout": queries.turnout_summary(vote) if vote.status != VoteStatus.DRAFT else None,
            "participations": queries.participations(vote),
            "result": queries.result_of(vote),
            "can_open": manage and vote.status == VoteStatus.DRAFT,
            "can_close": manage and vote.status == VoteStatus.OPEN,
            "can_count": scopes.can(user, COUNT, vote.matter),
        },
    )


@login_required
@require_POST
def vote_open(request, pk: int):
    vote = _visible_vote(request, pk)
    done = _("表决已开始，表决名单已按当前台账确定")
    to = reverse("deliberation:vote", args=[vote.pk])
    return _act(request, lambda: votes.open_vote(request.user, vote), done, to)


@login_required
@require_POST
def vote_close(request, pk: int):
    vote = _visible_vote(request, pk)
    done = _("表决已结束，结果已计算并封存")
    to = reverse("deliberation:vote", args=[vote.pk])
    return _act(request, lambda: votes.close_vote(request.user, vote), done, to)


@login_required
def electors(request, pk: int):
    """The frozen electorate with the reason for everyone; staff add or remove people with a reason."""
    user = request.user
    vote = _visible_vote(request, pk)
    manage = scopes.can(user, MANAGE, vote.matter) and vote.status == VoteStatus.OPEN
    if request.method == "POST":
        form = forms.ElectorChangeForm(request.POST)
        if not manage:
            return _deny(request)
        if not form.is_valid():
            messages.error(request, _("调整表决名单必须填写理由"))
            return redirect("deliberation:electors", pk=vote.pk)
        reason = form.cleaned_data["reason"]
        try:
            if request.POST.get("action") == "remove":
                elector = _elector(vote, request.POST.get("elector"))
                votes.remove_elector(user, elector, reason=reason)
                messages.success(request, _("已将%(name)s移出表决名单") % {"name": elector.name})
            else:
                resident = get_object_or_404(
                    queries.addable_residents(user, vote), pk=_pk(request.POST.get("resident"))
                )
                votes.add_elector(user, vote, resident=resident, reason=reason)
                messages.success(request, _("已将%(name)s加入表决名单") % {"name": resident.name})
        except DomainError as exc:
            _fail(request, exc)
        return redirect(reverse("deliberation:electors", args=[vote.pk]))
    query = request.GET.get("q", "").strip()
    found = (
        list(queries.addable_residents(user, vote).filter(name__contains=query)[:SEARCH_LIMIT])
        if query and manage
        else []
    )
    rows = queries.electors_table(vote)
    for row in rows:
        row.area_text = formats.area(row.area)
    eligible = [row for row in rows if row.eligible]
    return render(
        request,
        "deliberation/staff_electors.html",
        {
            "vote": vote,
            "rows": rows,
            "eligible_count": len(eligible),
            "eligible_area": formats.area(sum((row.area for row in eligible), 0)),
            "can_manage": manage,
            "query": query,
            "found": found,
        },
    )


def _elector(vote, value):
    elector = queries.elector_of(vote, _pk(value))
    if elector is None:
        raise Http404
    return elector


@login_required
def sign_in(request, pk: int):
    """Attendance at the meeting, signed in against the electorate."""
    user = request.user
    vote = _visible_vote(request, pk)
    manage = scopes.can(user, MANAGE, vote.matter) and vote.status == VoteStatus.OPEN
    if request.method == "POST":
        if not manage:
            return _deny(request)
        elector = _elector(vote, request.POST.get("elector"))
        try:
            matters.sign_in(user, vote, elector)
        except DomainError as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("%(name)s已签到") % {"name": elector.name})
        return redirect(reverse("deliberation:sign_in", args=[vote.pk]) + f"#elector-{elector.pk}")
    rows = queries.electors_table(vote, eligible_only=True)
    return render(
        request,
        "deliberation/staff_sign_in.html",
        {"vote": vote, "rows": rows, "signed": sum(1 for r in rows if r.signed_in), "can_manage": manage},
    )


def _entry_form(vote, data=None, files=None):
    """A named ballot names its elector (and a proxy); a secret one is entered as it comes out of the box."""
    if vote.secret:
        return forms.BallotForm(data, vote=vote, prefix="entry")
    return forms.PaperEntryForm(
        data, files, vote=vote, electors=queries.waiting_electors(vote), prefix="entry"
    )


def _hand_out_form(vote, data=None, files=None):
    return forms.HandOutForm(data, files, electors=queries.waiting_electors(vote), prefix="hand")


def _paper_page(
    request,
    vote,
    *,
    entry_form=None,
    hand_out_form=None,
    confirm=None,
    confirm_form=None,
    error="",
    status=200,
):
    user = request.user
    can_count = scopes.can(user, COUNT, vote.matter) and vote.status == VoteStatus.OPEN
    if confirm is not None and confirm_form is None:
        confirm_form = forms.BallotForm(vote=vote, prefix="confirm")
    return render(
        request,
        "deliberation/staff_paper.html",
        {
            "vote": vote,
            "entries": queries.pending_entries(vote),
            "box": queries.paper_box(vote) if vote.secret else None,
            "can_count": can_count,
            "entry_form": entry_form or (_entry_form(vote) if can_count else None),
            "hand_out_form": hand_out_form or (_hand_out_form(vote) if can_count and vote.secret else None),
            "confirm": confirm if can_count else None,
            "confirm_form": confirm_form,
            "discard_form": forms.DiscardForm(),
            "error": error,
        },
        status=status,
    )


def _ballot_name(entry) -> str:
    """How a pending ballot is called on the page: its elector, or its number when it is unnamed."""
    if entry.elector is not None:
        return entry.elector.name
    return _("第 %(n)s 张（未记名）") % {"n": entry.number}


def _pending(vote, value):
    entry = queries.pending_entry(vote, _pk(value))
    if entry is None:
        raise Http404
    return entry


@login_required
def paper_ballots(request, pk: int):
    """纸质选票: one staff member enters a ballot, a second types it again without seeing the first.
    On a secret vote a ballot is first handed to a named elector (that is their vote taken part in);
    what comes back out of the box is entered with no name."""
    user = request.user
    vote = _visible_vote(request, pk)
    if request.method != "POST":
        confirm = None
        if request.GET.get("confirm", "").isdigit():
            confirm = _pending(vote, request.GET["confirm"])
            if confirm.entered_by_id == user.pk:
                messages.error(request, _("录入和确认须由两位不同的工作人员完成"))
                return redirect("deliberation:paper", pk=vote.pk)
        return _paper_page(request, vote, confirm=confirm)
    action = request.POST.get("action")
    if action == "hand_out":
        return _hand_out(request, vote)
    if action == "enter":
        return _enter(request, vote)
    entry = _pending(vote, request.POST.get("entry"))
    if action == "confirm":
        form = forms.BallotForm(request.POST, vote=vote, prefix="confirm")
        if not form.is_valid():
            return _paper_page(
                request, vote, confirm=entry, confirm_form=form, error=_("请修改以下问题后再提交"), status=400
            )
        try:
            votes.confirm_paper_ballot(user, entry, choices=form.choices())
        except DomainError as exc:
            return _paper_page(
                request, vote, confirm=entry, confirm_form=form, error=exc.message, status=exc.status
            )
        messages.success(request, _("两次录入一致，%(name)s的选票已计入") % {"name": _ballot_name(entry)})
        return redirect("deliberation:paper", pk=vote.pk)
    if action == "discard":
        form = forms.DiscardForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError("ballot.reason_required", _("作废须填写理由"))
            votes.discard_paper_entry(user, entry, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("已作废%(name)s的录入") % {"name": _ballot_name(entry)})
        return redirect("deliberation:paper", pk=vote.pk)
    return _paper_page(request, vote, error=_("未知的操作"), status=400)


def _hand_out(request, vote):
    form = _hand_out_form(vote, request.POST, request.FILES)
    if not form.is_valid():
        return _paper_page(request, vote, hand_out_form=form, error=_("请修改以下问题后再提交"), status=400)
    data = form.cleaned_data
    try:
        votes.hand_out_paper_ballot(
            request.user,
            vote,
            elector=data["elector"],
            proxy_name=data["proxy_name"],
            proxy_authorisation=data["proxy_authorisation"],
        )
    except DomainError as exc:
        return _paper_page(request, vote, hand_out_form=form, error=exc.message, status=exc.status)
    messages.success(request, _("已向%(name)s发放纸质选票") % {"name": data["elector"].name})
    return redirect(reverse("deliberation:paper", args=[vote.pk]) + "#hand-out")


def _enter(request, vote):
    form = _entry_form(vote, request.POST, request.FILES)
    if not form.is_valid():
        return _paper_page(request, vote, entry_form=form, error=_("请修改以下问题后再提交"), status=400)
    data = form.cleaned_data
    named = (
        {}
        if vote.secret
        else {
            "elector": data["elector"],
            "proxy_name": data["proxy_name"],
            "proxy_authorisation": data["proxy_authorisation"],
        }
    )
    try:
        votes.enter_paper_ballot(request.user, vote, choices=form.choices(), **named)
    except DomainError as exc:
        return _paper_page(request, vote, entry_form=form, error=exc.message, status=exc.status)
    if vote.secret:
        messages.success(request, _("已录入一张未记名选票，请另一位工作人员确认"))
    else:
        messages.success(
            request, _("已录入%(name)s的选票，请另一位工作人员确认") % {"name": data["elector"].name}
        )
    return redirect("deliberation:paper", pk=vote.pk)


@login_required
def ballot_pdf(request, pk: int):
    from gongzhi.deliberation import documents  # built on demand; reportlab is heavy to import

    vote = _visible_vote(request, pk)
    return pdf.pdf_response(documents.ballot_paper(vote), _("表决票-%(n)s.pdf") % {"n": vote.pk})


@login_required
def result_pdf(request, pk: int):
    from gongzhi.deliberation import documents  # built on demand; reportlab is heavy to import

    vote = _visible_vote(request, pk)
    if vote.status != VoteStatus.CLOSED:
        raise Http404
    return pdf.pdf_response(documents.result_notice(vote), _("表决结果公告-%(n)s.pdf") % {"n": vote.pk})


@login_required
def attachment(request, pk: int):
    """A step photo or a fulfilment photo for those who may see what it belongs to; a proxy's signed
    authorisation only for those who count the vote's ballots."""
    found = queries.attachment_visible_to(request.user, pk)
    if found is None:
        raise Http404
    return uploads.file_response(found)
