"""``manage.py bench_surveys``: survey submission under concurrent respondents, and results pages.

``make bench`` runs it after ``manage.py bench``, on the same large demo organisation.
"""

from __future__ import annotations

import random
import re
import threading
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from e360 import bench
from e360.demo import team_scenarios
from e360.models import Person, Team, User
from surveys import services
from surveys.demo import answer_invitations
from surveys.forms import field_name
from surveys.models import Campaign, Invitation, Kind, Question, Series, Template

NAME = "Bench survey"
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


class Command(BaseCommand):
    help = (
        "Measure survey submission (p50/p95 of the POST through the web server on loopback) with --respondents "
        "people answering at the same time, each opening the form, reading it for about --think seconds and "
        "sending it, then the results of that campaign once closed. Creates a campaign named 'Bench survey' "
        "of everyone (replacing the previous one) and logins for the people who answer it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--respondents", type=int, default=50, help="People answering at the same time.")
        parser.add_argument("--submissions", type=int, default=500, help="Forms sent in all.")
        parser.add_argument("--think", type=float, default=5.0, help="Mean seconds between opening and sending.")
        parser.add_argument("--workers", type=int, default=bench.SERVER_WORKERS, help="Web server processes.")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])
        self.rows: list[bench.Row] = [bench.machine_row()]
        campaign = self._campaign()
        invitations = list(campaign.invitations.select_related("person", "team").order_by("?"))
        needed = options["submissions"]
        if len(invitations) < needed:
            raise CommandError(f"{len(invitations)} people invited; --submissions {needed} needs as many.")
        sessions = self._sessions([i.person for i in invitations[:needed]])
        self._submit(campaign, sessions, options, rng)

        remaining = [
            i for i in campaign.invitations.filter(responded=False).select_related("team") if rng.random() < 0.7
        ]
        scenarios = team_scenarios(list(Team.objects.filter(kind=Team.Kind.TEAM).order_by("pk")))
        answered = answer_invitations(campaign, remaining, scenarios, rng)
        services.campaign_close(campaign_id=campaign.pk)
        self.rows.append(
            (
                "Campaign closed for results",
                f"{campaign.invitations.filter(responded=True).count()} responses",
                f"{answered} written in bulk",
                "",
            )
        )
        self._results(campaign, rng)
        bench.print_table(self.stdout, "e360 survey benchmark", self.rows)

    def _campaign(self) -> Campaign:
        """A fresh campaign of everyone, open now; the previous bench campaign and its answers go."""
        template = Template.objects.filter(slug="developer-experience").first()
        if template is None or not Person.objects.exists():
            raise CommandError("No people or no Developer experience template: run `make bench` (it seeds them).")
        with transaction.atomic():
            for old in Series.objects.filter(name=NAME):
                old.campaigns.all().delete()
                old.delete()
            now = timezone.now()
            campaign = services.campaign_create(
                template=template,
                name=NAME,
                everyone=True,
                opens_at=now - timedelta(minutes=1),
                closes_at=now + timedelta(days=1),
                time_zone=settings.TIME_ZONE,
            )
            services.campaign_open(campaign_id=campaign.pk)
            Invitation.objects.filter(campaign=campaign).update(emailed_at=now)  # nobody is emailed
        campaign.refresh_from_db()
        return campaign

    def _sessions(self, people: list[Person]) -> list[str]:
        """A signed-in session for each person (a login is created for those without one)."""
        missing = [p for p in people if p.user_id is None]
        users = User.objects.bulk_create(
            [User(username=f"bench-{p.handle}", email=p.email) for p in missing], ignore_conflicts=True
        )
        by_username = {u.username: u for u in User.objects.filter(username__in=[u.username for u in users])}
        for person in missing:
            person.user = by_username[f"bench-{person.handle}"]
        Person.objects.bulk_update(missing, ["user"])
        keys: list[str] = []
        for user in User.objects.filter(person__in=people):
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            assert session.session_key is not None  # create() made one
            keys.append(session.session_key)
        return keys

    def _form(self, campaign: Campaign, rng: random.Random) -> dict[str, str | list[str]]:
        data: dict[str, str | list[str]] = {}
        for question in Question.objects.filter(version=campaign.version):
            name = field_name(question)
            if question.kind in (Kind.AGREEMENT, Kind.FREQUENCY):
                data[name] = str(rng.randint(1, 5))
            elif question.kind == Kind.ENPS:
                data[name] = str(rng.randint(0, 10))
            elif question.kind == Kind.SINGLE:
                data[name] = rng.choice(question.options)
            elif question.kind == Kind.MULTI:
                data[name] = rng.sample(question.options, 1)
            elif rng.random() < 0.3:
                data[name] = "Flaky pipelines and slow reviews."
        return data

    def _submit(self, campaign: Campaign, sessions: list[str], options: dict[str, Any], rng: random.Random) -> None:
        """``--respondents`` threads, each a person at a time: open the form, think, send it."""
        path = reverse("surveys:answer", args=[campaign.pk])
        forms = [self._form(campaign, rng) for _ in range(50)]
        pending = list(sessions)
        lock = threading.Lock()
        latencies: list[float] = []
        failures: list[str] = []

        def respondent(seed: int) -> None:
            local = random.Random(seed)
            while True:
                with lock:
                    if not pending:
                        return
                    session = pending.pop()
                cookie = f"sessionid={session}"
                status, body = bench.http_request(port, "GET", path, headers={"Cookie": cookie})
                token = CSRF_INPUT.search(body)
                if status != 200 or token is None:
                    failures.append(f"GET {status}")
                    continue
                secret = token.group(1).decode()
                time.sleep(local.expovariate(1 / options["think"]))
                payload = urlencode({**local.choice(forms), "csrfmiddlewaretoken": secret}, doseq=True).encode()
                headers = {
                    "Cookie": f"{cookie}; {settings.CSRF_COOKIE_NAME}={secret}",
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                started = time.perf_counter()
                status, body = bench.http_request(port, "POST", path, payload, headers)
                elapsed = (time.perf_counter() - started) * 1000
                if status == 302:
                    latencies.append(elapsed)
                else:
                    failures.append(f"POST {status} {body[:120]!r}")

        with bench.server(options["workers"]) as port, bench.loop_around() as loop:
            started = time.perf_counter()
            threads = [threading.Thread(target=respondent, args=(n,)) for n in range(options["respondents"])]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
        if failures:
            raise CommandError(f"{len(failures)} submissions failed; first: {failures[0]}")
        # Stored answers: moved into responses, or still in the pool (moved at the latest when the campaign closes).
        stored = campaign.responses.count() + campaign.pooled.count()
        if stored != len(latencies):
            raise CommandError(f"{len(latencies)} submissions acknowledged but {stored} responses stored")
        figure, verdict = bench.latency_figures(latencies, bench.BUDGET_SUBMIT_P95_MS)
        self.rows.append(
            (
                f"Survey submission, {options['respondents']} respondents at once",
                figure,
                f"{len(latencies)} forms in {seconds:.0f} s ({len(latencies) / seconds:.0f}/s), "
                f"~{options['think']:.0f} s to read each; {bench.server_size(options['workers'])}",
                loop.beside(verdict),
            )
        )

    def _results(self, campaign: Campaign, rng: random.Random) -> None:
        viewer = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
            "bench", "bench@example.com", None
        )
        client = Client()
        client.force_login(viewer)
        url = reverse("surveys:results", args=[campaign.pk])
        self.rows.append(
            bench.timed_reads("Survey results page, the organisation", client, [url] * 10, bench.BUDGET_READ_P95_MS)
        )
        teams = list(Team.objects.filter(kind=Team.Kind.GROUP).values_list("slug", flat=True))
        if teams:
            urls = [f"{url}?team={rng.choice(teams)}" for _ in range(10)]
            self.rows.append(bench.timed_reads("Survey results page, a group", client, urls, bench.BUDGET_READ_P95_MS))
