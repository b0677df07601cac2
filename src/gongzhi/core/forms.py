from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from gongzhi.core import services
from gongzhi.core.roles import ACTIONS


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
