from django import template

from gongzhi.core import formats

register = template.Library()


@register.filter
def area(value) -> str:
    """{{ unit.exclusive_area|area }} → "1,747.00 ㎡"."""
    return formats.area(value)
