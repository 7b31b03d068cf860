from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("synthesis", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="synthesisrecord",
            name="text_spoken",
            field=models.TextField(blank=True, default=""),
        ),
    ]
