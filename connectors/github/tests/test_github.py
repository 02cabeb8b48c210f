"""The GitHub connector's own unit tests, natively on the SDK's fake HTTP host: what GitHub's answers
mean (rate limits hide behind 403s), and the cases of a repository's feed the loopback fake doesn't
play (issues switched off, a repository gone, part of a call rate limited, a burst of changes).

Run: `python3 -m unittest discover -s tests` in `connectors/github`.
"""

import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "..", "..", "connector-sdk-python")]

from max_connector import Config, EntityRef, Forbidden, RateLimited, Unauthorized, http  # noqa: E402
from max_connector.testing import FakeHttp, rows  # noqa: E402

from api import failure  # noqa: E402
from github import GitHub  # noqa: E402

BASE = "https://api.github.com"
REPO = "acme/api"


def response(status, body=None, **headers):
    return http.Response(status, [(k.replace("_", "-"), v) for k, v in headers.items()], json.dumps(body or {}).encode())


def connector(**config):
    return GitHub(Config([("base_url", BASE)] + list(config.items())))


def issue(number, updated, pull=False):
    body = {"id": 1000 + number, "number": number, "title": f"#{number}", "state": "open", "updated_at": updated,
            "user": {"id": 1, "login": "ada", "type": "User"}, "labels": [], "assignees": []}
    if pull:
        body["pull_request"] = {"url": f"{BASE}/repos/{REPO}/pulls/{number}"}
    return body


class Answers(unittest.TestCase):
    def test_a_spent_primary_limit_waits_until_its_reset(self):
        reset = int(time.time()) + 30
        error = failure(response(403, {"message": "API rate limit exceeded for user ID 1."},
                                 x_ratelimit_remaining="0", x_ratelimit_reset=str(reset)))
        self.assertIsInstance(error, RateLimited)
        self.assertTrue(29_000 <= error.retry_after_ms <= 32_000, error.retry_after_ms)

    def test_a_secondary_limit_waits_as_long_as_it_says_or_a_minute(self):
        said = failure(response(429, {"message": "You have exceeded a secondary rate limit."}, retry_after="7"))
        self.assertEqual(said.retry_after_ms, 7_000)
        unsaid = failure(response(403, {"message": "You have exceeded a secondary rate limit."}, x_ratelimit_remaining="4000"))
        self.assertIsInstance(unsaid, RateLimited)
        self.assertEqual(unsaid.retry_after_ms, 60_000)

    def test_refusals_are_not_rate_limits(self):
        self.assertIsInstance(failure(response(403, {"message": "Resource not accessible by personal access token"})), Forbidden)
        bad = failure(response(401, {"message": "Bad credentials"}))
        self.assertIsInstance(bad, Unauthorized)
        self.assertIn("Bad credentials", str(bad))
        self.assertIsNone(failure(response(304)))


class Feed(unittest.TestCase):
    def serve_repository(self, fake, issues_status=200):
        for path in ("issues/comments", "pulls/comments", "pulls", "labels", "milestones"):
            fake.get(f"{BASE}/repos/{REPO}/{path}", json=[], headers={"etag": f'W/"{path}"'})
        if issues_status == 200:
            fake.get(f"{BASE}/repos/{REPO}/issues", json=[issue(1, "2026-01-01T00:00:00Z")], headers={"etag": 'W/"i"'})
        else:
            fake.get(f"{BASE}/repos/{REPO}/issues", json={"message": "Issues are disabled for this repo"}, status=issues_status)

    def run_feed(self, c, cursor=None):
        pages = []
        while True:
            page = c.changes_of("repository-changes", EntityRef("Repository", REPO), cursor)
            pages.append(page)
            cursor = page.next_cursor
            if not page.has_more:
                return pages, json.loads(cursor)

    def test_a_first_run_reads_everything_and_keeps_an_etag_for_each_list(self):
        with FakeHttp() as fake:
            self.serve_repository(fake)
            pages, state = self.run_feed(connector())
        issues = [r for p in pages for b in p.upserts if b.entity == "Issue" for r in rows(b)]
        self.assertEqual([r["id"] for r in issues], [f"{REPO}#1"])
        self.assertEqual(state["s"]["labels"], [None, 'W/"labels"'])
        self.assertEqual(state["s"]["issues"][1], 'W/"i"')
        self.assertTrue(all(r.credential_name == "token" for r in fake.requests))
        self.assertTrue(all(dict(r.headers)["user-agent"].startswith("max-github-connector/") for r in fake.requests))

    def test_a_repository_with_issues_switched_off_syncs_the_rest(self):
        with FakeHttp() as fake:
            self.serve_repository(fake, issues_status=410)
            pages, state = self.run_feed(connector())
        self.assertEqual(state["s"]["issues"][1], None)
        self.assertFalse(any(p.deletions for p in pages))

    def test_a_repository_gone_is_deleted_with_what_it_holds(self):
        with FakeHttp() as fake:
            pages, _ = self.run_feed(connector())
        self.assertEqual(pages[-1].deletions, [("Repository", REPO)])

    def test_a_rate_limited_request_is_sent_again_and_the_rest_kept(self):
        with FakeHttp() as fake:
            self.serve_repository(fake)
            fake.get(f"{BASE}/repos/{REPO}/labels", json={"message": "secondary rate limit"}, status=429, headers={"retry-after": "1"})
            c = connector()
            first = c.changes_of("repository-changes", EntityRef("Repository", REPO), None)
            self.assertTrue(first.has_more)
            self.assertIn("/labels", first.next_cursor)
            fake.get(f"{BASE}/repos/{REPO}/labels", json=[], headers={"etag": 'W/"labels"'})
            _, state = self.run_feed(c, first.next_cursor)
        self.assertEqual(state["s"]["labels"], [None, 'W/"labels"'])

    def test_a_list_the_token_may_not_read_is_named_in_the_refusal(self):
        with FakeHttp() as fake:
            self.serve_repository(fake)
            fake.get(f"{BASE}/repos/{REPO}/pulls", json={"message": "Resource not accessible by personal access token"}, status=403)
            with self.assertRaises(Forbidden) as raised:
                self.run_feed(connector())
        self.assertIn("Resource not accessible by personal access token", str(raised.exception))
        self.assertIn(f"GET /repos/{REPO}/pulls", str(raised.exception))

    def test_every_request_rate_limited_is_the_call_rate_limited(self):
        with FakeHttp() as fake:
            fake.route("get", f"{BASE}/repos/{REPO}/issues", lambda r: response(429, {"message": "secondary"}, retry_after="2"))
            for path in ("issues/comments", "pulls/comments", "pulls", "labels", "milestones"):
                fake.route("get", f"{BASE}/repos/{REPO}/{path}", lambda r: response(429, {"message": "secondary"}, retry_after="2"))
            with self.assertRaises(RateLimited) as raised:
                connector().changes_of("repository-changes", EntityRef("Repository", REPO), None)
        self.assertEqual(raised.exception.retry_after_ms, 2_000)

    def test_the_instant_asked_from_stays_while_few_changes_answer_and_moves_past_many(self):
        since = "2026-01-01T00:00:00Z"
        cursor = json.dumps({"s": {k: [since, 'W/"old"'] for k in ("issues", "comments", "review_comments")}
                             | {"labels": [None, 'W/"l"'], "milestones": [None, 'W/"m"']}})
        for changed, kept in ((2, True), (60, False)):
            with FakeHttp() as fake:
                self.serve_repository(fake)
                items = [issue(n, f"2026-02-01T00:00:{n % 60:02d}Z") for n in range(1, changed + 1)]
                fake.get(f"{BASE}/repos/{REPO}/issues", json=items, headers={"etag": 'W/"new"'})
                fake.get(f"{BASE}/repos/{REPO}/pulls/1", json={"number": 1})
                _, state = self.run_feed(connector(), cursor)
            if kept:
                self.assertEqual(state["s"]["issues"], [since, 'W/"new"'], "the same question next time, its ETag known")
            else:
                self.assertEqual(state["s"]["issues"], ["2026-02-01T00:00:59Z", None], "asked from the newest change next")
            sent = [r for r in fake.requests if "/issues?" in r.url][0]
            self.assertEqual(dict(sent.headers)["if-none-match"], 'W/"old"')

    def test_a_changed_pull_request_is_read_again_with_its_reviews(self):
        cursor = json.dumps({"s": {"issues": ["2026-01-01T00:00:00Z", None]}})
        with FakeHttp() as fake:
            self.serve_repository(fake)
            fake.get(f"{BASE}/repos/{REPO}/issues", json=[issue(7, "2026-02-01T00:00:00Z", pull=True)])
            fake.get(f"{BASE}/repos/{REPO}/pulls/7", json={"id": 77, "number": 7, "state": "open", "head": {}, "base": {}})
            fake.get(f"{BASE}/repos/{REPO}/pulls/7/reviews", json=[{"id": 5, "state": "APPROVED", "user": {"id": 2}}])
            pages, _ = self.run_feed(connector(), cursor)
        batches = [b for p in pages for b in p.upserts]
        pull = [r for b in batches if b.entity == "PullRequest" for r in rows(b) if "githubId" in r]
        self.assertEqual(pull[0]["id"], f"{REPO}#7")
        listed = [r for b in batches if b.entity == "PullRequest" for r in rows(b) if "reviews" in r]
        self.assertEqual(listed, [{"id": f"{REPO}#7", "reviews": ["5"]}])


if __name__ == "__main__":
    unittest.main()
