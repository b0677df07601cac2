from django.urls import include, path
from django.views.i18n import set_language

from gongzhi.api import api
from gongzhi.core import views as core_views
from gongzhi.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("login/", core_views.LoginView.as_view(), name="login"),
    path("logout/", core_views.logout_view, name="logout"),
    path("account/password/", core_views.password_change, name="password_change"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("regions/", core_views.region_list, name="region_list"),
    path("regions/export.xlsx", core_views.region_export, name="region_export"),
    path("regions/<str:code>/", core_views.region_detail, name="region_detail"),
    path("people/staff/<int:pk>/phone/", core_views.reveal_phone, name="reveal_staff_phone"),
    path("admin/accounts/", core_views.account_list, name="account_list"),
    path("admin/accounts/<int:pk>/", core_views.account_detail, name="account_detail"),
    path("admin/accounts/<int:pk>/grants/", core_views.account_grant, name="account_grant"),
    path(
        "admin/accounts/<int:pk>/grants/<int:grant_pk>/revoke/",
        core_views.account_revoke,
        name="account_revoke",
    ),
    path(
        "admin/accounts/<int:pk>/password/",
        core_views.account_password_reset,
        name="account_password_reset",
    ),
    path("admin/accounts/<int:pk>/active/", core_views.account_set_active, name="account_set_active"),
    path("admin/api-keys/", core_views.api_keys, name="api_keys"),
    path("admin/api-keys/<int:pk>/revoke/", core_views.api_key_revoke, name="api_key_revoke"),
    path("admin/audit/", core_views.audit_log, name="audit_log"),
    path("notifications/", core_views.notification_list, name="notifications"),
    path("notifications/read/", core_views.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/open/", core_views.notification_open, name="notification_open"),
    path("people/", include("gongzhi.people.urls")),
    path("cases/", include("gongzhi.cases.urls")),
    path("open311/v2/", include("gongzhi.cases.open311_urls")),
    path("deliberation/", include("gongzhi.deliberation.urls")),
    path("api/v1/", api.urls),
]

handler400 = "gongzhi.web.views.error_400"
handler403 = "gongzhi.web.views.error_403"
handler404 = "gongzhi.web.views.error_404"
handler500 = "gongzhi.web.views.error_500"
