"""Load the national default category tree (data/categories.csv); administrators edit it afterwards."""

from django.db import migrations


def load_defaults(apps, schema_editor):
    from gongzhi.cases import categoryfile

    categoryfile.load(apps.get_model("cases", "Category"), categoryfile.read())


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(load_defaults, migrations.RunPython.noop)]
