"""Requests and events (诉求/事件) and their closed loop: categories, units, routing rules, cases, events.

After GB/T 30428 (数字化城市管理) and 12345 hotline practice (GB/T 33358). A case is created by any
source, accepted (立案) or rejected, dispatched to a responsible unit by the routing rules (权责清单),
handled, replied, verified by a grid worker, closed and rated by the reporter. Every transition is
one `CaseEvent`; KPIs are computed from the events.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gongzhi.core.fields import BlindIndexField, EncryptedField
from gongzhi.core.masking import mask_name, mask_phone
from gongzhi.core.models import Attachment, Region, User


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("部件")
    EVENT = "event", _("事件")


class LimitUnit(models.TextChoices):
    HOURS = "hours", _("工作小时")
    DAYS = "days", _("工作日")


class Category(models.Model):
    """事件分类（大类/小类）with its deadlines. Editable configuration loaded from national defaults."""

    code = models.CharField(_("分类代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("所属大类"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    kind = models.CharField(_("类型"), max_length=10, choices=CategoryKind.choices)
    accept_hours = models.DecimalField(_("受理时限（工作小时）"), max_digits=5, decimal_places=1, default=2)
    handle_limit = models.PositiveIntegerField(_("办理时限"), default=5)
    handle_unit = models.CharField(
        _("办理时限单位"), max_length=5, choices=LimitUnit.choices, default=LimitUnit.DAYS
    )
    warn_percent = models.PositiveSmallIntegerField(
        _("预警阈值（已用时限 %）"), default=80, help_text=_("办理用时达到时限的这一比例时亮黄灯")
    )
    requires_verification = models.BooleanField(_("需网格员核查"), default=True)
    auto_escalate = models.BooleanField(_("超期自动上报"), default=False)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("事件分类")
        verbose_name_plural = _("事件分类")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(warn_percent__gte=1) & Q(warn_percent__lte=100), name="category_warn_percent"
            ),
            models.CheckConstraint(condition=Q(handle_limit__gte=1), name="category_handle_limit"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_major(self) -> bool:
        return self.parent_id is None

    @property
    def full_name(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name


class AttributeType(models.TextChoices):
    """The Open311 GeoReport v2 datatypes of a category's extra fields."""

    STRING = "string", _("短文本")
    NUMBER = "number", _("数字")
    DATETIME = "datetime", _("日期时间")
    TEXT = "text", _("长文本")
    SINGLE = "singlevaluelist", _("单选")
    MULTI = "multivaluelist", _("多选")


class CategoryAttribute(models.Model):
    """分类补充信息：an extra field a category asks for (e.g. 井盖编号), offered to Open311 clients too."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="attributes")
    code = models.SlugField(_("字段代码"), max_length=40)
    datatype = models.CharField(_("类型"), max_length=16, choices=AttributeType.choices)
    required = models.BooleanField(_("必填"), default=False)
    description = models.CharField(_("提问"), max_length=200)
    datatype_description = models.CharField(_("填写说明"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("顺序"), default=1)
    # For the two list types: [{"key": "...", "name": "..."}, ...].
    values = models.JSONField(_("可选值"), default=list, blank=True)

    class Meta:
        verbose_name = _("分类补充信息")
        verbose_name_plural = _("分类补充信息")
        ordering = ["category", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["category", "code"], name="unique_category_attribute")]

    def __str__(self) -> str:
        return f"{self.category.code}.{self.code}"

    @property
    def keys(self) -> list[str]:
        return [str(v["key"]) for v in self.values]


class UnitKind(models.TextChoices):
    STREET = "street", _("街道（乡镇）")
    COMMUNITY = "community", _("社区（村）")
    DEPARTMENT = "department", _("职能部门")
    PROPERTY = "property", _("物业服务企业")
    UTILITY = "utility", _("公用事业单位")
    OTHER = "other", _("其他单位")


class Unit(models.Model):
    """处置单位：a department, community, property company… with its own staff queue."""

    name = models.CharField(_("单位名称"), max_length=100)
    kind = models.CharField(_("单位类型"), max_length=12, choices=UnitKind.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="case_units"
    )
    phone = models.CharField(_("值班电话"), max_length=30, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    members = models.ManyToManyField(User, through="UnitMember", related_name="case_units")

    class Meta:
        verbose_name = _("处置单位")
        verbose_name_plural = _("处置单位")
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="unique_unit_name")]

    def __str__(self) -> str:
        return self.name


class UnitMember(models.Model):
    """单位人员：who works a unit's queue; heads (负责人) are also told when its cases go overdue."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="unit_memberships")
    is_head = models.BooleanField(_("负责人"), default=False)

    class Meta:
        verbose_name = _("单位人员")
        verbose_name_plural = _("单位人员")
        constraints = [models.UniqueConstraint(fields=["unit", "user"], name="unique_unit_member")]

    def __str__(self) -> str:
        return f"{self.unit} · {self.user}"


class RoutingRule(models.Model):
    """权责清单条目：(category, region subtree) → responsible unit; the most specific match wins."""

    category = models.ForeignKey(Category, verbose_name=_("分类"), on_delete=models.CASCADE)
    region = models.ForeignKey(Region, verbose_name=_("适用区域"), on_delete=models.CASCADE)
    unit = models.ForeignKey(
        Unit, verbose_name=_("责任单位"), on_delete=models.CASCADE, related_name="routing_rules"
    )
    note = models.CharField(_("依据"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("派遣规则")
        verbose_name_plural = _("派遣规则")
        ordering = ["category__code", "region__path"]
        constraints = [models.UniqueConstraint(fields=["category", "region"], name="unique_routing_rule")]

    def __str__(self) -> str:
        return f"{self.category.code} {self.region.name} → {self.unit.name}"


class Source(models.TextChoices):
    RESIDENT = "resident", _("居民上报")
    PATROL = "patrol", _("网格巡查")
    HOTLINE = "hotline", _("热线电话")
    REFERRAL = "referral", _("部门转办")
    API = "api", _("系统接入")
    OPEN311 = "open311", _("Open311")


class RequestType(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    HELP = "help", _("求助")
    ENQUIRY = "enquiry", _("咨询")
    SUGGESTION = "suggestion", _("建议")
    REPORT = "report", _("举报")
    PRAISE = "praise", _("表扬")
    EVENT = "event", _("事件")


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("待受理")
    ACCEPTED = "accepted", _("已立案")
    DISPATCHED = "dispatched", _("已派遣")
    IN_PROGRESS = "in_progress", _("处置中")
    REPLIED = "replied", _("已反馈")
    SUSPENDED = "suspended", _("待补充材料")
    RETURNED = "returned", _("已退单")
    ESCALATED = "escalated", _("已上报")
    CLOSED = "closed", _("已结案")
    REJECTED = "rejected", _("不予受理")
    MERGED = "merged", _("已并案")


# Statuses in which a deadline runs (suspended cases keep their remaining time aside).
OPEN_STATUSES = (
    Status.SUBMITTED,
    Status.ACCEPTED,
    Status.DISPATCHED,
    Status.IN_PROGRESS,
    Status.REPLIED,
    Status.RETURNED,
    Status.ESCALATED,
)
FINAL_STATUSES = (Status.CLOSED, Status.REJECTED, Status.MERGED)


class Sla(models.TextChoices):
    GREEN = "green", _("正常")
    YELLOW = "yellow", _("黄灯预警")
    RED = "red", _("红灯超期")


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    DISSATISFIED = "dissatisfied", _("不满意")


class Case(models.Model):
    """诉求/事件（工单）: any request or event, from any source, through its closed loop."""

    scope_path = "region_path"

    number = models.CharField(_("编号"), max_length=20, unique=True)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    request_type = models.CharField(
        _("诉求类型"), max_length=12, choices=RequestType.choices, default=RequestType.COMPLAINT
    )
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("描述"), max_length=2000)
    category = models.ForeignKey(
        Category, verbose_name=_("分类"), null=True, blank=True, on_delete=models.PROTECT
    )
    # Foreign keys below without an index of their own: scoping goes by region_path, queues by
    # (unit, status) and "my requests" by (reporter, created_at), so those indexes would only slow intake.
    region = models.ForeignKey(Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, db_index=False)
    # Denormalised region path so scoping and KPIs are one indexed prefix match on the case table.
    region_path = models.CharField(max_length=255, editable=False, db_index=True)
    located_by = models.CharField(
        _("定位方式"),
        max_length=10,
        choices=[
            ("point", _("坐标")),
            ("grid", _("指定网格")),
            ("address", _("反映人住址")),
            ("text", _("地址文本匹配")),
            ("street", _("仅定位到街道")),
        ],
    )
    lon = models.FloatField(_("经度（WGS-84）"), null=True, blank=True)
    lat = models.FloatField(_("纬度（WGS-84）"), null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    attributes = models.JSONField(_("补充信息"), default=dict, blank=True)

    reporter = models.ForeignKey(
        User,
        verbose_name=_("反映人账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="reported_cases",
    )
    entered_by = models.ForeignKey(
        User,
        verbose_name=_("录入人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )
    reporter_name = models.CharField(_("反映人"), max_length=50, blank=True)
    reporter_phone = EncryptedField(_("联系电话"), purpose="phone")
    reporter_phone_index = BlindIndexField(source="reporter_phone")
    anonymous = models.BooleanField(_("匿名反映"), default=False)
    verified_reporter = models.BooleanField(_("实名居民"), default=False)

    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("主办单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
    )
    suggested_unit = models.ForeignKey(
        Unit,
        verbose_name=_("建议派遣单位"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )
    no_rule = models.BooleanField(_("无匹配规则"), default=False)
    escalation_level = models.PositiveSmallIntegerField(
        _("上报层级"), default=0, help_text=_("0 未上报；1 已上报街道；2 街道已吹哨部门")
    )
    escalated_to = models.ForeignKey(
        Region,
        verbose_name=_("上报至"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
    )

    created_at = models.DateTimeField(_("提交时间"), db_index=True)
    accepted_at = models.DateTimeField(_("立案时间"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    replied_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)

    # The deadline of the step the case is in: acceptance while waiting, handling once dispatched.
    due_at = models.DateTimeField(_("当前时限"), null=True, blank=True)
    warn_at = models.DateTimeField(_("预警时间"), null=True, blank=True)
    accept_due = models.DateTimeField(_("受理时限"), null=True, blank=True)
    handle_due = models.DateTimeField(_("办理时限"), null=True, blank=True)
    suspended_status = models.CharField(max_length=12, choices=Status.choices, blank=True, editable=False)
    suspended_remaining = models.DurationField(null=True, blank=True, editable=False)
    suspended_warn_remaining = models.DurationField(null=True, blank=True, editable=False)
    suspended_working = models.DurationField(
        _("暂停的工作时间"),
        default=dt.timedelta(0),
        editable=False,
        help_text=_("办理时长不计入待补充材料的时间"),
    )
    suspended_at = models.DateTimeField(null=True, blank=True, editable=False)

    reopen_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    rating = models.CharField(_("评价"), max_length=12, choices=Rating.choices, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    callback_pending = models.BooleanField(_("待回访"), default=False)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("并入"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )

    class Meta:
        verbose_name = _("诉求事件")
        verbose_name_plural = _("诉求事件")
        ordering = ["-created_at"]
        indexes = [
            # The light is derived from these two at read time; the sweep range-scans them.
            models.Index(fields=["due_at"], name="case_due"),
            models.Index(fields=["warn_at"], name="case_warn"),
            models.Index(fields=["unit", "status"], name="case_unit_status"),
            models.Index(fields=["reporter", "created_at"], name="case_reporter"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lon__isnull=True, lat__isnull=True) | Q(lon__isnull=False, lat__isnull=False),
                name="case_point_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES

    @property
    def sla(self) -> str:
        """The light of the current step (黄灯/红灯), exact at this moment; nothing stored goes stale."""
        from gongzhi.cases.rules import sla_state
        from gongzhi.core import clock

        return sla_state(clock.now(), self.warn_at, self.due_at)

    def get_sla_display(self) -> str:
        return Sla(self.sla).label

    @property
    def reporter_display(self) -> str:
        """What handlers see of the reporter: nothing when anonymous, a masked name otherwise."""
        if self.anonymous:
            return str(_("匿名"))
        return mask_name(self.reporter_name) if self.reporter_name else ""

    @property
    def masked_phone(self) -> str:
        return "" if self.anonymous else mask_phone(self.reporter_phone or "")


class AssignmentRole(models.TextChoices):
    LEAD = "lead", _("主办")
    ASSIST = "assist", _("协办")


class CaseAssignment(models.Model):
    """派遣记录：one unit's part in a case — the lead (主办) or an assisting unit (协办)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments")
    unit = models.ForeignKey(
        Unit, verbose_name=_("单位"), on_delete=models.PROTECT, related_name="assignments"
    )
    role = models.CharField(_("角色"), max_length=6, choices=AssignmentRole.choices)
    assigned_at = models.DateTimeField(_("派遣时间"))
    signed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    replied_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    whistled = models.BooleanField(_("吹哨报到"), default=False)

    class Meta:
        verbose_name = _("派遣记录")
        verbose_name_plural = _("派遣记录")
        ordering = ["assigned_at", "pk"]
        indexes = [models.Index(fields=["unit", "ended_at"], name="assignment_unit_open")]
        constraints = [
            # At most one active lead per case: the unit the deadline binds.
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(role="lead", ended_at__isnull=True),
                name="one_active_lead",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.number} {self.get_role_display()} {self.unit.name}"

    @property
    def active(self) -> bool:
        return self.ended_at is None


class EventKind(models.TextChoices):
    SUBMIT = "submit", _("提交")
    ACCEPT = "accept", _("立案")
    REJECT = "reject", _("不予受理")
    DISPATCH = "dispatch", _("派遣")
    WHISTLE = "whistle", _("吹哨派遣")
    SIGN = "sign", _("签收")
    REPLY = "reply", _("处置反馈")
    ASSIST_REPLY = "assist_reply", _("协办意见")
    RETURN = "return", _("退单")
    ESCALATE = "escalate", _("上报")
    SUSPEND = "suspend", _("待补充材料")
    RESUME = "resume", _("恢复办理")
    CLOSE = "close", _("结案")
    REOPEN = "reopen", _("返工")
    EVALUATE = "evaluate", _("评价")
    CALLBACK = "callback", _("回访")
    WARN = "warn", _("黄灯预警")
    OVERDUE = "overdue", _("红灯超期")
    AUTO_ESCALATE = "auto_escalate", _("超期自动上报")
    MERGE = "merge", _("并案")
    UNMERGE = "unmerge", _("取消并案")


class CaseEvent(models.Model):
    """办理过程：one row per transition; the timeline and the source of every KPI."""

    scope_path = "region_path"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("环节"), max_length=14, choices=EventKind.choices)
    at = models.DateTimeField(_("时间"), db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(_("操作人"), max_length=150, blank=True)
    unit = models.ForeignKey(
        Unit, verbose_name=_("单位"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    region_path = models.CharField(max_length=255, editable=False)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.TextField(_("说明"), blank=True)
    public = models.BooleanField(_("对反映人公开"), default=True)
    on_time = models.BooleanField(_("是否按时"), null=True, blank=True)
    working_seconds = models.PositiveBigIntegerField(_("办理用时（工作秒）"), null=True, blank=True)
    rating = models.CharField(_("评价"), max_length=12, choices=Rating.choices, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("办理过程")
        verbose_name_plural = _("办理过程")
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["kind", "at"], name="case_event_kind_at"),
            models.Index(fields=["region_path", "kind", "at"], name="case_event_region"),
        ]

    def __str__(self) -> str:
        return f"{self.case.number} {self.get_kind_display()}"


class CasePhoto(models.Model):
    """事件照片：from the report, a reply or a verification; served only to those who may see the case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="photos")
    event = models.ForeignKey(
        CaseEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="photos"
    )
    attachment = models.OneToOneField(Attachment, on_delete=models.PROTECT, related_name="case_photo")

    class Meta:
        verbose_name = _("事件照片")
        verbose_name_plural = _("事件照片")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.case.number} #{self.pk}"


class CaseSequence(models.Model):
    """Per-day counter behind the tracking numbers (20261122000001)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day:%Y%m%d} {self.last}"


class SweepState(models.Model):
    """How far the deadline sweep has looked: each run handles the crossings in (swept_until, now]."""

    swept_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.swept_until}"


class CaseFollower(models.Model):
    """关注：a resident who reported the same problem or chose to follow it instead of filing again."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="followers")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="followed_cases")
    since = models.DateTimeField(_("关注时间"))

    class Meta:
        verbose_name = _("关注人")
        verbose_name_plural = _("关注人")
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="unique_case_follower")]

    def __str__(self) -> str:
        return f"{self.case.number} · {self.user}"


class CategorySuggestion(models.Model):
    """智能分拨建议：what the classifier proposed for a case and what the dispatcher finally chose.

    `rank` is where the final category stood among the suggestions (1 = the top one, 0 = not among
    them); it is what production accuracy on the KPI page is computed from.
    """

    scope_path = "case__region_path"

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="suggestion")
    model_version = models.CharField(_("模型版本"), max_length=40)
    top = models.JSONField(_("建议分类"), default=list)  # [[code, probability], ...] best first
    suggested = models.ForeignKey(
        Category, verbose_name=_("首选分类"), on_delete=models.CASCADE, related_name="+"
    )
    confidence = models.FloatField(_("置信度"))
    auto_routed = models.BooleanField(_("自动分拨"), default=False)
    created_at = models.DateTimeField(_("建议时间"))
    final = models.ForeignKey(
        Category,
        verbose_name=_("最终分类"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    rank = models.PositiveSmallIntegerField(_("最终分类的建议名次"), null=True, blank=True)
    decided_at = models.DateTimeField(_("确认时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("智能分拨建议")
        verbose_name_plural = _("智能分拨建议")
        indexes = [models.Index(fields=["decided_at"], name="suggestion_decided")]

    def __str__(self) -> str:
        return f"{self.case.number} → {self.suggested.code} ({self.confidence:.2f})"
