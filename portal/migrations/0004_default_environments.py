"""dev, staging and prod on the local devcluster, told apart by Mesos role and colour."""

from django.conf import settings
from django.db import migrations

DEFAULTS = [
    # slug, name, colour (green, amber, red: prod must never look like dev), position
    ("dev", "dev", "#1f883d", 0),
    ("staging", "staging", "#bf8700", 1),
    ("prod", "prod", "#cf222e", 2),
]


def create_environments(apps, schema_editor) -> None:
    environment = apps.get_model("portal", "Environment")
    for slug, name, colour, position in DEFAULTS:
        environment.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "colour": colour,
                "position": position,
                "mesos_role": slug,
                "master_urls": settings.BERTH_DEVCLUSTER_URL,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("portal", "0003_audit_append_only")]

    # Going back leaves the rows: by then they may carry hand-entered configuration.
    operations = [migrations.RunPython(create_environments, migrations.RunPython.noop)]
