"""django-celery-beat's migrations, squashed (settings.MIGRATION_MODULES).

Its 19 upstream migrations are public-schema only, but django-tenants runs every migration in
every tenant schema too; there they change nothing, yet rendering their states (many AlterField
operations on a model with a 600-choice time-zone field) cost about 0.6 s on every tenant's
creation on a 2-core machine, about half again. One CreateModel migration costs next to nothing.

It `replaces` the upstream ones: a database where they ran counts it as applied, and applying
it records their names, so dropping MIGRATION_MODULES later needs nothing else.

Upgrading django-celery-beat: run `manage.py makemigrations django_celery_beat` and commit what
it writes here (`callwaiting_tts/tests/test_beat.py` fails while its models and these migrations
disagree).
"""
