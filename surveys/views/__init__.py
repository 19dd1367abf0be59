"""The survey pages (``surveys.urls``): answering a survey (``answers``: my surveys, the form, the thanks page)
and reading a campaign's results (``results``: the list, a campaign's page and its CSV). The results' JSON API is
``surveys.api``."""
