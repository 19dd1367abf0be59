"""``manage.py bench_integrations``: the native integrations' figures for docs/product.md#budgets.

``make bench`` runs it after ``manage.py bench``, on the same large demo. Two parts (``--only``):

- ``webhook``: signed GitHub ``pull_request`` deliveries POSTed by wrk to ``/hooks/github/<id>/`` of
  the web server on loopback, as the DevLake webhook is measured (``manage.py bench``): every
  tenth a redelivery of an earlier one, which must be absorbed (200 "Already received"); every
  202 must be stored. wrk's Lua cannot compute an HMAC, so the bodies, their signatures and their
  unique ``X-GitHub-Delivery`` are prepared here into a file that ``e360/bench_wrk.lua`` sends in
  turn. Then one worker (``inbound_drain``) is timed processing a sample of them.
- ``backfill``: a backfill of a generated history (``--repositories`` × ``--pulls`` pull requests
  with reviews and commits, deployments and workflow runs) from the loopback GitHub the tests use
  (``integrations.tests.fake_github``: imported, not copied, so the bench speaks to the very
  server the tests check the client against; the bench therefore needs the development
  dependencies, as ``make bench`` has them): records a second and requests per 1,000 records;
  then two incremental syncs, the second of which, with nothing new, should cost only 304s.

Writes only a source named "bench-github" (its connection, records and inbound events).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from e360 import bench
from e360.models import Service
from integrations import backfill as runner
from integrations.models import Backfill, Connection
from integrations.tests.fake_github import TOKEN, FakeGitHub, served
from metrics.ingest import inbound_drain
from metrics.models import Deployment, InboundEvent, PipelineRun, PullRequest, Source

SECRET = "bench-only webhook secret"  # noqa: S105 - signs generated payloads on loopback
SOURCE_NAME = "bench-github"
OWNER = "bench-gh"


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


class Command(BaseCommand):
    help = (
        "Measure GitHub webhook throughput (signed deliveries through the web server, loaded by wrk) and the speed of "
        "a GitHub backfill from a loopback GitHub (records/s, requests per 1,000 records, the incremental sync's "
        "requests). Prints a table against the docs/product.md#budgets budgets. Writes only a source named "
        f"'{SOURCE_NAME}'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", choices=["webhook", "backfill"], help="Run one part (default: both)")
        parser.add_argument("--seconds", type=int, default=10, help="Seconds of webhook load (default 10)")
        parser.add_argument("--workers", type=int, default=bench.SERVER_WORKERS, help="Web server processes")
        parser.add_argument("--clients", type=int, default=8, help="wrk connections (default 8)")
        parser.add_argument(
            "--server", default="", help="Load this running server (http://host:port) instead of starting one"
        )
        parser.add_argument(
            "--deliveries", type=int, default=30000, help="Signed deliveries prepared (sent again in turn if used up)"
        )
        parser.add_argument("--process", type=int, default=2000, help="Stored deliveries timed through processing")
        parser.add_argument("--repositories", type=int, default=2, help="Repositories backfilled (default 2)")
        parser.add_argument("--pulls", type=int, default=300, help="Pull requests per repository (default 300)")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        services = list(Service.objects.order_by("id")[: options["repositories"]])
        if not services:
            raise CommandError("The catalog is empty: run `manage.py seed_demo --size large` first (make bench does).")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request to the loopback GitHub
        self.rows: list[bench.Row] = [bench.machine_row()]
        self.rng = random.Random(options["seed"])
        repositories = [f"{OWNER}/app-{index}" for index in range(options["repositories"])]
        connection = self._bench_connection(services, repositories)
        if options["only"] in (None, "webhook"):
            self._webhook(connection, repositories, options)
        if options["only"] in (None, "backfill"):
            self._backfill(connection, repositories, options)
        bench.print_table(self.stdout, "e360 integrations benchmark", self.rows)

    # --- set-up ---------------------------------------------------------------------------

    def _bench_connection(self, services: list[Service], repositories: list[str]) -> Connection:
        """An org-wide GitHub source whose repositories map to the first services, with a known secret."""
        mapping = {name: services[index % len(services)].slug for index, name in enumerate(repositories)}
        source, _ = Source.objects.update_or_create(
            name=SOURCE_NAME,
            defaults={
                "kind": Source.Kind.GITHUB,
                "default_service": None,
                "team": None,
                "may_write_every_service": True,
                "is_active": True,
                "repo_service_map": mapping,
            },
        )
        connection, _ = Connection.objects.update_or_create(
            source=source, defaults={"webhook_secret": SECRET, "api_token": TOKEN, "repositories": repositories}
        )
        return connection

    def _history(self, fake: FakeGitHub, repositories: list[str], pulls: int, now: datetime) -> None:
        """Each repository's last 60 days: ``pulls`` merged pull requests (one or two reviews, two or
        three commits), a deployment for every other one, a workflow run for each."""
        rng = self.rng
        for name in repositories:
            repo = fake.repo(name)
            for number in range(1, pulls + 1):
                opened = now - timedelta(days=60) + timedelta(minutes=rng.randrange(60 * 24 * 59))
                merged = opened + timedelta(hours=rng.uniform(1, 30))
                reviewers = rng.sample(["ana", "bo", "chen", "dee"], rng.choice((1, 2)))
                fake.add_pull(
                    repo,
                    number=number,
                    opened=opened,
                    merged=min(merged, now - timedelta(minutes=1)),
                    reviews=tuple((login, "APPROVED", opened + timedelta(minutes=30)) for login in reviewers),
                    commits=tuple(opened - timedelta(hours=hours) for hours in range(rng.choice((2, 3)))),
                    author=rng.choice(["eve", "fay", "gus"]),
                )
                if number % 2 == 0:
                    fake.add_deployment(repo, created=min(merged, now - timedelta(minutes=10)))
                fake.add_run(
                    repo, created=opened + timedelta(minutes=5), conclusion=rng.choice(["success"] * 4 + ["failure"])
                )

    # --- the webhook -----------------------------------------------------------------------

    def _deliveries(self, repositories: list[str], count: int) -> str:
        """A file of signed ``pull_request`` deliveries (closed, merged), for ``bench_wrk.lua``'s file mode."""
        fake = FakeGitHub()
        fake.url = "https://api.github.com"
        now = datetime.now(UTC).replace(microsecond=0)
        numbers = {name: 100_000 + self.rng.randrange(100_000) * 10 for name in repositories}
        with tempfile.NamedTemporaryFile("w", prefix="e360-bench-github-", suffix=".txt", delete=False) as prepared:
            for index in range(count):
                repo = fake.repo(repositories[index % len(repositories)])
                opened = now - timedelta(hours=self.rng.uniform(2, 24 * 7))
                pull = fake.add_pull(
                    repo, number=numbers[repo.full_name] + index, opened=opened, merged=opened + timedelta(hours=1)
                )
                repo.pulls.clear()
                repo.reviews.clear()
                repo.commits.clear()
                payload = {
                    "action": "closed",
                    "number": pull["number"],
                    "pull_request": {**pull, **repo.sizes.pop(pull["number"])},
                    "repository": repo.summary(),
                    "sender": pull["user"],
                }
                body = json.dumps(payload, separators=(",", ":")).encode()
                headers = {
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-GitHub-Hook-ID": "1",
                    "User-Agent": "GitHub-Hookshot/bench",
                    "X-Hub-Signature-256": sign(body),
                }
                prepared.write("\t".join([*(f"{k}: {v}" for k, v in headers.items()), body.decode()]) + "\n")
        return prepared.name

    def _webhook(self, connection: Connection, repositories: list[str], options: dict[str, Any]) -> None:
        source = connection.source
        path = self._deliveries(repositories, options["deliveries"])
        load = f"{options['seconds']} s of wrk, {options['clients']} connections, " + (
            bench.server_size(options["workers"]) if not options["server"] else options["server"]
        )
        try:
            InboundEvent.objects.filter(source=source).delete()
            with bench.loop_around() as loop:
                counts = bench.wrk_post(
                    reverse("integrations:webhook", args=["github", connection.webhook_id]),
                    {"FILE": path, "ABSORBED": "200"},
                    seconds=options["seconds"],
                    clients=options["clients"],
                    workers=options["workers"],
                    expect=202,
                    url=options["server"],
                )
        finally:
            os.unlink(path)  # generated payloads only, but many
        stored = InboundEvent.objects.filter(source=source).count()
        rate = counts["accepted"] / counts["seconds"]
        self.rows.append(
            (
                "GitHub webhook deliveries (signed, stored, queued)",
                f"{rate:.0f} deliveries/s",
                f"{counts['accepted']} stored, {counts['duplicates']} redeliveries absorbed; {load}",
                loop.beside(bench.rate_verdict(rate, bench.BUDGET_INGEST_PER_S)),
            )
        )
        # wrk stops mid-request: up to one delivery per connection may be stored but not counted.
        if not counts["accepted"] <= stored <= counts["accepted"] + options["clients"]:
            raise CommandError(f"{counts['accepted']} deliveries were acknowledged but {stored} were stored")
        kept = list(
            InboundEvent.objects.filter(source=source).order_by("pk").values_list("pk", flat=True)[: options["process"]]
        )
        InboundEvent.objects.filter(source=source).exclude(pk__in=kept).delete()
        started = time.perf_counter()
        summary = inbound_drain(source.pk, budget=float("inf"))  # one drain, however long it takes
        processing = len(kept) / (time.perf_counter() - started)
        failed = InboundEvent.objects.filter(source=source, status=InboundEvent.Status.FAILED).first()
        if failed is not None:
            raise CommandError(f"a delivery failed to process: {failed.error}")
        self.rows.append(("GitHub deliveries processed (one worker)", f"{processing:.0f} deliveries/s", summary, ""))

    # --- the backfill ----------------------------------------------------------------------

    def _backfill(self, connection: Connection, repositories: list[str], options: dict[str, Any]) -> None:
        source = connection.source
        # A clean slate: every run backfills the same history into nothing.
        for model in (PullRequest, Deployment, PipelineRun):
            model.objects.filter(source=source).delete()
        connection.cursors.all().delete()
        connection.backfills.all().delete()
        with served() as fake:
            fake.rate_limit = fake.rate_remaining = 10**9  # the speed of e360, not of GitHub's budget
            fake.graphql_limit = fake.graphql_remaining = 10**9
            self._history(fake, repositories, options["pulls"], datetime.now(UTC).replace(microsecond=0))
            Connection.objects.filter(pk=connection.pk).update(api_url=fake.url)
            connection.refresh_from_db()
            backfill = Backfill.objects.create(connection=connection, days=90)
            started = time.perf_counter()
            status = runner.backfill_run(backfill, seconds=24 * 3600)
            seconds = time.perf_counter() - started
            backfill.refresh_from_db()
            if status != Backfill.Status.DONE or backfill.error:
                raise CommandError(f"the backfill ended {status}: {backfill.error}")
            queries = len(fake.operations)  # pull requests by GraphQL
            syncs = []
            for _ in range(2):
                before = len(fake.log)
                runner.connection_sync(connection)
                syncs.append([status for _, _, status in fake.log[before:]])
        records = backfill.records
        if not records:
            raise CommandError("the backfill wrote nothing")
        stored = sum(model.objects.filter(source=source).count() for model in (PullRequest, Deployment, PipelineRun))
        if stored != records:
            raise CommandError(f"the backfill counted {records} records but {stored} are stored")
        self.rows.append(
            (
                "GitHub backfill from a loopback GitHub",
                f"{records / seconds:.0f} records/s",
                f"{records} records ({len(repositories)} repositories: pull requests with reviews and commits, "
                f"deployments, workflow runs) in {seconds:.1f} s; {backfill.requests} requests, "
                f"{queries} of them GraphQL",
                f"{backfill.requests * 1000 / records:.0f} requests per 1,000 records",
            )
        )
        first, second = syncs
        self.rows.append(
            (
                "GitHub incremental sync, nothing new",
                f"{len(second)} requests, {second.count(304)} of them 304",
                f"after the backfill and a first sync ({len(first)} requests, {first.count(304)} of them 304)",
                "only 304s: ok" if second and set(second) == {304} else "NOT only 304s",
            )
        )
