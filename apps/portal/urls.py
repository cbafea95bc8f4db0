from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from apps.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.account_list, name="accounts"),
    path("<int:pk>/", views.account_detail, name="account"),
    path("<int:pk>/topup/", views.account_topup, name="topup"),
    path("<int:pk>/language/", views.account_language, name="language"),
    path("receipts/<int:pk>/", views.receipt_download, name="receipt"),
    # Account owners are not staff: the admin's login refuses them, so they have their own
    # (the same authentication backends, django-axes throttling included).
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html",
            redirect_authenticated_user=True,
            next_page=reverse_lazy("portal:accounts"),
        ),
        name="login",
    ),
    path(
        "logout/",
        auth_views.LogoutView.as_view(next_page=reverse_lazy("portal:login")),
        name="logout",
    ),
]
