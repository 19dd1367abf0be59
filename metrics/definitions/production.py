"""Which deployments count: production deployments, failed attempts, and those finished in a window."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import DeploymentRec
from metrics.definitions.vocabulary import is_failure, is_success
from metrics.definitions.windows import Window

if TYPE_CHECKING:
    from collections.abc import Iterable


def is_production_deployment(deployment: DeploymentRec, profile: Profile | None = None) -> bool:
    """A production deployment: finished, status success, environment matching the production patterns."""
    p = _profile(profile)
    return (
        deployment.finished_at is not None
        and is_success(deployment.status)
        and p.is_production_environment(deployment.environment, deployment.service)
    )


def is_failed_attempt(deployment: DeploymentRec, profile: Profile | None = None) -> bool:
    """A failed deployment attempt (status failure/error to production): counts for reliability, not frequency."""
    p = _profile(profile)
    return is_failure(deployment.status) and p.is_production_environment(deployment.environment, deployment.service)


def production_deployments(deployments: Iterable[DeploymentRec], profile: Profile | None = None) -> list[DeploymentRec]:
    """Production deployments sorted by finish time (then id)."""
    p = _profile(profile)
    return sorted((d for d in deployments if is_production_deployment(d, p)), key=_deployment_order)


def _deployment_order(d: DeploymentRec) -> tuple[datetime, str]:
    assert d.finished_at is not None
    return (d.finished_at, d.id)


def production_in_window(deployments: Iterable[DeploymentRec], window: Window, p: Profile) -> list[DeploymentRec]:
    return [d for d in production_deployments(deployments, p) if window.contains(d.finished_at)]
