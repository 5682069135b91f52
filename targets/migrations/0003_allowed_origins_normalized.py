"""Origins stored as typed (`HTTPS://A.EXAMPLE.COM`) become what a browser sends
(`https://a.example.com`), as every origin saved from now on is (Hardening 2, item 6)."""

from django.db import migrations

from targets.models import origin_normalized


def normalize(apps, schema_editor):
    DeployTarget = apps.get_model("targets", "DeployTarget")
    for target in DeployTarget.objects.exclude(allowed_origins=[]).iterator():
        origins = target.allowed_origins
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            continue
        normalized = list(dict.fromkeys(origin_normalized(o) for o in origins))
        if normalized != origins:
            target.allowed_origins = normalized
            target.save(update_fields=["allowed_origins"])


class Migration(migrations.Migration):
    dependencies = [("targets", "0002_recent_requests")]

    operations = [migrations.RunPython(normalize, migrations.RunPython.noop)]
