"""Paged lists of the metrics pages: paginators that count no more than the page needs, and a page with links
that keep the rest of the query string (period, filters, other lists)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.functional import cached_property

# A list counts its rows at most this far past the page shown: an organisation's window holds
# hundreds of thousands, nobody pages through them, and counting them all costs the page its budget.
COUNT_AHEAD = 500


class CappedPaginator(Paginator):
    """Counts at most ``limit`` rows: when it reaches the limit (``capped``), ``count`` is a lower bound.

    The count is in the page's order by default: over the whole organisation's rows a walk of the time index meets
    the window's rows first. ``unordered`` counts a scope's rows in any order, so PostgreSQL may take the scope's
    own index: in the page's order it walks the time index over everyone's (a large group's changes of 180 days,
    18 ms against 0.3 ms), unordered over the whole organisation it may take an index in another order (33 ms)."""

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
    def count(self) -> int:
        rows = self.object_list.order_by() if self.unordered else self.object_list
        return rows[: self.limit].count()

    @property
    def capped(self) -> bool:
        return self.count >= self.limit


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
