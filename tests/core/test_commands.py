"""The `gongzhi` command: demo, apikey, createadmin."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gongzhi.core import demo
from gongzhi.core.models import ApiKey, Level, Region, RoleGrant, User


def test_demo_loads_a_real_street_and_is_idempotent(db):
    out = io.StringIO()
    call_command("demo", stdout=out)
    street = Region.objects.get(code="510903014")
    assert street.name == "南强街道"
    assert Region.objects.filter(parent=street, level=Level.COMMUNITY).count() == 12
    assert Region.objects.filter(path__startswith=street.path, level=Level.GRID).count() == 48
    for account in demo.ACCOUNTS:
        assert account.username in out.getvalue()
    counts = (Region.objects.count(), User.objects.count(), RoleGrant.objects.count())
    call_command("demo", stdout=io.StringIO())
    assert (Region.objects.count(), User.objects.count(), RoleGrant.objects.count()) == counts


def test_demo_grids_tile_their_community(db):
    from shapely.geometry import shape
    from shapely.ops import unary_union

    demo.run_all(up_to=10)  # core's own loader: regions, grids and accounts
    for community in Region.objects.filter(level=Level.COMMUNITY):
        grids = [shape(g.boundary) for g in community.children.all()]
        union = unary_union(grids)
        assert union.symmetric_difference(shape(community.boundary)).area < 1e-12
        assert sum(g.area for g in grids) == pytest.approx(union.area)  # no overlaps


def test_apikey_create_prints_the_key_once(db):
    demo.run_all(up_to=10)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "apikey",
        "create",
        "--name",
        "热线",
        "--region",
        "510903014",
        "--actions",
        "region.view",
        stdout=out,
        stderr=err,
    )
    token = out.getvalue().strip()
    key = ApiKey.objects.get(name="热线")
    assert token.startswith(f"gz_{key.prefix}_") and token not in key.key_hash
    with pytest.raises(CommandError, match="未知操作"):
        call_command("apikey", "create", "--name", "x", "--region", "510903014", "--actions", "fly")
    with pytest.raises(CommandError, match="找不到"):
        call_command("apikey", "create", "--name", "y", "--region", "999", "--actions", "region.view")


def test_createadmin(db):
    call_command(
        "createadmin", "--username", "root", "--password", "Sturdy-password-2026", stdout=io.StringIO()
    )
    assert User.objects.get(username="root").is_superuser
