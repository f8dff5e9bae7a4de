from django.urls import path

from callbacks.api import views

urlpatterns = [
    path("callbacks/", views.CallbackRequestListCreateView.as_view(), name="callback-list"),
    path("callbacks/<int:pk>/", views.CallbackRequestDetailView.as_view(), name="callback-detail"),
    path("callbacks/<int:pk>/cancel/", views.CallbackRequestCancelView.as_view(), name="callback-cancel"),
]
