from django.db import migrations


def create_default_plan(apps, schema_editor):
    # django-tenants runs every migration in every schema; the plan lives in the public one.
    if schema_editor.connection.schema_name != "public":
        return
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.get_or_create(
        slug="default",
        defaults={"name": "Default", "max_concurrent_streams": 4, "requests_per_minute": 120},
    )


def remove_default_plan(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    apps.get_model("billing", "Plan").objects.filter(slug="default", tenants__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_default_plan, remove_default_plan)]
