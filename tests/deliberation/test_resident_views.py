"""Residents' deliberation pages (议事厅): support, the phone ballot, receipts and results — each resident
reaches only their own community, votes once, only when listed, only while open, and never sees
anyone else's choice."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from gongzhi.core import clock
from gongzhi.core.principals import SYSTEM
from gongzhi.deliberation.models import (
    Ballot,
    Elector,
    Participation,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Support,
    VoteRule,
)
from gongzhi.deliberation.services import proposals, votes
from gongzhi.people import services as people
from tests.deliberation.conftest import owners_vote, residents_vote

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

MONDAY = "2026-11-02T09:00+08:00"


@pytest.fixture
def now():
    with clock.frozen(MONDAY) as travel:
        yield travel


def text(response) -> str:
    return response.content.decode()


def login(client, town, name: str):
    client.force_login(town.users[name])
    return client


def jpeg() -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (40, 160, 60)).save(buf, "JPEG")
    return SimpleUploadedFile("done.jpg", buf.getvalue(), content_type="image/jpeg")


def fund_vote(town, **options):
    """An open owners' vote of 阳光小区 on raising the maintenance fund (sun owns nothing there)."""
    return owners_vote(town, title="筹集电梯维修资金", **options)


def option(vote, code: str) -> tuple[str, int]:
    question = vote.questions.get()
    return f"q{question.pk}", question.options.get(code=code).pk


def cast(client, vote, code: str = "yes", **extra):
    field, value = option(vote, code)
    return client.post(reverse("deliberation:resident_vote", args=[vote.pk]), {field: value, **extra})


def receipt_on_page(response) -> str:
    match = re.search(r'id="receipt-code"[^>]*>([A-Z0-9-]+)<', text(response))
    return match.group(1) if match else ""


def wish(town) -> Proposal:
    return proposals.raise_proposal(
        town.users["zhao"], kind=ProposalKind.WISH, title="想学用智能手机", body="希望有人教我用手机挂号"
    )


# ---------------------------------------------------------------- 议事厅 and proposals


def test_home_lists_my_community_and_explains_verification(client, town, now):
    proposals.raise_proposal(
        town.users["zhang"], kind=ProposalKind.PROPOSAL, title="增设充电桩", body="电动车没地方充电"
    )
    proposals.raise_proposal(
        town.users["neighbour"], kind=ProposalKind.PROPOSAL, title="隔壁小区修路", body="路面坑洼"
    )
    vote = fund_vote(town)
    page = text(login(client, town, "zhao").get(reverse("deliberation:resident_home")))
    assert "增设充电桩" in page and "附议 0/10" in page
    assert "隔壁小区修路" not in page
    assert f'data-testid="vote-{vote.pk}"' in page and "待投票" in page and 'id="propose"' in page

    client.force_login(town.clerk)  # staff have no resident record: an explanation and no data
    page = text(client.get(reverse("deliberation:resident_home")))
    assert "实名认证" in page and "增设充电桩" not in page and "筹集电梯维修资金" not in page


def test_propose_raises_in_my_community(client, town, now):
    login(client, town, "wang")
    response = client.post(
        reverse("deliberation:resident_propose"),
        {"kind": ProposalKind.WISH, "title": "楼道装扶手", "body": "老人上下楼不方便"},
    )
    item = Proposal.objects.get(title="楼道装扶手")
    assert response.status_code == 302 and response.url == reverse(
        "deliberation:resident_proposal", args=[item.pk]
    )
    assert item.region == town.tree.community_a and item.kind == ProposalKind.WISH

    response = client.post(
        reverse("deliberation:resident_propose"), {"kind": "proposal", "title": "", "body": ""}
    )
    assert response.status_code == 400 and Proposal.objects.count() == 1

    client.force_login(town.clerk)
    response = client.post(
        reverse("deliberation:resident_propose"), {"kind": "proposal", "title": "员工提议", "body": "内容"}
    )
    assert response.status_code == 403 and Proposal.objects.count() == 1


def test_support_twice_gives_clear_error_and_one_support(client, town, now):
    item = proposals.raise_proposal(
        town.users["zhang"], kind=ProposalKind.PROPOSAL, title="增设充电桩", body="电动车没地方充电"
    )
    url = reverse("deliberation:resident_proposal", args=[item.pk])
    login(client, town, "wang")
    assert 'id="support"' in text(client.get(url))

    first = client.post(url, {"action": "support"}, follow=True)
    assert "附议成功" in text(first) and "还差9人附议" in text(first)
    assert 'id="support"' not in text(first) and "已附议" in text(first) and "1/10" in text(first)

    second = client.post(url, {"action": "support"})
    assert second.status_code == 409
    assert "您已经附议过这条提议" in text(second)
    assert Support.objects.filter(proposal=item).count() == 1
    item.refresh_from_db()
    assert item.support_count == 1


def test_reaching_the_threshold_says_it_is_on_the_agenda(client, town, now):
    proposals.set_agenda_threshold(town.clerk, town.tree.community_a, 2)
    item = proposals.raise_proposal(
        town.users["zhang"], kind=ProposalKind.PROPOSAL, title="增设充电桩", body="电动车没地方充电"
    )
    url = reverse("deliberation:resident_proposal", args=[item.pk])
    login(client, town, "wang").post(url, {"action": "support"})
    page = text(login(client, town, "li").post(url, {"action": "support"}, follow=True))
    assert "已列入议程" in page and "2/2" in page and 'data-testid="on-agenda"' in page
    item.refresh_from_db()
    assert item.status == ProposalStatus.AGENDA


def test_public_answer_is_shown(client, town, now):
    item = proposals.raise_proposal(
        town.users["zhang"], kind=ProposalKind.PROPOSAL, title="夜间施工扰民", body="请协调"
    )
    proposals.answer(town.clerk, item, decision=ProposalStatus.DECLINED, text="属于城管执法事项，已转交")
    page = text(login(client, town, "li").get(reverse("deliberation:resident_proposal", args=[item.pk])))
    assert "不予采纳" in page and "属于城管执法事项，已转交" in page and 'id="support"' not in page


def test_claim_and_fulfil_a_micro_wish(client, town, now):
    item = wish(town)
    url = reverse("deliberation:resident_proposal", args=[item.pk])
    login(client, town, "sun")
    response = client.post(url, {"action": "claim", "claimant": ""})
    assert response.status_code == 400 and "请填写认领人或认领单位" in text(response)
    client.post(url, {"action": "claim", "claimant": "青年志愿服务队"})
    item.refresh_from_db()
    assert item.status == ProposalStatus.CLAIMED and item.claimed_by == town.users["sun"]

    other = login(client, town, "li").get(url)  # only the claimant marks it fulfilled
    assert "青年志愿服务队" in text(other) and 'id="fulfil"' not in text(other)
    assert client.post(url, {"action": "fulfil", "photo": jpeg()}).status_code == 403

    login(client, town, "sun")
    assert 'id="fulfil"' in text(client.get(url))
    client.post(url, {"action": "fulfil", "photo": jpeg(), "note": "已教会挂号"})
    item.refresh_from_db()
    assert item.status == ProposalStatus.FULFILLED and item.fulfilment_photo is not None
    photo = login(client, town, "zhang").get(reverse("deliberation:resident_proposal_photo", args=[item.pk]))
    assert photo.status_code == 200
    neighbour = login(client, town, "neighbour").get(
        reverse("deliberation:resident_proposal_photo", args=[item.pk])
    )
    assert neighbour.status_code == 404


def test_neighbour_gets_404_for_another_communitys_pages(client, town, now):
    item = proposals.raise_proposal(
        town.users["zhang"], kind=ProposalKind.PROPOSAL, title="增设充电桩", body="电动车没地方充电"
    )
    vote = fund_vote(town)
    login(client, town, "neighbour")
    proposal_url = reverse("deliberation:resident_proposal", args=[item.pk])
    vote_url = reverse("deliberation:resident_vote", args=[vote.pk])
    assert client.get(proposal_url).status_code == 404
    assert client.post(proposal_url, {"action": "support"}).status_code == 404
    assert client.get(reverse("deliberation:resident_matter", args=[vote.matter.pk])).status_code == 404
    assert client.get(vote_url).status_code == 404
    assert cast(client, vote).status_code == 404
    assert not Support.objects.exists() and not Participation.objects.exists()
    home = text(client.get(reverse("deliberation:resident_home")))
    assert "增设充电桩" not in home and "筹集电梯维修资金" not in home


def test_a_draft_vote_does_not_exist_for_residents(client, town, now):
    draft = owners_vote(town, rule=VoteRule.OWNERS, title="加装门禁系统", open_=False)
    matter = draft.matter
    login(client, town, "zhang")
    assert client.get(reverse("deliberation:resident_vote", args=[draft.pk])).status_code == 404
    assert "加装门禁系统" not in text(client.get(reverse("deliberation:resident_matter", args=[matter.pk])))


# ---------------------------------------------------------------- the ballot


def test_vote_on_the_phone_once_with_a_receipt_shown_once(client, town, now):
    vote = fund_vote(town)
    url = reverse("deliberation:resident_vote", args=[vote.pk])
    login(client, town, "zhang")
    page = text(client.get(url))
    assert 'id="cast"' in page and "同意" in page and "弃权" in page
    assert "四分之三以上" in page and "三分之二以上" in page  # what counts, in plain words
    assert "2026-11-17 09:00" in page  # the deadline

    response = cast(client, vote, "yes")
    assert response.status_code == 302 and response.url == url
    shown = client.get(url)
    code = receipt_on_page(shown)
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert "已投票" in text(shown) and 'id="cast"' not in text(shown)
    assert receipt_on_page(client.get(url)) == ""  # shown once only
    assert votes.receipt_ballots(vote, code)[0]["choices"] == ["同意"]

    again = cast(client, vote, "no")
    assert again.status_code == 409 and "已经投过票" in text(again)
    assert Participation.objects.filter(vote=vote).count() == 1 and vote.ballots.count() == 1
    home = text(client.get(reverse("deliberation:resident_home")))
    assert f'data-testid="vote-{vote.pk}"' in home and "已投票" in home


def test_a_co_owner_cannot_vote_again_for_the_same_unit(client, town, now):
    vote = fund_vote(town)
    cast(login(client, town, "wang"), vote, "yes")
    response = cast(login(client, town, "li"), vote, "no")
    assert response.status_code == 409 and "已经投过票" in text(response)
    assert Participation.objects.filter(vote=vote).count() == 1


def test_change_allowed_until_closing_keeps_the_old_ballot_as_replaced(client, town, now):
    vote = fund_vote(town, allow_change=True)
    url = reverse("deliberation:resident_vote", args=[vote.pk])
    login(client, town, "zhao")
    cast(client, vote, "yes")
    first = receipt_on_page(client.get(url))
    page = text(client.get(url))
    assert "已投票" in page and "修改投票" in page and 'id="cast"' in page
    cast(client, vote, "no")
    second = receipt_on_page(client.get(url))
    assert votes.receipt_ballots(vote, first)[0]["counted"] is False
    assert votes.receipt_ballots(vote, second)[0]["choices"] == ["不同意"]
    assert Participation.objects.filter(vote=vote).count() == 1


def test_outside_the_electorate_no_ballot_and_refused(client, town, now):
    vote = fund_vote(town)
    url = reverse("deliberation:resident_vote", args=[vote.pk])
    login(client, town, "sun")
    page = text(client.get(url))
    assert 'id="cast"' not in page and 'data-testid="not-listed"' in page
    assert "您名下没有该小区的房屋" in page
    response = cast(client, vote, "yes")
    assert response.status_code == 403 and "不在本次表决的名单中" in text(response)
    assert not Participation.objects.filter(vote=vote).exists() and not vote.ballots.exists()


def test_not_listed_shows_my_frozen_reason(client, town, now):
    vote = residents_vote(town)
    elector = Elector.objects.get(vote=vote, resident=town.zhao)
    votes.remove_elector(town.clerk, elector, reason="已迁出本社区")
    page = text(login(client, town, "zhao").get(reverse("deliberation:resident_vote", args=[vote.pk])))
    assert "您不在本次表决的名单中：工作人员移出" in page and 'id="cast"' not in page


def test_after_closing_the_ballot_is_refused_and_the_result_shown(client, town, now):
    vote = fund_vote(town)
    url = reverse("deliberation:resident_vote", args=[vote.pk])
    cast(login(client, town, "zhang"), vote, "yes")
    cast(login(client, town, "li"), vote, "yes")
    now.advance(days=16)
    late = cast(login(client, town, "zhao"), vote, "no")  # past the deadline, not yet closed
    assert late.status_code == 409 and "投票已截止" in text(late)
    votes.close_vote(town.clerk, vote)

    response = cast(client, vote, "no")
    assert response.status_code == 409 and "表决已经结束" in text(response)
    assert Participation.objects.filter(vote=vote).count() == 2
    page = text(client.get(url))
    assert 'id="cast"' not in page and 'data-testid="vote-result"' in page
    # 300 of 500 m² and 2 of 4 owners took part: under 2/3 on both, so the vote is invalid
    assert "3/5" in page and "1/2" in page and "≥ 2/3" in page and "表决无效" in page
    home = text(client.get(reverse("deliberation:resident_home")))
    assert "表决结果" in home and "表决无效" in home
    matter_page = text(client.get(reverse("deliberation:resident_matter", args=[vote.matter.pk])))
    assert "会议公告已张贴" in matter_page and "3/5" in matter_page


def test_a_secret_vote_never_shows_who_chose_what(client, town, now):
    vote = residents_vote(town, secret=True, days=7)
    url = reverse("deliberation:resident_vote", args=[vote.pk])
    cast(login(client, town, "zhang"), vote, "yes")
    code = receipt_on_page(client.get(url))
    cast(login(client, town, "wang"), vote, "no")
    assert not Ballot.objects.filter(vote=vote, elector__isnull=False).exists()

    names = [
        town.zhang.name,
        town.wang.name,
        town.users["zhang"].display_name,
        town.users["wang"].display_name,
    ]
    pages = [
        client.get(url),
        client.get(reverse("deliberation:resident_home")),
        client.get(reverse("deliberation:resident_matter", args=[vote.matter.pk])),
    ]
    login(client, town, "zhang")
    own = text(client.get(url))
    assert "无记名投票" in own and "已投票" in own
    # no options at all once voted: not even one's own choice is shown without the receipt code
    assert 'id="cast"' not in own and "弃权" not in own
    now.advance(days=8)
    votes.close_vote(town.clerk, vote)
    pages += [client.get(url), client.get(reverse("deliberation:resident_matter", args=[vote.matter.pk]))]
    for page in map(text, pages):
        body = page.split("</header>", 1)[1]  # the top bar names whoever is logged in
        assert not [name for name in names if name in body]
    closed = text(pages[-2])
    assert 'data-testid="vote-result"' in closed
    anonymous = client.__class__()
    found = text(anonymous.post(reverse("deliberation:receipt"), {"vote": vote.pk, "code": code}))
    assert "同意" in found and "不同意" not in found


def test_receipt_check_shows_the_choice_only_for_the_right_code(client, town, now):
    vote = fund_vote(town)
    url = reverse("deliberation:resident_vote", args=[vote.pk])
    cast(login(client, town, "zhao"), vote, "no")
    code = receipt_on_page(client.get(url))
    client.logout()  # anyone may check, without logging in
    receipt_url = reverse("deliberation:receipt")
    assert client.get(receipt_url).status_code == 200

    found = text(client.post(receipt_url, {"vote": vote.pk, "code": code.lower().replace("-", "")}))
    assert 'data-testid="receipt-result"' in found and "不同意" in found and "已计入" in found
    ballot = vote.ballots.get()
    assert ballot.hash in found and "筹集电梯维修资金" in found

    for wrong in ({"vote": vote.pk, "code": "AAAA-BBBB-CCCC"}, {"vote": vote.pk + 99, "code": code}):
        page = text(client.post(receipt_url, wrong))
        assert 'data-testid="receipt-not-found"' in page
        assert "不同意" not in page and "筹集电梯维修资金" not in page and ballot.hash not in page


def test_an_owner_in_two_groups_chooses_which_to_vote_for(client, town, now):
    people.add_ownership(SYSTEM, town.wang, town.units["底商"], share=Decimal(1))  # and co-owns 201 with li
    vote = fund_vote(town)
    url = reverse("deliberation:resident_vote", args=[vote.pk])
    login(client, town, "wang")
    page = text(client.get(url))
    assert "以哪个业主身份投票" in page and "1栋201" in page and "1栋底商" in page
    unchosen = cast(client, vote, "yes")
    assert unchosen.status_code == 400 and "请先选择以哪个业主身份投票" in text(unchosen)
    assert not Participation.objects.filter(vote=vote).exists()
    shop = Elector.objects.get(vote=vote, units="1栋底商")
    assert cast(client, vote, "yes", elector=shop.pk).status_code == 302
    page = text(client.get(url))
    assert "以哪个业主身份投票" not in page and 'id="cast"' in page  # 201 is left
    assert cast(client, vote, "no").status_code == 302
    voted = set(Participation.objects.filter(vote=vote).values_list("elector__units", flat=True))
    assert voted == {"1栋底商", "1栋201"}
    assert cast(client, vote, "no").status_code == 409
