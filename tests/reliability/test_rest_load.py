"""Load on ``ml @name run:rest``: 1,000 requests from 50 concurrent clients on
127.0.0.1 against a real trained digits instance, twice. Every request must
get the right status and the same answer as when the server was idle; the
server's RSS (``VmRSS`` of /proc/<pid>/status) must level off instead of growing
with every round; afterwards ``/health`` answers and a real prediction is
still right.
"""
import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import encode_multipart
from tests.reliability.rest_helpers import digit_images, serving, top_labels

CLIENTS = 50
REQUESTS = 1000
MB_KB = 1024
# The first round may still grow the heap (allocator arenas of 50 new
# connections, TensorFlow's per-shape caches); a leak keeps growing after it.
FIRST_ROUND_GROWTH_KB = 96 * MB_KB
LATER_ROUND_GROWTH_KB = 24 * MB_KB

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(trained_digits, ml_env, tmp_path_factory):
    """A fresh server for the load (default: 4 worker threads, 20 MB bodies)."""
    project, name, _ = trained_digits
    with serving(project, name, ml_env, folder=tmp_path_factory.mktemp("rest-load")) as srv:
        yield srv


def workload(digits):
    """The 1,000 requests, in the order the clients take them.

    Mostly single-image predictions (a different digit each), with the other
    answers mixed in: a corrupt upload (400), ``/health`` (200), an unknown
    route (404) and a wrong method (405).

    Returns:
        ``[(method, path, body, headers, expected status, digit index or None)]``.
    """
    jobs = []
    for index in range(REQUESTS):
        kind = index % 20
        if kind == 7:
            body, content_type = encode_multipart(files=[("files", "broken.png", digits[0][1][:40])])
            jobs.append(("POST", "/predict", body, {"Content-Type": content_type}, 400, None))
        elif kind == 13:
            jobs.append(("GET", "/health", None, {}, 200, None))
        elif kind == 17:
            jobs.append(("GET", f"/nothing/{index}", None, {}, 404, None))
        elif kind == 19:
            jobs.append(("PUT", "/predict", b"", {}, 405, None))
        else:
            digit = index % len(digits)
            body, content_type = encode_multipart(files=[("files", digits[digit][0], digits[digit][1])])
            jobs.append(("POST", "/predict", body, {"Content-Type": content_type}, 200, digit))
    return jobs


def run_clients(port, jobs):
    """Send ``jobs`` from :data:`CLIENTS` threads, each on its own keep-alive
    connection (client ``k`` takes jobs ``k``, ``k + 50``, ...).

    Returns:
        ``(answers in job order as (status, body), seconds)``.
    """
    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        answers = []
        try:
            for method, path, body, headers, _, _ in jobs[k::CLIENTS]:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                answers.append((response.status, response.read()))
        finally:
            conn.close()
        return answers

    start = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        per_client = list(pool.map(client, range(CLIENTS)))
    seconds = time.monotonic() - start
    ordered = [None] * len(jobs)
    for k, answers in enumerate(per_client):
        for offset, answer in enumerate(answers):
            ordered[k + offset * CLIENTS] = answer
    return ordered, seconds


def check_answers(jobs, answers, reference):
    """Every answer has its expected status; predictions equal the idle ones.

    Returns:
        A list of mismatches (empty when all are right).
    """
    wrong = []
    for index, ((method, path, _, _, expected, digit), (status, body)) in enumerate(zip(jobs, answers)):
        if status != expected:
            wrong.append(f"#{index} {method} {path}: {status}, expected {expected}: {body[:200]!r}")
        elif digit is not None and not same_prediction(json.loads(body)[0], reference[digit]):
            wrong.append(f"#{index} digit {digit}: {body[:300]!r} != {reference[digit]}")
    return wrong


def same_prediction(result, reference):
    """The same labels in the same order, probabilities equal to 1e-4."""
    pairs = list(zip(result["prediction"], reference["prediction"]))
    return len(pairs) == len(reference["prediction"]) and all(
        a["label"] == b["label"] and abs(a["probability"] - b["probability"]) < 1e-4 for a, b in pairs)


def predict_one_by_one(server, digits):
    """Each digit in its own request, one after the other (the idle answers)."""
    answers = []
    for name, data, _ in digits:
        status, result = server.predict_json([(name, data)])
        assert status == 200, result
        answers.append(result[0])
    return answers


def test_thousand_requests_from_fifty_clients(server):
    digits = digit_images(50)
    reference = predict_one_by_one(server, digits)
    right = sum(p == label for p, (_, _, label) in zip(top_labels(reference), digits))
    assert right >= 40, f"only {right} of 50 digits right before the load"
    jobs = workload(digits)
    rss = [server.rss_kb()]
    for round_ in (1, 2):
        answers, seconds = run_clients(server.port, jobs)
        rss.append(server.rss_kb())
        print(f"\nround {round_}: {REQUESTS} requests from {CLIENTS} clients in {seconds:.1f} s "
              f"({REQUESTS / seconds:.0f} requests/s); RSS {rss[-2]} kB before, {rss[-1]} kB after")
        wrong = check_answers(jobs, answers, reference)
        assert not wrong, f"{len(wrong)} wrong answers:\n" + "\n".join(wrong[:20])
    assert rss[1] - rss[0] < FIRST_ROUND_GROWTH_KB, rss
    assert rss[2] - rss[1] < LATER_ROUND_GROWTH_KB, rss
    assert server.healthy()
    after = predict_one_by_one(server, digits)
    assert all(same_prediction(a, r) for a, r in zip(after, reference))
