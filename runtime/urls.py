from django.urls import path

from runtime.views import (
    AgentApiBundleView,
    AgentApiTargetView,
    AgentApiView,
    GoalEventsTargetView,
    GoalEventsView,
)

urlpatterns = [
    path("<str:account>/v3/goal-events", GoalEventsView.as_view(), name="goal-events"),
    path(
        "<str:account>/v3/goal-events/<str:target>",
        GoalEventsTargetView.as_view(),
        name="goal-events-target",
    ),
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
