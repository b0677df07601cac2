from decimal import Decimal

from django.template import Context, Template

from gongzhi.core import formats


def test_area_has_thousands_separators_and_two_places():
    assert formats.area(Decimal("1747")) == "1,747.00 ㎡"
    assert formats.area(Decimal("87.4")) == "87.40 ㎡"
    assert formats.area(None) == "0.00 ㎡"


def test_area_filter_renders_the_same_text():
    rendered = Template("{% load gongzhi %}{{ value|area }}").render(Context({"value": Decimal("12345.678")}))
    assert rendered == "12,345.68 ㎡"
