"""One account at a time (SPEC §6): a member of several accounts, or a superuser, picks
the account the admin shows; lists, filters, pickers and the overview then hold that
account's objects only. The choice lives in the session; "all my accounts" clears it."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.selectors import accounts_for_user

SESSION_KEY = "conductrics_account"


def current_account_id(request: HttpRequest) -> int | None:
    """The account picked in this session, if the user may still see it."""
    chosen = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if chosen is None:
        return None
    cached = getattr(request, "_conductrics_current", None)
    if cached is None:
        allowed = accounts_for_user(user=request.user).filter(pk=chosen).exists()
        cached = chosen if allowed else 0
        request._conductrics_current = cached  # type: ignore[attr-defined]  # once per request
    return cached or None


@require_POST
def account_switch_view(request: HttpRequest) -> HttpResponseRedirect:
    """Pick the account the admin shows (an empty choice: all the user's accounts)."""
    raw = request.POST.get("account", "")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/admin/"
    if raw == "":
        request.session.pop(SESSION_KEY, None)
        return HttpResponseRedirect(target)
    account = accounts_for_user(user=request.user).filter(pk=raw if raw.isdigit() else -1).first()
    if account is None:
        messages.error(request, "No such account among yours.")
    else:
        request.session[SESSION_KEY] = account.pk
    return HttpResponseRedirect(target)
