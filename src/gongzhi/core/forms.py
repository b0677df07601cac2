from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from gongzhi.core import services
from gongzhi.core.roles import ACTIONS, Role


def client_ip(request) -> str | None:
    # Behind a reverse proxy, configure it to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR")


class LockingAuthenticationForm(AuthenticationForm):
    """Refuses a locked account or address before checking the password; records every failure."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("用户名或密码错误。"),
        "inactive": _("该账号已停用。"),
        "locked_account": _("该账号登录失败次数过多，已临时锁定，请 %(minutes)s 分钟后再试或联系管理员。"),
        "locked_ip": _("此地址登录失败次数过多，已临时锁定，请 %(minutes)s 分钟后再试。"),
    }

    def clean(self):
        from django.conf import settings

        username = (self.cleaned_data.get("username") or "").strip()
        ip = client_ip(self.request)
        minutes = settings.GONGZHI_LOGIN_WINDOW_MINUTES
        lock = services.login_lock(username, ip)
        if lock:
            raise forms.ValidationError(
                self.error_messages[f"locked_{lock}"], code="locked", params={"minutes": minutes}
            )
        try:
            return super().clean()
        except forms.ValidationError:
            lock = services.record_login_failure(username, ip)
            if lock:
                raise forms.ValidationError(
                    self.error_messages[f"locked_{lock}"], code="locked", params={"minutes": minutes}
                ) from None
            raise


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("原密码"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password = forms.CharField(
        label=_("新密码"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少 10 位，不能是常见密码或纯数字"),
    )
    new_password2 = forms.CharField(
        label=_("再次输入新密码"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password") != data.get("new_password2"):
            self.add_error("new_password2", _("两次输入的新密码不一致"))
        return data


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100, help_text=_("例如：12345 热线对接"))
    region = forms.ModelChoiceField(label=_("区域"), queryset=None, help_text=_("密钥只能访问该区域及其下级"))
    actions = forms.MultipleChoiceField(
        label=_("允许的操作"), choices=(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = lambda r: f"{r.name}（{r.code}）"
        self.fields["actions"].choices = sorted(ACTIONS.items())


def _region_label(region) -> str:
    return f"{region.name}（{region.code}）"


class _NewPasswordMixin:
    """Two password fields that must match; strength is checked by the service."""

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password2"):
            self.add_error("password2", _("两次输入的密码不一致"))
        return data


def _password_fields(label):
    return (
        forms.CharField(
            label=label,
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=_("至少 10 位，不能是常见密码或纯数字"),
        ),
        forms.CharField(
            label=_("再次输入密码"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        ),
    )


class ProfileForm(forms.Form):
    """The stored phone number is never put back into the form: administrators may not read it."""

    real_name = forms.CharField(label=_("姓名"), max_length=50, required=False)
    phone = forms.CharField(
        label=_("新手机号"), max_length=30, required=False, help_text=_("留空则保持原号码不变")
    )
    clear_phone = forms.BooleanField(label=_("清除手机号"), required=False)
    title = forms.CharField(label=_("职务"), max_length=50, required=False)

    def clean(self):
        data = super().clean()
        if data.get("clear_phone") and data.get("phone"):
            self.add_error("phone", _("不能同时填写新手机号并清除手机号"))
        return data


class GrantForm(forms.Form):
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices)
    region = forms.ModelChoiceField(
        label=_("区域"),
        queryset=None,
        help_text=_("角色在该区域及其全部下级生效"),
        error_messages={"invalid_choice": _("该区域不在您的管辖范围内")},
    )

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = _region_label


class AccountCreateForm(_NewPasswordMixin, forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    real_name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(
        label=_("手机号"), max_length=30, required=False, help_text=_("选填；手机或带区号的座机")
    )
    title = forms.CharField(label=_("职务"), max_length=50, required=False)
    password, password2 = _password_fields(_("初始密码"))
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices)
    region = forms.ModelChoiceField(
        label=_("区域"),
        queryset=None,
        help_text=_("角色在该区域及其全部下级生效"),
        error_messages={"invalid_choice": _("该区域不在您的管辖范围内")},
    )

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = _region_label


class PasswordResetForm(_NewPasswordMixin, forms.Form):
    password, password2 = _password_fields(_("新密码"))
