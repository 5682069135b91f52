"""The management API under `/api/{account}/`: each app's `api.py` brings its resources."""

from reports.api import urlpatterns as reports_urls

urlpatterns = [*reports_urls]
