"""National default tags (GB/T 31000-2015 special groups and key youth; care categories communities keep).

Sensitive tags (health, criminal record, minors) are visible only to the roles listed; administrators
can change the list later — these are defaults, not law.
"""

from django.db import migrations

FIELD_ROLES = ["grid_worker", "community_staff", "street_staff"]
DEFAULT_TAGS = [
    # code, name, category, sensitive
    ("community_correction", "社区矫正人员", "special", True),
    ("released_prisoner", "刑满释放人员", "special", True),
    ("drug_user", "吸毒人员", "special", True),
    ("severe_mental_disorder", "严重精神障碍患者", "special", True),
    ("hiv_risk", "艾滋病危险人员", "special", True),
    ("key_youth", "重点青少年", "youth", True),
    ("left_behind_child", "留守儿童", "youth", True),
    ("child_in_difficulty", "困境儿童", "care", True),
    ("elderly_alone", "独居老人", "care", False),
    ("empty_nest", "空巢老人", "care", False),
    ("subsistence", "低保对象", "care", False),
    ("extreme_poverty", "特困人员", "care", False),
    ("disabled", "残疾人", "care", False),
    ("veteran", "退役军人", "care", False),
    ("bereaved_parents", "失独家庭", "care", False),
]


def add_tags(apps, schema_editor):
    Tag = apps.get_model("people", "Tag")
    for order, (code, name, category, sensitive) in enumerate(DEFAULT_TAGS, start=1):
        Tag.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "category": category,
                "sensitive": sensitive,
                "roles": FIELD_ROLES if sensitive else [],
                "order": order * 10,
            },
        )


def remove_tags(apps, schema_editor):
    apps.get_model("people", "Tag").objects.filter(code__in=[t[0] for t in DEFAULT_TAGS]).delete()


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(add_tags, remove_tags)]
