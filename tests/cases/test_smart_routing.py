"""智能分拨 at intake: no model, suggestions only, routing on its own above the threshold, the dispatcher's
override, and production accuracy on the KPI page — with a real model trained in the test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from gongzhi.cases import classifier, queries, services
from gongzhi.cases.models import CategorySuggestion, EventKind, Source, Status
from gongzhi.core import clock
from tests.cases.conftest import A1_POINT

MONDAY = "2026-11-23T10:00:00+08:00"

# Two classes a dispatcher tells apart at a glance; SJ01 (市容环境) and SJ08 (矛盾纠纷) both have routing
# rules in the test world.
GARBAGE = [
    "路边垃圾堆积无人清运，臭味很大",
    "垃圾桶满了溢出来，垃圾散落一地",
    "小区门口垃圾三天没人清运",
    "人行道上堆了好几袋生活垃圾",
    "垃圾站周围垃圾成堆，苍蝇很多",
    "有人在路边乱扔垃圾，没人打扫",
    "垃圾清运不及时，垃圾堆满了",
    "菜市场门口垃圾堆积，气味难闻",
]
DISPUTE = [
    "邻居之间因为漏水发生纠纷，多次协商不成",
    "楼上邻居漏水到我家，双方吵起来了",
    "邻里因为占用楼道发生争吵，请社区调解",
    "和邻居因为宅基地边界有矛盾，需要调解",
    "邻居养狗扰民，多次沟通无果发生争执",
    "两家邻居因为停车位吵架，希望社区出面调解",
    "邻里纠纷，对方不讲道理，请帮忙调解",
    "邻居装修损坏了我家墙面，协商赔偿未果",
]


@pytest.fixture
def now():
    with clock.frozen(MONDAY) as travel:
        yield travel


@pytest.fixture
def model(settings, tmp_path):
    settings.GONGZHI_CLASSIFIER_MODEL = tmp_path / "model.joblib"
    trained = classifier.train(GARBAGE + DISPUTE, ["SJ0101"] * len(GARBAGE) + ["SJ0801"] * len(DISPUTE))
    classifier.save(trained, settings.GONGZHI_CLASSIFIER_MODEL)
    return trained


TEXT = ("门口垃圾没人清运", "垃圾堆了好几天，臭味很大")


def report(world, title=TEXT[0], description=TEXT[1], **extra):
    return services.submit_case(
        world.resident,
        source=Source.RESIDENT,
        title=title,
        description=description,
        lon=A1_POINT[0],
        lat=A1_POINT[1],
        **extra,
    )


def confidence(model, title, description):
    return model.predict_top(classifier.text_of(title, description), k=1)[0][1]


def test_without_a_model_intake_is_as_before(world, now, settings, tmp_path):
    settings.GONGZHI_CLASSIFIER_MODEL = tmp_path / "absent.joblib"
    case = report(world)
    assert case.status == Status.SUBMITTED and case.category is None
    assert not CategorySuggestion.objects.exists()


def test_suggestions_are_recorded_and_shown_below_the_threshold(world, now, model, settings, client):
    settings.GONGZHI_CLASSIFIER_AUTO_ROUTE = confidence(model, *TEXT) + 0.001
    case = report(world)
    suggestion = CategorySuggestion.objects.get(case=case)
    assert suggestion.suggested.code == "SJ0101" and not suggestion.auto_routed
    assert [code for code, _p in suggestion.top] == ["SJ0101", "SJ0801"]
    assert sum(p for _c, p in suggestion.top) <= 1.0001
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED and case.category is None  # the dispatcher decides
    client.force_login(world.dispatcher)
    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "智能分拨建议" in page and "暴露垃圾" in page
    # The accept form offers the first suggestion.
    assert f'<option value="{suggestion.suggested_id}" selected>' in page


def test_above_the_threshold_the_case_is_routed_on_its_own_and_marked(world, now, model, settings):
    settings.GONGZHI_CLASSIFIER_AUTO_ROUTE = confidence(model, *TEXT) - 0.001
    case = report(world)
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.unit == world.department
    assert case.category.code == "SJ0101"
    suggestion = CategorySuggestion.objects.get(case=case)
    assert suggestion.auto_routed and suggestion.rank == 1
    events = list(case.events.values_list("kind", "actor_label"))
    assert events[1:] == [(EventKind.ACCEPT, "auto-routing"), (EventKind.DISPATCH, "auto-routing")]
    assert "智能分拨" in case.events.get(kind=EventKind.DISPATCH).note


def test_no_auto_route_when_the_reporter_chose_another_category_or_no_rule_matches(
    world, now, model, settings
):
    settings.GONGZHI_CLASSIFIER_AUTO_ROUTE = 0.0
    chosen = report(world, category=world.category("SJ0602"))  # 楼道堆物, the reporter's own choice
    chosen.refresh_from_db()
    assert chosen.status == Status.SUBMITTED and chosen.category.code == "SJ0602"
    settings.GONGZHI_CLASSIFIER_AUTO_ROUTE = None  # "off"
    off = report(world)
    off.refresh_from_db()
    assert off.status == Status.SUBMITTED
    assert CategorySuggestion.objects.filter(case=off, auto_routed=False).exists()


def test_the_dispatchers_override_is_recorded_and_measured(world, now, model, settings):
    settings.GONGZHI_CLASSIFIER_AUTO_ROUTE = None
    taken = report(world)
    services.accept_case(world.dispatcher, taken, category=world.category("SJ0101"))
    second = report(world, title="门口垃圾堆着", description="好几天了")
    services.accept_case(world.dispatcher, second, category=world.category("SJ0801"))  # the runner-up
    overridden = report(world, title="垃圾没人管", description="路边垃圾")
    services.accept_case(world.dispatcher, overridden, category=world.category("SJ0602"))  # not suggested
    ranks = dict(CategorySuggestion.objects.values_list("case__number", "rank"))
    assert ranks == {taken.number: 1, second.number: 2, overridden.number: 0}
    assert CategorySuggestion.objects.get(case=overridden).final.code == "SJ0602"
    start, end = clock.now() - dt.timedelta(days=1), clock.now() + dt.timedelta(days=1)
    stats = queries.intake_stats(world.leader, start=start, end=end)
    assert (stats.suggested, stats.decided, stats.top1, stats.top3) == (3, 3, 1, 2)
    assert str(stats.top1_rate) == "33.33" and str(stats.top3_rate) == "66.67"


def test_auto_routed_cases_are_counted_apart_and_their_returns_measured(world, now, model, settings, client):
    settings.GONGZHI_CLASSIFIER_AUTO_ROUTE = 0.0
    routed = report(world)
    services.return_case(world.officer, routed, reason="不属于本单位")
    report(world, title="小区门口垃圾成堆", description="没人清运")
    start, end = clock.now() - dt.timedelta(days=1), clock.now() + dt.timedelta(days=1)
    stats = queries.intake_stats(world.leader, start=start, end=end)
    assert (stats.auto_routed, stats.auto_returned, stats.decided) == (2, 1, 0)
    assert str(stats.auto_return_rate) == "50.00" and stats.top1_rate is None
    client.force_login(world.leader)
    page = client.get(reverse("cases:kpi"), {"period": "this_month"}).content.decode()
    assert "智能分拨与并案" in page and "2 件，其中被退单 1 件" in page
