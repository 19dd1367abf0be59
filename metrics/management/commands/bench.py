"""``manage.py bench``: measure the budgets of docs/product.md#budgets against the data in the database.

Run it through ``make bench``, which loads the large demo organisation into a
PostgreSQL database first (and keeps it between runs). Requests go through
Django's full stack in this process (middleware, views, templates, the ORM),
so "server time" is what a request costs the web process, without the network.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule

from e360 import bench
from e360.models import Service, Team, User
from e360.stats import percentile
from e360.tree import TeamTree
from metrics.ingest import inbound_drain
from metrics.models import ApiToken, Deployment, InboundEvent, PipelineRun, PullRequest, Repository, Source
from metrics.refresh import service_refresh
from metrics.rollups import teams as team_rollups
from metrics.services import api_token_create

FRESHNESS_POLL_S = 0.2  # how often the dashboards are read while a deployment is on its way
# A deployment still not shown after this long fails the benchmark: the worker is stuck, or it went elsewhere.
FRESHNESS_GIVE_UP_S = 5 * bench.FRESHNESS_P95_S


class Command(BaseCommand):
    help = (
        "Measure read latency (p50/p95 server time and SQL queries) of the metrics API and the service and "
        "team delivery pages, API bulk and DevLake webhook ingestion throughput, rollup rebuild time and how "
        "long team rollups take to follow a service changing team, and freshness: how long a deployment accepted by "
        "the DevLake webhook or the JSON API takes to show on its team's and the organisation's dashboards with "
        "django-q2's worker running (manage.py qcluster). Prints a table against the docs/product.md#budgets "
        "budgets. Writes only rows of a source named 'bench', and moves one service to another team and back; the "
        "freshness part runs the worker, which runs the schedules, and makes every repeating schedule due once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=40, help="Requests per read endpoint (default 40)")
        parser.add_argument("--seconds", type=int, default=10, help="Seconds of load per ingestion test (default 10)")
        parser.add_argument("--process", type=int, default=2000, help="Stored inbound events timed through processing")
        parser.add_argument("--rebuild-sample", type=int, default=50, help="Services timed for rollup rebuild")
        parser.add_argument(
            "--workers", type=int, default=bench.SERVER_WORKERS, help="Web server processes for ingestion"
        )
        parser.add_argument("--clients", type=int, default=8, help="wrk connections for ingestion (default 8)")
        parser.add_argument(
            "--only",
            choices=["reads", "ingestion", "rebuild", "freshness"],
            help="Run one part of the benchmark (default: all)",
        )
        parser.add_argument(
            "--freshness-samples", type=int, default=5, help="Deployments timed per way in for freshness (default 5)"
        )
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        if not Service.objects.exists():
            raise CommandError("The catalog is empty: run `manage.py seed_demo --size large` first (make bench does).")
        rng = random.Random(options["seed"])
        self.rows: list[tuple[str, str, str, str]] = []
        admin = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
            "bench", "bench@example.com", None
        )
        browser = Client()
        browser.force_login(admin)
        source, key = self._bench_source()
        api = Client(headers={"Authorization": f"Bearer {key}"})

        only = options["only"]
        self.rows.append(bench.machine_row())
        if only in (None, "reads"):
            self._reads(rng, options["requests"], api, browser)
        if only in (None, "ingestion"):
            self._ingest_ceiling(options)
            self._ingest_api(source, key, options)
            self._ingest_devlake(source, key, options)
        if only in (None, "rebuild"):
            self._rebuild(rng, options["rebuild_sample"])
            self._sync_after_a_move(rng)
        if only in (None, "freshness"):
            self._freshness(rng, source, key, browser, options["freshness_samples"])
        bench.print_table(self.stdout, "e360 benchmark", self.rows)

    # --- set-up ---------------------------------------------------------------------------

    def _bench_source(self) -> tuple[Source, str]:
        service = Service.objects.order_by("id").first()
        # An org-wide source (no team), so its key reads any team's metrics, and writes to any service.
        source, _ = Source.objects.update_or_create(
            name="bench",
            defaults={
                "kind": Source.Kind.DEVLAKE,
                "default_service": service,
                "team": None,
                "may_write_every_service": True,
            },
        )
        ApiToken.objects.filter(source=source).delete()
        _, key = api_token_create(source=source, name="bench")
        return source, key

    # --- measurements -----------------------------------------------------------------------

    def _reads(self, rng: random.Random, n: int, api: Client, browser: Client) -> None:
        teams = list(Team.objects.filter(kind=Team.Kind.TEAM).order_by("id").values_list("slug", flat=True))
        services = list(Service.objects.order_by("id").values_list("slug", flat=True))
        team_sample = [rng.choice(teams) for _ in range(n)]
        service_sample = [rng.choice(services) for _ in range(n)]
        self._read("API /metrics/dora?team= (90 days)", api, [f"/api/v1/metrics/dora?team={t}" for t in team_sample])
        groups = list(Team.objects.filter(kind=Team.Kind.GROUP).order_by("id"))
        if groups:
            group_sample = [rng.choice(groups) for _ in range(max(n // 4, 2))]
            tree = TeamTree.load()
            services_per_group = statistics.mean(
                Service.objects.filter(owner_id__in=tree.subtree([g.id])).count() for g in group_sample
            )
            self._read(
                f"API /metrics/dora?team=<group> (90 days, {services_per_group:.0f} services)",
                api,
                [f"/api/v1/metrics/dora?team={g.slug}" for g in group_sample],
            )
        root = Team.objects.filter(parent=None).order_by("id").first()
        if root is not None:
            self._read(
                f"API /metrics/dora?team=<organisation> (90 days, {Service.objects.count()} services)",
                api,
                [f"/api/v1/metrics/dora?team={root.slug}"] * max(n // 4, 2),
            )
        self._read(
            "API /metrics/dora?service= (90 days)", api, [f"/api/v1/metrics/dora?service={s}" for s in service_sample]
        )
        self._read("Team delivery page", browser, [reverse("metrics:team-delivery", args=[t]) for t in team_sample])
        self._read(
            "Service delivery page", browser, [reverse("metrics:service-delivery", args=[s]) for s in service_sample]
        )
        if root is not None:
            self._read(
                "Team delivery page of the organisation",
                browser,
                [reverse("metrics:team-delivery", args=[root.slug])] * max(n // 4, 2),
            )
        self._read(
            "Team delivery page, 180 days",
            browser,
            [reverse("metrics:team-delivery", args=[t]) + "?days=180" for t in team_sample],
        )
        self._read("Team review queue page", browser, [reverse("metrics:team-reviews", args=[t]) for t in team_sample])
        self._read("Review queue page of the organisation", browser, [reverse("metrics:reviews")] * max(n // 4, 2))
        self._read("Team pipelines page", browser, [reverse("metrics:team-pipelines", args=[t]) for t in team_sample])
        for days in (90, 180):
            self._read(
                f"Pipelines page of the organisation, {days} days",
                browser,
                [reverse("metrics:pipelines") + f"?days={days}"] * max(n // 4, 2),
            )

    def _read(self, label: str, client: Client, urls: list[str]) -> None:
        self.rows.append(bench.timed_reads(label, client, urls, bench.BUDGET_READ_P95_MS))

    def _ingest(
        self, path: str, key: str, record: dict[str, Any], options: dict[str, Any], batch: int = 0, expect: int = 200
    ) -> tuple[dict[str, Any], bench.Loop]:
        """POST ``record`` (or ``batch`` of them, ``@ID@`` in its strings made unique) with wrk
        (``bench.wrk_post``) for ``--seconds``; what the server answered, and the machine's speed around it."""
        environment = {"KEY": key, "BODY": json.dumps(record), "BATCH": str(batch)}
        with bench.loop_around() as loop:
            counts = bench.wrk_post(
                path,
                environment,
                seconds=options["seconds"],
                clients=options["clients"],
                workers=options["workers"],
                expect=expect,
            )
        return counts, loop

    def _load(self, options: dict[str, Any]) -> str:
        server = bench.server_size(options["workers"])
        return f"{options['seconds']} s of wrk, {options['clients']} connections, {server}"

    def _ingest_ceiling(self, options: dict[str, Any]) -> None:
        """The same server and load on a path answered without the database: what any endpoint can reach."""
        counts, _ = self._ingest("/api/rest/plugins/webhook/unknown", "", {}, options, expect=404)
        rate = counts["answered"] / counts["seconds"]
        self.rows.append(("Ceiling: JSON 404 without the database", f"{rate:.0f} requests/s", self._load(options), ""))

    def _ingest_api(self, source: Source, key: str, options: dict[str, Any]) -> None:
        record = {
            "external_id": f"bench-{int(time.time())}-@ID@",  # new records on every run
            "environment": "staging",
            "status": "success",
            "finished_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "sha": "0a1b2c3d",
        }
        before = Deployment.objects.filter(source=source).count()
        counts, loop = self._ingest("/api/v1/deployments/bulk", key, record, options, batch=500)
        stored = Deployment.objects.filter(source=source).count() - before
        rate = counts["created"] / counts["seconds"]
        self.rows.append(
            (
                "API bulk deployments (500 per request)",
                f"{rate:.0f} records/s",
                f"{counts['created']} new, {counts['answered']} requests (every 10th a retry); {self._load(options)}",
                loop.beside(bench.rate_verdict(rate, bench.BUDGET_BULK_RECORDS_PER_S)),
            )
        )
        # wrk stops mid-request: up to one request per connection may be stored but not counted.
        if not counts["created"] <= stored <= counts["created"] + 500 * options["clients"]:
            raise CommandError(f"{counts['created']} new records were acknowledged but {stored} were stored")

    def _ingest_devlake(self, source: Source, key: str, options: dict[str, Any]) -> None:
        at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        record = {
            "id": f"bench-devlake-{int(time.time())}-@ID@",
            "result": "SUCCESS",
            "environment": "STAGING",
            "startedDate": at,
            "finishedDate": at,
            "deploymentCommits": [{"repoUrl": "https://github.com/bench/app", "commitSha": "0a1b2c3d"}],
        }
        InboundEvent.objects.filter(source=source).delete()
        counts, loop = self._ingest(
            f"/api/rest/plugins/webhook/connections/{source.pk}/deployments", key, record, options
        )
        stored = InboundEvent.objects.filter(source=source).count()
        rate = counts["accepted"] / counts["seconds"]
        self.rows.append(
            (
                "DevLake webhook deliveries (stored, queued)",
                f"{rate:.0f} deliveries/s",
                f"{counts['accepted']} stored, {counts['duplicates']} retries absorbed; {self._load(options)}",
                loop.beside(bench.rate_verdict(rate, bench.BUDGET_INGEST_PER_S)),
            )
        )
        if not counts["accepted"] <= stored <= counts["accepted"] + options["clients"]:
            raise CommandError(f"{counts['accepted']} deliveries were acknowledged but {stored} were stored")
        # Processing is timed on the first --process of them; the rest are not kept.
        kept = list(
            InboundEvent.objects.filter(source=source).order_by("pk").values_list("pk", flat=True)[: options["process"]]
        )
        InboundEvent.objects.filter(source=source).exclude(pk__in=kept).delete()
        started = time.perf_counter()
        summary = inbound_drain(source.pk, budget=float("inf"))  # one drain, however long it takes
        processing = len(kept) / (time.perf_counter() - started)
        self.rows.append(("DevLake deliveries processed (one worker)", f"{processing:.0f} deliveries/s", summary, ""))

    def _rebuild(self, rng: random.Random, sample: int) -> None:
        """Rebuild a sample of services, each timed beside its size: its deployments, pull requests and pipeline
        runs, what it loads and re-derives. The second row fits the times to the sizes (least squares), so a
        reader sees the cost as a fixed part per service and a part that grows linearly with the records."""
        ids = list(Service.objects.values_list("id", flat=True))
        chosen = rng.sample(ids, min(sample, len(ids)))
        sizes: Counter[int] = Counter()
        for model in (Deployment, PullRequest, PipelineRun):
            sizes.update(
                dict(model.objects.filter(service_id__in=chosen).values_list("service_id").annotate(n=Count("pk")))
            )
        times = []
        for service_id in chosen:
            started = time.perf_counter()
            service_refresh(service_id=service_id)
            times.append((time.perf_counter() - started) * 1000)
        per_service = statistics.mean(times)
        records = [sizes[service_id] for service_id in chosen]
        self.rows.append(
            (
                "Rollup rebuild (re-link + rollups)",
                f"{per_service:.0f} ms per service (p95 {percentile(times, 0.95):.0f} ms)",
                f"{len(chosen)} services timed, {statistics.mean(records):,.0f} records each "
                "(deployments, pull requests, pipeline runs)",
                f"all {len(ids)} services ≈ {per_service * len(ids) / 60_000:.1f} min on one worker",
            )
        )
        if len(set(records)) > 1:
            slope, intercept = statistics.linear_regression(records, times)
            residual = statistics.mean(abs(t - (intercept + slope * n)) for n, t in zip(records, times, strict=True))
            self.rows.append(
                (
                    "Rollup rebuild per 1,000 records",
                    f"{slope * 1000:.0f} ms, plus {intercept:.0f} ms per service",
                    f"least squares over the services timed ({min(records):,} to {max(records):,} records), "
                    f"{residual:.0f} ms off the line on average",
                    "",
                )
            )

    def _sync_after_a_move(self, rng: random.Random) -> None:
        """A service changes team and back: the time the scheduled sync takes to follow each move."""
        service = rng.choice(list(Service.objects.select_related("owner")))
        home = service.owner
        away = Team.objects.filter(kind=Team.Kind.TEAM).exclude(pk=home.pk).order_by("?").first()
        assert away is not None  # the large demo has many teams
        times = []
        for owner in (away, home):
            service.owner = owner
            service.save(update_fields=["owner"])
            started = time.perf_counter()
            summary = team_rollups.sync()
            times.append(time.perf_counter() - started)
        self.rows.append(
            (
                "Team rollups sync after a service changes team",
                f"{statistics.mean(times) * 1000:.0f} ms per move",
                summary,
                "",
            )
        )

    def _freshness(self, rng: random.Random, source: Source, key: str, browser: Client, samples: int) -> None:
        """How long a deployment takes from its acceptance to the dashboards a leader opens, with the worker running.

        New production deployments of a service picked at random (one with a repository, which DevLake's body
        names), finished now, go to the web server on loopback (``bench.server``), in turn through the DevLake
        webhook and the JSON API, one at a time. django-q2's cluster runs beside it (``_worker``) with its
        schedules, as in production: a webhook delivery is stored and its source's drain queued, the drain writes
        the deployment and queues the service's refresh, which adds it to the team rollups; an API write queues the
        refresh itself. From each acceptance, the team's and the organisation's dashboard pages are read
        (``_wait_until_shown``): the pages, so whatever sits between the rollups and a leader is timed too.

        The first deployment is not timed: it waits for the cluster to start and for the tasks queued before it.
        Then every repeating schedule is made due at once, as happens once an hour (migrate writes them together);
        once the scheduler (every 30 s) has queued them all, webhook deployments are timed one after another while
        the worker still has tasks waiting or running (those of the schedules, and those they queue in turn): the
        slowest of them is the slowest moment of the hour. Then ``samples`` deployments each way, as the minute's
        schedules come.
        """
        if samples < 1:
            raise CommandError("--freshness-samples must be at least 1.")
        # The deployments are sent to environment "production": a service that counts another as production is not.
        rows = Repository.objects.filter(service__isnull=False).select_related("service__owner").order_by("pk")
        repositories = [row for row in rows if row.service and row.service.is_production("production")]
        if not repositories:
            raise CommandError("Freshness needs a service with a repository, its production called “production”.")
        repository = rng.choice(repositories)
        service = repository.service
        assert service is not None  # filtered above
        pages = {
            "team": reverse("insights:team-dashboard", args=[service.owner.slug]),
            "organisation": reverse("insights:dashboard"),
        }
        repeating = Schedule.objects.exclude(schedule_type=Schedule.ONCE)
        times: dict[tuple[str, str], list[float]] = {(way, page): [] for way in ("webhook", "API") for page in pages}
        with bench.loop_around() as loop, bench.server(1) as port, _worker() as alive:

            def deliver(way: str) -> dict[str, float]:
                before = {page: _deployments_shown(browser, url) for page, url in pages.items()}
                path, body, expect = self._freshness_post(way, source, service, repository.name)
                headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                status, answer = bench.http_request(port, "POST", path, json.dumps(body).encode(), headers)
                accepted = time.perf_counter()
                if status != expect:
                    raise CommandError(f"POST {path} answered {status}: {answer[:300]!r}")
                return _wait_until_shown(browser, pages, before, accepted, alive)

            deliver("webhook")
            due_at = timezone.now()
            due = repeating.update(next_run=due_at)
            started = time.perf_counter()
            while repeating.filter(next_run__lte=due_at).exists():
                if time.perf_counter() - started > FRESHNESS_GIVE_UP_S:
                    raise CommandError(f"The worker's scheduler did not queue the schedules in {FRESHNESS_GIVE_UP_S} s")
                alive()
                time.sleep(FRESHNESS_POLL_S)
            broker = get_broker()

            def busy() -> bool:
                """Tasks waiting, or taken and running (the database broker's leases; Redis shows those waiting)."""
                return bool(broker.queue_size() or broker.lock_size())

            burst: list[dict[str, float]] = []
            started = time.perf_counter()
            while not burst or (busy() and time.perf_counter() - started < FRESHNESS_GIVE_UP_S):
                burst.append(deliver("webhook"))
            hourly = {page: max(shown[page] for shown in burst) for page in pages}
            for _ in range(samples):
                for way in ("webhook", "API"):
                    for page, seconds in deliver(way).items():
                        times[way, page].append(seconds)
        workers = settings.Q_CLUSTER["workers"]
        self.rows.append(
            (
                "Freshness: webhook → dashboards, every schedule due",
                f"team {hourly['team']:.1f} s, organisation {hourly['organisation']:.1f} s",
                f"slowest of {len(burst)} sent while {due} schedules' tasks ran, as once an hour; {workers} workers",
                loop.beside(
                    f"≤ {bench.FRESHNESS_P95_S} s: {'ok' if max(hourly.values()) <= bench.FRESHNESS_P95_S else 'OVER'}"
                ),
            )
        )
        for (way, page), taken in times.items():
            p50, p95 = percentile(taken, 0.5), percentile(taken, 0.95)
            assert p50 is not None and p95 is not None  # at least one sample
            self.rows.append(
                (
                    f"Freshness: {way} → {page} dashboard",
                    f"p50 {p50:.1f} s, p95 {p95:.1f} s",
                    f"{len(taken)} deployments, {workers} worker processes, pages read {FRESHNESS_POLL_S} s apart",
                    loop.beside(f"p95 ≤ {bench.FRESHNESS_P95_S} s: {'ok' if p95 <= bench.FRESHNESS_P95_S else 'OVER'}"),
                )
            )

    def _freshness_post(
        self, way: str, source: Source, service: Service, repository: str
    ) -> tuple[str, dict[str, Any], int]:
        """A new production deployment of ``service`` (whose ``repository`` it is), finished now, sent through
        ``way`` (the DevLake ``webhook`` or the JSON ``API``): the path, the body and the answer that accepts it."""
        external_id, now = f"bench-freshness-{time.time_ns()}", datetime.now(UTC).isoformat()
        if way == "webhook":
            body = {
                "id": external_id,
                "result": "SUCCESS",
                "environment": "PRODUCTION",
                "startedDate": now,
                "finishedDate": now,
                # A repository's name is a repoUrl DevLake's own examples send; e360 finds the service by it.
                "deploymentCommits": [{"repoUrl": repository, "commitSha": "0a1b2c3d"}],
            }
            return f"/api/rest/plugins/webhook/connections/{source.pk}/deployments", body, 200
        body = {
            "external_id": external_id,
            "service": service.slug,
            "environment": "production",
            "status": "success",
            "finished_at": now,
        }
        return "/api/v1/deployments", body, 201


# The dashboards' weekly series (insights/dashboard.html), whose deployments per week add up to the period's.
_DASHBOARD_SERIES = re.compile(r'<script id="dashboard-series" type="application/json">(.*?)</script>', re.DOTALL)


def _deployments_shown(client: Client, url: str) -> int:
    """The production deployments of the period a dashboard page shows, read from the page itself."""
    response = client.get(url)
    found = _DASHBOARD_SERIES.search(response.content.decode()) if response.status_code == 200 else None
    if found is None:
        raise CommandError(f"{url} answered {response.status_code} without its weekly series")
    return sum(json.loads(found.group(1))["deployments"])


def _wait_until_shown(
    client: Client, pages: dict[str, str], before: dict[str, int], since: float, alive: Callable[[], None]
) -> dict[str, float]:
    """Per page (name: URL), the seconds from ``since`` (``time.perf_counter``) until its count of deployments
    passed ``before``'s, the pages read every ``FRESHNESS_POLL_S``; ``alive`` checks the worker between reads."""
    shown: dict[str, float] = {}
    while len(shown) < len(pages):
        for page, url in pages.items():
            if page not in shown and _deployments_shown(client, url) > before[page]:
                shown[page] = time.perf_counter() - since
        if len(shown) < len(pages):
            if time.perf_counter() - since > FRESHNESS_GIVE_UP_S:
                missing = ", ".join(page for page in pages if page not in shown)
                raise CommandError(f"A deployment did not show on the {missing} dashboard in {FRESHNESS_GIVE_UP_S} s")
            alive()
            time.sleep(FRESHNESS_POLL_S)
    return shown


@contextmanager
def _worker() -> Iterator[Callable[[], None]]:
    """django-q2's cluster (``manage.py qcluster``: ``Q_CLUSTER``'s workers, and the schedules) in a process group
    of its own, with this process's settings; yields a check that raises when the cluster has stopped.

    However the block ends, the cluster is stopped: SIGTERM lets it finish the tasks it holds, and whatever of
    its group is left after ``Q_CLUSTER["timeout"]`` is killed (a task killed mid-way runs again: tasks are
    idempotent). Its log goes to a file, never to a pipe nobody reads while it runs.
    """
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the cluster has stopped
    command = [sys.executable, "manage.py", "qcluster"]
    process = subprocess.Popen(  # noqa: S603 - a fixed argument list, no shell
        command, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, process_group=0
    )

    def alive() -> None:
        if process.poll() is not None:
            log.seek(0)
            raise CommandError(f"The worker stopped ({process.returncode}): {log.read()[-2000:]!r}")

    try:
        yield alive
    finally:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=settings.Q_CLUSTER["timeout"])
        with suppress(ProcessLookupError):  # raised when the whole cluster has stopped
            os.killpg(process.pid, signal.SIGKILL)  # the group's id is the cluster's process id (process_group=0)
        process.wait()
        log.close()
