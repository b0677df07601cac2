from django.urls import path

from gongzhi.people import import_views, views

app_name = "people"

urlpatterns = [
    path("", views.search, name="search"),
    path("residents/<int:pk>/", views.resident_detail, name="resident"),
    path("residents/new/", views.resident_new, name="resident_new"),
    path("residents/<int:pk>/edit/", views.resident_edit, name="resident_edit"),
    path("residents/<int:pk>/move/", views.resident_move, name="resident_move"),
    path("residents/<int:pk>/move-in/", views.resident_move_in, name="resident_move_in"),
    path("residents/<int:pk>/move-out/", views.resident_move_out, name="resident_move_out"),
    path("residents/<int:pk>/death/", views.resident_death, name="resident_death"),
    path("residents/<int:pk>/tags/", views.resident_tag, name="resident_tag"),
    path("residents/<int:pk>/tags/<int:tag_pk>/remove/", views.resident_untag, name="resident_untag"),
    path("residents/<int:pk>/reveal/<str:field>/", views.resident_reveal, name="resident_reveal"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("households/<int:pk>/householder/", views.household_set_householder, name="household_householder"),
    path("buildings/", views.building_list, name="buildings"),
    path("buildings/<int:pk>/", views.building_detail, name="building"),
    path("organisations/", views.organisation_list, name="organisations"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("duplicates/merge/", views.duplicates_merge, name="duplicates_merge"),
    path("import/", import_views.import_page, name="import"),
    path("import/<int:pk>/", import_views.import_job, name="import_job"),
    path("import/<int:pk>/status/", import_views.import_job_status, name="import_job_status"),
    path("import/template/<str:kind>.xlsx", import_views.import_template, name="import_template"),
    path("export.xlsx", import_views.export_residents, name="export"),
]
