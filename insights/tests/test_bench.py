"""``manage.py bench_insights`` on the tests' small organisation: the refreshes beside their scaling and the pages
against their budgets, each with the machine's speed around it."""

from __future__ import annotations

import re
from io import StringIO

from django.core.management import call_command

from insights.models import PeriodResult


def test_the_bench_times_two_refreshes_and_reads_a_year_s_dashboard_against_its_own_budget(
    org, closed, metrics_by_team
):
    out = StringIO()

    call_command("bench_insights", "--requests", "2", stdout=out)

    table = out.getvalue()
    assert "Insights refresh, 30 days" in table and "Insights refresh, 90 days" in table
    assert re.search(r"6 teams, \d+ ms per team", table)
    assert re.search(r"3× the days of 30: \d+\.\d× the time", table)
    assert re.search(r"Org dashboard, 365 days .* p95 ≤ 50 ms: (ok|OVER) \(loop \d\.\d\d–\d\.\d\d s\)", table)
    assert re.search(r"Team dashboard \(90 days\) .* p95 ≤ 100 ms: (ok|OVER) \(loop ", table)
    assert sorted(PeriodResult.objects.values_list("days", flat=True)) == [30, 90]
