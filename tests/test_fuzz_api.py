"""The HTTP API fuzzed from its own OpenAPI schema (schemathesis), against a
real service on the bundled model (issue 10: "a fuzz suite in the tests").

Every operation gets a bounded, derandomized run of valid and invalid
requests (schemathesis' positive and negative generation). Whatever comes
in, the service must answer with:
- no 5xx, except the documented 503 (busy or restarting) and 504 (too slow),
  both in our error shape;
- every 4xx in our error shape, {"error": {"message": <a sentence>}}, the
  shape OpenAI clients and the tray read;
and afterwards the same worker must still be there (nothing fuzzed may cost
a restart) and a good transcription must still come out right.

The control routes (/v1/worker/restart, /v1/shutdown) stop things by design
when given the token: they are fuzzed last, and generated headers never hold
the token, so every one of those requests must be refused.
"""
from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from tests.support import speech

TOKEN = "fuzz-api-token"
# Per operation and generation mode: enough to reach the decoders and the
# validators on every field, small enough for the whole file to stay under
# two minutes on two cores.
MAX_EXAMPLES = 25
FUZZED = [
    ("GET", "/health"),
    ("GET", "/v1/status"),
    ("GET", "/v1/models"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/utterance"),
    ("POST", "/reset"),
]
CONTROL = [("POST", "/v1/worker/restart"), ("POST", "/v1/shutdown")]
DOCUMENTED_5XX = (503, 504)
REQUEST_TIMEOUT = 120


@pytest.fixture(scope="module")
def svc(module_service_factory):
    return module_service_factory("--token", TOKEN)


@pytest.fixture(scope="module")
def schema(svc):
    # the schema as the running service serves it, not as the source says it
    return schemathesis.openapi.from_url(svc.url + "/openapi.json", timeout=30)


@pytest.fixture(scope="module")
def first_status(svc) -> dict:
    return httpx.get(svc.url + "/v1/status", timeout=10).json()


def assert_our_error(status: int, body, what: str) -> None:
    """Our error shape, with a sentence a person can act on."""
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), (what, status, body)
    message = body["error"].get("message")
    assert isinstance(message, str), (what, status, body)
    # A sentence: a capital first, or the quoted value it is about ("'xx' is
    # not a language Whisper knows."), and a full stop last.
    assert len(message) > 20 and (message[0].isupper() or message[0] in "'\"") \
        and message.rstrip().endswith("."), (what, status, message)


def check_answer(case, response) -> None:
    what = f"{case.method} {case.path}: {case.body!r:.300} query={case.query!r}"
    status = response.status_code
    assert status < 500 or status in DOCUMENTED_5XX, (what, status, response.text[:500])
    if status >= 400:
        try:
            body = response.json()
        except ValueError:
            raise AssertionError((what, status, "not JSON", response.text[:500])) from None
        assert_our_error(status, body, what)


def test_the_schema_lists_exactly_the_routes_fuzzed_here(schema):
    """A new route must be added to FUZZED (or to CONTROL, with a reason)."""
    listed = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert listed == set(FUZZED) | set(CONTROL)


# Invalid requests exist only where there is something to get wrong: the GET
# routes take no input at all (hypothesis would find no negative case).
RUNS = [(m, p, GenerationMode.POSITIVE) for m, p in FUZZED] + \
       [(m, p, GenerationMode.NEGATIVE) for m, p in FUZZED if m == "POST"]


def fuzz_operation(svc, operation, mode, check) -> None:
    """`check(case, response)` for every request hypothesis makes for one
    operation: seeded, bounded, no deadline (a transcription takes seconds)."""
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case):
        check(case, case.call(base_url=svc.url, timeout=REQUEST_TIMEOUT))

    fuzz()


@pytest.mark.parametrize("method,path,mode", RUNS,
                         ids=[f"{m} {p} {g.value}" for m, p, g in RUNS])
def test_every_operation_answers_in_our_shape(svc, schema, first_status, method, path, mode):
    fuzz_operation(svc, schema[path][method], mode, check_answer)


# Positive only: their one input is the Authorization header, and a header
# that breaks its own schema cannot be sent at all (hypothesis finds none).
CONTROL_RUNS = [(m, p, GenerationMode.POSITIVE) for m, p in CONTROL]


@pytest.mark.parametrize("method,path,mode", CONTROL_RUNS,
                         ids=[f"{m} {p} {g.value}" for m, p, g in CONTROL_RUNS])
def test_control_routes_fuzzed_never_act_without_the_token(svc, schema, method, path, mode):
    """Generated Authorization headers are never this service's token: every
    one must be refused in our shape (a 2xx would have stopped the worker or
    the service, which the last test would see)."""
    def refused(case, response):
        assert response.status_code >= 400, (case.headers, response.status_code, response.text)
        check_answer(case, response)
    fuzz_operation(svc, schema[path][method], mode, refused)


@pytest.mark.parametrize("method,path", CONTROL, ids=[f"{m} {p}" for m, p in CONTROL])
def test_control_routes_refuse_a_wrong_token(svc, method, path):
    for headers in ({}, {"Authorization": "Bearer not-" + TOKEN}, {"Authorization": TOKEN},
                    {"Authorization": "Basic " + TOKEN}):
        r = httpx.request(method, svc.url + path, headers=headers, timeout=10)
        assert r.status_code in (401, 403), (headers, r.status_code, r.text)
        assert_our_error(r.status_code, r.json(), f"{method} {path} {headers}")


def test_after_the_fuzzing_the_same_worker_transcribes(svc, first_status, speech_files):
    """Runs last (pytest keeps the file's order): nothing above cost a restart."""
    status = httpx.get(svc.url + "/v1/status", timeout=10).json()
    assert status["state"] == "ready", status
    assert status["restarts"] == 0, status
    assert status["worker_pid"] == first_status["worker_pid"] == svc.worker_pid, status
    with open(speech_files["fox"], "rb") as fh:
        r = httpx.post(svc.url + "/v1/audio/transcriptions", files={"file": ("fox.wav", fh)},
                       data={"model": "whisper-1"}, timeout=REQUEST_TIMEOUT)
    assert r.status_code == 200, r.text
    assert speech.wer(speech.SENTENCES["fox"][-1], r.json()["text"]) <= 0.35, r.json()
