"""API contract of /api/v1/deliberation/…: proposals, matters and their steps, votes from opening to a
result with exact fractions; nobody votes twice, outside the electorate or after closing, and nobody
learns what anyone else chose."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gongzhi.core import clock
from gongzhi.core import services as core_services
from gongzhi.core.principals import SYSTEM
from gongzhi.deliberation.models import Ballot, Participation, Process, Vote, VoteRule
from gongzhi.deliberation.services import proposals

BASE = "/api/v1/deliberation"
START = "2026-11-02T09:00+08:00"


@pytest.fixture
def travel(db):
    with clock.frozen(START) as travel:
        yield travel


def post(client, url, body=None, **extra):
    return client.post(f"{BASE}{url}", json.dumps(body or {}), content_type="application/json", **extra)


def get(client, url, **extra):
    return client.get(f"{BASE}{url}", **extra)


def as_(client, user):
    client.logout()
    client.force_login(user)
    return client


def opened(client, matter: int, **body) -> dict:
    """The vote `body` of the matter, created and opened by the signed-in clerk: its ids, the options
    of its only question by code, and its electors by name."""
    response = post(client, f"/matters/{matter}/votes", body)
    assert response.status_code == 201, response.content
    vote = response.json()
    assert vote["status"] == "draft"
    response = post(client, f"/votes/{vote['id']}/open")
    assert response.status_code == 200, response.content
    vote = response.json()
    question = vote["questions"][0]
    codes = {o["code"]: o["id"] for o in question["options"]}
    electors = {e["name"]: e["id"] for e in get(client, f"/votes/{vote['id']}/electors").json()}
    return {"matter": matter, "vote": vote["id"], "q": str(question["id"]), "electors": electors, **codes}


def owners_vote(client, town, *, secret=False) -> dict:
    """Through the API as the community's clerk: matter, announcement, an owners' vote opened."""
    as_(client, town.clerk)
    response = post(
        client,
        "/matters",
        {
            "region": town.tree.community_a.code,
            "title": "增设电梯",
            "process": Process.OWNERS_ASSEMBLY,
            "compound": "阳光小区",
        },
    )
    assert response.status_code == 201, response.content
    matter = response.json()
    assert [s["code"] for s in matter["steps"]] == ["announce", "decide", "publish_decision"]
    assert matter["steps"][0]["is_next"] and matter["steps"][1]["rules"] == ["owners", "owners_special"]
    response = post(
        client,
        f"/matters/{matter['id']}/steps",
        {"code": "announce", "held_on": "2026-11-02", "place": "小区广场", "minutes": "公告十五日"},
    )
    assert response.status_code == 201, response.content
    return opened(
        client,
        matter["id"],
        title="筹集维修资金",
        rule=VoteRule.OWNERS_SPECIAL,
        closes_at="2026-11-17T18:00:00+08:00",
        secret=secret,
        questions=[{"text": "是否同意筹集维修资金", "kind": "yes_no"}],
    )


def residents_vote(client, town, *, secret=False) -> dict:
    """Through the API as the clerk: a residents' meeting convened and its vote opened (an owners'
    vote is always by name, so a secret vote is a meeting's)."""
    as_(client, town.clerk)
    matter = post(
        client,
        "/matters",
        {"region": town.tree.community_a.code, "title": "居民公约修订", "process": Process.RESIDENTS_MEETING},
    ).json()
    response = post(client, f"/matters/{matter['id']}/steps", {"code": "convene", "held_on": "2026-11-02"})
    assert response.status_code == 201, response.content
    return opened(
        client,
        matter["id"],
        title="通过居民公约修订稿",
        rule=VoteRule.RESIDENTS,
        closes_at="2026-11-09T18:00:00+08:00",
        secret=secret,
        questions=[{"text": "是否同意修订稿", "kind": "yes_no"}],
    )


def ballot(data, option, **extra) -> dict:
    return {"choices": {data["q"]: [data[option]]}, **extra}


# ---------------------------------------------------------------- the whole owners' vote


def test_an_owners_vote_from_opening_to_an_exact_result(client, town, travel):
    data = owners_vote(client, town)
    vote = data["vote"]

    electors = get(client, f"/votes/{vote}/electors").json()
    assert [(e["name"], e["area"], e["eligible"]) for e in electors] == [
        ("张三", "180.00", True),
        ("王芳、李明", "120.00", True),
        ("赵六", "60.00", True),
        ("建设单位（未售出或未交付的房屋）", "140.00", True),
    ]
    assert all(e["reason"] for e in electors)

    as_(client, town.users["zhang"])
    response = post(client, f"/votes/{vote}/ballots", ballot(data, "yes"))
    assert response.status_code == 201, response.content
    receipt = response.json()["receipt"]
    mine = get(client, f"/votes/{vote}").json()["me"]
    assert (mine["may_vote"], mine["voted"], mine["channel"]) == (True, True, "online")
    as_(client, town.users["li"])
    assert post(client, f"/votes/{vote}/ballots", ballot(data, "yes")).status_code == 201

    # Paper ballot of 赵六: entered by one member of staff, confirmed by another typing it again.
    zhao = next(e["id"] for e in electors if e["name"] == "赵六")
    as_(client, town.clerk)
    response = post(client, f"/votes/{vote}/paper", {"elector": zhao, **ballot(data, "no")})
    assert response.status_code == 201, response.content
    entry = response.json()
    assert "choices" not in entry  # the second person must not copy the first entry
    pending = get(client, f"/votes/{vote}").json()["pending_paper"]
    assert [p["id"] for p in pending] == [entry["id"]] and "choices" not in pending[0]
    assert post(client, f"/paper/{entry['id']}/confirm", ballot(data, "no")).status_code == 403
    as_(client, town.checker)
    response = post(client, f"/paper/{entry['id']}/confirm", ballot(data, "yes"))
    assert (response.status_code, response.json()["code"]) == (409, "ballot.entries_differ")
    response = post(client, f"/paper/{entry['id']}/confirm", ballot(data, "no"))
    assert response.status_code == 201 and response.json()["receipt"]

    turnout = get(client, f"/votes/{vote}").json()["turnout"]
    assert (turnout["electorate"], turnout["voted"], turnout["voted_area"]) == (4, 3, "360.00")
    response = get(client, f"/votes/{vote}/result")
    assert (response.status_code, response.json()["code"]) == (409, "vote.result_pending")

    travel.advance(days=16)
    response = post(client, f"/votes/{vote}/close")
    assert response.status_code == 200, response.content
    assert response.json()["participants"] == 3

    as_(client, town.users["wang"])  # any resident of the community reads the result
    result = get(client, f"/votes/{vote}/result").json()
    assert (result["electorate"], result["electorate_area"]) == (4, "500.00")
    assert (result["participants"], result["participant_area"]) == (3, "360.00")
    outcome = result["questions"][0]
    # 360 of 500 m² and 3 of 4 owners took part (≥ 2/3 each); yes: 300 of 360 m² (≥ 3/4) but 2 of
    # 3 owners (< 3/4), so raising the fund fails on headcount.
    assert (outcome["valid"], outcome["passed"]) == (True, False)
    assert [(t["fraction"], t["requirement"], t["met"]) for t in outcome["thresholds"]] == [
        ("18/25", "≥ 2/3", True),
        ("3/4", "≥ 2/3", True),
        ("5/6", "≥ 3/4", True),
        ("2/3", "≥ 3/4", False),
    ]
    assert {o["code"]: (o["count"], o["area"]) for o in outcome["options"]} == {
        "yes": (2, "300.00"),
        "no": (1, "60.00"),
        "abstain": (0, "0.00"),
    }

    as_(client, town.users["zhang"])
    response = post(client, f"/votes/{vote}/receipt", {"code": receipt.lower()})
    assert response.status_code == 200, response.content
    assert [(b["choices"], b["counted"]) for b in response.json()] == [(["同意"], True)]
    response = post(client, f"/votes/{vote}/receipt", {"code": "AAAA-BBBB-CCCC"})
    assert (response.status_code, response.json()["code"]) == (404, "vote.unknown_receipt")

    matter = get(client, f"/matters/{data['matter']}").json()
    assert [(v["id"], v["status"]) for v in matter["votes"]] == [(vote, "closed")]
    assert matter["steps"][0]["record"]["place"] == "小区广场"


# ---------------------------------------------------------------- nobody votes twice, outside, or late


def test_a_second_ballot_is_refused_and_only_one_participation_is_kept(client, town, travel):
    data = owners_vote(client, town)
    as_(client, town.users["zhang"])
    assert post(client, f"/votes/{data['vote']}/ballots", ballot(data, "yes")).status_code == 201
    response = post(client, f"/votes/{data['vote']}/ballots", ballot(data, "no"))
    assert (response.status_code, response.json()["code"]) == (409, "vote.already_voted")
    as_(client, town.users["wang"])  # co-owner of 李明's unit votes for the same owner group as him
    assert post(client, f"/votes/{data['vote']}/ballots", ballot(data, "no")).status_code == 201
    as_(client, town.users["li"])
    response = post(client, f"/votes/{data['vote']}/ballots", ballot(data, "yes"))
    assert (response.status_code, response.json()["code"]) == (409, "vote.already_voted")
    assert Participation.objects.filter(vote_id=data["vote"]).count() == 2
    assert Ballot.objects.filter(vote_id=data["vote"]).count() == 2


def test_someone_outside_the_electorate_cannot_vote(client, town, travel):
    data = owners_vote(client, town)
    as_(client, town.users["sun"])  # a tenant: lives here, owns nothing
    assert get(client, f"/votes/{data['vote']}").json()["me"]["may_vote"] is False
    response = post(client, f"/votes/{data['vote']}/ballots", ballot(data, "yes"))
    assert (response.status_code, response.json()["code"]) == (403, "vote.not_in_electorate")
    as_(client, town.users["zhang"])  # an elector id that is not one of theirs
    response = post(client, f"/votes/{data['vote']}/ballots", ballot(data, "yes", elector=999_999))
    assert (response.status_code, response.json()["code"]) == (403, "vote.not_in_electorate")
    assert not Participation.objects.filter(vote_id=data["vote"]).exists()


def test_no_ballot_after_the_deadline_or_after_closing(client, town, travel):
    data = owners_vote(client, town)
    travel.advance(days=16)
    as_(client, town.users["zhang"])
    response = post(client, f"/votes/{data['vote']}/ballots", ballot(data, "yes"))
    assert (response.status_code, response.json()["code"]) == (409, "vote.deadline_passed")
    as_(client, town.clerk)
    assert post(client, f"/votes/{data['vote']}/close").status_code == 200
    as_(client, town.users["zhang"])
    response = post(client, f"/votes/{data['vote']}/ballots", ballot(data, "yes"))
    assert (response.status_code, response.json()["code"]) == (409, "vote.closed")
    as_(client, town.clerk)
    assert post(client, f"/votes/{data['vote']}/close").status_code == 409
    assert not Participation.objects.filter(vote_id=data["vote"]).exists()


# ---------------------------------------------------------------- scope and secrecy


def test_another_community_sees_nothing_of_the_vote(client, town, travel):
    data = owners_vote(client, town)
    vote, matter = data["vote"], data["matter"]
    as_(client, town.users["neighbour"])
    assert get(client, f"/votes/{vote}").status_code == 404
    response = post(client, f"/votes/{vote}/ballots", ballot(data, "yes"))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert get(client, f"/matters/{matter}").status_code == 404
    assert get(client, "/matters").json() == []

    as_(client, town.outsider_staff)
    assert get(client, f"/votes/{vote}").status_code == 404
    assert get(client, f"/votes/{vote}/electors").status_code == 404
    assert post(client, f"/votes/{vote}/close").status_code == 404
    assert get(client, f"/matters/{matter}").status_code == 404
    response = post(
        client, "/matters", {"region": town.tree.community_a.code, "title": "x", "process": "owners"}
    )
    assert (response.status_code, response.json()["code"]) == (404, "deliberation.unknown_region")
    assert not Participation.objects.filter(vote_id=vote).exists()
    assert Vote.objects.get(pk=vote).status == "open"


def test_a_secret_vote_never_shows_a_resident_what_anyone_chose(client, town, travel):
    data = residents_vote(client, town, secret=True)
    vote = data["vote"]
    as_(client, town.users["zhang"])
    assert post(client, f"/votes/{vote}/ballots", ballot(data, "yes")).status_code == 201
    as_(client, town.users["zhao"])
    assert post(client, f"/votes/{vote}/ballots", ballot(data, "no")).status_code == 201
    assert not Ballot.objects.filter(vote_id=vote, elector__isnull=False).exists()

    seen = {}
    for name in ("zhang", "zhao", "wang"):
        as_(client, town.users[name])
        body = get(client, f"/votes/{vote}").json()
        assert body["turnout"] is None and body["pending_paper"] == []
        seen[name] = body
        response = get(client, f"/votes/{vote}/electors")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    # What a yes-voter and a no-voter are shown is the same, apart from their own names.
    for body in seen.values():
        body["me"]["electors"] = []
    assert seen["zhang"] == seen["zhao"]
    assert seen["zhang"]["me"]["voted"] is True and seen["wang"]["me"]["voted"] is False

    as_(client, town.clerk)  # staff see who voted, never what
    electors = get(client, f"/votes/{vote}/electors").json()
    assert {e["name"]: e["voted"] for e in electors if e["voted"]} == {"张三": True, "赵六": True}
    assert set(electors[0]) == {
        "id",
        "name",
        "units",
        "area",
        "eligible",
        "reason",
        "change_reason",
        "voted",
        "channel",
        "signed_in",
    }


# ---------------------------------------------------------------- proposals


def test_residents_raise_and_support_a_proposal_until_it_reaches_the_agenda(client, town, travel):
    proposals.set_agenda_threshold(SYSTEM, town.tree.community_a, 2)
    as_(client, town.users["zhang"])
    response = post(
        client, "/proposals", {"kind": "proposal", "title": "增设充电桩", "body": "电动车无处充电"}
    )
    assert response.status_code == 201, response.content
    proposal = response.json()
    assert (proposal["status"], proposal["supports_needed"], proposal["region"]["code"]) == (
        "open",
        2,
        town.tree.community_a.code,
    )
    as_(client, town.users["wang"])
    response = post(client, f"/proposals/{proposal['id']}/support")
    assert response.json()["supported_by_me"] is True
    response = post(client, f"/proposals/{proposal['id']}/support")
    assert (response.status_code, response.json()["code"]) == (409, "proposal.already_supported")
    as_(client, town.users["neighbour"])
    assert post(client, f"/proposals/{proposal['id']}/support").status_code == 404
    assert get(client, "/proposals").json() == []
    as_(client, town.users["zhao"])
    assert post(client, f"/proposals/{proposal['id']}/support").json()["status"] == "agenda"

    as_(client, town.users["li"])  # a resident cannot answer for the community
    body = {"decision": "declined", "text": "暂无场地"}
    assert post(client, f"/proposals/{proposal['id']}/answer", body).status_code == 403
    as_(client, town.clerk)
    assert [p["id"] for p in get(client, "/proposals?status=agenda").json()] == [proposal["id"]]
    response = post(client, f"/proposals/{proposal['id']}/answer", body)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["answer"]) == ("declined", "暂无场地")
    as_(client, town.users["zhang"])
    assert get(client, f"/proposals/{proposal['id']}").json()["answer"] == "暂无场地"


def test_an_api_key_reads_but_never_acts_for_a_person(client, town, travel):
    data = owners_vote(client, town)
    client.logout()
    _, token = core_services.create_api_key(
        SYSTEM, name="board", region=town.tree.street, actions=["deliberation.view", "deliberation.manage"]
    )
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert get(client, f"/votes/{data['vote']}", **headers).json()["turnout"]["electorate"] == 4
    response = post(client, f"/votes/{data['vote']}/close", **headers)
    assert (response.status_code, response.json()["code"]) == (403, "deliberation.person_required")
    assert Vote.objects.get(pk=data["vote"]).status == "open"
    assert get(client, f"/votes/{data['vote']}").status_code == 401


def test_bad_input_is_a_clear_400(client, town, travel):
    data = owners_vote(client, town)
    as_(client, town.users["zhang"])
    response = post(client, f"/votes/{data['vote']}/ballots", {"choices": {data["q"]: []}})
    assert (response.status_code, response.json()["code"]) == (400, "ballot.bad_choice")
    response = post(client, f"/votes/{data['vote']}/ballots", {"choices": {"999999": [1]}})
    assert (response.status_code, response.json()["code"]) == (400, "ballot.unknown_question")
    as_(client, town.clerk)
    response = post(
        client,
        f"/matters/{data['matter']}/steps",
        {"code": "publish_decision", "held_on": dt.date(2026, 11, 2).isoformat(), "minutes": "x"},
    )
    assert (response.status_code, response.json()["code"]) == (409, "matter.step_order")
    spec = {"title": "续聘物业", "rule": VoteRule.OWNERS, "questions": [{"text": "是否续聘"}]}
    response = post(
        client, f"/matters/{data['matter']}/votes", {**spec, "closes_at": "9999-12-31T23:00-12:00"}
    )
    assert (response.status_code, response.json()["code"]) == (400, "vote.bad_deadline")
    response = post(client, f"/matters/{data['matter']}/votes", {**spec, "closes_at": "2026-11-20T18:00"})
    assert response.json()["closes_at"] == "2026-11-20T18:00:00+08:00"  # no zone given: Beijing time
    assert not Participation.objects.filter(vote_id=data["vote"]).exists()


# ---------------------------------------------------------------- paper ballots, electorate and sign-in


def test_a_secret_votes_paper_ballots_are_handed_out_then_entered_without_a_name(client, town, travel):
    data = residents_vote(client, town, secret=True)
    vote, zhao = data["vote"], data["electors"]["赵六"]
    response = post(client, f"/votes/{vote}/hand-out", {"elector": zhao})
    assert response.status_code == 201, response.content
    assert {k: response.json()[k] for k in ("elector", "channel", "handed_out", "entered")} == {
        "elector": "赵六",
        "channel": "paper",
        "handed_out": 1,
        "entered": 0,
    }
    response = post(client, f"/votes/{vote}/hand-out", {"elector": zhao})
    assert (response.status_code, response.json()["code"]) == (409, "vote.already_voted")
    response = post(client, f"/votes/{vote}/paper", ballot(data, "yes"))
    assert (response.status_code, response.json()["code"]) == (409, "ballot.box_not_open")
    travel.to("2026-11-09T18:00+08:00")  # the deadline: hand-outs end, the box is opened
    response = post(client, f"/votes/{vote}/hand-out", {"elector": data["electors"]["李明"]})
    assert (response.status_code, response.json()["code"]) == (409, "vote.deadline_passed")
    # a secret ballot names nobody
    response = post(client, f"/votes/{vote}/paper", {"elector": zhao, **ballot(data, "yes")})
    assert (response.status_code, response.json()["code"]) == (400, "ballot.secret_unnamed")
    response = post(client, f"/votes/{vote}/paper", ballot(data, "yes"))
    assert response.status_code == 201, response.content
    entry = response.json()
    assert (entry["elector"], entry["elector_id"], entry["number"]) == (None, None, 1)
    response = post(client, f"/votes/{vote}/paper", ballot(data, "no"))
    assert (response.status_code, response.json()["code"]) == (409, "ballot.more_than_handed_out")
    as_(client, town.checker)
    assert post(client, f"/paper/{entry['id']}/confirm", ballot(data, "yes")).status_code == 201
    assert Ballot.objects.filter(vote_id=vote, elector__isnull=False).count() == 0
    assert Participation.objects.get(vote_id=vote).elector.name == "赵六"
    assert set(Ballot.objects.filter(vote_id=vote).values_list("channel", flat=True)) == {""}


def test_a_named_paper_ballot_needs_its_elector_and_a_pending_one_can_be_discarded(client, town, travel):
    data = owners_vote(client, town)
    vote = data["vote"]
    response = post(client, f"/votes/{vote}/paper", ballot(data, "yes"))
    assert (response.status_code, response.json()["code"]) == (400, "ballot.elector_required")
    zhao = next(e["id"] for e in get(client, f"/votes/{vote}/electors").json() if e["name"] == "赵六")
    response = post(client, f"/votes/{vote}/hand-out", {"elector": zhao})
    assert (response.status_code, response.json()["code"]) == (400, "ballot.not_secret")
    entry = post(client, f"/votes/{vote}/paper", {"elector": zhao, **ballot(data, "yes")}).json()
    assert (entry["elector"], entry["elector_id"]) == ("赵六", zhao)

    url = f"/paper/{entry['id']}/discard"
    as_(client, town.outsider_staff)
    assert post(client, url, {"reason": "填写不清"}).status_code == 404
    as_(client, town.users["zhao"])
    assert post(client, url, {"reason": "填写不清"}).status_code == 403
    as_(client, town.checker)
    response = post(client, url, {"reason": " "})
    assert (response.status_code, response.json()["code"]) == (400, "elector.reason_required")
    assert post(client, url, {"reason": "填写不清"}).status_code == 204
    assert post(client, url, {"reason": "填写不清"}).status_code == 404
    assert get(client, f"/votes/{vote}").json()["pending_paper"] == []


def test_staff_adjust_a_meetings_electorate_with_a_reason(client, town, travel):
    data = residents_vote(client, town)
    vote = data["vote"]
    add = f"/votes/{vote}/electors"
    as_(client, town.outsider_staff)
    assert post(client, add, {"resident": town.child.pk, "reason": "x"}).status_code == 404
    as_(client, town.users["zhang"])
    assert post(client, add, {"resident": town.child.pk, "reason": "x"}).status_code == 403
    as_(client, town.clerk)
    response = post(client, add, {"resident": town.neighbour.pk, "reason": "x"})
    assert (response.status_code, response.json()["code"]) == (404, "vote.unknown_resident")
    response = post(client, add, {"resident": town.child.pk, "reason": " "})
    assert (response.status_code, response.json()["code"]) == (400, "elector.reason_required")
    response = post(client, add, {"resident": town.child.pk, "reason": "经居民会议同意"})
    assert response.status_code == 201, response.content
    child = response.json()
    assert (child["eligible"], child["change_reason"], child["voted"]) == (True, "经居民会议同意", False)

    remove = f"/electors/{child['id']}/remove"
    as_(client, town.outsider_staff)
    assert post(client, remove, {"reason": "误加"}).status_code == 404
    as_(client, town.users["zhang"])
    assert post(client, remove, {"reason": "误加"}).status_code == 403
    as_(client, town.clerk)
    response = post(client, remove, {"reason": "误加"})
    assert response.status_code == 200, response.content
    assert (response.json()["eligible"], response.json()["change_reason"]) == (False, "误加")

    # once someone voted, nobody is taken off any more
    as_(client, town.users["zhang"])
    assert post(client, f"/votes/{vote}/ballots", ballot(data, "yes")).status_code == 201
    as_(client, town.clerk)
    response = post(client, f"/electors/{data['electors']['赵六']}/remove", {"reason": "搬走"})
    assert (response.status_code, response.json()["code"]) == (409, "elector.voting_started")


def test_an_owners_electorate_comes_from_the_register(client, town, travel):
    data = owners_vote(client, town)
    electors = get(client, f"/votes/{data['vote']}/electors").json()
    response = post(client, f"/votes/{data['vote']}/electors", {"resident": town.sun.pk, "reason": "x"})
    assert (response.status_code, response.json()["code"]) == (400, "elector.owners_from_register")
    response = post(client, f"/electors/{electors[0]['id']}/remove", {"reason": "x"})
    assert (response.status_code, response.json()["code"]) == (400, "elector.owners_from_register")


def test_sign_in_through_the_api_counts_once_and_shows_in_the_result(client, town, travel):
    data = residents_vote(client, town)
    vote, zhao = data["vote"], data["electors"]["赵六"]
    url = f"/votes/{vote}/sign-in"
    as_(client, town.outsider_staff)
    assert post(client, url, {"elector": zhao}).status_code == 404
    as_(client, town.users["zhao"])
    assert post(client, url, {"elector": zhao}).status_code == 403
    as_(client, town.clerk)
    response = post(client, url, {"elector": zhao})
    assert (response.status_code, response.json()["elector"]) == (201, "赵六")
    response = post(client, url, {"elector": zhao})
    assert (response.status_code, response.json()["code"]) == (409, "attendance.exists")
    response = post(client, url, {"elector": 999_999})
    assert (response.status_code, response.json()["code"]) == (404, "vote.unknown_elector")
    assert get(client, f"/votes/{vote}").json()["turnout"]["signed_in"] == 1
    signed = {e["name"]: e["signed_in"] for e in get(client, f"/votes/{vote}/electors").json()}
    assert signed["赵六"] is True and signed["张三"] is False
    as_(client, town.users["zhang"])
    assert post(client, f"/votes/{vote}/ballots", ballot(data, "yes")).status_code == 201
    travel.advance(days=8)
    as_(client, town.clerk)
    result = post(client, f"/votes/{vote}/close").json()
    assert (result["participants"], result["present"]) == (1, 2)  # signed in or voted


def test_paper_and_hand_out_are_refused_to_residents_and_other_communities(client, town, travel):
    data = residents_vote(client, town, secret=True)
    vote, zhao = data["vote"], data["electors"]["赵六"]
    for user, status in ((town.outsider_staff, 404), (town.users["zhao"], 403)):
        as_(client, user)
        assert post(client, f"/votes/{vote}/hand-out", {"elector": zhao}).status_code == status
        assert post(client, f"/votes/{vote}/paper", ballot(data, "yes")).status_code == status
    assert not Participation.objects.filter(vote_id=vote).exists()


def test_a_consultation_meeting_names_at_least_two_kinds_of_parties(client, town, travel):
    as_(client, town.clerk)
    created = post(
        client,
        "/matters",
        {"region": town.tree.community_a.code, "title": "停车协商", "process": "consultation"},
    )
    matter = created.json()["id"]
    day = clock.today().isoformat()
    assert post(client, f"/matters/{matter}/steps", {"code": "prepare", "held_on": day}).status_code == 201
    step = {"code": "consult", "held_on": day, "minutes": "协商会议记录"}
    alone = post(client, f"/matters/{matter}/steps", step | {"parties": ["property"]})
    assert (alone.status_code, alone.json()["code"]) == (400, "matter.parties_required")
    unknown = post(client, f"/matters/{matter}/steps", step | {"parties": ["property", "mayor"]})
    assert unknown.status_code == 422
    recorded = post(client, f"/matters/{matter}/steps", step | {"parties": ["residents", "owners_committee"]})
    assert recorded.status_code == 201 and recorded.json()["parties"] == ["residents", "owners_committee"]
