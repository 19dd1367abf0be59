from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles import finders


def test_chartjs_is_vendored_pinned_and_licensed():
    script = Path(finders.find("vendor/chartjs/chart.umd.min.js"))
    assert "Chart.js v4.6.1" in script.read_text()[:300]
    assert "MIT" in (script.parent / "LICENSE.md").read_text()


def test_the_design_system_and_favicon_are_found_by_staticfiles():
    assert finders.find("e360/e360.css")
    assert finders.find("e360/favicon.svg")


def test_collectstatic_builds_the_production_manifest(settings, tmp_path):
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "staticfiles.json").exists()
