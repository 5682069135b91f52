"""`{% account_overview %}`: the overview at the head of the admin's home page."""

from django import template
from django.urls import reverse

from accounts.current import current_account_id
from accounts.selectors import accounts_for_user
from reports.overview import OVERVIEW_ACCOUNTS_MAX, accounts_overview

register = template.Library()

_FIX_URLS = {
    "agent": "admin:agents_agent_change",
    "goal": "admin:goals_goal_change",
    "target": "admin:targets_deploytarget_change",
}


@register.inclusion_tag("admin/overview.html", takes_context=True)
def account_overview(context: template.Context) -> dict:
    request = context["request"]
    shown = accounts_for_user(user=request.user)
    current = current_account_id(request)
    if current is not None:  # one account at a time
        shown = shown.filter(pk=current)
    accounts = list(shown.order_by("code")[: OVERVIEW_ACCOUNTS_MAX + 1])
    overviews = accounts_overview(accounts=accounts)
    for overview in overviews:
        for line in overview.agents:
            line.url = reverse("admin:agents_agent_change", args=[line.agent.pk])
            line.results_url = reverse("admin:agents_agent_results", args=[line.agent.pk])
        for warning in overview.warnings:
            warning.url = reverse(_FIX_URLS[warning.fix], args=[warning.obj_id])
    return {"overviews": overviews, "more": len(accounts) > OVERVIEW_ACCOUNTS_MAX}
