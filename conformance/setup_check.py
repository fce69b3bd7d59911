"""The set-up check: what the run needs of the target before any conformance check is worth sending.

A first run against a tenant is usually a wrong URL, a probe story built slightly wrong, or an API
key without access. Each of those would otherwise show as dozens of failed requirements and
thousands of requests; here each is one line, naming the URL (secrets masked), what was expected,
what came back, and the README section that says how to put it right. It costs a handful of
requests and a few seconds:

1. one GET of the profile's first story: no HTTP answer at all means the target is unreachable
   (the run stops, exit 3); 401 or 403 means the API key was refused (the Stories checks are
   blocked); 404 means the story ID is wrong (likewise);
2. two probes of the probe story, with a random token: with no delay the answer must be exactly
   that token within the exit timeout; with a short delay it must not come back sooner. A wrong
   answer is matched against the ways a hand-built probe story goes wrong (its `webhook`, `wait`
   or `exit` action, as `spec/stories/probe.json` names them) and the part at fault is named;
3. one race of the race story (when the profile has one): the early branch's payload, with the
   token, must come back.

A probe answered as a busy target answers (201, the documented over-limit answer; 429; 503) is
sent again after a pause, for a bounded time: runs a previous run left behind can hold the run
slots for a while, and that says nothing of the story.

What came back is evidence: where it contradicts a rule (the key refused in `Authorization:
Bearer`, the probe 404, the probe's body not its payload, the data under a 2xx other than 200, a
run due at once not answered within the exit timeout, the race's late branch answered) the
problem names that requirement, and the run fails it with this exchange (`conformance.setup_gate`).

What depends on a broken precondition is blocked, not sent; the other areas still run: a refused
key blocks the Stories checks while the webhook checks run, and a broken probe story the reverse.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import tines_spec
from conformance.exchange import Exchange
from conformance.http import NO_ANSWER, PREFLIGHT_TIMEOUT_SECONDS, TargetClient, story_url
from conformance.profile import Profile
from conformance.redaction import redact
from conformance.request_budget import OverBudget

# The result types live in `setup_result`; they are named here too, where the session imports
# them with the check.
from conformance.setup_result import (
    AREA_PROBE,
    AREA_RACE,
    AREA_STORIES,
    AREA_TARGET,
    RACE_MARKER,
    SetupProblem,
    SetupResult,
    areas_of,
)

__all__ = [
    "AREA_PROBE",
    "AREA_RACE",
    "AREA_STORIES",
    "AREA_TARGET",
    "MAX_REQUESTS",
    "RACE_MARKER",
    "SetupProblem",
    "SetupResult",
    "areas_of",
    "check_setup",
]

_README_TARGET = "README, section 'Checking your own target'"
_README_STORIES = "README, section 'Checking your own target' (the API key and story IDs)"
_README_PROBE = "README, section 'The probe story and the race story'"
_README_SAFETY = "README, section 'Safe to point at production'"

# The delayed probe: long enough to tell a delay that was applied from one that was not, short
# enough to keep the set-up check to seconds, and at most half the exit timeout, so that a target
# that answers it with a 504 is late by any measure.
_DELAY_SECONDS = 1.0
_DELAY_TOLERANCE = 0.8
# The race: the first branch is due at once, the second this much later.
_RACE_SECOND_DELAY = 1.0
# What a target says while its run slots are full (201 is the documented over-limit answer): the
# set-up tries again after a pause, a bounded number of times.
_BUSY_STATUSES = frozenset({201, 429, 503})
_BUSY_PAUSE_SECONDS = 0.5
_BUSY_TRIES = 8
# The most the set-up check sends: one story read, then the two probes and the race, each tried
# while busy (the plan counts it in the run's bound).
MAX_REQUESTS = 1 + 3 * _BUSY_TRIES

_PROBE_STORY = tines_spec.story_export("probe")
_AGENT_NAMES = {agent["name"] for agent in _PROBE_STORY["agents"]}


def _part(name: str) -> str:
    """A part of the probe story, by its agent name in `spec/stories/probe.json`."""
    assert name in _AGENT_NAMES, f"spec/stories/probe.json has no agent {name!r}"
    return f"the probe story's `{name}` action"


def _option(name: str, key: str) -> str:
    agent = next(a for a in _PROBE_STORY["agents"] if a["name"] == name)
    return str(agent["options"][key])


_GOT_CHARS = 120


def _got(exchange: Exchange) -> str:
    if exchange.response is None:
        return exchange.error or "no answer"
    response = exchange.response
    text = response.text
    # A bounded excerpt, said to be one: an HTML error page must not read as a cut-off line.
    body = repr(text[:_GOT_CHARS]) if text else ""
    if len(text) > _GOT_CHARS:
        body += f" (its first {_GOT_CHARS} characters of {len(text)})"
    return f"{response.status} {response.reason} {body}".strip()


def _stories(client: TargetClient, profile: Profile) -> tuple[Exchange, SetupProblem | None]:
    story_id = profile.stories.ids[0]
    url = redact(story_url(profile, story_id))
    # A target that cannot answer one story read in this time would only make every check wait
    # out its timeout, until the run deadline: no usable answer ends the run here.
    seconds = min(PREFLIGHT_TIMEOUT_SECONDS, profile.safety.run_deadline_seconds / 2)
    exchange = client.get_story(story_id, timeout=seconds, answer_timeout=PREFLIGHT_TIMEOUT_SECONDS)
    response = exchange.response
    if response is None:
        got = exchange.error or "no answer"
        return exchange, SetupProblem(
            AREA_TARGET,
            redact(profile.target.base_url),
            "an HTTP answer",
            got,
            _README_TARGET,
            exchange=exchange,
        )
    if response.status in (401, 403):
        return exchange, SetupProblem(
            AREA_STORIES,
            url,
            f"200 for story {story_id} with the key in ${profile.target.api_key_env}",
            f"{response.status}: the API key was refused by {url}",
            _README_STORIES,
            # The key went as `Authorization: Bearer`, which STORY-AUTH-001 says is accepted.
            requirement_ids=("STORY-AUTH-001",),
            exchange=exchange,
        )
    if response.status == 404:
        return exchange, SetupProblem(
            AREA_STORIES,
            url,
            f"200 for story {story_id} (stories.ids[0])",
            f"404: no such story on this target, or not visible to this API key ({_got(exchange)})",
            _README_STORIES,
            exchange=exchange,
        )
    return exchange, None


def _probe_problem(
    profile: Profile, exchange: Exchange, token: str, delay: float
) -> SetupProblem | None:
    """What a probe's answer says of the probe story, naming the part at fault."""
    url = redact(profile.webhooks.probe_url)
    timeout = profile.webhooks.exit_timeout_seconds
    expected = f'200 with exactly "{token}" (the request\'s `exit`) within {timeout:g} s'

    def problem(got: str, part: str, how: str = "", *rules: str) -> SetupProblem:
        return SetupProblem(
            AREA_PROBE, url, expected, f"{got}{how}", _README_PROBE, part, rules, exchange
        )

    # A run due to emit well within the exit timeout that is not answered with its event within
    # it breaks WH-TIME-001, whatever the story's parts.
    late = ("WH-TIME-001",) if delay < timeout else ()
    response = exchange.response
    if response is None:
        error = exchange.error or "no answer"
        return problem(error, "", "", *(late if error.startswith(NO_ANSWER) else ()))
    if response.status == 404:
        return problem(
            _got(exchange),
            _part("webhook"),
            ": no webhook at this path and secret (is the story's API mode on?)",
            "WH-ENTRY-001",
        )
    if response.status == 504 or response.elapsed_seconds > timeout:
        return problem(
            f"{_got(exchange)} after {response.elapsed_seconds:.1f} s",
            _part("wait"),
            f": the delay must be read from the body (`seconds` = {_option('wait', 'seconds')})",
            *late,
        )
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if 200 < response.status < 300 and body == token:
        # The run's data, under a success status other than the one WH-BODY-002 names.
        return problem(_got(exchange), "", "", "WH-BODY-002")
    if response.status != 200:
        return problem(_got(exchange), "")
    if body == token:
        if delay > 0 and response.elapsed_seconds < delay * _DELAY_TOLERANCE:
            return SetupProblem(
                AREA_PROBE,
                url,
                f"the answer no sooner than delay_seconds={delay:g} s",
                f"the answer after {response.elapsed_seconds:.2f} s: the delay must be read from "
                f"the body (`seconds` = {_option('wait', 'seconds')})",
                _README_PROBE,
                _part("wait"),
            )
        return None
    # 200 with a body that is not the exit action's payload: WH-BODY-001's rule.
    payload = _option("exit", "payload")
    if isinstance(body, dict) and body.get("exit") == token and "delay_seconds" in body:
        how = f": it emits the whole request body; its payload must be exactly {payload}"
        return problem(_got(exchange), _part("exit"), how, "WH-BODY-001")
    if isinstance(body, dict | list) and token in _values(body):
        how = f": it wraps the value in an object; its payload must be exactly {payload}"
        return problem(_got(exchange), _part("exit"), how, "WH-BODY-001")
    how = f": it does not emit the request's `exit`; its payload must be exactly {payload}"
    return problem(_got(exchange), _part("exit"), how, "WH-BODY-001")


def _values(value: Any, depth: int = 0) -> list[Any]:
    """Every scalar inside a JSON value (bounded in depth: a target controls it)."""
    if depth > 8:
        return []
    if isinstance(value, dict):
        return [v for item in value.values() for v in _values(item, depth + 1)]
    if isinstance(value, list):
        return [v for item in value[:100] for v in _values(item, depth + 1)]
    return [value]


def _busy(exchange: Exchange) -> bool:
    response = exchange.response
    return response is not None and response.status in _BUSY_STATUSES


def _while_busy(profile: Profile, send: Callable[[str], Exchange], sent: list[Exchange]) -> str:
    """Send, and again after a pause while the target says it is busy, up to a bounded window:
    the runs a previous run left behind (a concurrency burst's, say) hold the target's run slots
    for as long as they take, and a story that is fine must not be reported broken for that.

    Each exchange goes into `sent` as it comes back, so that none is lost to an `OverBudget`
    raised by the next send; returns the token of the last."""
    concurrency = profile.limits.concurrency
    window = profile.webhooks.exit_timeout_seconds + profile.webhooks.timing_margin_seconds
    window += concurrency.delay_seconds if concurrency is not None else 0.0
    deadline = time.monotonic() + window
    token = f"setup-{secrets.token_hex(8)}"
    sent.append(send(token))
    tries = 1
    while (
        _busy(sent[-1])
        and tries < _BUSY_TRIES
        and time.monotonic() + _BUSY_PAUSE_SECONDS < deadline
    ):
        time.sleep(_BUSY_PAUSE_SECONDS)
        token = f"setup-{secrets.token_hex(8)}"
        sent.append(send(token))
        tries += 1
    return token


def _probe(
    client: TargetClient, profile: Profile, sent: list[Exchange], answered: Callable[[], None]
) -> SetupProblem | None:
    """The probe story, undelayed then delayed; `answered` is called once the undelayed probe
    came back right: the long waits can start then, while the delayed one waits."""
    timeout = profile.webhooks.exit_timeout_seconds + profile.webhooks.timing_margin_seconds
    for delay in (0.0, min(_DELAY_SECONDS, profile.webhooks.exit_timeout_seconds / 2)):

        def send(token: str, delay: float = delay) -> Exchange:
            return client.probe(token, delay_seconds=delay, timeout=timeout + delay)

        token = _while_busy(profile, send, sent)
        problem = _probe_problem(profile, sent[-1], token, delay)
        if problem is not None:
            return problem
        if delay == 0.0:
            answered()
    return None


def _race(client: TargetClient, profile: Profile, sent: list[Exchange]) -> SetupProblem | None:
    assert profile.webhooks.race_url is not None
    url = redact(profile.webhooks.race_url)
    timeout = profile.webhooks.exit_timeout_seconds + profile.webhooks.timing_margin_seconds

    def send(token: str) -> Exchange:
        wait = timeout + _RACE_SECOND_DELAY
        return client.race(token, 0.0, _RACE_SECOND_DELAY, timeout=wait)

    token = _while_busy(profile, send, sent)
    exchange = sent[-1]
    expected = f'200 with {{"exit": "first", "token": "{token}"}} (the early branch)'
    response = exchange.response
    body: Any = None
    if response is not None and response.status == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
    if isinstance(body, dict) and body.get("exit") == "first" and body.get("token") == token:
        return None
    part = ""
    rules: tuple[str, ...] = ()
    if response is not None and response.status == 404:
        part = "the race story's webhook: no webhook at this path and secret"
    elif isinstance(body, dict) and body.get("exit") == "second":
        part = "the race story's delays: the late branch answered first"
        # The branch due a second later was the one answered: WH-BODY-003's rule.
        rules = ("WH-BODY-003",)
    elif isinstance(body, dict) and body.get("token") != token:
        part = "the race story's exit actions: the token is not the request's"
    return SetupProblem(
        AREA_RACE, url, expected, _got(exchange), _README_PROBE, part, rules, exchange
    )


def check_setup(
    client: TargetClient,
    areas: frozenset[str] | None = None,
    *,
    probe_answered: Callable[[], None] = lambda: None,
) -> SetupResult:
    """Check the preconditions of the areas asked for (all of them when None).

    Stops at an unreachable target: nothing else can be learnt from it. `probe_answered` is
    called as soon as the probe story has answered an undelayed probe right."""
    profile = client.profile
    wanted = areas if areas is not None else frozenset({AREA_STORIES, AREA_PROBE, AREA_RACE})
    exchanges: list[Exchange] = []
    problems: list[SetupProblem] = []
    passed: list[str] = []
    exchange, problem = _stories(client, profile)
    exchanges.append(exchange)
    if problem is not None and problem.area == AREA_TARGET:
        return SetupResult((problem,), tuple(exchanges))
    if AREA_STORIES in wanted:
        if problem is None:
            passed.append(AREA_STORIES)
        else:
            problems.append(problem)
    steps: list[tuple[str, str, Callable[..., SetupProblem | None]]] = [
        (AREA_PROBE, profile.webhooks.probe_url, partial(_probe, answered=probe_answered))
    ]
    if profile.webhooks.race_url is not None:
        steps.append((AREA_RACE, profile.webhooks.race_url, _race))
    for area, step_url, step in steps:
        if area not in wanted:
            continue
        try:
            problem = step(client, profile, exchanges)
        except OverBudget as exc:
            problem = SetupProblem(
                area,
                redact(step_url),
                "room in the run's request budget for the set-up check",
                exc.reason,
                _README_SAFETY,
            )
        if problem is None:
            passed.append(area)
        else:
            problems.append(problem)
    return SetupResult(tuple(problems), tuple(exchanges), tuple(passed))
