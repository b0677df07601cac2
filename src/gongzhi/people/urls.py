from django.urls import path

from gongzhi.people import views

app_name = "people"

urlpatterns = [
    path("", views.search, name="search"),
    path("residents/<int:pk>/", views.resident_detail, name="resident"),
]
