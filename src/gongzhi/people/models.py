"""People and places (人房): buildings and units, households, residents, ownership, organisations, tags.

After GB/T 31000-2015 (综治基础数据规范). A resident is entered once and used by every module (一数一源).
Every table reaches a region (the grid where the thing is) for scoping.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gongzhi.core.fields import BlindIndexField, EncryptedField
from gongzhi.core.masking import mask_citizen_id, mask_name, mask_phone
from gongzhi.core.models import Region, User


def _upper(value: str) -> str:
    return value.strip().upper()


def _strip(value: str) -> str:
    return value.strip()


class BuildingType(models.TextChoices):
    RESIDENTIAL = "residential", _("住宅楼")
    SELF_BUILT = "self_built", _("自建房")
    MIXED = "mixed", _("商住楼")
    BUNGALOW = "bungalow", _("平房")
    OTHER = "other", _("其他")


class Building(models.Model):
    """楼栋（含自建房）：under a grid; 一楼一档 starts here."""

    region = models.ForeignKey(
        Region, verbose_name=_("网格"), on_delete=models.PROTECT, related_name="buildings"
    )
    compound = models.CharField(_("小区"), max_length=100, blank=True)
    name = models.CharField(_("楼栋"), max_length=50, help_text=_("如：3栋、7号楼、张家院子"))
    address = models.CharField(_("地址"), max_length=200)
    kind = models.CharField(
        _("类型"), max_length=20, choices=BuildingType.choices, default=BuildingType.RESIDENTIAL
    )
    floors = models.PositiveSmallIntegerField(_("层数"), null=True, blank=True)
    lon = models.FloatField(_("经度"), null=True, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"))

    class Meta:
        verbose_name = _("楼栋")
        verbose_name_plural = _("楼栋")
        ordering = ["region__path", "compound", "name"]
        constraints = [models.UniqueConstraint(fields=["region", "compound", "name"], name="unique_building")]

    def __str__(self) -> str:
        return f"{self.compound}{self.name}" if self.compound else self.name


class UnitUse(models.TextChoices):
    HOME = "home", _("住宅")
    SHOP = "shop", _("商铺")
    OFFICE = "office", _("办公")
    GARAGE = "garage", _("车库")
    OTHER = "other", _("其他")


class UnitStatus(models.TextChoices):
    OWNER_OCCUPIED = "owner", _("自住")
    RENTED = "rented", _("出租")
    VACANT = "vacant", _("空置")
    OTHER = "other", _("其他")


class Unit(models.Model):
    """房屋：one unit of a building; its exclusive-part area counts in owners' votes."""

    building = models.ForeignKey(
        Building, verbose_name=_("楼栋"), on_delete=models.PROTECT, related_name="units"
    )
    label = models.CharField(_("房号"), max_length=50, help_text=_("如：2单元301"))
    building_area = models.DecimalField(
        _("建筑面积（㎡）"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    exclusive_area = models.DecimalField(
        _("专有部分面积（㎡）"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    use = models.CharField(_("用途"), max_length=10, choices=UnitUse.choices, default=UnitUse.HOME)
    status = models.CharField(
        _("使用状态"), max_length=10, choices=UnitStatus.choices, default=UnitStatus.OWNER_OCCUPIED
    )

    scope_path = "building__region__path"

    class Meta:
        verbose_name = _("房屋")
        verbose_name_plural = _("房屋")
        ordering = ["building", "label"]
        constraints = [
            models.UniqueConstraint(fields=["building", "label"], name="unique_unit"),
            models.CheckConstraint(
                condition=Q(exclusive_area__isnull=True) | Q(exclusive_area__gt=0),
                name="unit_exclusive_area_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.building} {self.label}"

    @property
    def region(self) -> Region:
        return self.building.region


class HouseholdKind(models.TextChoices):
    REGISTERED = "registered", _("户籍户")
    RESIDENCE = "residence", _("居住户")


class Household(models.Model):
    """户：a registered (户籍) household or the people actually living together at one address."""

    region = models.ForeignKey(
        Region, verbose_name=_("网格"), on_delete=models.PROTECT, related_name="households"
    )
    kind = models.CharField(
        _("户类型"), max_length=12, choices=HouseholdKind.choices, default=HouseholdKind.RESIDENCE
    )
    number = models.CharField(_("户号"), max_length=30, blank=True)
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("住址房屋"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="households",
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    householder = models.ForeignKey(
        "Resident", verbose_name=_("户主"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"))

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")
        ordering = ["region__path", "address"]

    def __str__(self) -> str:
        return self.number or self.address or f"#{self.pk}"


class IdType(models.TextChoices):
    CITIZEN_ID = "citizen_id", _("居民身份证")
    PASSPORT = "passport", _("护照")
    HK_MACAO = "hk_macao", _("港澳居民来往内地通行证")
    TAIWAN = "taiwan", _("台湾居民来往大陆通行证")
    FOREIGN_PR = "foreign_pr", _("外国人永久居留身份证")
    BIRTH_CERT = "birth_cert", _("出生医学证明")
    NONE = "none", _("无证件")


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")
    UNKNOWN = "U", _("未知")


class ResidenceType(models.TextChoices):
    REGISTERED = "registered", _("户籍人口")
    FLOATING = "floating", _("流动人口")
    FOREIGN = "foreign", _("境外人员")


class PoliticalStatus(models.TextChoices):
    """GB/T 4762 (abridged to what communities record)."""

    CPC_MEMBER = "01", _("中共党员")
    CPC_PROBATIONARY = "02", _("中共预备党员")
    LEAGUE_MEMBER = "03", _("共青团员")
    DEMOCRATIC_PARTY = "04", _("民主党派")
    NON_PARTISAN = "12", _("无党派人士")
    MASSES = "13", _("群众")


class Relation(models.TextChoices):
    """与户主关系 (GB/T 4761, abridged)."""

    SELF = "self", _("本人（户主）")
    SPOUSE = "spouse", _("配偶")
    SON = "son", pgettext_lazy("relation to householder", "子")
    DAUGHTER = "daughter", pgettext_lazy("relation to householder", "女")
    PARENT = "parent", _("父母")
    GRANDPARENT = "grandparent", _("祖父母")
    GRANDCHILD = "grandchild", _("孙子女")
    SIBLING = "sibling", _("兄弟姐妹")
    CHILD_IN_LAW = "child_in_law", _("儿媳/女婿")
    OTHER = "other", _("其他")


class ResidentStatus(models.TextChoices):
    LIVING_HERE = "here", _("在住")
    MOVED_OUT = "moved_out", _("已迁出")
    DECEASED = "deceased", _("已死亡")
    MERGED = "merged", _("已合并")


class Resident(models.Model):
    """实有人口：one person, entered once. ID and phone numbers are encrypted; search goes through indexes."""

    region = models.ForeignKey(
        Region, verbose_name=_("网格"), on_delete=models.PROTECT, related_name="residents"
    )
    name = models.CharField(_("姓名"), max_length=50)
    # Search keys: space-separated pinyin spellings and initials (heteronyms give several).
    name_pinyin = models.CharField(max_length=200, blank=True, editable=False)
    name_initials = models.CharField(max_length=100, blank=True, editable=False)
    id_type = models.CharField(
        _("证件类型"), max_length=12, choices=IdType.choices, default=IdType.CITIZEN_ID
    )
    id_number = EncryptedField(_("证件号码"), purpose="citizen_id", normalize=_upper)
    id_index = BlindIndexField(source="id_number")
    # Blind indexes of the last 4, 5 and 6 characters: staff search by the tail of an ID number.
    id_tail4 = models.CharField(max_length=32, null=True, blank=True, editable=False)  # noqa: DJ001
    id_tail5 = models.CharField(max_length=32, null=True, blank=True, editable=False)  # noqa: DJ001
    id_tail6 = models.CharField(max_length=32, null=True, blank=True, editable=False)  # noqa: DJ001
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    phone = EncryptedField(_("联系电话"), purpose="phone", normalize=_strip)
    phone_index = BlindIndexField(source="phone")
    ethnicity = models.CharField(_("民族"), max_length=20, blank=True)
    political_status = models.CharField(
        _("政治面貌"), max_length=2, choices=PoliticalStatus.choices, blank=True
    )
    residence_type = models.CharField(
        _("人口类型"), max_length=12, choices=ResidenceType.choices, default=ResidenceType.REGISTERED
    )
    household = models.ForeignKey(
        Household,
        verbose_name=_("户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    relation = models.CharField(_("与户主关系"), max_length=12, choices=Relation.choices, blank=True)
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("居住房屋"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="occupants",
    )
    address = models.CharField(_("现住址"), max_length=200, blank=True)
    # The resident's own login once staff have checked it against the ledger (实名居民).
    account = models.OneToOneField(
        User,
        verbose_name=_("居民账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resident_record",
    )
    status = models.CharField(
        _("状态"),
        max_length=10,
        choices=ResidentStatus.choices,
        default=ResidentStatus.LIVING_HERE,
    )
    moved_in_on = models.DateField(_("迁入日期"), null=True, blank=True)
    moved_out_on = models.DateField(_("迁出日期"), null=True, blank=True)
    died_on = models.DateField(_("死亡日期"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("合并到"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_from",
    )
    created_at = models.DateTimeField(_("登记时间"))
    updated_at = models.DateTimeField(_("更新时间"))

    class Meta:
        verbose_name = _("实有人口")
        verbose_name_plural = _("实有人口")
        ordering = ["name"]
        constraints = [
            # Same ID number = same person, once per deployment (the index is keyed, not the number).
            models.UniqueConstraint(
                fields=["id_index"], condition=Q(id_index__isnull=False), name="unique_resident_id"
            ),
        ]
        # Only what search and the duplicate finder use: each index costs every import.
        indexes = [
            models.Index(fields=["name", "birth_date"]),
            models.Index(fields=["phone_index"]),
            models.Index(fields=["id_tail4"]),
            models.Index(fields=["id_tail5"]),
            models.Index(fields=["id_tail6"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_id(self) -> str:
        return (
            mask_citizen_id(self.id_number)
            if self.id_type == IdType.CITIZEN_ID
            else mask_phone(self.id_number)
        )

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)


class ResidentEventKind(models.TextChoices):
    REGISTER = "register", _("登记")
    UPDATE = "update", _("信息变更")
    MOVE_IN = "move_in", _("迁入")
    MOVE_WITHIN = "move_within", _("辖区内迁移")
    MOVE_OUT = "move_out", _("迁出")
    DEATH = "death", _("死亡")
    MERGE = "merge", _("合并重复")


class ResidentEvent(models.Model):
    """人口变动：a move is an event, not an overwrite; the profile shows them as history."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("变动类型"), max_length=12, choices=ResidentEventKind.choices)
    on_date = models.DateField(_("发生日期"), null=True, blank=True)
    from_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    from_address = models.CharField(max_length=200, blank=True)
    to_address = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(_("变更内容"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    actor_label = models.CharField(max_length=150)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("记录时间"))

    scope_path = "resident__region__path"

    class Meta:
        verbose_name = _("人口变动")
        verbose_name_plural = _("人口变动")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.resident} {self.get_kind_display()}"


class Ownership(models.Model):
    """产权：a resident owns (a share of) a unit; one owner may own several units."""

    resident = models.ForeignKey(
        Resident, verbose_name=_("业主"), on_delete=models.CASCADE, related_name="ownerships"
    )
    unit = models.ForeignKey(
        Unit, verbose_name=_("房屋"), on_delete=models.CASCADE, related_name="ownerships"
    )
    share = models.DecimalField(_("份额"), max_digits=5, decimal_places=4, default=1)

    scope_path = "unit__building__region__path"

    class Meta:
        verbose_name = _("产权")
        verbose_name_plural = _("产权")
        constraints = [
            models.UniqueConstraint(fields=["resident", "unit"], name="unique_ownership"),
            models.CheckConstraint(condition=Q(share__gt=0) & Q(share__lte=1), name="ownership_share_range"),
        ]

    def __str__(self) -> str:
        return f"{self.resident} · {self.unit}"


class OrganisationKind(models.TextChoices):
    SOCIAL = "social", _("社会组织")
    ENTERPRISE = "enterprise", _("企业")
    SOLE_TRADER = "sole_trader", _("个体工商户")
    RESIDENT_UNIT = "resident_unit", _("驻区单位")
    PARTY = "party", _("党组织")


class Organisation(models.Model):
    """单位组织：social organisations, businesses, units based in the area, Party organisations."""

    region = models.ForeignKey(
        Region, verbose_name=_("所属区域"), on_delete=models.PROTECT, related_name="organisations"
    )
    kind = models.CharField(_("类别"), max_length=15, choices=OrganisationKind.choices)
    name = models.CharField(_("名称"), max_length=150)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = EncryptedField(_("联系电话"), purpose="phone", normalize=_strip)
    contact_phone_index = BlindIndexField(source="contact_phone")
    address = models.CharField(_("地址"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("登记时间"))

    class Meta:
        verbose_name = _("单位组织")
        verbose_name_plural = _("单位组织")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"], condition=~Q(credit_code=""), name="unique_organisation_credit_code"
            )
        ]
        indexes = [models.Index(fields=["contact_phone_index"])]

    def __str__(self) -> str:
        return self.name


class TagCategory(models.TextChoices):
    SPECIAL_GROUP = "special", _("特殊人群")
    KEY_YOUTH = "youth", _("重点青少年")
    CARE = "care", _("关爱对象")
    OTHER = "other", _("其他")


class Tag(models.Model):
    """人员标签：special-group and care categories, configurable. Sensitive tags show only to listed roles."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    category = models.CharField(_("分类"), max_length=10, choices=TagCategory.choices)
    sensitive = models.BooleanField(
        _("敏感"), default=False, help_text=_("敏感标签（如刑释、吸毒、精神障碍）仅对授权角色可见，查看留痕")
    )
    roles = models.JSONField(_("可见角色"), default=list, blank=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=100)

    class Meta:
        verbose_name = _("人员标签")
        verbose_name_plural = _("人员标签")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class ResidentTag(models.Model):
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="tags")
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")
    since = models.DateField(_("起始日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField()

    scope_path = "resident__region__path"

    class Meta:
        verbose_name = _("人员标签记录")
        verbose_name_plural = _("人员标签记录")
        constraints = [models.UniqueConstraint(fields=["resident", "tag"], name="unique_resident_tag")]

    def __str__(self) -> str:
        return f"{self.resident} · {self.tag}"


class ImportKind(models.TextChoices):
    RESIDENTS = "residents", _("实有人口")
    HOUSEHOLDS = "households", _("户")
    BUILDINGS = "buildings", _("楼栋房屋")
    ORGANISATIONS = "organisations", _("单位组织")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    REJECTED = "rejected", _("有错误，未导入")
    FAILED = "failed", _("系统错误")


class ImportJob(models.Model):
    """台账导入：one uploaded file, validated whole, then imported whole or not at all."""

    region = models.ForeignKey(Region, verbose_name=_("导入范围"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("类型"), max_length=15, choices=ImportKind.choices)
    file_name = models.CharField(_("文件名"), max_length=200)
    stored_path = models.CharField(max_length=400)
    dry_run = models.BooleanField(_("仅校验"), default=False)
    update_existing = models.BooleanField(_("按证件号更新已有人员"), default=False)
    status = models.CharField(
        _("状态"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("台账导入")
        verbose_name_plural = _("台账导入")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.file_name
