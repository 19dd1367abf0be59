"""Logging filters for e360's LOGGING setting."""

from __future__ import annotations

import logging


class HealthzStartupIsAWarning(logging.Filter):
    """The development server logs every 5xx as an error, including /healthz's 503 while the worker has not
    sent its first heartbeat (every start-up). Lower its /healthz 503 lines to warnings; the view logs the
    cause (django.request) at the level it deserves."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args  # the server's: a tuple, its first item the request line
        if (
            getattr(record, "status_code", None) == 503
            and isinstance(args, tuple)
            and args
            and " /healthz" in str(args[0])
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
