"""`{% account_switcher %}`: in the admin's header, the account the admin shows, for a
member of several accounts or a superuser (accounts/current.py)."""

from django import template

from accounts.current import current_account_id
from accounts.selectors import accounts_for_user

register = template.Library()
SWITCHER_ACCOUNTS_MAX = 200


@register.inclusion_tag("admin/account_switcher.html", takes_context=True)
def account_switcher(context: template.Context) -> dict:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return {"accounts": []}
    accounts = list(accounts_for_user(user=request.user).order_by("code")[:SWITCHER_ACCOUNTS_MAX])
    return {
        "accounts": accounts if len(accounts) > 1 else [],
        "current": current_account_id(request),
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
