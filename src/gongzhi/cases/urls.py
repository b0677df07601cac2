from django.urls import path

from gongzhi.cases import config_views, resident_views, views

app_name = "cases"

urlpatterns = [
    # staff
    path("", views.home, name="home"),
    path("dispatch/", views.dispatch_queue, name="dispatch_queue"),
    path("unit/", views.unit_queue, name="unit_queue"),
    path("verify/", views.verify_queue, name="verify_queue"),
    path("all/", views.case_list, name="list"),
    path("map/", views.case_map, name="map"),
    path("map/points.json", views.map_points, name="map_points"),
    path("new/", views.staff_intake, name="staff_intake"),
    path("kpi/", config_views.kpi_page, name="kpi"),
    path("c/<str:number>/", views.case_detail, name="detail"),
    path("c/<str:number>/merge/", views.case_merge, name="merge"),
    path("c/<str:number>/unmerge/", views.case_unmerge, name="unmerge"),
    path("c/<str:number>/<str:step>/", views.case_step, name="step"),
    path("photos/<int:pk>/", views.photo, name="photo"),
    # residents
    path("report/", resident_views.report, name="report"),
    path("report/similar.json", resident_views.similar, name="similar"),
    path("follow/<str:number>/", resident_views.follow, name="follow"),
    path("mine/", resident_views.mine, name="mine"),
    path("mine/<str:number>/", resident_views.mine_detail, name="mine_detail"),
    path("mine/<str:number>/rate/", resident_views.rate, name="rate"),
    path("mine/<str:number>/supplement/", resident_views.supplement, name="supplement"),
    path("mine/<str:number>/join/<str:other>/", resident_views.join, name="join"),
    path("mine/<str:number>/photos/<int:pk>/", resident_views.mine_photo, name="mine_photo"),
    # administrators
    path("config/", config_views.config_home, name="config"),
    path("config/categories/<int:pk>/", config_views.category_edit, name="category_edit"),
    path(
        "config/categories/<int:pk>/attributes/",
        config_views.category_attribute_add,
        name="category_attribute_add",
    ),
    path(
        "config/categories/<int:pk>/attributes/<int:attribute_pk>/delete/",
        config_views.category_attribute_remove,
        name="category_attribute_remove",
    ),
    path("config/units/", config_views.unit_list, name="units"),
    path("config/units/new/", config_views.unit_edit, name="unit_new"),
    path("config/units/<int:pk>/", config_views.unit_edit, name="unit_edit"),
    path("config/units/<int:pk>/members/", config_views.unit_members, name="unit_members"),
    path("config/rules/", config_views.rule_list, name="rules"),
    path("config/rules/<int:pk>/delete/", config_views.rule_delete, name="rule_delete"),
]
