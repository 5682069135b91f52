"""The admin's explain forms, recording nothing (routed by `visitors.admin.admin_urls`):
"Explain a decision" of an agent, which variation a visitor would get and why (each step
and leaf that decided), and "Explain a goal" of a goal, what sending it now would answer and
why, agent by agent. The management API's `explain` endpoints answer the same."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django import forms
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.admin_scoping import admin_object_get
from agents.models import Agent
from goals.event_time import T_RULE, event_time_parse
from goals.models import Goal
from targeting.inputs import inputs_problem
from targeting.traits import TRAITS_RULE, traits_parse
from targeting.useragent import UA_LENGTH_MAX, ua_problem
from visitors.config import AccountConf, TargetConf, account_conf
from visitors.execution import Explanation, goal_explain, selection_explain
from visitors.request import MAX_ID_LENGTH, goal_item, printable_id, vid_problem

M = TypeVar("M", bound=Model)


def object_and_conf(
    request: HttpRequest, model: type[M], object_id: str, *, change: bool
) -> tuple[Any, M, AccountConf]:
    """The admin of `model`, its object `object_id` as this user may see (or change) it,
    and its account's configuration snapshot."""
    model_admin, obj = admin_object_get(
        request=request, model=model, object_id=object_id, change=change
    )
    conf = account_conf(code=obj.account.code)  # type: ignore[attr-defined]
    if conf is None:  # the object's own account: always there
        raise Http404("No such account.")
    return model_admin, obj, conf


class VisitorForm(forms.Form):
    """Who an explanation is for, and where: what both explain forms take."""

    target = forms.ChoiceField(label="Deploy target")
    session = forms.CharField(max_length=MAX_ID_LENGTH, strip=False)
    vid = forms.CharField(
        label="External Visitor ID", required=False, max_length=MAX_ID_LENGTH, strip=False
    )
    inputs = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text='A JSON object of strings, such as {"plan": "gold"}.',
    )
    traits = forms.CharField(required=False, help_text="group:value,group:value")

    def __init__(self, *args: Any, targets: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        target = self.fields["target"]
        if isinstance(target, forms.ChoiceField):
            target.choices = [(code, code) for code in targets]

    def clean_session(self) -> str:
        value: str = self.cleaned_data["session"]
        if not printable_id(value):
            raise forms.ValidationError("1 to 128 printable characters.")
        return value

    def clean_vid(self) -> str | None:
        value = self.cleaned_data["vid"] or None
        problem = vid_problem(value) if value else None
        if problem:
            raise forms.ValidationError(f"Refused: {problem}.")
        return value

    def clean_inputs(self) -> dict[str, Any]:
        raw = self.cleaned_data["inputs"].strip()
        if not raw:
            return {}
        try:
            inputs: dict[str, Any] = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(
                'Not JSON: write an object such as {"plan": "gold"}.'
            ) from None
        problem = inputs_problem(inputs)
        if problem:
            raise forms.ValidationError(problem)
        return inputs

    def clean_traits(self) -> tuple[str, ...]:
        traits = traits_parse(self.cleaned_data["traits"])
        if traits is None:
            raise forms.ValidationError(TRAITS_RULE)
        return traits


class ExplainForm(VisitorForm):
    ua = forms.CharField(label="User-Agent", required=False, max_length=UA_LENGTH_MAX)

    def clean_ua(self) -> str | None:
        value = self.cleaned_data["ua"] or None
        problem = ua_problem(value) if value else None
        if problem:
            raise forms.ValidationError(f"Refused: {problem}.")
        return value


class GoalExplainForm(VisitorForm):
    v = forms.FloatField(label="Value", required=False)
    t = forms.CharField(
        label="Event time",
        required=False,
        help_text=f"When the goal happened (REST targets): {T_RULE}. Blank: now.",
    )

    def clean_t(self) -> datetime | None:
        raw = self.cleaned_data["t"].strip()
        if not raw:
            return None
        at = event_time_parse(int(raw) if raw.isdigit() else raw)
        if at is None:
            raise forms.ValidationError(f"Write {T_RULE}.")
        return at


def _explain_page(
    request: HttpRequest, model: type[M], object_id: str, form_class: type[VisitorForm],
    title: str, judge: Callable[[AccountConf, TargetConf, M, dict[str, Any]], Any],
) -> HttpResponse:  # fmt: skip
    """An explain page of an object its staff may see: the form, and once it is valid the
    answer `judge` gives for the target chosen (`title` names the object's code)."""
    model_admin, obj, conf = object_and_conf(request, model, object_id, change=False)
    targets = [t.code for t in conf.targets]
    form = form_class(request.POST if request.method == "POST" else None, targets=targets)
    answer = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        target = next(t for t in conf.targets if t.code == data["target"])
        answer = judge(conf, target, obj, data)
    meta = model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": meta,
        "original": obj,
        "title": title.format(code=obj.code),  # type: ignore[attr-defined]
        "form": form,
        "answer": answer,
    }
    template = f"admin/{meta.app_label}/{meta.model_name}/explain.html"
    return TemplateResponse(request, template, context)


def _goal_answer(
    conf: AccountConf, target: TargetConf, goal: Goal, data: dict[str, Any]
) -> dict[str, Any]:
    result, log, notes = goal_explain(
        account=conf, target=target, goal_code=goal.code, session=data["session"],
        vid=data["vid"], value=data["v"], time=data["t"], inputs=data["inputs"],
        traits=data["traits"],
    )  # fmt: skip
    item = goal_item(result, why_refused=True)
    return {
        "result": result,
        "item": json.dumps(item, indent=2, ensure_ascii=False),
        "log": log,
        "notes": notes,
    }


def _selection_answer(
    conf: AccountConf, target: TargetConf, agent: Agent, data: dict[str, Any]
) -> Explanation:
    return selection_explain(
        account=conf, target=target, agent_code=agent.code, session=data["session"],
        vid=data["vid"], inputs=data["inputs"], traits=data["traits"], ua=data["ua"],
    )  # fmt: skip


def goal_explain_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """Judge a goal of a goal its staff may see, as if sent now; say why."""
    return _explain_page(request, Goal, object_id, GoalExplainForm,
                         "Explain the goal {code}", _goal_answer)  # fmt: skip


def agent_explain_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """Explain a selection of an agent its staff may see."""
    return _explain_page(request, Agent, object_id, ExplainForm,
                         "Explain a decision of {code}", _selection_answer)  # fmt: skip
