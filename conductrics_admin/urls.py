"""URLs of the product: the admin, the agent-api, the management API, the demo page."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from runtime.demo import demo_page

urlpatterns = [
    # the agent-api first: it takes nearly every request, and resolving it is then cheapest
    path("", include("runtime.urls")),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/<str:account>/", include("conductrics_admin.api_urls")),
    path("demo/", demo_page, name="demo"),
]
