"""The install page of a deploy target (SPEC §6): the snippet with endpoint, account and key
filled in, the REST curl, and the recent requests (refused ones included, no key, no vid),
written within a second by every server, the last 200 kept."""

import pytest
from django.urls import reverse
from django.utils import timezone

from runtime.recent import recent_request_note
from targets.models import RECENT_REQUESTS_KEPT, RecentRequest

pytestmark = pytest.mark.django_db


def test_express_install_page__snippet_filled_in(admin_client, agent, express_target):
    url = reverse("admin:targets_deploytarget_install", args=[express_target.pk])
    assert (
        url
        in admin_client.get(
            reverse("admin:targets_deploytarget_change", args=[express_target.pk])
        ).content.decode()
    )
    html = admin_client.get(url).content.decode()
    snippet = html.split('id="snippet">')[1].split("</pre>")[0]
    assert 'endpoint: "http://testserver"' in snippet
    assert 'account: "ac-acme"' in snippet
    assert f'apiKey: "{express_target.api_key}"' in snippet
    assert "/static/conductrics/conductrics.js" in snippet
    assert "visitor_callback({}, {vid: vid})" in snippet
    assert 'conductrics.select("a-hero", "A")' in snippet


def _snippet(admin_client, target, snippet_id="snippet"):
    """The text of one snippet of `target`'s install page."""
    html = admin_client.get(
        reverse("admin:targets_deploytarget_install", args=[target.pk])
    ).content.decode()
    return html.split(f'id="{snippet_id}">')[1].split("</pre>")[0]


def test_rest_install_page__curl_for_a_goal_with_vid(admin_client, agent, rest_target):
    snippet = _snippet(admin_client, rest_target)
    assert "http://testserver/ac-acme/v3/agent-api/dt-server?vid=VISITOR-ID" in snippet
    assert f"apikey={rest_target.api_key}" in snippet
    assert '"g": "g-purchase"' in snippet


def test_recent_requests__refused_ones_included_never_a_key_or_vid(
    admin_client, api, agent, express_target, rest_target
):
    from targets.services import target_update

    api.data(express_target, [{"a": "a-hero"}], session="s1", vid="secret-vid-1")
    api.call(express_target, None, raw="not json")  # 400
    api.data(express_target, [{"a": "a-nope"}], session="s2")  # 200 with a warning
    target_update(target=rest_target, allow_external_vid=False)
    api.call(rest_target, [{"g": "g-purchase"}], vid="secret-vid-2")  # 403
    api.call(express_target, [], key="api-unknown")  # 401: no target to note it on
    rows = list(RecentRequest.objects.filter(target=express_target).order_by("id"))
    assert [(r.status, r.reasons, r.commands) for r in rows] == [
        (200, "", 1), (400, "bad_request", 0), (200, "unknown_agent", 1),
    ]  # fmt: skip
    assert RecentRequest.objects.get(target=rest_target).status == 403
    html = admin_client.get(
        reverse("admin:targets_deploytarget_install", args=[express_target.pk])
    ).content.decode()
    recent = html.split('class="recent-requests"')[1].split("</table>")[0]
    assert recent.count('class="status-') == 3
    assert "unknown_agent" in recent
    for secret in ("secret-vid-1", "secret-vid-2", express_target.api_key):
        assert secret not in recent
        assert not RecentRequest.objects.filter(reasons__contains=secret).exists()


def test_recent_requests__the_last_200_are_kept(express_target):
    for i in range(RECENT_REQUESTS_KEPT + 7):
        recent_request_note(
            account_id=express_target.account_id,
            target_id=express_target.pk,
            at=timezone.now(),
            status=200,
            reasons=[],
            commands=i,
        )
    kept = RecentRequest.objects.filter(target=express_target)
    assert kept.count() == RECENT_REQUESTS_KEPT
    assert min(kept.values_list("commands", flat=True)) == 7  # the oldest went


def test_install_page__staff_of_another_account_get_404(staff_client, other_setup):
    url = reverse("admin:targets_deploytarget_install", args=[other_setup["target"].pk])
    assert staff_client.get(url).status_code == 404


def test_express_install_page__local_mode_snippet(admin_client, agent, express_target):
    snippet = _snippet(admin_client, express_target, "snippet-local")
    assert 'target: "dt-web"' in snippet
    assert "local: true" in snippet
    assert f'apiKey: "{express_target.api_key}"' in snippet
    assert 'conductrics.variation("a-hero", "A")' in snippet


def test_express_install_page__every_agent__each_with_its_own_first_variation(
    admin_client, agent, express_target
):
    """The admin tour found `select("a-cta", "A")` for an agent with `control` / `green`,
    and only the first agent of the target: each agent now has its line, falling back to
    its own first variation."""
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create

    agent_create(
        account=agent.account, code="a-cta-button", name="CTA", status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="control"), VariationSpec(code="green")],
        targets=[express_target],
    )  # fmt: skip
    snippet = _snippet(admin_client, express_target)
    assert 'conductrics.select("a-cta-button", "control")' in snippet
    assert 'conductrics.select("a-hero", "A")' in snippet
    assert '"a-cta-button", "A"' not in snippet
    local = _snippet(admin_client, express_target, "snippet-local")
    assert 'var ctaButtonVariation = conductrics.variation("a-cta-button", "control");' in local
    assert 'var heroVariation = conductrics.variation("a-hero", "A");' in local


def test_recent_requests__reason_counts_show_bundles_and_overruled_local_decisions(
    admin_client, api, client, agent, express_target
):
    client.get(f"/ac-acme/v3/agent-api/js/dt-web?apikey={express_target.api_key}")
    api.data(express_target, [{"a": "a-hero", "c": ["A"]}], session="s1")
    api.data(express_target, [{"a": "a-hero", "c": ["B"]}], session="s1")  # kept: A
    html = admin_client.get(
        reverse("admin:targets_deploytarget_install", args=[express_target.pk])
    ).content.decode()
    counts = html.split('class="reason-counts">')[1].split("</p>")[0]
    assert "<code>assignment_kept</code> × 1" in counts
    assert "<code>bundle</code> × 1" in counts
