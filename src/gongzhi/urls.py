from django.urls import path
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
    path("admin/api-keys/", core_views.api_keys, name="api_keys"),
    path("admin/api-keys/<int:pk>/revoke/", core_views.api_key_revoke, name="api_key_revoke"),
    path("admin/audit/", core_views.audit_log, name="audit_log"),
    path("api/v1/", api.urls),
]

handler400 = "gongzhi.web.views.error_400"
handler403 = "gongzhi.web.views.error_403"
handler404 = "gongzhi.web.views.error_404"
handler500 = "gongzhi.web.views.error_500"
