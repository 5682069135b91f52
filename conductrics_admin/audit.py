"""The audit log's request side (django-auditlog): who made a configuration change.

`AuditActorMiddleware` hands auditlog the logged-in user (or none: an admin API key, a
management command: the key's name and prefix are noted by its authentication,
`accounts.audit.audit_actor`) and the client address; the runtime APIs, which change no
configuration, skip it. What is logged is registered in `accounts.audit`.
"""

from auditlog.middleware import AuditlogMiddleware

from accounts.audit import audit_actor
from conductrics_admin.request_shape import RUNTIME_PATH_PART


class AuditActorMiddleware(AuditlogMiddleware):
    def __call__(self, request):
        if RUNTIME_PATH_PART in request.path:
            return self.get_response(request)
        with audit_actor():  # an admin key names itself here once authenticated
            return super().__call__(request)
