from django.urls import path

from countries.api.views import CountryListView, CountryPackView, MissionListView

urlpatterns = [
    path("countries/", CountryListView.as_view(), name="country-list"),
    path("countries/<str:code>/", CountryPackView.as_view(), name="country-pack"),
    path("missions/", MissionListView.as_view(), name="mission-list"),
]
