"""Division-list import (real national data when present) and locating points."""

import gzip
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gongzhi.core import geo, services
from gongzhi.core.models import AuditEntry, Level, Region
from gongzhi.core.principals import SYSTEM
from tests.factories import square

# The shared data sets sit beside the checkout (../shared/data); GONGZHI_SHARED_DATA overrides.
SHARED_DATA = Path(
    os.environ.get("GONGZHI_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data"
)
SHARED = SHARED_DATA / "cn_admin_divisions"
NATIONAL = SHARED / "netnr_2020" / "zoning5_all_china_2020.csv.gz"


def needs_national_list():
    if not NATIONAL.exists():
        pytest.skip(f"national division list not found: {SHARED} (the shared data folder)")


def write_csv(tmp_path, text, name="regions.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def sichuan_county_file(tmp_path):
    """One county (船山区) and its ancestors, cut from the real 2020 national list."""
    needs_national_list()
    lines = []
    with gzip.open(NATIONAL, "rt", encoding="utf-8") as f:
        header = next(f)
        for line in f:
            code = line.split(",", 1)[0]
            if code in ("51", "5109") or code.startswith("510903"):
                lines.append(line)
    return write_csv(tmp_path, header + "".join(lines), "chuanshan.csv"), lines


def test_import_real_county(db, sichuan_county_file):
    path, lines = sichuan_county_file
    counts = services.import_regions(SYSTEM, path)
    assert counts == {"created": len(lines), "updated": 0, "unchanged": 0}
    street = Region.objects.get(code="510903014")
    assert street.name == "南强街道" and street.level == Level.STREET
    assert street.path == "51/5109/510903/510903014/"
    assert street.division_code == "510903014000"
    community = Region.objects.get(code="510903014006")
    assert community.name == "马宗岭社区居委会" and community.parent == street
    assert Region.objects.filter(path__startswith=street.path, level=Level.COMMUNITY).count() == 12
    # Importing again changes nothing and says so.
    assert services.import_regions(SYSTEM, path) == {"created": 0, "updated": 0, "unchanged": len(lines)}


def test_import_whole_country(db):
    """All 679,640 rows of the 2020 list; slow-ish (about a minute) but it is the real job."""
    needs_national_list()
    if os.environ.get("GONGZHI_SKIP_SLOW") == "1":
        pytest.skip("GONGZHI_SKIP_SLOW=1")
    counts = services.import_regions(SYSTEM, NATIONAL)
    assert counts["created"] == 679_640
    assert Region.objects.filter(level=Level.PROVINCE).count() == 34
    assert Region.objects.filter(level=Level.COMMUNITY).count() == 633_980
    # 东莞 has no county level: its townships hang directly off the city.
    dongguan_town = Region.objects.filter(code__startswith="441900", level=Level.STREET).first()
    assert dongguan_town.parent.code == "4419"


def test_bad_rows_reject_the_whole_file_with_line_numbers(db, tmp_path):
    path = write_csv(
        tmp_path,
        "code,name,level,parent_code\n"
        "51,四川省,1,\n"
        "5109,遂宁市,2,51\n"
        "51090A,坏代码,3,5109\n"
        "510903,,3,5109\n"
        "520101,错上级,3,5109\n"
        "5109,重复,2,51\n",
    )
    with pytest.raises(services.ImportRejected) as info:
        services.import_regions(SYSTEM, path)
    by_line = {(e.line, e.message) for e in info.value.errors}
    assert (4, "代码“51090A”应为 2、4、6、9 或 12 位数字") in by_line
    assert (5, "名称不能为空") in by_line
    assert (6, "代码“520101”不在上级“5109”之下") in by_line
    assert (7, "代码“5109”与第 3 行重复") in by_line
    assert Region.objects.count() == 0
    assert not AuditEntry.objects.filter(action="region.import").exists()


def test_import_accepts_chinese_headers_12_digit_codes_and_class_codes(db, tmp_path):
    path = write_csv(
        tmp_path,
        "统计用区划代码,名称,城乡分类代码\n"
        "510000000000,四川省,\n510900000000,遂宁市,\n510903000000,船山区,\n"
        "510903014000,南强街道,\n510903014006,马宗岭社区居委会,111\n",
    )
    services.import_regions(SYSTEM, path)
    community = Region.objects.get(code="510903014006")
    assert community.urban_rural_code == "111"
    assert community.path == "51/5109/510903/510903014/510903014006/"


def test_unknown_parent_is_an_error(db, tmp_path):
    path = write_csv(tmp_path, "code,name\n510903014,南强街道\n")
    with pytest.raises(services.ImportRejected) as info:
        services.import_regions(SYSTEM, path)
    assert info.value.errors[0].message == "找不到上级区划"


def test_dry_run_writes_nothing(db, tmp_path):
    path = write_csv(tmp_path, "code,name\n51,四川省\n")
    assert services.import_regions(SYSTEM, path, dry_run=True)["created"] == 1
    assert Region.objects.count() == 0


def test_import_command_reports_errors(db, tmp_path, capsys):
    path = write_csv(tmp_path, "code,name\n5x,坏\n")
    with pytest.raises(CommandError, match="未导入任何数据"):
        call_command("regions", "import", str(path))
    assert "第 2 行" in capsys.readouterr().err


# ---------------------------------------------------------------- locate


def test_locate_returns_the_smallest_region(tree):
    assert geo.locate(105.585, 30.455) == tree.grid_a1
    assert geo.locate(105.595, 30.455) == tree.grid_a2
    assert geo.locate(105.605, 30.465) == tree.community_b  # inside the community, no grid there
    assert geo.locate(100.0, 30.0) is None


def test_locate_rebuilds_when_a_boundary_changes(tree):
    assert geo.locate(105.615, 30.455) == tree.community_b
    services.create_grid(SYSTEM, tree.community_b, name="金鱼第2网格", boundary=square(105.61, 30.45, 0.01))
    assert geo.locate(105.615, 30.455).name == "金鱼第2网格"
    services.set_boundary(SYSTEM, tree.grid_a1, None)
    assert geo.locate(105.585, 30.455) == tree.community_a


def test_locate_many_matches_locate(tree):
    lons, lats = [105.585, 105.595, 105.605, 99.0], [30.455, 30.455, 30.465, 30.0]
    found = geo.locator().locate_many(lons, lats)
    assert [f.code if f else None for f in found] == [
        tree.grid_a1.code,
        tree.grid_a2.code,
        tree.community_b.code,
        None,
    ]


def test_gcj02_round_trip_within_a_centimetre():
    lon, lat = 105.5928, 30.5329  # 遂宁
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    assert abs(glon - lon) > 1e-3  # the offset is hundreds of metres
    wlon, wlat = geo.gcj02_to_wgs84(glon, glat)
    assert abs(wlon - lon) < 1e-7 and abs(wlat - lat) < 1e-7


def test_known_gcj02_offset():
    # Tiananmen: WGS-84 (116.391275, 39.906217) is (116.397524, 39.907620) in GCJ-02 (published pair).
    glon, glat = geo.wgs84_to_gcj02(116.391275, 39.906217)
    assert abs(glon - 116.397524) < 2e-5 and abs(glat - 39.907620) < 2e-5


def test_points_outside_china_are_not_shifted():
    assert geo.gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)


def test_locate_api_converts_gcj02(client, tree):
    from gongzhi.core.roles import Role
    from tests.factories import user_with

    client.force_login(user_with(Role.STREET_STAFF, tree.street))
    glon, glat = geo.wgs84_to_gcj02(105.585, 30.455)
    response = client.get("/api/v1/locate", {"lon": glon, "lat": glat, "system": "gcj02"})
    assert response.status_code == 200 and response.json()["code"] == tree.grid_a1.code
    assert client.get("/api/v1/locate", {"lon": 1, "lat": 1}).json()["code"] == "geo.not_located"


def test_bad_boundary_is_refused(tree):
    from gongzhi.core.errors import DomainError

    with pytest.raises(DomainError, match="有效的面"):
        services.set_boundary(SYSTEM, tree.grid_a1, {"type": "Point", "coordinates": [105.5, 30.4]})
    with pytest.raises(DomainError, match="WGS-84"):
        services.set_boundary(SYSTEM, tree.grid_a1, square(12000000, 3500000, 100))
