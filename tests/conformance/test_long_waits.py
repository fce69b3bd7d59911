"""The slow probes' outcomes and the checks that read them, on hand-built exchanges.

Each broken behaviour of issue 5 (a 504 turned into 200, a missing or mismatched response URL, a
response URL that never delivers or delivers another run's data, a 201 turned into 200 or 503, a
missing X-Tines-Limit-Reached, a dropped run) is fed to the checks as a hand-built outcome and must
fail naming its requirement; the correct behaviour must pass. No server, no waiting.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from conformance import demo, long_waits
from conformance.background import Scheduler
from conformance.check_marks import check_functions, marks, serve_builtin_checks
from conformance.checks import test_limits as limit_checks
from conformance.checks import test_response_url as rurl_checks
from conformance.checks import test_timeouts as timeout_checks
from conformance.exchange import Exchange, ReceivedResponse, SentRequest
from conformance.http import AsyncTargetClient
from conformance.long_waits import (
    BURST,
    JUST_UNDER,
    TIMEOUT,
    BurstOutcome,
    JustUnderOutcome,
    RunTrace,
    TimeoutOutcome,
    account_burst,
    response_url_of,
)
from conformance.profile import Profile, load_profile
from conformance.result import CheckFailure

HOOK = "http://target.test/webhook/probe/s3cr3t-value"
CHECK_MODULES = (timeout_checks, rurl_checks, limit_checks)
CHECKS = Path(timeout_checks.__file__).parent


SLOW_REQUIREMENTS = serve_builtin_checks()


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> ReceivedResponse:
    payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    pairs = tuple({"Content-Type": "application/json", **(headers or {})}.items())
    return ReceivedResponse(status=status, reason="", headers=pairs, body=payload)


def exchange(
    status: int | None, body: Any = None, headers: dict[str, str] | None = None, method: str = "GET"
) -> Exchange:
    request = SentRequest(method, HOOK)
    if status is None:
        return Exchange(request, None, error="ReadTimeout: the target did not answer in 25 s")
    return Exchange(request, response(status, body, headers))


def payload(n: int) -> dict[str, Any]:
    return {"conformance_probe": BURST, "token": f"t{n}", "index": n}


def rurl(n: int) -> str:
    return f"{HOOK}/run-{n}"


def answered_200(n: int) -> RunTrace:
    return RunTrace(payload(n), exchange(200, payload(n), method="POST"))


def answered_201(n: int, delivered: Any = None, *, status: int = 201) -> RunTrace:
    """A run answered without its data and followed to its response URL."""
    headers = {
        "X-Tines-Status": "ok",
        "X-Tines-Limit-Reached": "concurrency",
        "X-Tines-Response-Location": rurl(n),
    }
    answer = exchange(status, {"limit_reached": "concurrency", "response_url": rurl(n)}, headers)
    last = exchange(202, {"status": "pending"}) if delivered is None else exchange(200, delivered)
    return RunTrace(payload(n), answer, rurl(n), (exchange(202, {"status": "pending"}), last))


# --------------------------------------------------------------------------- burst accounting


def test_complete_burst_accounts_for_every_run() -> None:
    runs = [answered_200(0), answered_201(1, payload(1)), answered_201(2, payload(2), status=504)]
    account = account_burst(runs)
    assert account.complete
    assert account.describe(runs) == "every payload retrieved once, by its own request"


def test_missing_payload_is_detected() -> None:
    runs = [answered_200(0), answered_201(1), RunTrace(payload(2), exchange(None))]
    account = account_burst(runs)
    assert [run.exit["index"] for run in account.missing] == [1, 2]
    assert not account.duplicated
    assert not account.mixed_up
    assert "request 1 (answered 201, response URL polled 2 times)" in account.describe(runs)
    assert "request 2 (no answer: ReadTimeout" in account.describe(runs)


def test_duplicated_payload_is_detected() -> None:
    runs = [answered_200(0), answered_201(1, payload(0))]
    account = account_burst(runs)
    assert [(run.exit["index"], times) for run, times in account.duplicated] == [(0, 2)]
    assert [run.exit["index"] for run in account.missing] == [1]
    assert [(mix.run.exit["index"], mix.owner) for mix in account.mixed_up] == [(1, 0)]
    assert "request 0's payload came back 2 times" in account.describe(runs)


def test_swapped_payloads_are_detected() -> None:
    runs = [answered_201(0, payload(1)), answered_201(1, payload(0))]
    account = account_burst(runs)
    assert not account.missing
    assert not account.duplicated
    assert [(mix.run.exit["index"], mix.owner) for mix in account.mixed_up] == [(0, 1), (1, 0)]
    assert "request 0 got request 1's data" in account.describe(runs)


def test_another_runs_data_is_nobodys_payload() -> None:
    stranger = {"conformance_probe": TIMEOUT, "token": "elsewhere"}
    runs = [answered_201(0, stranger)]
    account = account_burst(runs)
    assert [mix.owner for mix in account.mixed_up] == [None]
    assert [run.exit["index"] for run in account.missing] == [0]


def test_a_201_turned_into_200_without_the_data_is_mixed_up() -> None:
    limit_body = {"limit_reached": "concurrency", "response_url": rurl(0)}
    runs = [RunTrace(payload(0), exchange(200, limit_body, method="POST"))]
    account = account_burst(runs)
    assert [mix.owner for mix in account.mixed_up] == [None]
    assert len(account.missing) == 1


def test_json_true_is_not_one() -> None:
    runs = [RunTrace({"v": True}, exchange(200, {"v": 1}))]
    assert not account_burst(runs).complete


def test_status_counts_and_clamping() -> None:
    runs = (answered_200(0), answered_201(1), RunTrace(payload(2), exchange(None)))
    outcome = BurstOutcome(requested=12, sent=3, delay_seconds=2.0, runs=runs)
    assert outcome.status_counts() == {"200": 1, "201": 1, "none": 1}
    assert outcome.clamped


def test_response_url_of_prefers_what_it_is_told() -> None:
    answer = exchange(
        504, {"response_url": rurl(1)}, {"X-Tines-Response-Location": rurl(2)}, method="POST"
    )
    assert response_url_of(answer, body_first=True) == rurl(1)
    assert response_url_of(answer, body_first=False) == rurl(2)
    not_json = Exchange(SentRequest("POST", HOOK), response(504, raw=b"<html>"))
    assert response_url_of(not_json, body_first=True) is None
    assert response_url_of(exchange(None), body_first=True) is None


# ------------------------------------------------------------------ the checks on broken outcomes


class FakeBackground:
    """The `background` fixture's one method, returning hand-built outcomes."""

    def __init__(self, **outcomes: Any) -> None:
        self.outcomes = outcomes
        self.asked: list[tuple[str, float | None]] = []

    def outcome(self, name: str, timeout: float | None = None) -> Any:
        self.asked.append((name, timeout))
        value = self.outcomes[name]
        if isinstance(value, BaseException):
            raise value
        return value


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    path = tmp_path / "profile.yaml"
    path.write_text(
        f"""
target: {{base_url: "http://target.test", api_key_env: LONG_WAITS_TEST_KEY}}
stories: {{ids: [1], missing_id: 999}}
webhooks: {{probe_url: "{HOOK}", exit_timeout_seconds: 2, timing_margin_seconds: 1}}
limits: {{concurrency: {{burst: 4, delay_seconds: 1}}}}
""",
        encoding="utf-8",
    )
    return load_profile(path)


TIMEOUT_EXIT = {"conformance_probe": TIMEOUT, "token": "mine"}
TIMEOUT_HEADERS = {
    "X-Tines-Status": "ok",
    "X-Tines-Limit-Reached": "time",
    "X-Tines-Response-Location": rurl(9),
}


def timeout_outcome(
    *,
    status: int = 504,
    body: Any = None,
    headers: dict[str, str] | None = None,
    first_poll: Exchange | None = None,
    before_due: bool = True,
    delivered: Any = TIMEOUT_EXIT,
    url: str | None = rurl(9),
) -> TimeoutOutcome:
    body = {"limit_reached": "time", "response_url": rurl(9)} if body is None else body
    answer = exchange(status, body, TIMEOUT_HEADERS if headers is None else headers, "POST")
    pending = exchange(202, {"status": "pending"}, {"X-Tines-Status": "ok"})
    last = exchange(200, delivered) if delivered is not None else pending
    polls = () if url is None else (pending, last)
    return TimeoutOutcome(
        run=RunTrace(TIMEOUT_EXIT, answer, url, polls),
        delay_seconds=3.0,
        first_poll=pending if first_poll is None and url else first_poll,
        first_poll_before_due=before_due,
        poll_deadline_seconds=61.0,
    )


def just_under(status: int = 200) -> JustUnderOutcome:
    exit_payload = {"conformance_probe": JUST_UNDER, "token": "under"}
    return JustUnderOutcome(exit_payload, 1.0, exchange(status, exit_payload, method="POST"))


TIMEOUT_CHECKS: list[Callable[[Any, Profile], None]] = [
    timeout_checks.test_past_the_timeout_answers_504,
    timeout_checks.test_timeout_body_names_time_and_an_absolute_response_url,
    timeout_checks.test_timeout_status_header_is_ok,
    timeout_checks.test_timeout_names_the_limit_reached,
    timeout_checks.test_timeout_limit_header_agrees_with_the_body,
    timeout_checks.test_run_continues_after_the_timeout,
    rurl_checks.test_timeout_carries_an_absolute_response_location,
    rurl_checks.test_response_location_equals_the_body_response_url,
    rurl_checks.test_response_url_before_the_data_is_not_taken_for_it,
    rurl_checks.test_response_url_returns_exactly_this_runs_payload,
]


def failure_of(check: Callable[..., None], *args: Any) -> CheckFailure:
    with pytest.raises(CheckFailure) as caught:
        check(*args)
    return caught.value


@pytest.mark.parametrize("check", TIMEOUT_CHECKS, ids=lambda c: c.__name__)
def test_timeout_checks_pass_on_the_documented_behaviour(
    check: Callable[[Any, Profile], None], profile: Profile
) -> None:
    background = FakeBackground(timeout=timeout_outcome())
    check(background, profile)
    [(name, wait)] = background.asked
    assert name == TIMEOUT
    # Bounded, yet longer than the probe's longest legitimate path: three requests that each take
    # the whole request timeout, the run's delay and the polling deadline.
    hooks, safety = profile.webhooks, profile.safety
    delay = hooks.exit_timeout_seconds + hooks.timing_margin_seconds
    assert wait is not None
    assert 3 * safety.request_timeout_seconds + delay + hooks.response_url_deadline_seconds < wait
    assert wait < 200


@pytest.mark.parametrize(
    ("broken", "requirement"),
    [
        (timeout_outcome(status=200, body=TIMEOUT_EXIT), "WH-TIME-002"),
        (
            timeout_outcome(body={"limit_reached": "timeout", "response_url": rurl(9)}),
            "WH-TIME-003",
        ),
        (
            timeout_outcome(body={"limit_reached": "time", "response_url": "/relative"}),
            "WH-TIME-003",
        ),
        (timeout_outcome(headers={**TIMEOUT_HEADERS, "X-Tines-Status": "error"}), "WH-META-003"),
        (
            timeout_outcome(headers={"X-Tines-Status": "ok", "X-Tines-Response-Location": rurl(9)}),
            "WH-META-008",
        ),
        (
            timeout_outcome(headers={"X-Tines-Status": "ok", "X-Tines-Response-Location": rurl(9)}),
            "WH-TIME-005",
        ),
        (timeout_outcome(headers={**TIMEOUT_HEADERS, "X-Tines-Limit-Reached": "x"}), "WH-TIME-005"),
        (timeout_outcome(delivered=None), "WH-TIME-004"),
        (timeout_outcome(url=None, body={"limit_reached": "time"}, headers={}), "WH-TIME-004"),
        (
            timeout_outcome(headers={"X-Tines-Status": "ok", "X-Tines-Limit-Reached": "time"}),
            "WH-META-010",
        ),
        (
            timeout_outcome(headers={**TIMEOUT_HEADERS, "X-Tines-Response-Location": "x"}),
            "WH-META-010",
        ),
        (
            timeout_outcome(headers={"X-Tines-Status": "ok", "X-Tines-Limit-Reached": "time"}),
            "WH-RURL-002",
        ),
        (
            timeout_outcome(headers={**TIMEOUT_HEADERS, "X-Tines-Response-Location": rurl(8)}),
            "WH-RURL-002",
        ),
        (timeout_outcome(first_poll=exchange(200, {"early": True})), "WH-RURL-003"),
        (
            timeout_outcome(first_poll=exchange(202, {}, {"X-Tines-Status": "data_received"})),
            "WH-RURL-003",
        ),
        (timeout_outcome(delivered=None), "WH-RURL-001"),
        (
            timeout_outcome(delivered={"conformance_probe": TIMEOUT, "token": "theirs"}),
            "WH-RURL-001",
        ),
    ],
)
def test_each_broken_timeout_fails_naming_its_requirement(
    broken: TimeoutOutcome, requirement: str, profile: Profile
) -> None:
    checks = [c for c in TIMEOUT_CHECKS if requirement in _marked(c)]
    assert checks, requirement
    for check in checks:
        failure = failure_of(check, FakeBackground(timeout=broken), profile)
        if failure.requirement_ids != (requirement,):  # what the check needed is another's
            assert failure.precondition
            assert failure.requirement_ids == (_PRECONDITION_ROOTS[requirement],)


# A header or URL a check needs but another requirement carries: its absence blames that one.
_PRECONDITION_ROOTS = {
    "WH-TIME-005": "WH-META-008",
    "WH-TIME-004": "WH-TIME-003",
    "WH-RURL-002": "WH-META-010",
}


def test_a_late_first_poll_that_sees_data_is_inconclusive(profile: Profile) -> None:
    late = timeout_outcome(first_poll=exchange(200, TIMEOUT_EXIT), before_due=False)
    with pytest.raises(pytest.skip.Exception, match="too late"):
        rurl_checks.test_response_url_before_the_data_is_not_taken_for_it(
            FakeBackground(timeout=late), profile
        )


def test_just_under_check(profile: Profile) -> None:
    timeout_checks.test_just_under_the_timeout_returns_the_data(
        FakeBackground(just_under=just_under()), profile
    )
    failure = failure_of(
        timeout_checks.test_just_under_the_timeout_returns_the_data,
        FakeBackground(just_under=just_under(504)),
        profile,
    )
    assert failure.requirement_ids == ("WH-TIME-001",)


def test_a_hung_probe_is_a_failed_check_not_a_hang(profile: Profile) -> None:
    background = FakeBackground(timeout=TimeoutError())
    failure = failure_of(timeout_checks.test_past_the_timeout_answers_504, background, profile)
    assert failure.requirement_ids == ("WH-TIME-002",)
    assert "timeout probe to finish" in str(failure)


def test_a_target_that_does_not_answer_fails_with_the_reason(profile: Profile) -> None:
    silent = TimeoutOutcome(RunTrace(TIMEOUT_EXIT, exchange(None)), 3.0, None, False, 0.0)
    failure = failure_of(
        timeout_checks.test_past_the_timeout_answers_504, FakeBackground(timeout=silent), profile
    )
    assert "ReadTimeout" in failure.actual


BURST_CHECKS: list[Callable[[Any, Profile, Any], None]] = [
    limit_checks.test_requests_beyond_the_limit_get_201,
    limit_checks.test_201_carries_status_and_limit_reached,
    limit_checks.test_201_carries_an_absolute_response_location,
    limit_checks.test_every_run_of_the_burst_delivers_its_own_data,
]


def burst_of(*runs: RunTrace, requested: int | None = None) -> BurstOutcome:
    return BurstOutcome(requested or len(runs), len(runs), 1.0, tuple(runs))


def without(run: RunTrace, header: str) -> RunTrace:
    assert run.answer.response is not None
    kept = tuple((k, v) for k, v in run.answer.response.headers if k != header)
    answer = Exchange(run.answer.request, response(201, run.answer.response.json(), dict(kept)))
    return RunTrace(run.exit, answer, run.response_url, run.polls)


GOOD_BURST = burst_of(answered_200(0), answered_200(1), answered_201(2, payload(2)), requested=6)


@pytest.mark.parametrize("check", BURST_CHECKS, ids=lambda c: c.__name__)
def test_burst_checks_pass_and_report_the_counts(
    check: Callable[[Any, Profile, Any], None], profile: Profile, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded: dict[str, object] = {}
    check(FakeBackground(concurrency_burst=GOOD_BURST), profile, recorded.__setitem__)
    assert recorded["burst_status_counts"] == "200: 2, 201: 1"
    assert recorded["burst_clamped"] == "burst clamped from 6 to 3 by safety.max_in_flight"
    assert "concurrency burst of 3 requests: 200: 2, 201: 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("broken", "requirements"),
    [
        # 201 turned into 200: no 201 at all, so only WH-CONC-001 fails; the checks of what a
        # 201 carries are blocked by it (their failure is a precondition naming WH-CONC-001).
        (
            burst_of(answered_200(0), answered_201(1, payload(1), status=200)),
            {"WH-CONC-001"},
        ),
        # 201 turned into 503: no 201, the same.
        (
            burst_of(answered_200(0), RunTrace(payload(1), exchange(503, {"error": "busy"}))),
            {"WH-CONC-001"},
        ),
        (
            burst_of(
                answered_200(0), without(answered_201(1, payload(1)), "X-Tines-Limit-Reached")
            ),
            {"WH-CONC-003"},
        ),
        (
            burst_of(answered_200(0), without(answered_201(1, payload(1)), "X-Tines-Status")),
            {"WH-CONC-003"},
        ),
        (
            burst_of(
                answered_200(0), without(answered_201(1, payload(1)), "X-Tines-Response-Location")
            ),
            {"WH-CONC-004"},
        ),
        # A dropped run: its response URL never delivers.
        (burst_of(answered_200(0), answered_201(1)), {"WH-CONC-002"}),
        # A response URL that delivers another run's data.
        (burst_of(answered_201(0, payload(1)), answered_201(1, payload(0))), {"WH-CONC-002"}),
    ],
)
def test_each_broken_burst_fails_naming_its_requirement(
    broken: BurstOutcome, requirements: set[str], profile: Profile
) -> None:
    failed: set[str] = set()
    for check in BURST_CHECKS:
        try:
            check(FakeBackground(concurrency_burst=broken), profile, lambda *_: None)
        except CheckFailure as failure:
            failed.update(failure.requirement_ids)
    assert failed == requirements


def test_burst_failure_shows_the_evidence(profile: Profile) -> None:
    failure = failure_of(
        limit_checks.test_every_run_of_the_burst_delivers_its_own_data,
        FakeBackground(concurrency_burst=burst_of(answered_200(0), answered_201(1))),
        profile,
        lambda *_: None,
    )
    assert "request 1 (answered 201, response URL polled 2 times): its data never came" in str(
        failure
    )
    assert "s3cr3t-value" not in str(failure)


def test_burst_without_concurrency_settings_is_skipped(profile: Profile) -> None:
    with pytest.raises(pytest.skip.Exception, match=r"limits\.concurrency"):
        limit_checks.test_requests_beyond_the_limit_get_201(
            FakeBackground(concurrency_burst=None), profile, lambda *_: None
        )


def _marked(check: Callable[..., None]) -> set[str]:
    return {rid for mark in getattr(check, "pytestmark", []) for rid in mark.args}


class EchoClient:
    """An AsyncTargetClient stand-in whose probe runs answer 200 with their payload at once."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def probe(self, exit: Any, delay_seconds: float = 0.0) -> Exchange:
        self.sent.append(exit)
        return exchange(200, exit, method="POST")


def test_burst_floods_only_once_a_check_asks_for_it(profile: Profile) -> None:
    """While the fast checks run nobody asks for the burst, so it must not send anything."""
    client = EchoClient()

    async def scenario() -> BurstOutcome | None:
        burst = asyncio.ensure_future(long_waits.probe_burst(client, profile))  # type: ignore[arg-type]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(burst), 0.2)
        assert client.sent == []
        # What a burst check does: ask for the outcome (here a fake answers it with None).
        fake = FakeBackground(concurrency_burst=None)
        assert long_waits.burst_outcome(fake, profile, ["WH-CONC-001"]) is None
        return await asyncio.wait_for(burst, 5)

    outcome = asyncio.run(scenario())
    assert outcome is not None
    assert len(client.sent) == outcome.sent == 4
    assert account_burst(outcome.runs).complete


# ------------------------------------------------- end to end: the real probes, the real reference

API_KEY = "long-waits-test-key"


@pytest.fixture
def reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Profile]:
    """The reference at a 2 s exit timeout with four run slots, and the profile it wrote."""
    monkeypatch.setenv("TINES_API_KEY", API_KEY)
    with demo.reference_server(
        tmp_path,
        log_path=tmp_path / "reference.log",
        exit_timeout=2,
        max_concurrent_runs=4,
        api_key=API_KEY,
    ) as running:
        written = yaml.safe_load(running.profile_path.read_text(encoding="utf-8"))
        # A 1 s margin: the just-under run waits 1 s, the timeout run 3 s; the burst's runs take
        # 1 s, so that those with a slot answer 200 within the exit timeout.
        written["webhooks"].update(timing_margin_seconds=1, response_url_deadline_seconds=10)
        written["limits"]["concurrency"]["delay_seconds"] = 1
        running.profile_path.write_text(yaml.safe_dump(written), encoding="utf-8")
        yield load_profile(running.profile_path)


@pytest.mark.slow
def test_the_slow_checks_pass_against_the_reference(reference: Profile, tmp_path: Path) -> None:
    """The three check modules run as the plugin runs them (`pytest --conformance-profile`, the
    suite's other entry point beside `conformance run`), against the reference: the slow probes
    start on the real scheduler, every slow requirement is judged passed, and the burst's status
    counts reach the JUnit report. Only these modules are collected, to keep the run short."""
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--conformance-profile", str(reference.path), "--conformance-include-limit-test"]
    command += [f"--conformance-report-dir={reports}", "--rootdir", str(CHECKS.parent)]
    command += [str(CHECKS / f"{module.__name__.rsplit('.', 1)[1]}.py") for module in CHECK_MODULES]
    env = {**os.environ, "TINES_API_KEY": API_KEY}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    statuses = {r["id"]: r["status"] for r in summary["requirements"]}
    assert {rid: statuses.get(rid) for rid in SLOW_REQUIREMENTS} == dict.fromkeys(
        SLOW_REQUIREMENTS, "passed"
    )
    junit = ElementTree.parse(reports / "junit.xml")
    counts = {
        prop.get("value")
        for prop in junit.iter("property")
        if prop.get("name") == "burst_status_counts"
    }
    # Seven requests (four slots and three over, as the reference's profile asks): some answered
    # 200, the rest 201, depending on whether the timeout run still held its slot.
    assert len(counts) == 1
    [seen] = counts
    tally = dict(part.split(": ") for part in str(seen).split(", "))
    assert set(tally) == {"200", "201"}
    assert sum(map(int, tally.values())) == 7


# ------------------------------------------------ reliability: a target that hangs or hangs up


@pytest.fixture(params=["hangs", "resets"])
def unkind_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Profile]:
    """A socket that accepts and then never answers, or that resets every connection."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    closing = threading.Event()

    def serve() -> None:
        while not closing.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            if request.param == "resets":
                # SO_LINGER 0: close sends RST, the way a crashed or hostile server hangs up.
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                connection.close()
            else:
                held.append(connection)

    threading.Thread(target=serve, daemon=True).start()
    port = server.getsockname()[1]
    path = tmp_path / "unkind.yaml"
    path.write_text(
        f"""
target: {{base_url: "http://127.0.0.1:{port}", api_key_env: LONG_WAITS_TEST_KEY}}
stories: {{ids: [1], missing_id: 999}}
webhooks:
  probe_url: "http://127.0.0.1:{port}/webhook/probe/unkind-secret"
  exit_timeout_seconds: 1
  timing_margin_seconds: 0.5
  response_url_deadline_seconds: 1
limits: {{concurrency: {{burst: 3, delay_seconds: 0.5}}}}
safety: {{request_timeout_seconds: 1, max_requests_per_second: 100}}
""",
        encoding="utf-8",
    )
    try:
        yield load_profile(path)
    finally:
        closing.set()
        server.close()
        for connection in held:
            connection.close()


@pytest.mark.slow
def test_a_target_that_hangs_or_resets_fails_every_slow_check_with_its_reason(
    unkind_target: Profile,
) -> None:
    """Every slow check ends in a CheckFailure that says why (no hang, no traceback): the
    request timeout bounds each probe, and the outcome carries the transport error."""
    scheduler = Scheduler()
    client = AsyncTargetClient(unkind_target, "long-waits-unkind")
    scheduler.start(client, unkind_target, SLOW_REQUIREMENTS, include_limit_test=True)
    reasons: list[str] = []
    try:
        for check in TIMEOUT_CHECKS:
            reasons.append(failure_of(check, scheduler, unkind_target).actual)
        reasons.append(
            failure_of(
                timeout_checks.test_just_under_the_timeout_returns_the_data,
                scheduler,
                unkind_target,
            ).actual
        )
        for burst_check in BURST_CHECKS:
            reasons.append(
                failure_of(burst_check, scheduler, unkind_target, lambda *_: None).actual
            )
    finally:
        scheduler.stop()
    expected = ("no answer within 1 s", "connection reset by the target")
    for reason in reasons:
        assert any(why in reason for why in expected), reason


def test_every_check_that_reads_a_probe_is_started_by_its_own_requirements() -> None:
    """A check that reads the background names the probe it reads (`@pytest.mark.probe`), and
    selecting any one of its requirements alone (`--only ID`) starts that probe. A check added
    without the mark would otherwise fail under `--only` with a LookupError."""
    readers = [
        (name, function)
        for name, function in check_functions()
        if "background" in inspect.signature(function).parameters
    ]
    assert len(readers) >= 3
    scheduler = Scheduler()
    for name, function in readers:
        probes = set(marks(function, "probe"))
        assert probes, f"{name} reads the background but names no probe"
        for rid in marks(function, "requirement"):
            planned = {probe.name for probe in scheduler.plan({rid}, include_limit_test=True)}
            assert probes <= planned, f"--only {rid} would not start {probes} for {name}"
