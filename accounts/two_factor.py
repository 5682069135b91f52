"""Two-factor sign-in (SPEC §6b): an account can require it; its members then enroll an
authenticator (TOTP, django-otp's device) and enter a code after each sign-in before any
admin page, or the management API through their session, shows them anything. Admin API
keys are not sessions: they are unaffected (scope and expiry limit them).

`TwoFactorMiddleware` acts on the admin's and the management API's paths only (the
agent-api never carries a session): django-otp's middleware marks the session's user
verified or not, and an admin page asked for by a member who must and is not is
redirected to the code page (`accounts.admin_two_factor`).
"""

from collections.abc import Callable
from urllib.parse import quote

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django_otp.middleware import OTPMiddleware

from accounts.models import Membership

TWO_FACTOR_PATH = "/admin/two-factor/"
GUARDED = ("/admin/", "/api/")  # where a session is read
OPEN = ("/admin/login/", "/admin/logout/", TWO_FACTOR_PATH, "/admin/jsi18n/")


def two_factor_required(
    user: AbstractBaseUser | AnonymousUser, *, account_code: str | None = None
) -> bool:
    """Whether `user` is a member of an account (of `account_code`, when given) that
    requires two-factor sign-in."""
    if not user.is_authenticated:
        return False
    memberships = Membership.objects.filter(user_id=user.pk, account__require_two_factor=True)
    if account_code is not None:
        memberships = memberships.filter(account__code=account_code)
    return memberships.exists()


def session_verified(user: object) -> bool:
    """Whether this session's user entered a code (django-otp's mark)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.otp = OTPMiddleware(self._checked)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(GUARDED):
            return self.get_response(request)
        return self.otp(request)

    def _checked(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if (
            path.startswith("/admin/")
            and not path.startswith(OPEN)
            and two_factor_required(request.user)
            and not session_verified(request.user)
        ):
            return HttpResponseRedirect(
                f"{TWO_FACTOR_PATH}?next={quote(request.get_full_path(), safe='/')}"
            )
        return self.get_response(request)
