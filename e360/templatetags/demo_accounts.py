"""``{% demo_accounts as accounts %}``: the demo people the login page offers to sign in as (DEBUG only)."""

from __future__ import annotations

from django import template
from django.conf import settings

from e360.demo import DemoAccount
from e360.demo import demo_accounts as _demo_accounts

register = template.Library()


@register.simple_tag
def demo_accounts() -> list[DemoAccount]:
    return _demo_accounts() if settings.DEBUG else []
