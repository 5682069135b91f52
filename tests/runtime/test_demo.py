import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_demo__off_by_default_in_production(client):
    call_command("seed_demo", stdout=io.StringIO())
    assert client.get("/demo/").status_code == 404


def test_demo__on__shows_the_express_key_and_the_seeds_preboot(client, settings):
    settings.DEMO_ENABLED = True
    call_command("seed_demo", stdout=io.StringIO())
    from targets.models import DeployTarget

    html = client.get("/demo/").content.decode()
    from django.utils.html import escapejs

    assert escapejs(DeployTarget.objects.get(code="dt-web").api_key) in html
    assert "visitor_callback({}, {vid: vid})" in html
    assert "conductrics/conductrics.js" in html


def test_demo__without_demo_account__is_a_clear_404(client, settings):
    settings.DEMO_ENABLED = True
    response = client.get("/demo/")
    assert response.status_code == 404


def test_client_script__is_served_as_a_static_file():
    from django.contrib.staticfiles import finders

    assert finders.find("conductrics/conductrics.js")
