"""WSGI entry point (gunicorn conductrics_admin.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from conductrics_admin.request_shape import charset_guard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conductrics_admin.settings")
# the query string decoded as UTF-8 whatever charset the Content-Type names (SPEC §10)
application = charset_guard(get_wsgi_application())

# Load the URLconf and every view now (Django would on the first request), then put all
# the objects made so far out of the garbage collector's reach: a full collection walked
# all of them, a pause every few thousand requests of a worker; it now walks only what
# requests leave behind (measured in docs/benchmarks.md). They live as long as the
# process anyway.
get_resolver().url_patterns  # noqa: B018 - loading is the point
gc.freeze()
