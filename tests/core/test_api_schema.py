"""Property-based tests of the whole API from its OpenAPI schema (schemathesis): whatever a client
sends, the API answers without a server error and within its documented response shapes."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from gongzhi.core import services
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import ACTIONS
from gongzhi.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Calling the WSGI app directly would close the test's database connection at the end of each
    request (the test transaction with it); the Django test client avoids that the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(tree):
    _, plaintext = services.create_api_key(SYSTEM, name="fuzz", region=tree.street, actions=sorted(ACTIONS))
    return plaintext


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_and_matches_its_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error, response_schema_conformance]
    )
