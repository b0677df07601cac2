from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from gongzhi.core import geo
from gongzhi.core.models import Region


@receiver([post_save, post_delete], sender=Region)
def _region_boundary_changed(sender, instance, **kwargs):
    # Other processes notice through the boundary version; this one need not wait for it.
    geo.invalidate()
