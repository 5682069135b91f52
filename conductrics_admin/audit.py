"""The audit log's request side (django-auditlog): who made a configuration change.

`AuditActorMiddleware` hands auditlog the logged-in user (or none: an admin API key, a
management command: the key's name and prefix are noted by its authentication,
`accounts.audit.audit_actor`) and the client address; the agent-api, which changes no
configuration, skips it. What is logged is registered in `accounts.audit`.
"""

from auditlog.middleware import AuditlogMiddleware

from accounts.audit import audit_actor


class AuditActorMiddleware(AuditlogMiddleware):
    def __call__(self, request):
        if "/v3/agent-api" in request.path:
            return self.get_response(request)
        with audit_actor():  # an admin key names itself here once authenticated
            return super().__call__(request)
