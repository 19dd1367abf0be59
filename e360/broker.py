"""django-q2's database broker, leasing each claimed task for its own time limit.

The stock ORM broker hides a claimed task for ``Q_CLUSTER["retry"]`` seconds: a
worker killed mid-task leaves it hidden that long before another worker takes it
again. e360 keeps that lease short (``retry`` 60 s, ``timeout`` 50 s), so the
tasks that must recover fast (processing inbound events, service refreshes) come back
within a minute. The few tasks that legitimately run longer (insight refreshes,
survey emails, the sweeps that scale with the organisation) are queued with their
own ``timeout`` (``LONG_TASK``); this broker leases them for that time plus the same
margin, so that no second worker picks them up while they still run.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import BadSignature, SignedPackage

# Seconds a long task may run: queue it with ``async_task(..., timeout=LONG_TASK)``
# (a schedule: ``kwargs="{'q_options': {'timeout': 600}}"``).
LONG_TASK = 600


class LeasedORM(ORM):
    def timeout(self, task: OrmQ):
        try:
            limit = SignedPackage.loads(task.payload).get("timeout") or Conf.TIMEOUT
        except BadSignature:
            limit = Conf.TIMEOUT  # the worker refuses it anyway
        margin = Conf.RETRY - Conf.TIMEOUT
        return timezone.now() + timedelta(seconds=max(Conf.RETRY, limit + margin))
