"""Test set-up shared by every test.

- Static files without a manifest, so pages render without `collectstatic`.
- Under CI=true a skipped test is a failure: in CI everything a test needs is present.
"""

import os
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config):
    from django.conf import settings

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    # Fast hashing in tests; production keeps argon2 (asserted in tests/core/test_accounts.py).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    # No case classifier unless a test trains one: a model left in var/ must not route test cases
    # (module-scoped set-ups such as the demo write theirs here; each test gets its own path below).
    settings.GONGZHI_CLASSIFIER_MODEL = Path(tempfile.gettempdir()) / "gongzhi-no-model" / "none.joblib"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() == "true" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is a failure: {reason}"


@pytest.fixture(autouse=True)
def _own_classifier_model_path(settings, tmp_path):
    """Each test starts without a classifier model, whatever an earlier test or set-up trained."""
    settings.GONGZHI_CLASSIFIER_MODEL = tmp_path / "case-classifier.joblib"


@pytest.fixture
def tree(db):
    from tests.factories import build_tree

    return build_tree()


@pytest.fixture
def frozen_clock():
    from gongzhi.core import clock

    with clock.frozen("2026-11-23T10:00:00+08:00") as travel:
        yield travel
