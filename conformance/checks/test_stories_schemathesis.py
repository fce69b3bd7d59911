"""Stories Get, through schemathesis on the spec's `getStory` operation.

Schemathesis generates the requests (valid ones, and ones with invalid parameters) and judges the
answers with its own checks; this module sees that every request it sends goes through the suite's
`TargetClient` (rate cap, run-ID header, redaction) and that each of its findings is reported as a
`CheckFailure` naming the requirement it breaks. Story IDs are never generated: they are drawn from
the profile (its stories and its missing ID), so the suite does not scan a tenant's IDs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, cast

import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.auths import AuthStorage
from schemathesis.checks import CheckContext, not_a_server_error, run_checks
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from schemathesis.transport.requests import REQUESTS_TRANSPORT, RequestsTransport

import tines_spec
from conformance.exchange import Exchange
from conformance.http import TargetClient
from conformance.profile import Profile
from conformance.result import CheckFailure
from conformance.strategies import CHECK_SETTINGS
from conformance.verify import expect_no_findings, expect_response, expect_valid

# The operations every check of this module calls, for the dry-run plan.
pytestmark = pytest.mark.operations("GET /api/v1/stories/{story_id}")


_OPERATION_ID = "getStory"
_CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
)
# STORY-PARAM-001: invalid input is a client error, whichever 4xx the target picks.
_REJECTION_STATUSES = ["4XX"]
# Headers that describe one connection of the `requests` library, not the request under test;
# and schemathesis's User-Agent, so that the tenant's logs see the suite's own on every request.
_CONNECTION_HEADERS = frozenset(
    {"connection", "accept-encoding", "content-length", "host", "user-agent"}
)


class _NoResponse(Exception):
    """The target did not answer a request schemathesis asked for; carries the evidence."""

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange.error)
        self.exchange = exchange


class _TargetTransport(RequestsTransport):
    """Schemathesis's transport, with the wire replaced by the suite's TargetClient.

    Schemathesis serialises the case exactly as it would for `requests` (the query string included,
    encoded by `requests`), and the result is sent with `TargetClient.request`. Its follow-up
    requests (the ignored-auth probes) take the same road, since they use the schema's transport.
    """

    def __init__(self, target: TargetClient) -> None:
        super().__init__()
        self._copy_serializers_from(REQUESTS_TRANSPORT)
        self.target = target
        self.exchanges: list[Exchange] = []

    def send(self, case: Any, *, session: Any = None, **kwargs: Any) -> Response:
        data = self.serialize_case(
            case, base_url=kwargs.get("base_url"), headers=kwargs.get("headers")
        )
        prepared = requests.Request(
            method=data["method"], url=data["url"], headers=data["headers"], params=data["params"]
        ).prepare()
        headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in prepared.headers.items()
            if name.lower() not in _CONNECTION_HEADERS
        }
        exchange = self.target.request(str(prepared.method), str(prepared.url), headers=headers)
        self.exchanges.append(exchange)
        if exchange.response is None:
            raise _NoResponse(exchange)
        received = exchange.response
        grouped: dict[str, list[str]] = {}
        for name, value in received.headers:
            grouped.setdefault(name.lower(), []).append(value)
        return Response(
            status_code=received.status,
            headers=grouped,
            content=received.body,
            request=prepared,
            elapsed=received.elapsed_seconds,
            verify=True,
            message=received.reason,
        )


class _RoutedSchema(OpenApiSchema):
    """The OpenAPI schema whose transport is the suite's: schemathesis reads `schema.transport`
    for every request it sends, its checks' own probes included, and offers no other seam."""

    routed: _TargetTransport

    @property
    def transport(self) -> Any:
        return self.routed


@cache
def _loaded_schema() -> OpenApiSchema:
    loaded = schemathesis.openapi.from_path(tines_spec.openapi_path())
    return cast(OpenApiSchema, loaded.include(operation_id=_OPERATION_ID))


def _operation(transport: _TargetTransport) -> Any:
    """The getStory operation, bound to the suite's transport and carrying the profile's key."""
    schema = cast(_RoutedSchema, _loaded_schema().clone())
    schema.__class__ = _RoutedSchema
    schema.routed = transport
    schema.config.checks.negative_data_rejection.expected_statuses = _REJECTION_STATUSES
    (result,) = list(schema.get_all_operations())
    return result.ok()  # type: ignore[union-attr]


def _auth_storage(api_key: str) -> AuthStorage[Any]:
    """The profile's key as `Authorization: Bearer`, marked as explicit auth so that
    schemathesis's ignored-auth check probes the target without it and with a wrong one."""

    class ProfileKey:
        def get(self, case: Any, context: Any) -> str:
            return api_key

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    storage: AuthStorage[Any] = AuthStorage()
    storage.auth(refresh_interval=None)(ProfileKey)
    return storage


def _cases(operation: Any, profile: Profile, mode: GenerationMode) -> st.SearchStrategy[Any]:
    ids = [*profile.stories.ids, profile.stories.missing_id]
    storage = _auth_storage(profile.api_key())
    return st.sampled_from(ids).flatmap(
        lambda story_id: operation.as_strategy(
            mode, path_parameters={"story_id": story_id}, auth_storage=storage
        )
    )


def _keep_draft_ids_to_the_profile(case: Any, profile: Profile) -> None:
    """A generated, well-formed draft ID would read an arbitrary draft of the tenant: it is
    replaced by the profile's draft (for its story) or dropped. A malformed one stays: it is the
    invalid input under test and names no draft."""
    query = case.query if isinstance(case.query, dict) else None
    if (
        not query
        or not isinstance(query.get("draft_id"), int)
        or isinstance(query["draft_id"], bool)
    ):
        return
    draft = profile.stories.draft
    if draft is not None and case.path_parameters.get("story_id") == draft.story_id:
        query["draft_id"] = draft.draft_id
    else:
        del query["draft_id"]


def _requirements(
    check_name: str, case: Any, status: int, missing_id: int | None = None
) -> tuple[str, ...]:
    """Which requirement a schemathesis finding breaks: by the check, the kind of input, and
    the status the target answered with (each documented status belongs to one requirement)."""
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    if check_name == "ignored_auth":
        return ("STORY-AUTH-003",)
    if status == 401:  # the profile's key was refused: the root is the bearer key's requirement
        return ("STORY-AUTH-001",)
    if check_name == "response_schema_conformance" and 200 <= status < 300:
        return ("STORY-FIELD-001",)
    if case.path_parameters.get("story_id") == missing_id and check_name != (
        "negative_data_rejection"
    ):
        return ("STORY-GET-002",)
    if check_name == "negative_data_rejection" or (negative and status >= 500):
        return ("STORY-PARAM-001",)
    by_status = {401: ("STORY-AUTH-003",), 404: ("STORY-GET-002",)}
    if status in by_status:
        return by_status[status]
    if status in (400, 422) or negative:
        return ("STORY-PARAM-001",)
    if check_name == "response_schema_conformance":
        return ("STORY-FIELD-001",)
    return ("STORY-GET-001",)


def _schema_findings(exchange: Exchange) -> list[tuple[tuple[str, ...], str]]:
    """A story body's schema errors, attributed as the explicit checks attribute them: only the
    ones the catalogue gives to the whole object (STORY-FIELD-001) are this check's; a bad
    timestamp or enum is its own requirement's, which its own check reports."""
    try:
        body = exchange.response.json() if exchange.response is not None else None
    except ValueError:
        return [(("STORY-GET-001",), "the answer is not JSON")]
    try:
        expect_valid(exchange, body, "story.schema.json", ("STORY-FIELD-001",))
    except CheckFailure as failure:
        return [(failure.requirement_ids, failure.reason)]
    return []


def _run(
    case: Any,
    operation: Any,
    transport: _TargetTransport,
    base_url: str,
    missing_id: int | None = None,
) -> None:
    """Send one case through the target and turn schemathesis's findings into a CheckFailure."""
    first = len(transport.exchanges)
    try:
        response = case.call(base_url=base_url)
    except _NoResponse as missing:
        expect_response(missing.exchange, _requirements("", case, 0))
        raise
    exchange = transport.exchanges[first]
    findings: list[tuple[str, Failure]] = []

    def on_failure(name: str, collected: set[Failure], failure: Failure) -> None:
        collected.add(failure)
        findings.append((name, failure))

    context = CheckContext(
        override=None,
        auth=None,
        headers=None,
        config=operation.schema.config.checks_config_for(operation=operation, phase=None),
        transport_kwargs={"base_url": base_url},
        response_checks=None,
        auth_enforced_operations=_enforced_operations,
    )
    try:
        run_checks(case=case, response=response, ctx=context, checks=_CHECKS, on_failure=on_failure)
    except _NoResponse as missing:
        expect_response(missing.exchange, ("STORY-AUTH-003",))
        raise
    attributed: list[tuple[tuple[str, ...], str]] = []
    for name, failure in findings:
        blamed = _requirements(name, case, response.status_code, missing_id)
        if blamed == ("STORY-FIELD-001",):
            attributed += _schema_findings(exchange)
        else:
            attributed.append((blamed, _describe(name, failure)))
    expect_no_findings(exchange, list(dict.fromkeys(attributed)))


# Shared across the run: once the target has been seen to refuse a missing and a wrong key, the
# ignored-auth check does not spend more requests proving it again.
_enforced_operations: set[str] = set()


def _describe(name: str, failure: Failure) -> str:
    message = " ".join(failure.message.split())
    return f"schemathesis {name}: {failure.title}: {message}"[:600]


def _schemathesis_test(
    mode: GenerationMode,
) -> Callable[[TargetClient, Profile, st.DataObject], None]:
    def check(target: TargetClient, profile: Profile, data: st.DataObject) -> None:
        transport = _TargetTransport(target)
        operation = _operation(transport)
        case = data.draw(_cases(operation, profile, mode), label="case")
        _keep_draft_ids_to_the_profile(case, profile)
        _run(case, operation, transport, profile.target.base_url, profile.stories.missing_id)

    return check


@pytest.mark.requirement(
    "STORY-GET-001", "STORY-FIELD-001", "STORY-GET-002", "STORY-AUTH-003", max_requests=4
)
@CHECK_SETTINGS
@given(data=st.data())
def test_valid_requests_get_documented_answers(
    target: TargetClient, profile: Profile, data: st.DataObject
) -> None:
    """Valid requests (the profile's stories and its missing ID, generated parameters, the key)
    get a documented status, content type and headers, and a body valid against the response
    schema; without the key or with a wrong one the same request is refused (401)."""
    _schemathesis_test(GenerationMode.POSITIVE)(target, profile, data)


@pytest.mark.requirement("STORY-PARAM-001", max_requests=4)
@CHECK_SETTINGS
@given(data=st.data())
def test_invalid_parameters_are_rejected_with_4xx(
    target: TargetClient, profile: Profile, data: st.DataObject
) -> None:
    """ "An invalid story_mode, draft_id or include_live_activity answers 400 or 422 naming it,
    never 5xx": schemathesis's negative data (parameters outside their schema) gets a 4xx."""
    _schemathesis_test(GenerationMode.NEGATIVE)(target, profile, data)
