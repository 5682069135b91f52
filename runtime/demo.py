"""The demo page (`/demo/`): the seed's scenario in a browser, with the JavaScript client;
`/demo/?mode=local` decides in the browser from the target's bundle (SPEC §5).

Served only when DEMO_ENABLED (on with DEBUG): it shows the demo account's keys.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from agents.demo import DEMO_ACCOUNT, DEMO_AGENT, DEMO_CLICK_GOAL, DEMO_GOAL
from targets.models import DeployTarget, TargetKind


def demo_page(request: HttpRequest) -> HttpResponse:
    if not settings.DEMO_ENABLED:
        raise Http404("The demo page is off (DEMO_ENABLED).")
    targets = {
        t.kind: t for t in DeployTarget.objects.filter(account__code=DEMO_ACCOUNT).order_by("code")
    }
    express = targets.get(TargetKind.EXPRESS)
    if express is None:
        raise Http404("No demo account: run `python manage.py seed_demo` first.")
    rest = targets.get(TargetKind.REST)
    return render(
        request,
        "demo/index.html",
        {
            "account": DEMO_ACCOUNT,
            "agent": DEMO_AGENT,
            "goal": DEMO_GOAL,
            "click_goal": DEMO_CLICK_GOAL,
            "express_key": express.api_key,
            "rest_key": rest.api_key if rest else "",
            "endpoint": request.build_absolute_uri("/").rstrip("/"),
            "express_target": express.code,
            "local": request.GET.get("mode") == "local",
        },
    )
