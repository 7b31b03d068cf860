# The audit log is append-only in the database itself, so no code path (admin, API, ORM, a shell,
# raw SQL) can rewrite history. One change is allowed: deleting a tenant sets its entries'
# tenant_id to NULL (on_delete=SET_NULL), and that UPDATE may change nothing else.
# TRUNCATE is not blocked: `manage.py flush` (and so transactional tests) empties tables with it;
# it needs the table owner's rights, which the application's routine paths never use.

from django.db import migrations

APPEND_ONLY = r"""
CREATE OR REPLACE FUNCTION tenants_auditlog_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.tenant_id IS NOT NULL
       AND NEW.tenant_id IS NULL
       AND (to_jsonb(NEW) - 'tenant_id') = (to_jsonb(OLD) - 'tenant_id') THEN
        RETURN NEW;  -- the tenant was deleted: SET_NULL
    END IF;
    RAISE EXCEPTION 'tenants_auditlog is append-only: % of entry % refused', TG_OP, OLD.id
        USING HINT = 'Audit entries are never changed or deleted; write a new entry instead.';
END;
$$;

CREATE TRIGGER tenants_auditlog_append_only
    BEFORE UPDATE OR DELETE ON tenants_auditlog
    FOR EACH ROW EXECUTE FUNCTION tenants_auditlog_append_only();
"""

DROP = r"""
DROP TRIGGER IF EXISTS tenants_auditlog_append_only ON tenants_auditlog;
DROP FUNCTION IF EXISTS tenants_auditlog_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    # tenants is a shared app: django-tenants' router runs this in the public schema only.
    operations = [migrations.RunSQL(APPEND_ONLY, DROP)]
