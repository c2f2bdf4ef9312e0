from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q

from observatory.regions.models import Region


class RegionAccess(models.Model):
    """Limits a user, or everyone in a group, to some regions. A user with no rows (directly or
    through a group) sees every region; with rows, only the regions they name."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="region_access")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="region_access")
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name_plural = "region access"
        constraints = [
            models.CheckConstraint(condition=Q(user__isnull=False) ^ Q(group__isnull=False),
                                   name="dashboards_access_user_xor_group"),
        ]

    def __str__(self):
        return f"{self.user or self.group} → {self.region}"


class AuditRecord(models.Model):
    """Every change made through the dashboards (and every refused attempt): who, what, when."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    allowed = models.BooleanField(default=True)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.subject}"
