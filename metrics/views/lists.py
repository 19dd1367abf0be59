"""Paged lists of the metrics pages: paginators that count no more than the page needs, and a page with links
that keep the rest of the query string (period, filters, other lists)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils.functional import cached_property

# A list counts its rows at most this far past the page shown: an organisation's window holds
# hundreds of thousands, nobody pages through them, and counting them all costs the page its budget.
COUNT_AHEAD = 500


# A scope's rows are sorted rather than walked in time order while the window holds at most this many of them.
SORTED_SCOPE = 2000


class CappedPaginator(Paginator):
    """Counts at most ``limit`` rows: when it reaches the limit (``capped``), ``count`` is a lower bound.

    Over the whole organisation's rows, the count and the page are read in the page's order: a walk of the time index
    meets the window's newest rows first. ``unordered`` is for a scope's rows (a team's or a service's), whose
    newest may be far behind everyone else's. In the page's order PostgreSQL plans them as that same walk, filtering
    by service, as if the scope's rows were spread evenly over time: it passes every recent row of other services
    (439,655 rows, 132 ms, for one team's deployments of 180 days at the large size; 18 ms for a large group's count).
    So a scope's rows are counted in any order, from the scope's own index. While the window holds at most
    ``SORTED_SCOPE`` of them, the page orders by an expression equal to the first ordering field
    (``Coalesce(field, field)``) that no index holds in order: PostgreSQL then finds the scope's rows through its
    own index and sorts them (a few ms). More than that, and they are dense enough for the walk.

    A sorted page is read in two steps, one query: the page's ids from the scope's index alone (it holds the time and
    the id: ``deployment_service_finished`` and its kin), then those rows. Sorting the rows themselves read every row
    of the window from the table, which a team's first visit found on disk (5 to 7 ms a list at 180 days)."""

    object_list: QuerySet

    def __init__(self, object_list: QuerySet, per_page: int, limit: int, *, unordered: bool = False) -> None:
        super().__init__(object_list, per_page)
        self.limit = limit
        self.unordered = unordered

    @classmethod
    def for_page(cls, object_list: QuerySet, per_page: int, number: int, *, unordered: bool = False) -> CappedPaginator:
        """Counting ``COUNT_AHEAD`` rows past page ``number``."""
        return cls(object_list, per_page, number * per_page + COUNT_AHEAD, unordered=unordered)

    @cached_property
    def _found(self) -> int:
        """A scope's rows, counted in any order up to ``SORTED_SCOPE`` (or the count's limit, if more)."""
        return self.object_list.order_by()[: max(self.limit, SORTED_SCOPE)].count()

    @cached_property
    def count(self) -> int:
        if self.unordered:
            return min(self._found, self.limit)
        return self.object_list[: self.limit].count()

    @property
    def capped(self) -> bool:
        return self.count >= self.limit

    @cached_property
    def _sorted(self) -> QuerySet:
        """The rows in the same order, its first field as an expression no index holds."""
        first, *rest = [str(name) for name in self.object_list.query.order_by]  # the lists order by names
        field = first.removeprefix("-")
        by = Coalesce(field, field)
        return self.object_list.order_by(by.desc() if first.startswith("-") else by.asc(), *rest)

    def page(self, number: int | str) -> Page:
        if not (self.unordered and self._found < max(self.limit, SORTED_SCOPE)):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page  # the page's rows as Paginator.page slices them
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        page_ids = self._sorted.values("pk")[bottom:top]
        return Page(self.object_list.filter(pk__in=page_ids).order_by(*self._sorted.query.order_by), number, self)


class KnownCountPaginator(Paginator):
    """Pages of a list whose length the page has already counted (the review queue's totals)."""

    def __init__(self, object_list: QuerySet, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count

    capped = False


@dataclass(frozen=True)
class ListPage:
    """One page of a list, with links that keep the rest of the query string (period, other lists)."""

    page: Page
    previous_url: str | None
    next_url: str | None

    @classmethod
    def of(cls, page: Page, query: QueryDict, name: str) -> ListPage:
        """``page``, whose number the query parameter ``name`` holds, linked to the pages around it."""

        def link(number: int) -> str:
            linked = query.copy()
            linked[name] = str(number)
            return f"?{linked.urlencode()}"

        return cls(
            page,
            link(page.previous_page_number()) if page.has_previous() else None,
            link(page.next_page_number()) if page.has_next() else None,
        )

    def __iter__(self) -> Iterator:
        return iter(self.page)
