"""URLs of the product: the admin, the agent-api, the management API, the demo page."""

from django.contrib import admin
from django.contrib.auth.views import PasswordResetConfirmView
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.admin_two_factor import two_factor_view
from accounts.current import account_switch_view
from accounts.two_factor import TWO_FACTOR_PATH
from conductrics_admin.health import healthz, readyz
from conductrics_admin.metrics import metrics
from reports.admin import admin_urls as reports_admin_urls
from runtime.demo import demo_page
from targets.admin import admin_urls as targets_admin_urls
from visitors.admin import admin_urls as visitors_admin_urls

# The admin's home leads with the overview of the member's accounts (reports/overview.py).
admin.site.index_template = "admin/overview_index.html"

# Admin pages of apps that read other apps' objects (an agent's results, an account's
# "forget visitor"), in the admin's namespace, before the stock pages of those objects.
admin_urls = [
    *reports_admin_urls,
    *visitors_admin_urls,
    *targets_admin_urls,
    *admin.site.get_urls(),
]

urlpatterns = [
    # the agent-api first: it takes nearly every request, and resolving it is then cheapest
    path("", include("runtime.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/switch-account/", account_switch_view, name="account-switch"),
    path(TWO_FACTOR_PATH.lstrip("/"), admin.site.admin_view(two_factor_view), name="two-factor"),
    # a new member chooses a password (the link "Add a member" shows its owner once)
    path(
        "admin/set-password/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(success_url="/admin/login/", post_reset_login=False),
        name="password-set",
    ),
    path("admin/", (admin_urls, "admin", admin.site.name)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/<str:account>/", include("conductrics_admin.api_urls")),
    path("demo/", demo_page, name="demo"),
]
