"""Legal thresholds of votes and meetings, counting owners, tallies and who is elected.

Property tests compare each rule with a plain reference written with `Fraction` shares; the
boundary tests name the article whose wording they pin down.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.core.errors import DomainError
from gongzhi.deliberation import rules
from gongzhi.deliberation.rules import OwnerGroup, Threshold

TWO_THIRDS, THREE_QUARTERS, HALF = Fraction(2, 3), Fraction(3, 4), Fraction(1, 2)

# Small numbers hit the exact boundaries often; large ones check nothing overflows or rounds.
counts = st.one_of(st.integers(0, 30), st.integers(0, 10**9))
modest = settings(max_examples=300, deadline=None)


@st.composite
def chains(draw, length):
    """[whole, part, part of part, …]: each at most the one before, as real counts are."""
    values = [draw(counts)]
    for _ in range(length - 1):
        values.append(draw(st.integers(0, values[-1])))
    return values


def area(cents: int) -> Decimal:
    return Decimal(cents) / 100


def share(part, whole) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def reaches(part, whole, bound: Fraction) -> bool:
    s = share(part, whole)
    return s is not None and s >= bound


def exceeds(part, whole, bound: Fraction) -> bool:
    s = share(part, whole)
    return s is not None and s > bound


# --- at_least / more_than ------------------------------------------------------------------------


@modest
@given(part=counts, whole=counts, den=st.integers(1, 10), data=st.data())
def test_property_share_comparisons_match_fractions(part, whole, den, data):
    num = data.draw(st.integers(0, den))
    assert rules.at_least(part, whole, num, den) == reaches(part, whole, Fraction(num, den))
    assert rules.more_than(part, whole, num, den) == exceeds(part, whole, Fraction(num, den))


def test_nothing_is_a_share_of_zero():
    assert rules.at_least(0, 0, 0, 1) is False
    assert rules.more_than(0, 0, 1, 2) is False


def test_decimals_compare_exactly_and_floats_are_refused():
    assert rules.at_least(Decimal("666.67"), Decimal("1000.00"), 2, 3)
    assert not rules.at_least(Decimal("666.66"), Decimal("1000.00"), 2, 3)
    assert rules.at_least(Fraction(2, 3), 1, 2, 3)
    with pytest.raises(TypeError):
        rules.at_least(666.67, 1000, 2, 3)


# --- Owners' assembly (民法典第二百七十八条) -----------------------------------------------------


def owners_reference(total_area, total_owners, part_area, part_owners, yes_area, yes_owners, special):
    """Article 278 read literally, with areas in cents."""
    valid = reaches(part_area, total_area, TWO_THIRDS) and reaches(part_owners, total_owners, TWO_THIRDS)
    if special:
        agreed = reaches(yes_area, part_area, THREE_QUARTERS) and reaches(
            yes_owners, part_owners, THREE_QUARTERS
        )
    else:
        agreed = exceeds(yes_area, part_area, HALF) and exceeds(yes_owners, part_owners, HALF)
    return valid, valid and agreed


@modest
@given(areas=chains(3), owners=chains(3), special=st.booleans())
def test_property_owners_assembly_matches_article_278(areas, owners, special):
    (total_c, part_c, yes_c), (total_o, part_o, yes_o) = areas, owners
    outcome = rules.owners_assembly_check(
        area(total_c), total_o, area(part_c), part_o, area(yes_c), yes_o, special
    )
    expected = owners_reference(total_c, total_o, part_c, part_o, yes_c, yes_o, special)
    assert (outcome.valid, outcome.passed) == expected
    assert (
        rules.owners_assembly_outcome(
            area(total_c), total_o, area(part_c), part_o, area(yes_c), yes_o, special
        )
        == expected
    )
    assert outcome.valid or not outcome.passed
    assert [t.code for t in outcome.thresholds] == [
        "participation_area",
        "participation_owners",
        "yes_area",
        "yes_owners",
    ]
    json.dumps(outcome.as_dict())


def test_exactly_two_thirds_of_the_area_takes_part_art_278():
    # 民法典第二百七十八条：专有部分面积占比三分之二以上的业主参与表决 — "以上" includes the bound.
    assert rules.owners_assembly_outcome(
        Decimal("900.00"), 3, Decimal("600.00"), 2, Decimal("600.00"), 2, False
    ) == (True, True)
    assert rules.owners_assembly_outcome(
        Decimal("900.00"), 3, Decimal("599.99"), 2, Decimal("599.99"), 2, False
    ) == (False, False)


def test_two_decimal_areas_around_two_thirds_art_278():
    # 2/3 of 1000.00 m² is 666.666…: 666.67 reaches it, 666.66 does not.
    valid, _ = rules.owners_assembly_outcome(
        Decimal("1000.00"), 30, Decimal("666.67"), 20, Decimal("0"), 0, False
    )
    assert valid
    valid, _ = rules.owners_assembly_outcome(
        Decimal("1000.00"), 30, Decimal("666.66"), 20, Decimal("0"), 0, False
    )
    assert not valid


def test_two_thirds_of_owners_by_number_is_needed_too_art_278():
    # Enough area but only 19 of 30 owners (19/30 < 2/3).
    assert rules.owners_assembly_outcome(
        Decimal("1000.00"), 30, Decimal("1000.00"), 19, Decimal("1000.00"), 19, False
    ) == (False, False)


def test_special_items_pass_at_exactly_three_quarters_art_278():
    # 第二百七十八条第二款：第六项至第八项应当经参与表决专有部分面积四分之三以上、人数四分之三以上同意.
    assert rules.owners_assembly_outcome(
        Decimal("1000.00"), 12, Decimal("800.00"), 8, Decimal("600.00"), 6, True
    ) == (True, True)
    assert rules.owners_assembly_outcome(
        Decimal("1000.00"), 12, Decimal("800.00"), 8, Decimal("599.99"), 6, True
    ) == (True, False)
    assert rules.owners_assembly_outcome(
        Decimal("1000.00"), 12, Decimal("800.00"), 8, Decimal("600.00"), 5, True
    ) == (True, False)


def test_other_items_fail_at_exactly_half_art_278():
    # 决定其他事项，应当经参与表决专有部分面积过半数的业主且参与表决人数过半数的业主同意:
    # exactly half is not "过半数".
    assert rules.owners_assembly_outcome(
        Decimal("1000.00"), 12, Decimal("800.00"), 8, Decimal("400.00"), 5, False
    ) == (True, False)
    assert rules.owners_assembly_outcome(
        Decimal("1000.00"), 12, Decimal("800.00"), 8, Decimal("400.01"), 4, False
    ) == (True, False)
    assert rules.owners_assembly_outcome(
        Decimal("1000.00"), 12, Decimal("800.00"), 8, Decimal("400.01"), 5, False
    ) == (True, True)


def test_a_community_with_nothing_on_record_cannot_decide():
    assert rules.owners_assembly_outcome(Decimal("0"), 0, Decimal("0"), 0, Decimal("0"), 0, False) == (
        False,
        False,
    )
    outcome = rules.owners_assembly_check(Decimal("0"), 0, Decimal("0"), 0, Decimal("0"), 0, True)
    assert [t.fraction for t in outcome.thresholds] == [None] * 4


@pytest.mark.parametrize(
    "args",
    [
        (Decimal("100"), 10, Decimal("100.01"), 10, Decimal("0"), 0, False),  # more area than exists
        (Decimal("100"), 10, Decimal("100"), 11, Decimal("0"), 0, False),  # more owners than exist
        (Decimal("100"), 10, Decimal("80"), 8, Decimal("80.01"), 8, False),  # yes area > participating
        (Decimal("100"), 10, Decimal("80"), 8, Decimal("80"), 9, False),  # yes owners > participating
        (Decimal("-1"), 10, Decimal("0"), 0, Decimal("0"), 0, False),
        (Decimal("100"), 10, Decimal("80"), -1, Decimal("0"), 0, False),
        (Decimal("NaN"), 10, Decimal("0"), 0, Decimal("0"), 0, False),
    ],
)
def test_impossible_owner_counts_are_refused(args):
    with pytest.raises(ValueError) as raised:
        rules.owners_assembly_outcome(*args)
    assert isinstance(raised.value, DomainError)
    assert raised.value.code == "deliberation.invalid_count"
    assert raised.value.message


def test_the_error_names_what_is_inconsistent():
    with pytest.raises(ValueError, match="同意的业主人数不能多于参与表决的业主人数"):
        rules.owners_assembly_outcome(Decimal("100"), 10, Decimal("80"), 8, Decimal("80"), 9, False)


def test_threshold_record_is_json_safe_and_exact():
    outcome = rules.owners_assembly_check(
        Decimal("1000.00"), 30, Decimal("666.67"), 20, Decimal("500.00"), 11, False
    )
    record = json.loads(json.dumps(outcome.as_dict()))
    assert record["valid"] is True and record["passed"] is True
    area_row = record["thresholds"][0]
    assert area_row == {
        "code": "participation_area",
        "label": "参与表决的专有部分面积占总面积",
        "part": "666.67",
        "whole": "1000.00",
        "fraction": "66667/100000",
        "requirement": "≥ 2/3",
        "met": True,
    }
    assert record["thresholds"][1]["fraction"] == "2/3"
    assert record["thresholds"][2]["requirement"] == "> 1/2"


def test_threshold_fraction_is_written_p_over_q_even_when_whole():
    threshold = Threshold("yes", "同意", 4, 4, 1, 2, strict=True)
    assert threshold.fraction == 1
    assert threshold.as_dict()["fraction"] == "1/1"
    assert threshold.met


def test_an_invalid_vote_cannot_be_recorded_as_passed():
    with pytest.raises(ValueError):
        rules.Outcome(valid=False, passed=True, thresholds=[])


# --- Villages (村民委员会组织法) and residents (城市居民委员会组织法) --------------------------------


@modest
@given(people=chains(3), households=chains(2))
def test_property_villagers_meeting_matches_art_22(people, households):
    (eligible, present, yes), (all_households, represented) = people, households
    outcome = rules.villagers_meeting_check(eligible, present, all_households, represented, yes)
    valid = exceeds(present, eligible, HALF) or reaches(represented, all_households, TWO_THIRDS)
    expected = (valid, valid and exceeds(yes, present, HALF))
    assert (outcome.valid, outcome.passed) == expected
    assert rules.villagers_meeting_outcome(eligible, present, all_households, represented, yes) == expected
    assert outcome.valid or not outcome.passed


@modest
@given(people=chains(3))
def test_property_meetings_with_a_quorum_and_a_majority(people):
    members, present, yes = people
    majority = exceeds(yes, present, HALF)
    two_thirds = reaches(present, members, TWO_THIRDS)
    over_half = exceeds(present, members, HALF)
    for outcome_of, check, quorum in [
        (rules.representatives_meeting_check, rules.representatives_meeting_outcome, two_thirds),
        (rules.party_members_meeting_check, rules.party_members_meeting_outcome, two_thirds),
        (rules.residents_meeting_check, rules.residents_meeting_outcome, over_half),
    ]:
        outcome = outcome_of(members, present, yes)
        assert (outcome.valid, outcome.passed) == (quorum, quorum and majority)
        assert check(members, present, yes) == (quorum, quorum and majority)
        assert outcome.valid or not outcome.passed


def test_villagers_meeting_art_22():
    # 村民委员会组织法第二十二条：本村十八周岁以上村民的过半数，或者本村三分之二以上的户的代表参加.
    assert rules.villagers_meeting_outcome(100, 50, 30, 19, 50) == (False, False)  # half, and 19/30 < 2/3
    assert rules.villagers_meeting_outcome(100, 51, 30, 0, 26) == (True, True)
    assert rules.villagers_meeting_outcome(100, 40, 30, 20, 21) == (True, True)  # exactly 2/3 of households
    # 所作决定应当经到会人员的过半数通过: exactly half is not enough.
    assert rules.villagers_meeting_outcome(100, 40, 30, 20, 20) == (True, False)


def test_representatives_meeting_art_26():
    # 第二十六条：有三分之二以上的组成人员参加方可召开，所作决定应当经到会人员的过半数同意.
    assert rules.representatives_meeting_outcome(30, 20, 11) == (True, True)
    assert rules.representatives_meeting_outcome(30, 19, 19) == (False, False)
    assert rules.representatives_meeting_outcome(30, 20, 10) == (True, False)


def test_residents_meeting_art_10():
    # 城市居民委员会组织法第十条：过半数参加（年满十八周岁的居民、户代表或居民小组代表），到会人员过半数通过.
    assert rules.residents_meeting_outcome(40, 20, 20) == (False, False)
    assert rules.residents_meeting_outcome(40, 21, 11) == (True, True)
    assert rules.residents_meeting_outcome(40, 21, 10) == (True, False)


def test_party_members_meeting_step_three():
    assert rules.party_members_meeting_outcome(9, 6, 4) == (True, True)
    assert rules.party_members_meeting_outcome(9, 5, 5) == (False, False)
    assert rules.party_members_meeting_outcome(9, 6, 3) == (True, False)


def test_meetings_of_nobody_are_not_valid():
    assert rules.villagers_meeting_outcome(0, 0, 0, 0, 0) == (False, False)
    assert rules.representatives_meeting_outcome(0, 0, 0) == (False, False)
    assert rules.residents_meeting_outcome(0, 0, 0) == (False, False)
    assert rules.party_members_meeting_outcome(0, 0, 0) == (False, False)


@pytest.mark.parametrize(
    "call",
    [
        lambda: rules.villagers_meeting_outcome(10, 11, 5, 0, 0),
        lambda: rules.villagers_meeting_outcome(10, 6, 5, 6, 0),
        lambda: rules.villagers_meeting_outcome(10, 6, 5, 0, 7),
        lambda: rules.villagers_meeting_outcome(10, 6, 5, -1, 0),
        lambda: rules.representatives_meeting_outcome(10, 11, 0),
        lambda: rules.representatives_meeting_outcome(10, 8, 9),
        lambda: rules.residents_meeting_outcome(-1, 0, 0),
        lambda: rules.party_members_meeting_outcome(5, 4, -1),
        lambda: rules.election_check(10, 11),
    ],
)
def test_impossible_meeting_counts_are_refused(call):
    with pytest.raises(ValueError):
        call()


# --- Elections (村民委员会组织法第十五条) ---------------------------------------------------------


def test_election_turnout_art_15():
    # 有登记参加选举的村民过半数投票，选举有效.
    assert rules.election_check(1000, 501)
    assert not rules.election_check(1000, 500)
    assert not rules.election_check(0, 0)
    assert rules.election_turnout(1000, 501).as_dict()["requirement"] == "> 1/2"


def test_only_candidates_with_more_than_half_of_the_ballots_are_elected_art_15():
    # 候选人获得参加投票的村民过半数的选票，始得当选.
    votes = {"张三": 600, "李四": 501, "王五": 500, "赵六": 120}
    assert rules.elected(votes, 1000, 5) == ["张三", "李四"]


def test_at_most_the_seats_are_filled_most_votes_first():
    votes = {"a": 700, "b": 900, "c": 800, "d": 650}
    assert rules.elected(votes, 1000, 3) == ["b", "c", "a"]


def test_a_tie_for_the_last_seat_leaves_it_for_another_round():
    votes = {"a": 900, "b": 700, "c": 700, "d": 600}
    assert rules.elected(votes, 1000, 2) == ["a"]
    assert rules.elected(votes, 1000, 3) == ["a", "b", "c"]
    assert rules.elected({"a": 700, "b": 700}, 1000, 1) == []


def test_a_tie_inside_the_seats_is_ordered_by_key():
    assert rules.elected({"c": 800, "a": 800, "b": 600}, 1000, 3) == ["a", "c", "b"]


def test_impossible_election_counts_are_refused():
    with pytest.raises(ValueError):
        rules.elected({"a": 1001}, 1000, 1)
    with pytest.raises(ValueError):
        rules.elected({"a": -1}, 1000, 1)
    with pytest.raises(ValueError):
        rules.elected({"a": 1}, 1000, 0)


@modest
@given(
    ballots=st.integers(0, 40),
    seats=st.integers(1, 5),
    data=st.data(),
)
def test_property_elected(ballots, seats, data):
    votes = data.draw(st.dictionaries(st.integers(1, 30), st.integers(0, ballots), max_size=12))
    winners = rules.elected(votes, ballots, seats)
    assert len(winners) <= seats
    assert len(set(winners)) == len(winners)
    assert all(2 * votes[w] > ballots for w in winners)
    assert [votes[w] for w in winners] == sorted((votes[w] for w in winners), reverse=True)
    # Everyone left out with a majority has no more votes than the last winner, and a left-out
    # candidate level with a winner can only be part of a tie that would overflow the seats.
    losers = [c for c, v in votes.items() if 2 * v > ballots and c not in winners]
    for loser in losers:
        assert all(votes[loser] <= votes[w] for w in winners)
        assert votes[loser] not in {votes[w] for w in winners}
    if losers:
        best_left_out = max(votes[c] for c in losers)
        level = sum(1 for v in votes.values() if v >= best_left_out)
        assert level > seats
    assert rules.elected(dict(reversed(list(votes.items()))), ballots, seats) == winners


# --- Counting owners (法释〔2009〕7号 第八条、第九条) -------------------------------------------------


def test_one_owner_of_several_units_counts_once():
    groups = rules.owner_groups(
        [
            (3, Decimal("88.50"), [7]),
            (1, Decimal("120.25"), [7]),
            (2, Decimal("90.00"), [8]),
        ]
    )
    assert groups == [
        OwnerGroup(frozenset({7}), (1, 3), Decimal("208.75")),
        OwnerGroup(frozenset({8}), (2,), Decimal("90.00")),
    ]
    assert rules.totals(groups) == (Decimal("298.75"), 2)


def test_co_owners_of_a_unit_count_as_one():
    groups = rules.owner_groups([(1, Decimal("100.00"), [7, 8]), (2, Decimal("60.00"), (8, 7))])
    assert groups == [OwnerGroup(frozenset({7, 8}), (1, 2), Decimal("160.00"))]
    assert rules.totals(groups) == (Decimal("160.00"), 1)


def test_the_developers_unsold_units_count_as_one():
    groups = rules.owner_groups(
        [
            (5, Decimal("70.00"), []),
            (1, Decimal("100.00"), [7]),
            (2, Decimal("80.00"), ()),
            (9, Decimal("65.00"), set()),
        ]
    )
    assert groups[0] == OwnerGroup(frozenset({7}), (1,), Decimal("100.00"))
    developer = groups[1]
    assert developer.is_developer and developer.owners == frozenset()
    assert developer.unit_ids == (2, 5, 9)
    assert developer.area == Decimal("215.00")
    assert rules.totals(groups) == (Decimal("315.00"), 2)


def test_an_owner_alone_and_with_a_co_owner_are_two_buyers():
    groups = rules.owner_groups([(1, Decimal("100.00"), [7]), (2, Decimal("90.00"), [7, 8])])
    assert [g.owners for g in groups] == [frozenset({7}), frozenset({7, 8})]
    assert rules.totals(groups) == (Decimal("190.00"), 2)


def test_owner_groups_refuse_repeated_units_negative_areas_and_floats():
    with pytest.raises(ValueError):
        rules.owner_groups([(1, Decimal("10"), [7]), (1, Decimal("10"), [8])])
    with pytest.raises(ValueError):
        rules.owner_groups([(1, Decimal("-10"), [7])])
    with pytest.raises(TypeError):
        rules.owner_groups([(1, 10.5, [7])])


def test_no_units_no_owners():
    assert rules.owner_groups([]) == []
    assert rules.totals([]) == (Decimal("0"), 0)


@modest
@given(
    st.lists(
        st.tuples(st.integers(0, 500_000), st.frozensets(st.integers(1, 6), max_size=3)),
        max_size=30,
    )
)
def test_property_owner_groups_partition_the_units(units):
    rows = [(unit_id, area(cents), owners) for unit_id, (cents, owners) in enumerate(units)]
    groups = rules.owner_groups(rows)
    assert sorted(u for g in groups for u in g.unit_ids) == list(range(len(rows)))
    assert rules.totals(groups) == (sum((r[1] for r in rows), Decimal(0)), len({r[2] for r in rows}))
    assert [g.unit_ids[0] for g in groups] == sorted(g.unit_ids[0] for g in groups)
    assert rules.owner_groups(reversed(rows)) == groups


# --- Ballots -------------------------------------------------------------------------------------


def test_tally_counts_ballots_and_area_for_every_option():
    ballots = [
        (["yes"], Decimal("100.50")),
        (["no"], Decimal("80.00")),
        (["yes"], Decimal("90.25")),
    ]
    assert rules.tally(ballots, ["yes", "no", "abstain"]) == {
        "yes": (2, Decimal("190.75")),
        "no": (1, Decimal("80.00")),
        "abstain": (0, Decimal("0")),
    }


def test_tally_of_multiple_choices_counts_each_option_chosen():
    result = rules.tally([(["a", "b"], Decimal("1")), (["b"], Decimal("2"))], ["a", "b", "c"])
    assert result == {"a": (1, Decimal("1")), "b": (2, Decimal("3")), "c": (0, Decimal("0"))}


def test_tally_refuses_unknown_and_repeated_options():
    with pytest.raises(ValueError):
        rules.tally([(["maybe"], Decimal("1"))], ["yes", "no"])
    with pytest.raises(ValueError):
        rules.tally([(["yes", "yes"], Decimal("1"))], ["yes", "no"])


@pytest.mark.parametrize(
    ("kind", "chosen", "max_choices"),
    [
        ("yes_no", ["yes"], None),
        ("single", ["b"], None),
        ("multiple", ["a", "c"], 2),
        ("election", ["a"], 3),
        ("multiple", ["a", "b", "c"], None),
    ],
)
def test_choices_that_fit_the_question(kind, chosen, max_choices):
    options = ["yes", "no", "abstain"] if kind == "yes_no" else ["a", "b", "c"]
    assert rules.check_choice(kind, chosen, options, max_choices) is None


@pytest.mark.parametrize(
    ("kind", "chosen", "max_choices", "message"),
    [
        ("yes_no", [], None, "只能选择一个"),
        ("yes_no", ["a", "b"], None, "只能选择一个"),
        ("single", ["a", "b"], None, "只能选择一个"),
        ("multiple", [], 2, "至少选择一个"),
        ("election", ["a", "b", "c"], 2, "最多只能选择2项"),
        ("multiple", ["a", "a"], 3, "不能重复"),
        ("single", ["z"], None, "没有这个选项：z"),
    ],
)
def test_choices_that_do_not_fit_are_refused(kind, chosen, max_choices, message):
    with pytest.raises(ValueError, match=message):
        rules.check_choice(kind, chosen, ["a", "b", "c"], max_choices)


def test_unknown_question_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        rules.check_choice("ranked", ["a"], ["a"], None)
