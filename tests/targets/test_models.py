import pytest
from django.core.exceptions import ValidationError

from targets.models import DeployTarget, TargetKind
from targets.services import target_create, target_rotate_key

pytestmark = pytest.mark.django_db


def test_target__gets_a_runtime_key_of_the_spec_shape(account):
    target = target_create(account=account, name="Web")
    assert target.api_key.startswith("api-")
    assert len(target.api_key) == len("api-") + 32
    assert target.allow_external_vid is False  # the option is off by default


def test_target__code_is_generated_from_name(account):
    first = target_create(account=account, name="Web Site")
    second = target_create(account=account, name="Web Site")
    assert first.code == "dt-web-site"
    assert second.code == "dt-web-site-2"


@pytest.mark.parametrize("code", ["web", "dt-", "dt-has space", "dt-under_score", "dt-" + "a" * 41])
def test_target__malformed_code__is_refused(account, code):
    with pytest.raises(ValidationError) as exc:
        target_create(account=account, name="Web", code=code)
    assert "code" in exc.value.message_dict


def test_target__duplicate_code_in_account__is_refused(account):
    target_create(account=account, name="Web", code="dt-web")
    with pytest.raises(ValidationError) as exc:
        target_create(account=account, name="Web 2", code="dt-web")
    assert "already exists" in str(exc.value)


def test_target__same_code_in_another_account__is_accepted(account, other_account):
    target_create(account=account, name="Web", code="dt-web")
    assert target_create(account=other_account, name="Web", code="dt-web").pk


def test_target__origins_on_rest_target__are_refused(account):
    with pytest.raises(ValidationError) as exc:
        target_create(
            account=account,
            name="Srv",
            kind=TargetKind.REST,
            allowed_origins=["https://shop.example.com"],
        )
    assert "allowed_origins" in exc.value.message_dict


@pytest.mark.parametrize(
    "origin",
    [
        "shop.example.com",
        "ftp://x.example.com",
        "https://x.example.com/path",
        "https://",
        "https://*.example.com",
        "https://x.example.com:99999",
        "https://x.example.com:0",
        "https://x.example.com:port",
        "https://exa mple.com",
        "https://-x.example.com",
        "https://[::zz]",
    ],
)
def test_target__malformed_origin__is_refused(account, origin):
    with pytest.raises(ValidationError) as exc:
        target_create(account=account, name="Web", allowed_origins=[origin])
    assert "allowed_origins" in exc.value.message_dict


def test_target__good_origins__are_kept(account):
    origins = [
        "https://www.example.com", "http://localhost:3000", "http://127.0.0.1:8080",
        "http://[::1]:8000", "https://xn--bcher-kva.example",
    ]  # fmt: skip
    target = target_create(account=account, name="Web", allowed_origins=origins)
    assert target.allowed_origins == origins


def test_rotate_key__replaces_the_key(account):
    target = target_create(account=account, name="Web")
    old = target.api_key
    new = target_rotate_key(target=target)
    target.refresh_from_db()
    assert new != old
    assert target.api_key == new


def test_update_with_a_stale_copy__never_writes_back_the_key_it_read(express_target):
    from targets.models import DeployTarget
    from targets.services import target_update

    stale = DeployTarget.objects.get(pk=express_target.pk)  # read before the rotation
    rotated = target_rotate_key(target=express_target)
    target_update(target=stale, name="Renamed")
    live = DeployTarget.objects.get(pk=express_target.pk)
    assert live.api_key == rotated
    assert live.name == "Renamed"


def test_rotations_from_the_same_key__one_wins_the_other_is_refused(express_target):
    from targets.models import DeployTarget
    from targets.services import KeyRotatedMeanwhile

    first = DeployTarget.objects.get(pk=express_target.pk)
    second = DeployTarget.objects.get(pk=express_target.pk)
    won = target_rotate_key(target=first)
    with pytest.raises(KeyRotatedMeanwhile):
        target_rotate_key(target=second)
    assert DeployTarget.objects.get(pk=express_target.pk).api_key == won


def test_admin_change__raced_by_a_rotation__keeps_the_rotated_key(
    admin_client, express_target, monkeypatch
):
    from django.urls import reverse

    from targets.admin import DeployTargetAdmin
    from targets.models import DeployTarget

    url = reverse("admin:targets_deploytarget_change", args=[express_target.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {n: v for n, v in form.initial.items() if n in form.fields and v not in (None, False)}
    data.update(name="Renamed", allowed_origins="", allow_external_vid="on")
    rotated = []
    read = DeployTargetAdmin.get_object

    def read_then_rotated(self, request, object_id, from_field=None):
        obj = read(self, request, object_id, from_field)
        if request.method == "POST":  # a rotation commits after the admin read the target
            rotated.append(target_rotate_key(target=DeployTarget.objects.get(pk=obj.pk)))
        return obj

    monkeypatch.setattr(DeployTargetAdmin, "get_object", read_then_rotated)
    response = admin_client.post(url, data)
    assert response.status_code == 302
    live = DeployTarget.objects.get(pk=express_target.pk)
    assert (live.name, live.api_key) == ("Renamed", rotated[0])


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("HTTPS://A.EXAMPLE.COM", "https://a.example.com"),
        ("https://Shop.Example.com/", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("HTTP://LOCALHOST:80", "http://localhost"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_target__origin__stored_as_a_browser_sends_it(account, typed, stored):
    """Hardening 2, item 6: an origin typed in capitals was stored as typed, and never
    matched the lower-case `Origin` a browser sends."""
    target = target_create(account=account, name="Web", allowed_origins=[typed])
    target.refresh_from_db()
    assert target.allowed_origins == [stored]


def test_target__origin__the_same_typed_twice__kept_once(account):
    target = target_create(
        account=account, name="Web",
        allowed_origins=["https://a.example.com", "HTTPS://A.EXAMPLE.COM/"],
    )  # fmt: skip
    assert target.allowed_origins == ["https://a.example.com"]


def test_target__origin_typed_in_capitals__a_browser_on_it_is_served(api, agent, express_target):
    from targets.services import target_update

    target_update(target=express_target, allowed_origins=["HTTPS://SHOP.EXAMPLE.COM"])
    response = api.call(
        express_target, [{"a": "a-hero"}], headers={"origin": "https://shop.example.com"}
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example.com"


def test_migration__origins_stored_as_typed__normalized(account):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("targets.migrations.0003_allowed_origins_normalized")
    typed = DeployTarget.objects.create(  # as saved before: no clean()
        account=account, code="dt-old", name="Old", allowed_origins=["HTTPS://A.EXAMPLE.COM/"]
    )
    migration.normalize(apps, None)
    typed.refresh_from_db()
    assert typed.allowed_origins == ["https://a.example.com"]
