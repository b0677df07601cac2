"""Region tree, accounts and role grants, API keys, audit log, login failures, periodic jobs,
notifications outbox and attachments."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from gongzhi.core import rules
from gongzhi.core.fields import BlindIndexField, EncryptedField
from gongzhi.core.masking import mask_phone
from gongzhi.core.roles import Role


class Level(models.TextChoices):
    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    COUNTY = "county", _("区县")
    STREET = "street", _("街道乡镇")
    COMMUNITY = "community", _("社区村")
    GRID = "grid", _("网格")


LEVEL_ORDER = [choice.value for choice in Level]


class Region(models.Model):
    """行政区划与网格：a node of the region tree every governed record hangs on."""

    code = models.CharField(
        _("代码"),
        max_length=20,
        unique=True,
        help_text=_("统计用区划代码的自然长度（2/4/6/9/12 位）或网格代码"),
    )
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # Materialised path of codes with a trailing slash: "51/5109/510903/510903014/".
    # "In this subtree" is then one indexed prefix match on any database.
    path = models.CharField(_("路径"), max_length=255, unique=True, editable=False)
    urban_rural_code = models.CharField(_("城乡分类代码"), max_length=3, blank=True)
    boundary = models.JSONField(_("边界"), null=True, blank=True, help_text=_("GeoJSON 面，WGS-84"))
    boundary_generated = models.BooleanField(_("边界为示意"), default=False)
    center_lon = models.FloatField(_("中心经度"), null=True, blank=True)
    center_lat = models.FloatField(_("中心纬度"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["path"]
        indexes = [models.Index(fields=["level", "path"])]

    def __str__(self) -> str:
        return self.name

    @property
    def division_code(self) -> str:
        """12-digit statistical division code for administrative levels ('' for grids)."""
        return rules.division_code12(self.code) if self.level != Level.GRID else ""

    @property
    def depth(self) -> int:
        return self.path.count("/")

    @property
    def ancestor_codes(self) -> list[str]:
        return self.path.rstrip("/").split("/")[:-1]

    def ancestors(self):
        return Region.objects.filter(code__in=self.ancestor_codes).order_by("path")

    def is_within(self, other: Region) -> bool:
        return self.path.startswith(other.path)


class User(AbstractUser):
    """账号：staff, residents and administrators. Roles come from RoleGrant rows."""

    real_name = models.CharField(_("姓名"), max_length=50, blank=True)
    phone = EncryptedField(_("手机号"), purpose="phone")
    phone_index = BlindIndexField(source="phone")
    title = models.CharField(_("职务"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        indexes = [models.Index(fields=["phone_index"])]

    def __str__(self) -> str:
        return self.real_name or self.username

    @property
    def display_name(self) -> str:
        return self.real_name or self.username

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


class RoleGrant(models.Model):
    """角色授权：a role held at a region node; it covers that node's whole subtree."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("区域"), on_delete=models.PROTECT, related_name="grants"
    )
    granted_at = models.DateTimeField(_("授权时间"))
    granted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("角色授权")
        verbose_name_plural = _("角色授权")
        constraints = [models.UniqueConstraint(fields=["user", "role", "region"], name="unique_role_grant")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.region}"


class ApiKey(models.Model):
    """接口密钥：an integrator's key, bound to a region and a set of actions. Only a hash is stored."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    prefix = models.CharField(_("前缀"), max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, editable=False)
    region = models.ForeignKey(Region, verbose_name=_("区域"), on_delete=models.PROTECT)
    actions = models.JSONField(_("允许的操作"), default=list)
    created_at = models.DateTimeField(_("创建时间"))
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("接口密钥")
        verbose_name_plural = _("接口密钥")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """审计日志：append-only and hash-chained; each entry's hash covers its content and the previous hash."""

    at = models.DateTimeField(_("时间"), db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("操作者"), max_length=150)
    action = models.CharField(_("操作"), max_length=60, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=60, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    region_path = models.CharField(_("区域路径"), max_length=255, blank=True, db_index=True)
    before = models.JSONField(_("变更前"), null=True, blank=True)
    after = models.JSONField(_("变更后"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    scope_path = "region_path"

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("audit entries are append-only")


class AuditChainHead(models.Model):
    """One row holding the latest hash: locking it serialises writers so the chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_hash = models.CharField(max_length=64)
    last_entry_id = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"audit head #{self.last_entry_id}"


class LoginFailure(models.Model):
    """登录失败：kept to lock an account or an address after repeated failures."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.username} {self.ip} {self.at:%Y-%m-%d %H:%M}"


class PeriodicJob(models.Model):
    """定时任务：when a periodic task last ran and runs next; survives restarts."""

    name = models.CharField(max_length=150, unique=True)
    interval_seconds = models.PositiveIntegerField()
    next_run_at = models.DateTimeField()
    running_since = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=20, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------- notifications outbox


class Notification(models.Model):
    """站内消息：one message to one person, written in the same transaction as the change it reports."""

    recipient = models.ForeignKey(
        User,
        verbose_name=_("收件人"),
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # both indexes below start with the recipient
    )
    kind = models.CharField(_("类型"), max_length=60, help_text=_("如 case.dispatched"))
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(_("链接"), max_length=500, blank=True, help_text=_("站内相对路径，以 / 开头"))
    object_type = models.CharField(_("对象类型"), max_length=60, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="core_notif_recipient_read"),
            models.Index(fields=["recipient", "-created_at"], name="core_notif_recipient_new"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Delivery(models.Model):
    """外发：sending one notification out by one channel (email, webhook); retried with backoff."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("电子邮件")
        WEBHOOK = "webhook", _("Webhook")

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")
        SKIPPED = "skipped", _("已跳过")

    notification = models.ForeignKey(
        Notification, verbose_name=_("站内消息"), on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试时间"))
    # Set by the worker that claimed the row for its current attempt (see notify.deliver_pending).
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)

    class Meta:
        verbose_name = _("外发记录")
        verbose_name_plural = _("外发记录")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="core_delivery_due")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} · {self.notification_id} · {self.get_status_display()}"


# ---------------------------------------------------------------- attachments


class Attachment(models.Model):
    """附件：an uploaded image, cleaned (type sniffed, metadata stripped) before storage.

    Never served from a public URL: the owning module's view checks scope, then calls
    `uploads.file_response()`.
    """

    file = models.FileField(_("文件"), upload_to="attachments/%Y/%m/", max_length=255)
    content_type = models.CharField(_("内容类型"), max_length=50)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    width = models.PositiveIntegerField(_("宽度"))
    height = models.PositiveIntegerField(_("高度"))
    original_name = models.CharField(_("原文件名"), max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        User, verbose_name=_("上传者"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上传时间"))

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")

    def __str__(self) -> str:
        return self.original_name or self.file.name
