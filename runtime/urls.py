from django.urls import path

from runtime.views import AgentApiBundleView, AgentApiTargetView, AgentApiView

urlpatterns = [
    path("<str:account>/v3/agent-api", AgentApiView.as_view(), name="agent-api"),
    path(
        "<str:account>/v3/agent-api/js/<str:target>",
        AgentApiBundleView.as_view(),
        name="agent-api-bundle",
    ),
    path(
        "<str:account>/v3/agent-api/<str:target>",
        AgentApiTargetView.as_view(),
        name="agent-api-target",
    ),
]
