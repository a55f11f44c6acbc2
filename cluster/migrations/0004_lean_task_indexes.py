"""Only the indexes the queries use: each one is written on every launch and update."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cluster", "0003_task_list_indexes"),
        ("portal", "0005_audit_actor_name_index"),
    ]

    operations = [
        # The new unique constraint exists before the old one goes.
        migrations.AddConstraint(
            model_name="task",
            constraint=models.UniqueConstraint(
                fields=("mesos_task_id",), name="task_mesos_id_unique"
            ),
        ),
        migrations.AlterField(
            model_name="task",
            name="cluster_key",
            field=models.CharField(max_length=400),
        ),
        migrations.AlterField(
            model_name="task",
            name="environment",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="tasks",
                to="portal.environment",
            ),
        ),
        migrations.AlterField(
            model_name="task",
            name="group",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name="task",
            name="mesos_task_id",
            field=models.CharField(max_length=255),
        ),
        migrations.AlterField(
            model_name="task",
            name="owner_kind",
            field=models.CharField(max_length=40),
        ),
        migrations.AlterField(
            model_name="task",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="tasks",
                to="portal.team",
            ),
        ),
        migrations.AlterField(
            model_name="taskstatusrecord",
            name="task",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="statuses",
                to="cluster.task",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(
                    (
                        "state__in",
                        [
                            "TASK_DROPPED",
                            "TASK_ERROR",
                            "TASK_FAILED",
                            "TASK_FINISHED",
                            "TASK_GONE",
                            "TASK_GONE_BY_OPERATOR",
                            "TASK_KILLED",
                            "TASK_LOST",
                        ],
                    ),
                    _negated=True,
                ),
                fields=["cluster_key", "group"],
                name="task_group_live_idx",
            ),
        ),
    ]
