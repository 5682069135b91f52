"""The management API under `/api/{account}/`: each app's `api.py` brings its resources."""

from agents.api import urlpatterns as agents_urls
from goals.api import urlpatterns as goals_urls
from notifications.api import urlpatterns as notifications_urls
from reports.api import urlpatterns as reports_urls
from targets.api import urlpatterns as targets_urls
from visitors.api import urlpatterns as visitors_urls
from visitors.explain_api import urlpatterns as explain_urls

urlpatterns = [
    *visitors_urls,
    *explain_urls,
    *targets_urls,
    *goals_urls,
    *reports_urls,
    *agents_urls,
    *notifications_urls,
]
