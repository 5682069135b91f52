"""The goal page's "Re-check skipped events" (SPEC §4c "Replaying skipped goals"): once a
wrong setting is fixed, the goal's stored events that were skipped for it are judged again
at their own time. A dry run counts first; the run itself is offered only after it, shows
what it credited, and is kept as a `GoalReplay` (audited, with who ran it). Routed by
`visitors.admin.admin_urls`; `replay_goals` is the same from the command line."""

from datetime import UTC, date, datetime, time
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from accounts.audit import audit_entries_of, audit_who
from goals.models import Goal
from goals.reasons import WORDS
from visitors.admin_explain import object_and_conf
from visitors.models import GoalReplay
from visitors.replay import REPLAYABLE, ReplayCounts, goal_events_replay


class RecheckForm(forms.Form):
    reasons = forms.MultipleChoiceField(
        choices=[(r, f"{WORDS.get(r, r)} ({r})") for r in REPLAYABLE],
        initial=list(REPLAYABLE),
        widget=forms.CheckboxSelectMultiple,
        help_text="Events skipped for these reasons are judged again.",
    )
    since = forms.DateField(
        required=False, help_text="Events that happened from this day (UTC), YYYY-MM-DD."
    )
    until = forms.DateField(
        required=False, help_text="Events that happened before this day (UTC), YYYY-MM-DD."
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since >= until:
            raise forms.ValidationError("“Until” must be after “since”.")
        return cleaned


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day else None


def _rows(counts: ReplayCounts) -> list[dict[str, Any]]:
    return [
        {"reason": r, "words": WORDS.get(r, r), "before": n, "after": counts.after[r]}
        for r, n in sorted((r, counts.before[r]) for r in set(counts.before) | set(counts.after))
    ]


def _runs(goal: Goal) -> list[tuple[GoalReplay, str]]:
    """The goal's last re-checks, each with who ran it (from the audit log)."""
    runs = GoalReplay.objects.filter(account_id=goal.account_id, goal_code=goal.code)[:20]
    return [(run, _who(run)) for run in runs]


def _who(run: GoalReplay) -> str:
    entry = audit_entries_of(GoalReplay, run.pk).first()
    return audit_who(entry) if entry is not None else "—"


def goal_recheck_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """Count (dry run), then judge again, the skipped events of a goal its staff may change."""
    model_admin, goal, conf = object_and_conf(request, Goal, object_id, change=True)
    form = RecheckForm(request.POST if request.method == "POST" else None)
    counted = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        run = request.POST.get("action") == "run"
        counts = goal_events_replay(
            account=conf, goal_code=goal.code, since=_midnight(data["since"]),
            until=_midnight(data["until"]), replay_reasons=data["reasons"], dry_run=not run,
        )  # fmt: skip
        if run:
            messages.success(
                request,
                f"Judged {counts.events:,} skipped events of {goal.code} again: credited "
                f"{counts.credited:,} of them ({counts.credits:,} credits).",
            )
            return HttpResponseRedirect(request.path)
        counted = {"counts": counts, "rows": _rows(counts)}
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": goal,
        "title": f"Re-check skipped events of {goal.code}",
        "form": form,
        "counted": counted,
        "runs": _runs(goal),
    }
    return TemplateResponse(request, "admin/goals/goal/recheck.html", context)
