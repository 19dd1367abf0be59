"""The metrics pages (``metrics.urls``): a service's or a team's delivery pages (``delivery``), and the
operational pages of a service, a team or the organisation (``operations``: review queue and pipelines).

Their shared request layer is ``e360.htmx`` (partials, ``Vary``, the 400 for parameters a page does not offer);
their GET parameters are ``metrics.forms``; their paged lists ``metrics.views.lists``. The webhook and API views
are ``metrics.webhooks`` and ``metrics.api``.
"""
