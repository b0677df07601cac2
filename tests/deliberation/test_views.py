"""Staff pages of deliberation: every page renders for community staff, nothing of community A is visible
to staff of community B, matters and votes are made through the pages, paper ballots need two people,
results show exact fractions, and no staff page tells what an elector chose on a secret vote."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from gongzhi.core import clock
from gongzhi.deliberation.models import (
    Elector,
    Matter,
    MatterStep,
    PaperEntry,
    Participation,
    Process,
    ProposalKind,
    ProposalStatus,
    Vote,
    VoteRule,
    VoteStatus,
)
from gongzhi.deliberation.services import matters, proposals, votes
from tests.deliberation.conftest import cast, matter_at, new_vote, owners_vote, residents_vote

pytestmark = pytest.mark.django_db

NOW = "2026-11-02T09:00+08:00"
TODAY = "2026-11-02"


def png(name="authorisation.png"):
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def option(vote, code=None, label=None):
    question = vote.questions.get()
    found = question.options.get(code=code) if code else question.options.get(label=label)
    return question, found


def login(client, user):
    client.force_login(user)
    return client


def test_every_staff_page_renders_for_community_staff(client, town):
    with clock.frozen(NOW):
        vote = owners_vote(town)
        matter = vote.matter
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.WISH, title="楼道装灯", body="三楼楼道没有灯"
        )
        login(client, town.clerk)
        pages = [
            reverse("deliberation:home"),
            reverse("deliberation:proposals"),
            reverse("deliberation:proposal", args=[proposal.pk]),
            reverse("deliberation:threshold"),
            reverse("deliberation:matter_new"),
            reverse("deliberation:matter", args=[matter.pk]),
            reverse("deliberation:vote_new", args=[matter.pk]),
            reverse("deliberation:vote", args=[vote.pk]),
            reverse("deliberation:electors", args=[vote.pk]),
            reverse("deliberation:sign_in", args=[vote.pk]),
            reverse("deliberation:paper", args=[vote.pk]),
        ]
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
        home = client.get(reverse("deliberation:home")).content.decode()
        assert "楼道装灯" in home and "增设电梯" in home
        assert "业主共同决定（表决）" in home  # the matter's next step
        vote_page = client.get(reverse("deliberation:vote", args=[vote.pk])).content.decode()
        assert 'id="close-vote"' in vote_page and 'id="open-vote"' not in vote_page
        electors = client.get(reverse("deliberation:electors", args=[vote.pk])).content.decode()
        assert "建设单位（未售出或未交付的房屋）" in electors and "180.00 ㎡" in electors
        matter_page = client.get(reverse("deliberation:matter", args=[matter.pk])).content.decode()
        assert 'id="close-matter"' not in matter_page  # steps are missing
        assert 'data-step="announce" data-state="done"' in matter_page


def test_outsider_staff_gets_404_on_community_a(client, town):
    with clock.frozen(NOW):
        vote = owners_vote(town)
        matter = vote.matter
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.PROPOSAL, title="增加停车位", body="小区车位不够"
        )
        login(client, town.outsider_staff)
        for url in [
            reverse("deliberation:proposal", args=[proposal.pk]),
            reverse("deliberation:matter", args=[matter.pk]),
            reverse("deliberation:vote", args=[vote.pk]),
            reverse("deliberation:vote_new", args=[matter.pk]),
            reverse("deliberation:electors", args=[vote.pk]),
            reverse("deliberation:sign_in", args=[vote.pk]),
            reverse("deliberation:paper", args=[vote.pk]),
            reverse("deliberation:result_pdf", args=[vote.pk]),
        ]:
            assert client.get(url).status_code == 404, url
        assert client.post(reverse("deliberation:vote_close", args=[vote.pk])).status_code == 404
        assert (
            client.post(
                reverse("deliberation:record_step", args=[matter.pk, "decide"]), {"held_on": TODAY}
            ).status_code
            == 404
        )
        assert "增设电梯" not in client.get(reverse("deliberation:home")).content.decode()
    vote.refresh_from_db()
    assert vote.status == VoteStatus.OPEN


def test_accepting_a_proposal_into_a_new_matter_then_creating_and_opening_a_vote(client, town):
    with clock.frozen(NOW):
        proposal = proposals.raise_proposal(
            town.users["zhang"],
            kind=ProposalKind.PROPOSAL,
            title="加装电梯",
            body="老人上楼难",
            compound="阳光小区",
        )
        login(client, town.clerk)
        response = client.post(
            reverse("deliberation:proposal", args=[proposal.pk]),
            {
                "action": "answer",
                "answer-decision": "accepted",
                "answer-text": "采纳，提交业主大会表决",
                "answer-process": Process.OWNERS_ASSEMBLY,
                "answer-compound": "阳光小区",
            },
        )
        matter = Matter.objects.get(title="加装电梯")
        assert response.status_code == 302 and response["Location"] == reverse(
            "deliberation:matter", args=[matter.pk]
        )
        proposal.refresh_from_db()
        assert proposal.status == ProposalStatus.ACCEPTED and proposal.matter == matter
        assert matter.compound == "阳光小区" and matter.process == Process.OWNERS_ASSEMBLY

        step_url = reverse("deliberation:record_step", args=[matter.pk, "announce"])
        response = client.post(step_url, {"held_on": TODAY, "place": "小区广场", "minutes": "会议公告已张贴"})
        assert response.status_code == 302
        # recording the same step twice is refused on the page
        again = client.post(step_url, {"held_on": TODAY, "minutes": "再记一次"})
        assert again.status_code == 409 and "已经记录过" in again.content.decode()

        page = client.get(reverse("deliberation:vote_new", args=[matter.pk])).content.decode()
        assert 'value="owners_special"' in page and 'value="residents"' not in page
        response = client.post(
            reverse("deliberation:vote_new", args=[matter.pk]),
            {
                "step": "decide",
                "title": "加装电梯并筹集资金",
                "rule": VoteRule.OWNERS_SPECIAL,
                "closes_at": "2026-11-20T18:00",
                "online": "on",
                "q1_text": "是否同意加装电梯",
                "q1_kind": "yes_no",
                "q2_text": "电梯品牌",
                "q2_kind": "single",
                "q2_options": "甲品牌\n乙品牌\n",
                "q3_text": "",
                "q3_kind": "yes_no",
            },
        )
        vote = Vote.objects.get(matter=matter)
        assert response.status_code == 302 and response["Location"] == reverse(
            "deliberation:vote", args=[vote.pk]
        )
        assert [q.text for q in vote.questions.all()] == ["是否同意加装电梯", "电梯品牌"]
        assert list(vote.questions.get(kind="single").options.values_list("label", flat=True)) == [
            "甲品牌",
            "乙品牌",
        ]

        response = client.post(reverse("deliberation:vote_open", args=[vote.pk]))
        assert response.status_code == 302
        vote.refresh_from_db()
        assert vote.status == VoteStatus.OPEN
        assert Elector.objects.filter(vote=vote, eligible=True).count() == 4


def test_a_rule_the_step_does_not_allow_is_refused(client, town):
    with clock.frozen(NOW):
        matter = owners_vote(town, open_=False).matter
        login(client, town.clerk)
        response = client.post(
            reverse("deliberation:vote_new", args=[matter.pk]),
            {
                "step": "decide",
                "title": "另一项表决",
                "rule": VoteRule.RESIDENTS,
                "closes_at": "2026-11-20T18:00",
                "q1_text": "是否同意",
                "q1_kind": "yes_no",
                "q2_kind": "yes_no",
                "q3_kind": "yes_no",
            },
        )
    assert response.status_code == 400
    assert Vote.objects.filter(matter=matter).count() == 1


def test_paper_ballot_needs_a_second_person_who_does_not_see_the_first_entry(client, town):
    with clock.frozen(NOW):
        vote = owners_vote(town)
        question, no = option(vote, code="no")
        zhao = Elector.objects.get(vote=vote, name="赵六")
        paper = reverse("deliberation:paper", args=[vote.pk])
        login(client, town.clerk)
        response = client.post(
            paper, {"action": "enter", "entry-elector": zhao.pk, f"entry-q{question.pk}": no.pk}
        )
        assert response.status_code == 302
        entry = PaperEntry.objects.get(vote=vote)
        assert entry.entered_by == town.clerk

        # the person who entered it cannot confirm it
        assert client.get(paper, {"confirm": entry.pk}).status_code == 302
        response = client.post(
            paper, {"action": "confirm", "entry": entry.pk, f"confirm-q{question.pk}": no.pk}
        )
        assert response.status_code == 403 and "两位不同的工作人员" in response.content.decode()
        assert not Participation.objects.filter(vote=vote).exists()

        login(client, town.checker)
        page = client.get(paper, {"confirm": entry.pk}).content.decode()
        confirm = page[
            page.index('id="paper-confirm-form"') : page.index(
                "</form>", page.index('id="paper-confirm-form"')
            )
        ]
        assert f'value="{no.pk}"' in confirm  # the option is offered …
        assert "checked" not in confirm  # … but nothing is pre-selected from the first entry
        assert "checked" not in page

        yes = question.options.get(code="yes")
        response = client.post(
            paper, {"action": "confirm", "entry": entry.pk, f"confirm-q{question.pk}": yes.pk}
        )
        assert response.status_code == 409 and "两次录入不一致" in response.content.decode()
        assert PaperEntry.objects.filter(pk=entry.pk).exists()

        response = client.post(
            paper, {"action": "confirm", "entry": entry.pk, f"confirm-q{question.pk}": no.pk}
        )
        assert response.status_code == 302
    participation = Participation.objects.get(vote=vote)
    assert participation.elector == zhao and participation.confirmed_by == town.checker
    assert not PaperEntry.objects.filter(vote=vote).exists()


def test_a_pending_entry_can_be_discarded_with_a_reason(client, town):
    with clock.frozen(NOW):
        vote = owners_vote(town)
        question, yes = option(vote, code="yes")
        zhao = Elector.objects.get(vote=vote, name="赵六")
        entry = votes.enter_paper_ballot(town.clerk, vote, elector=zhao, choices={question.pk: [yes.pk]})
        login(client, town.checker)
        paper = reverse("deliberation:paper", args=[vote.pk])
        client.post(paper, {"action": "discard", "entry": entry.pk, "reason": ""})
        assert PaperEntry.objects.filter(pk=entry.pk).exists()
        client.post(paper, {"action": "discard", "entry": entry.pk, "reason": "选票填写不清"})
    assert not PaperEntry.objects.filter(pk=entry.pk).exists()


def test_closing_shows_the_exact_fractions(client, town):
    with clock.frozen(NOW) as travel:
        vote = owners_vote(town)
        matter = vote.matter
        cast(vote, town.users["zhang"], "yes")
        cast(vote, town.users["li"], "yes")
        cast(vote, town.users["zhao"], "no")
        login(client, town.clerk)
        running = client.get(reverse("deliberation:vote", args=[vote.pk])).content.decode()
        assert "360.00 ㎡" in running  # area voted so far
        travel.advance(days=16)
        response = client.post(reverse("deliberation:vote_close", args=[vote.pk]))
        assert response.status_code == 302
        page = client.get(reverse("deliberation:vote", args=[vote.pk])).content.decode()
        fractions = re.findall(r'data-testid="fraction">([^<]+)<', page)
        assert fractions == ["18/25", "3/4", "5/6", "2/3"]
        assert "≥ 2/3" in page and "≥ 3/4" in page
        assert 'data-testid="result-failed"' in page  # 2 of 3 owners is short of 3/4
        assert 'id="close-vote"' not in page and 'id="result-pdf"' in page
        # the matter page shows the result too, and the decision step can now be recorded
        matter_page = client.get(reverse("deliberation:matter", args=[matter.pk])).content.decode()
        assert (
            "18/25" in matter_page
            and 'data-step="decide"' in matter_page
            and 'id="record-step"' in matter_page
        )


def test_secret_vote_staff_pages_never_show_what_an_elector_chose(client, town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(
            town,
            secret=True,
            questions=[{"text": "选择施工方案", "kind": "single", "options": ["甲方案", "乙方案"]}],
        )
        question, plan_b = option(vote, label="乙方案")
        votes.cast_online(town.users["zhang"], vote, {question.pk: [plan_b.pk]})
        zhao = Elector.objects.get(vote=vote, name="赵六")
        votes.hand_out_paper_ballot(town.clerk, vote, elector=zhao)
        travel.to(vote.closes_at)  # the box is opened after the deadline
        votes.enter_paper_ballot(town.clerk, vote, choices={question.pk: [plan_b.pk]})
        login(client, town.checker)
        entry = PaperEntry.objects.get(vote=vote)
        assert entry.elector is None

        def page(name, **query):
            return client.get(reverse(f"deliberation:{name}", args=[vote.pk]), query).content.decode()

        detail = page("vote")
        assert "张三" in detail and "赵六" in detail  # who voted is shown …
        assert "乙方案" not in detail[detail.index('id="participations"') :]  # … never what
        for name in ("electors", "sign_in"):
            assert "乙方案" not in page(name) and "甲方案" not in page(name)
        paper = page("paper")
        pending = paper[paper.index('id="pending"') : paper.index("</section>", paper.index('id="pending"'))]
        assert "第 1 张（未记名）" in pending and "赵六" not in pending  # the box ballot names nobody
        assert "checked" not in paper
        confirm = page("paper", confirm=entry.pk)
        assert 'id="paper-confirm-form"' in confirm and "checked" not in confirm
        assert "确认第 1 张（未记名）选票" in confirm
        votes.confirm_paper_ballot(town.checker, entry, choices={question.pk: [plan_b.pk]})
        travel.advance(hours=1)
        votes.close_vote(town.clerk, vote)
        closed = page("vote")
        assert "乙方案" not in closed[closed.index('id="participations"') :]
        assert "赵六" in closed and "纸质选票" in closed


def test_a_secret_votes_paper_ballots_are_handed_out_by_name_and_entered_without(
    client, town, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        question, yes = option(vote, code="yes")
        paper = reverse("deliberation:paper", args=[vote.pk])
        login(client, town.clerk)
        page = client.get(paper).content.decode()
        assert 'id="hand-out-form"' in page and "已发放 0 张 · 已录入 0 张" in page
        entry_form = page[
            page.index('id="paper-entry-form"') : page.index("</form>", page.index('id="paper-entry-form"'))
        ]
        assert "entry-elector" not in entry_form and "proxy" not in entry_form  # choices only

        # the box stays shut while ballots are handed out
        response = client.post(paper, {"action": "enter", f"entry-q{question.pk}": yes.pk})
        assert response.status_code == 409 and "投票截止后开箱录入" in response.content.decode()

        zhao = Elector.objects.get(vote=vote, name="赵六")
        wang = Elector.objects.get(vote=vote, name="王芳")
        response = client.post(paper, {"action": "hand_out", "hand-elector": zhao.pk})
        assert response.status_code == 302
        # a proxy needs the signed authorisation
        response = client.post(
            paper, {"action": "hand_out", "hand-elector": wang.pk, "hand-proxy_name": "王小芳"}
        )
        assert response.status_code == 400 and "授权委托书" in response.content.decode()
        response = client.post(
            paper,
            {
                "action": "hand_out",
                "hand-elector": wang.pk,
                "hand-proxy_name": "王小芳",
                "hand-proxy_authorisation": png(),
            },
        )
        assert response.status_code == 302
        handed = {p.elector.name: p.channel for p in Participation.objects.filter(vote=vote)}
        assert handed == {"赵六": "paper", "王芳": "proxy"}
        page = client.get(paper).content.decode()
        hand_out = page[
            page.index('id="hand-out-form"') : page.index("</form>", page.index('id="hand-out-form"'))
        ]
        assert f'value="{zhao.pk}"' not in hand_out  # someone handed a ballot is not offered again

        travel.to(vote.closes_at)  # hand-outs end, the box is opened
        sun = Elector.objects.get(vote=vote, name="孙七")
        response = client.post(paper, {"action": "hand_out", "hand-elector": sun.pk})
        assert response.status_code == 409 and "不能再发放选票" in response.content.decode()
        for _n in range(2):
            response = client.post(paper, {"action": "enter", f"entry-q{question.pk}": yes.pk})
            assert response.status_code == 302
        response = client.post(paper, {"action": "enter", f"entry-q{question.pk}": yes.pk})
        assert response.status_code == 409  # never more than were handed out
        page = client.get(paper).content.decode()
        assert "已发放 2 张 · 已录入 2 张" in page
        assert "第 1 张（未记名）" in page and "第 2 张（未记名）" in page
        assert all(entry.elector is None for entry in PaperEntry.objects.filter(vote=vote))

        login(client, town.checker)
        first = PaperEntry.objects.filter(vote=vote).order_by("pk").first()
        response = client.post(
            paper, {"action": "confirm", "entry": first.pk, f"confirm-q{question.pk}": yes.pk}
        )
        assert response.status_code == 302
        assert PaperEntry.objects.filter(vote=vote).count() == 1
        assert Participation.objects.filter(vote=vote).count() == 2  # the hand-out was the participation
        assert "已发放 2 张 · 已录入 2 张" in client.get(paper).content.decode()


def test_a_proxy_authorisation_is_shown_only_to_those_who_count(client, town, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    with clock.frozen(NOW):
        vote = residents_vote(town, secret=True)
        zhao = Elector.objects.get(vote=vote, name="赵六")
        votes.hand_out_paper_ballot(
            town.clerk, vote, elector=zhao, proxy_name="赵小六", proxy_authorisation=png()
        )
        attachment = Participation.objects.get(vote=vote).proxy_authorisation
        url = reverse("deliberation:attachment", args=[attachment.pk])
        assert login(client, town.checker).get(url).status_code == 200
        assert login(client, town.leader).get(url).status_code == 404  # sees the vote, not the paper
        assert login(client, town.outsider_staff).get(url).status_code == 404


def test_a_meetings_result_shows_who_was_present(client, town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, days=3)
        matters.sign_in(town.clerk, vote, Elector.objects.get(vote=vote, name="赵六"))
        cast(vote, town.users["zhang"], "yes")
        travel.advance(days=4)
        votes.close_vote(town.clerk, vote)
        login(client, town.clerk)
        page = client.get(reverse("deliberation:vote", args=[vote.pk])).content.decode()
    assert re.search(r'data-testid="present">2 人', page)


def test_a_matter_whose_vote_failed_can_be_closed_early(client, town):
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.FOUR_TWO, upto=("propose", "discuss"), title="村集体资金使用")
        vote = new_vote(
            town,
            matter,
            VoteRule.PARTY_MEMBERS,
            title="党员大会审议",
            step="review",
            days=3,
            questions=[{"text": "是否同意提交村民会议", "kind": "yes_no"}],
        )
        votes.open_vote(town.clerk, vote)
        cast(vote, town.users["sun"], "no")
        travel.advance(days=4)
        votes.close_vote(town.clerk, vote)
        matters.record_step(town.clerk, matter, code="review", held_on=dt.date(2026, 11, 6))
        login(client, town.clerk)
        url = reverse("deliberation:matter", args=[matter.pk])
        page = client.get(url).content.decode()
        assert 'data-testid="vote-failed"' in page and 'id="close-matter"' in page
        assert 'id="record-step"' not in page  # the decision cannot follow a review that failed
        assert client.post(reverse("deliberation:matter_close", args=[matter.pk])).status_code == 302
    matter.refresh_from_db()
    assert matter.status == "closed" and "未获通过" in matter.outcome


def test_attachments_are_served_only_within_scope(client, town, tmp_path, settings):
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buffer = BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    with clock.frozen(NOW):
        matter = matters.create_matter(
            town.clerk, region=town.tree.community_a, title="协商停车", process=Process.CONSULTATION
        )
        login(client, town.clerk)
        photo = SimpleUploadedFile("meeting.png", buffer.getvalue(), content_type="image/png")
        response = client.post(
            reverse("deliberation:record_step", args=[matter.pk, "prepare"]),
            {"held_on": TODAY, "participants": "居民、物业", "photos": [photo]},
        )
        assert response.status_code == 302
        attachment = MatterStep.objects.get(matter=matter).attachments.get()
        url = reverse("deliberation:attachment", args=[attachment.pk])
        assert client.get(url).status_code == 200
        login(client, town.outsider_staff)
        assert client.get(url).status_code == 404


def test_consultation_tasks_and_closing_a_complete_matter(client, town):
    with clock.frozen(NOW):
        matter = matters.create_matter(
            town.clerk, region=town.tree.community_a, title="协商停车", process=Process.CONSULTATION
        )
        login(client, town.clerk)
        url = reverse("deliberation:matter", args=[matter.pk])
        step_url = reverse("deliberation:record_step", args=[matter.pk, "prepare"])
        client.post(step_url, {"held_on": TODAY, "minutes": "确定参与方"})
        assert 'name="parties"' in client.get(url).content.decode()  # the consultation names its parties
        consult = reverse("deliberation:record_step", args=[matter.pk, "consult"])
        refused = client.post(consult, {"held_on": TODAY, "minutes": "召开会议", "parties": ["property"]})
        assert refused.status_code == 400 and "至少2类参与方" in refused.content.decode()
        client.post(consult, {"held_on": TODAY, "minutes": "召开会议", "parties": ["residents", "property"]})
        assert "居民（村民）代表、物业服务企业" in client.get(url).content.decode()
        client.post(
            reverse("deliberation:record_step", args=[matter.pk, "outcome"]),
            {"held_on": TODAY, "minutes": "划定临时车位"},
        )
        client.post(
            reverse("deliberation:task_add", args=[matter.pk]), {"title": "施划车位", "owner": "物业公司"}
        )
        task = matter.tasks.get()
        assert 'id="close-matter"' in client.get(url).content.decode()
        client.post(reverse("deliberation:task_done", args=[task.pk]), {"note": "已施划"})
        client.post(reverse("deliberation:matter_close", args=[matter.pk]))
    task.refresh_from_db()
    matter.refresh_from_db()
    assert task.done_on == dt.date(2026, 11, 2) and matter.outcome == "划定临时车位"
    assert matter.status == "closed"


def test_leader_sees_pages_without_actions(client, town):
    with clock.frozen(NOW):
        vote = owners_vote(town)
        matter = vote.matter
        login(client, town.leader)
        page = client.get(reverse("deliberation:vote", args=[vote.pk])).content.decode()
        assert 'id="close-vote"' not in page and 'id="paper-link"' not in page
        assert (
            'id="step-form"'
            not in client.get(reverse("deliberation:matter", args=[matter.pk])).content.decode()
        )
        assert client.post(reverse("deliberation:vote_close", args=[vote.pk])).status_code == 302
    vote.refresh_from_db()
    assert vote.status == VoteStatus.OPEN


def test_electors_are_adjusted_with_a_reason_and_sign_in_counts(client, town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        login(client, town.clerk)
        url = reverse("deliberation:electors", args=[vote.pk])
        page = client.get(url, {"q": "张小宝"}).content.decode()
        assert 'data-testid="add-elector"' in page
        client.post(url, {"action": "add", "resident": town.child.pk, "reason": ""})
        assert not Elector.objects.get(vote=vote, resident=town.child).eligible  # no reason, no change
        client.post(url, {"action": "add", "resident": town.child.pk, "reason": "经村民会议同意"})
        child = Elector.objects.get(vote=vote, resident=town.child)
        assert child.eligible and child.change_reason == "经村民会议同意"
        # someone of another community cannot be found or added
        assert (
            client.post(url, {"action": "add", "resident": town.neighbour.pk, "reason": "x"}).status_code
            == 404
        )
        assert client.post(url, {"action": "remove", "elector": "abc", "reason": "x"}).status_code == 404
        client.post(url, {"action": "remove", "elector": child.pk, "reason": "误加"})
        child.refresh_from_db()
        assert not child.eligible

        sign_in = reverse("deliberation:sign_in", args=[vote.pk])
        zhang = Elector.objects.get(vote=vote, resident=town.zhang)
        client.post(sign_in, {"elector": zhang.pk})
        client.post(sign_in, {"elector": zhang.pk})  # twice is refused, still one
        page = client.get(sign_in).content.decode()
        eligible = Elector.objects.filter(vote=vote, eligible=True).count()
        assert f"已签到 1 / {eligible} 人" in page
        detail = client.get(reverse("deliberation:vote", args=[vote.pk])).content.decode()
        assert 'data-testid="quorum"' in detail and f"1 / {eligible}" in detail


def test_ballot_paper_and_result_notice_are_pdfs(client, town):
    with clock.frozen(NOW) as travel:
        vote = owners_vote(town)
        login(client, town.clerk)
        response = client.get(reverse("deliberation:ballot_pdf", args=[vote.pk]))
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        assert client.get(reverse("deliberation:result_pdf", args=[vote.pk])).status_code == 404  # not closed
        travel.advance(days=16)
        votes.close_vote(town.clerk, vote)
        response = client.get(reverse("deliberation:result_pdf", args=[vote.pk]))
        assert response.status_code == 200 and response.content.startswith(b"%PDF")
