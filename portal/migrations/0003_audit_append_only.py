"""Make the database itself refuse to rewrite audit history."""

from django.db import migrations

POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION portal_auditentry_refuse() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries are append-only';
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER portal_auditentry_no_update BEFORE UPDATE OR DELETE ON portal_auditentry
    FOR EACH ROW EXECUTE FUNCTION portal_auditentry_refuse()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS portal_auditentry_no_update ON portal_auditentry",
    "DROP FUNCTION IF EXISTS portal_auditentry_refuse()",
]
# SQLite empties tables with DELETE when a test database is flushed (PostgreSQL uses
# TRUNCATE, which row triggers do not see), so on SQLite only updates are refused.
SQLITE_UP = [
    """CREATE TRIGGER portal_auditentry_no_update BEFORE UPDATE ON portal_auditentry
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS portal_auditentry_no_update"]


def _run(schema_editor, postgres: list[str], sqlite: list[str]) -> None:
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": postgres, "sqlite": sqlite}.get(vendor, []):
        schema_editor.execute(statement)


def forwards(apps, schema_editor) -> None:
    _run(schema_editor, POSTGRES_UP, SQLITE_UP)


def backwards(apps, schema_editor) -> None:
    _run(schema_editor, POSTGRES_DOWN, SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_config_values_audit")]

    operations = [migrations.RunPython(forwards, backwards)]
