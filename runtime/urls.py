from django.urls import re_path

from runtime.views import AgentApiView

urlpatterns = [
    re_path(
        r"^(?P<account>[^/]+)/v3/agent-api(?:/(?P<target>[^/]+))?/?$",
        AgentApiView.as_view(),
        name="agent-api",
    ),
]
