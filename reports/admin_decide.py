"""The admin's "Decide" page of an agent (SPEC §6b): the goals' verdicts now, a winner and
a note; deciding pauses the agent on the winner, served to everyone. Routed beside the
results page (`reports.admin.admin_urls`): it reads the report."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.admin_scoping import admin_object_get
from agents.models import DECISION_NOTE_MAX, Agent
from reports.lifecycle import agent_decide_now, agent_verdicts


class DecideForm(forms.Form):
    variation = forms.ChoiceField(label="Winner", widget=forms.RadioSelect)
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=DECISION_NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why, and what happens next (kept with the decision).",
    )

    def __init__(self, *args: object, agent: Agent, suggested: str | None, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["variation"]
        field.choices = [  # type: ignore[attr-defined]
            (v.code, f"{v.code}{f' ({v.name})' if v.name else ''}")
            for v in agent.variations.order_by("position", "id")
        ]
        field.initial = suggested


def agent_decide_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """Show the verdicts and record a decision (editors of the agent's account)."""
    model_admin, agent = admin_object_get(
        request=request, model=Agent, object_id=object_id, change=True
    )
    verdicts = agent_verdicts(agent)
    suggested = next((v["variation"] for v in verdicts if v.get("variation")), None)
    form = DecideForm(
        request.POST if request.method == "POST" else None, agent=agent, suggested=suggested
    )
    if request.method == "POST" and form.is_valid():
        decision = agent_decide_now(
            agent=agent,
            variation_code=form.cleaned_data["variation"],
            note=form.cleaned_data["note"],
            user=request.user,
            label=request.user.get_username(),
        )
        messages.success(
            request,
            f"Decided: {decision.variation_code} won. {agent.code} is paused on it, so every "
            "visitor gets it from now on.",
        )
        return HttpResponseRedirect(reverse("admin:agents_agent_results", args=[agent.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": agent,
        "title": f"Decide {agent.name} ({agent.code})",
        "form": form,
        "verdicts": verdicts,
        "decisions": list(agent.decisions.all()[:10]),
    }
    return TemplateResponse(request, "admin/agents/agent/decide.html", context)
