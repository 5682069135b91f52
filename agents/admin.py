"""Admin of agents (tests), with inline variations and the server-side goal checklist."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import JSONField, ManyToManyField, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.admin_scoping import AccountScopedAdmin, BlankNullJSONField, CodeGeneratingForm
from accounts.audit import AuditedAdmin
from accounts.selectors import accounts_for_user
from agents.models import (
    LIFECYCLE_COLUMNS,
    Agent,
    AgentGroup,
    AgentPhase,
    AgentStatus,
    GroupMember,
    Variation,
    tags_split,
)
from agents.phases import (
    PHASE_CONFIRM,
    phase_note,
    phase_signature,
    phase_signature_stored,
    phase_would_begin,
)
from agents.selection import schedule_describe, schedule_holds
from agents.selectors import tag_filter
from agents.services import (
    TARGETING_FIELDS,
    MemberSpec,
    VariationSpec,
    agent_code_generate,
    agent_links_validate,
    agent_targeting_validate,
    agents_archive,
    agents_status_set,
    group_members_validate,
    variations_validate,
)
from goals.admin import account_vocabulary, render_checklist
from goals.checklist import server_side_checklist
from targeting.conditions import SOURCES, condition_describe

PHASES_LISTED = 12  # on the agent's page; an adaptive agent begins one each period


class VariationInlineFormSet(forms.BaseInlineFormSet):
    """Checks the variations as a whole with the domain's rule (two or more, weights not all 0)."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        specs = [
            VariationSpec(
                code=form.cleaned_data.get("code", ""),
                weight=form.cleaned_data.get("weight") or 0,
            )
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            variations_validate(variations=specs)
            # the agent's rules and QA overrides name variations: those that stay
            agent = self.instance
            if agent.pk:
                agent_targeting_validate(
                    eligibility=agent.eligibility,
                    rules=agent.rules,
                    qa=agent.qa,
                    variation_codes=[spec.code for spec in specs],
                )
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        # the agent as edited (its form's values, unsaved): would this save begin a phase?
        after = phase_signature(
            weights={spec.code: spec.weight for spec in specs}, eligibility=agent.eligibility
        )
        cause = phase_would_begin(agent=agent, after=after)
        if cause and not self.data.get(PHASE_CONFIRM):
            raise forms.ValidationError(
                f"This save begins phase {agent.phase + 1} of {agent.code} "
                f"({AgentPhase.Cause(cause).label}): its results then show the new phase "
                "by default, and all phases weighted by their share of visitors. Tick "
                "“Begin a new phase” (under Phases) and save again to go ahead.",
                code="phase_not_confirmed",
            )


class VariationInline(admin.TabularInline):
    model = Variation
    formset = VariationInlineFormSet
    fields = ["position", "code", "name", "weight", "metadata"]
    ordering = ["position", "id"]
    formfield_overrides = {JSONField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}

    def get_extra(self, request: HttpRequest, obj: Agent | None = None, **kwargs: Any) -> int:
        return 0 if obj else 2

    # The inline belongs to its agent: the agent's scoping decides.
    def has_add_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return True

    def has_change_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return True

    def has_delete_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return True


class AgentForm(CodeGeneratingForm):
    generate_code = staticmethod(agent_code_generate)
    # read by the variations' formset, which sees the whole agent as edited
    phase_confirm = forms.BooleanField(
        required=False,
        label="Begin a new phase",
        help_text="Needed to save a change of the weights, the variations or the eligibility "
        "of an agent that has served visitors.",
    )

    class Meta:
        model = Agent
        fields = "__all__"

    def clean_tags(self) -> str:
        """Tags as typed ("checkout, q4 ,,"): each stripped, the empty ones left out."""
        tags = [tag.strip() for tag in (self.cleaned_data.get("tags") or "").split(",")]
        return ",".join(tag for tag in tags if tag)

    def clean(self) -> dict:
        cleaned = super().clean()
        account = cleaned.get("account") or getattr(self.instance, "account", None)
        if account is not None:
            try:
                agent_links_validate(
                    account=account,
                    goals=cleaned.get("goals") or [],
                    targets=cleaned.get("targets") or [],
                )
            except ValidationError as exc:
                for field_name, errors in exc.message_dict.items():
                    self.add_error(field_name, errors)
        if self.instance.pk and all(name in self.fields for name in TARGETING_FIELDS):
            try:  # with the saved variations; the inline checks the edited ones
                agent_targeting_validate(
                    **{name: cleaned.get(name) for name in TARGETING_FIELDS},
                    variation_codes=list(self.instance.variations.values_list("code", flat=True)),
                )
            except ValidationError as exc:
                for field_name, errors in exc.message_dict.items():
                    self.add_error(field_name, errors)
        return cleaned


def render_targeting(agent: Agent) -> SafeString:
    """An agent's eligibility, rules and QA overrides in words, as a list."""
    try:
        agent_targeting_validate(
            eligibility=agent.eligibility,
            rules=agent.rules,
            qa=agent.qa,
            variation_codes=[v.code for v in agent.variations.all()],
        )
    except ValidationError as exc:
        return format_html("<p><strong>Does not check:</strong> {}</p>", "; ".join(exc.messages))
    items = [format_html("<li>Applies to: {}</li>", condition_describe(agent.eligibility))]
    items += [
        format_html(
            "<li>Rule {}, “{}”: {} → {}</li>",
            i + 1,
            rule["name"],
            condition_describe(rule.get("when"))
            + (
                " (no condition: the rules after it never apply)"
                if rule.get("when") is None
                else ""
            ),
            rule["variation"],
        )
        for i, rule in enumerate(agent.rules or [])
    ]
    items += [
        format_html(
            "<li>QA: {} {} → {}</li>",
            "vid" if "vid" in o else "session",
            o.get("vid") or o.get("session"),
            o["variation"],
        )
        for o in agent.qa or []
    ]
    return format_html("<ul>{}</ul>", format_html_join("", "{}", ((i,) for i in items)))


class ArchivedFilter(admin.SimpleListFilter):
    """Archived agents are hidden from the list unless asked for (SPEC §6b)."""

    title = "archive"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Archived"), ("any", "All")]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Not archived",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> QuerySet[Agent]:
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        if self.value() == "any":
            return queryset
        return queryset.filter(archived_at__isnull=True)


class TagFilter(admin.SimpleListFilter):
    """The tags of the agents this user may see."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        texts = model_admin.get_queryset(request).exclude(tags="").values_list("tags", flat=True)
        return [(tag, tag) for tag in sorted({t for text in texts for t in tags_split(text)})]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> QuerySet[Agent]:
        tag = self.value()
        return queryset.filter(tag_filter(tag)) if tag else queryset


@admin.register(Agent)
class AgentAdmin(AuditedAdmin, AccountScopedAdmin):
    audit_includes_agent = True
    change_form_template = "admin/agents/agent/change_form.html"  # results, explain, decide
    form = AgentForm
    inlines = [VariationInline]
    scoped_relations = ("goals", "targets")
    # reports.admin registers this admin again with what the results say in the list
    list_display = ["code", "name", "account", "status_line", "owner", "tag_words", "results_link"]
    list_filter = ["status", ArchivedFilter, TagFilter, "account"]
    search_fields = ["code", "name", "hypothesis", "tags", "account__code"]
    formfield_overrides = {
        ManyToManyField: {"widget": forms.CheckboxSelectMultiple},
        JSONField: {
            "widget": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "form_class": BlankNullJSONField,
        },
    }
    actions = ["mark_running", "mark_paused", "mark_stopped", "archive", "restore"]

    class Media:
        js = ["conductrics/targeting_editor.js"]
        css = {"all": ["conductrics/admin.css"]}

    fieldsets = [
        (None, {"fields": ["account", "code", "name", "status", "paused_variation"]}),
        (
            "Lifecycle",
            {
                "description": "A draft is served to its QA overrides only. A running agent "
                "runs between its start and end (UTC; blank: no bound), judged at each "
                "request. Decide (above) records the winner and serves it to everyone.",
                "fields": [*LIFECYCLE_COLUMNS, "decision"],
            },
        ),
        ("Goals and deploy targets", {"fields": ["goals", "targets"]}),
        (
            "Allocation and phases",
            {
                "description": "Changing the weights, the variations or the eligibility of "
                "an agent that has served visitors begins a new phase: sample ratios are "
                "tested per phase, and results weigh phases by their share of visitors. "
                "Each allocation period of an adaptive agent is a phase.",
                "fields": ["allocation", "phase_history", PHASE_CONFIRM],
            },
        ),
        (
            "Targeting",
            {
                "description": "Who the agent applies to, the variations forced for part of "
                "them, and QA overrides (docs/targeting.md). Edit the conditions as rows "
                "(one per leaf), or as JSON for what rows cannot say (nesting, not, ci); "
                "both are checked alike, and shown in words once saved. Conditions are not "
                "access control: a page can read every rule's operands and every variation's "
                "metadata, so put nothing secret there.",
                "fields": [
                    "targeting_in_words",
                    "eligibility",
                    "rules",
                    "qa",
                    "condition_vocabulary",
                ],
            },
        ),
        (
            "Server-side goal checklist",
            {
                "description": "For each goal of this agent: what sending it through the REST "
                "API needs. Each item links to where it is fixed.",
                "fields": ["server_side_checklist"],
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        return (
            super()
            .get_queryset(request)
            .select_related("account", "owner")
            .prefetch_related("variations", "goals", "decisions")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Agent | None = None) -> list[str]:
        fixed = ["account", "code"] if obj else []
        return [
            *fixed,
            "server_side_checklist",
            "targeting_in_words",
            "condition_vocabulary",
            "archived_at",
            "decision",
            "phase_history",
        ]

    def get_fieldsets(self, request: HttpRequest, obj: Agent | None = None):
        if obj:
            return self.fieldsets
        first = (None, {"fields": ["account", "code", "name", "status"]})
        plan = ("Lifecycle", {"fields": ["starts_at", "ends_at", "hypothesis", "tags"]})
        return [first, plan, self.fieldsets[2]]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # a new agent is prepared as a draft, served to nobody but its QA overrides
        return {"status": AgentStatus.DRAFT, **super().get_changeform_initial_data(request)}

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user_id = request.user.pk
        members = obj.account.memberships
        if not change and obj.owner_id is None and members.filter(user_id=user_id).exists():
            obj.owner_id = user_id  # whoever creates a test answers for it, at first
        form.phase_before = phase_signature_stored(agent_id=obj.pk)
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        agent = form.instance
        cause = phase_note(agent=agent, before=getattr(form, "phase_before", None))
        if cause:
            messages.info(
                request,
                f"Phase {agent.phase} of {agent.code} began ({AgentPhase.Cause(cause).label}).",
            )

    @admin.display(description="phases")
    def phase_history(self, obj: Agent) -> SafeString | str:
        phases = list(obj.phases.order_by("-number")[:PHASES_LISTED])[::-1]
        if not phases:
            return "One phase so far."
        return format_html(
            "{}<ol>{}</ol>",
            f"The last {PHASES_LISTED} of {obj.phase} (the results page charts them all):"
            if obj.phase > PHASES_LISTED
            else "",
            format_html_join(
                "",
                "<li value='{}'>from {} UTC ({}): weights {}</li>",
                (
                    (
                        p.number,
                        f"{p.started_at:%Y-%m-%d %H:%M}",
                        p.get_cause_display(),
                        ", ".join(f"{code} {weight:.3g}" for code, weight in p.weights.items()),
                    )
                    for p in phases
                ),
            ),
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            # Only this agent's own variations, goals and targets of its own account.
            fields: dict[str, Any] = form.base_fields
            if "paused_variation" in fields:
                fields["paused_variation"].queryset = obj.variations.all()
            if "owner" in fields:  # a member of the agent's account
                fields["owner"].queryset = fields["owner"].queryset.filter(
                    memberships__account=obj.account
                )
            if "goals" in fields:
                fields["goals"].queryset = fields["goals"].queryset.filter(account=obj.account)
            if "targets" in fields:
                fields["targets"].queryset = fields["targets"].queryset.filter(account=obj.account)
        return form

    @admin.display(description="results")
    def results_link(self, obj: Agent) -> str:
        url = reverse("admin:agents_agent_results", args=[obj.pk])
        return format_html('<a href="{}">Results</a>', url)

    @admin.display(description="status", ordering="status")
    def status_line(self, obj: Agent) -> str:
        """The status, and the schedule of a running agent (“running until 2026-12-15”)."""
        line = obj.get_status_display()
        if obj.status == AgentStatus.RUNNING and (obj.starts_at or obj.ends_at):
            if not schedule_holds(obj.starts_at, obj.ends_at, timezone.now()):
                line += " (outside its schedule)"
            line += f", {schedule_describe(obj.starts_at, obj.ends_at)}"
        decision = obj.decisions.first() if obj.status == AgentStatus.PAUSED else None
        if decision is not None and decision.variation_id == obj.paused_variation_id:
            line = f"Decided: {decision.variation_code}"
        return line

    @admin.display(description="tags", ordering="tags")
    def tag_words(self, obj: Agent) -> str:
        return ", ".join(obj.tag_list)

    @admin.display(description="latest decision")
    def decision(self, obj: Agent) -> SafeString | str:
        decision = obj.decisions.first()
        if decision is None:
            return "None yet."
        return format_html(
            "{} won, decided by {} on {} UTC{}",
            decision.variation_code,
            decision.decided_by_label,
            f"{decision.decided_at:%Y-%m-%d %H:%M}",
            f": {decision.note}" if decision.note else "",
        )

    @admin.display(description="in words")
    def targeting_in_words(self, obj: Agent) -> SafeString:
        return render_targeting(obj)

    @admin.display(description="what a condition can read")
    def condition_vocabulary(self, obj: Agent) -> SafeString:
        return account_vocabulary(obj, SOURCES)

    @admin.display(description="checklist")
    def server_side_checklist(self, obj: Agent) -> SafeString:
        express_targets = list(obj.targets.all())
        blocks = [
            (
                f"{goal.name} ({goal.code})",
                server_side_checklist(goal=goal, express_targets=express_targets),
            )
            for goal in obj.goals.all()
        ]
        return render_checklist(blocks, empty_text="This agent tracks no goals yet.")

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Agent], status: str) -> None:
        count = agents_status_set(agents=queryset, status=status)
        self.message_user(request, f"{count} agent(s) now {status}.", messages.SUCCESS)

    @admin.action(description="Run the selected agents")
    def mark_running(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        self._set_status(request, queryset, AgentStatus.RUNNING)

    @admin.action(description="Pause the selected agents")
    def mark_paused(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        self._set_status(request, queryset, AgentStatus.PAUSED)

    @admin.action(description="Stop the selected agents")
    def mark_stopped(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        self._set_status(request, queryset, AgentStatus.STOPPED)

    @admin.action(description="Archive the selected agents (hidden from lists, data kept)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        count = agents_archive(agents=queryset, archived=True)
        self.message_user(request, f"{count} agent(s) archived.", messages.SUCCESS)

    @admin.action(description="Restore the selected agents from the archive")
    def restore(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        count = agents_archive(agents=queryset, archived=False)
        self.message_user(request, f"{count} agent(s) restored.", messages.SUCCESS)


class GroupMemberFormSet(forms.BaseInlineFormSet):
    """Checks a group's members as a whole with the domain's rule."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors) or not getattr(self.instance, "account_id", None):
            return
        members = [
            MemberSpec(
                agent=form.cleaned_data["agent"], weight=form.cleaned_data.get("weight") or 0
            )
            for form in self.forms
            if form.cleaned_data.get("agent") and not form.cleaned_data.get("DELETE")
        ]
        try:
            group_members_validate(
                account=self.instance.account,
                members=members,
                group=self.instance if self.instance.pk else None,
            )
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc


class GroupMemberInline(admin.TabularInline):
    model = GroupMember
    formset = GroupMemberFormSet
    fields = ["position", "agent", "weight"]
    extra = 2
    verbose_name = "agent"
    verbose_name_plural = "agents (a visitor's slot is a weighted hash over all of them)"

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        field: Any = super().formfield_for_foreignkey(db_field, request, **kwargs)
        match = request.resolver_match
        if db_field.name == "agent" and field is not None and match is not None:
            group_id = match.kwargs.get("object_id")
            group = AgentGroup.objects.filter(pk=group_id).first() if group_id else None
            scoped = field.queryset.select_related("account")
            if group is not None:
                scoped = scoped.filter(account=group.account)
            elif not request.user.is_superuser:
                scoped = scoped.filter(account__in=accounts_for_user(user=request.user))
            field.queryset = scoped
        return field

    def has_add_permission(self, request: HttpRequest, obj: AgentGroup | None = None) -> bool:
        return True

    def has_change_permission(self, request: HttpRequest, obj: AgentGroup | None = None) -> bool:
        return True

    def has_delete_permission(self, request: HttpRequest, obj: AgentGroup | None = None) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: AgentGroup | None = None) -> bool:
        return True


@admin.register(AgentGroup)
class AgentGroupAdmin(AuditedAdmin, AccountScopedAdmin):
    inlines = [GroupMemberInline]
    list_display = ["code", "name", "account", "member_codes"]
    list_filter = ["account"]
    search_fields = ["code", "name", "account__code"]
    fields = ["account", "code", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: AgentGroup | None = None):
        return ["account", "code"] if obj else []

    @admin.display(description="agents")
    def member_codes(self, obj: AgentGroup) -> str:
        members = obj.members.select_related("agent")
        return ", ".join(f"{m.agent.code} ({m.weight:g})" for m in members)
