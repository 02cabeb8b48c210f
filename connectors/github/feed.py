"""One repository's change feed (`changes-of`, scoped to `Repository`): everything the repository holds
on its first run, then what changed, asking GitHub conditionally so that an unchanged repository costs
requests that don't count against the rate limit (304s).

The feed's cursor is JSON:

- `s`, the streams' state between syncs: for each of `issues`, `comments` and `review_comments` (lists
  that take `since`) the instant asked from and the `ETag` of the answer; for `labels` and `milestones`
  (lists without `since`, read whole) the `ETag` of their first page.
- `w`, work under way while a run takes several calls: the requests still to send (`todo`), the
  streams' new state (`next`), label and milestone ids listed so far, review ids per pull request.

A first run (no cursor) lists issues, pull requests, both kinds of comments, labels and milestones in
creation order (pages don't shift when something changes meanwhile), each pull request's reviews, and
asks once what changed since a few minutes before it started: that answer's `ETag` is what the next
sync sends. A later run asks each `since` list from its stored instant, newest first, with the stored
`ETag`: a 304 means nothing changed. Changed pull requests are read again with their reviews (a review
changes its pull request's `updated_at`). Labels and milestones are read whole when their `ETag`
changed, and the ids they list replace the repository's (deleted ones go). The instant asked from
stays put while what changed since fits one page, so the next sync can send the `ETag` it just got;
past that it moves to the newest change seen.
"""

import json
import time
from typing import Any, Dict, List, Optional

from max_connector import Batch, ChangePage, ConnectorError, InvalidInput, NotFound, RateLimited, Transient, Value
from max_connector.http import encode_query

from api import PER_PAGE, Api, json_list, json_object
from model import Rows

#: Requests sent together in one call (through the host, which caps what is in flight).
REQUESTS_PER_CALL = 30
#: How far before its start a first run asks what changed (clocks of this machine and GitHub's may
#: disagree a little).
CLOCK_MARGIN_S = 300

SINCE_STREAMS = ("issues", "comments", "review_comments")
WHOLE_STREAMS = ("labels", "milestones")


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class RepositoryFeed:
    """The feed of repository `repo` (`owner/name`)."""

    def __init__(self, api: Api, repo: str, per_page: int = PER_PAGE) -> None:
        if repo.count("/") != 1 or any(c in repo for c in "?#% \t\r\n"):
            raise InvalidInput(f"`{repo}` is not a repository's owner/name")
        self.api = api
        self.repo = repo
        self.path = f"/repos/{repo}"
        self.per_page = per_page
        # While fewer changes than this answer a `since` list, the instant asked from stays put.
        self.small_window = max(1, per_page // 2)

    # -- URLs ------------------------------------------------------------------------------------

    def since_url(self, stream: str, since: str) -> str:
        base = {
            "issues": f"{self.path}/issues?state=all&",
            "comments": f"{self.path}/issues/comments?",
            "review_comments": f"{self.path}/pulls/comments?",
        }[stream]
        return f"{base}sort=updated&direction=desc&since={encode_query(since)}&per_page={self.per_page}"

    def whole_url(self, stream: str) -> str:
        return {
            "labels": f"{self.path}/labels?per_page={self.per_page}",
            "milestones": f"{self.path}/milestones?state=all&per_page={self.per_page}",
            "all_issues": f"{self.path}/issues?state=all&sort=created&direction=asc&per_page={self.per_page}",
            "all_pulls": f"{self.path}/pulls?state=all&sort=created&direction=asc&per_page={self.per_page}",
            "all_comments": f"{self.path}/issues/comments?sort=created&direction=asc&per_page={self.per_page}",
            "all_review_comments": f"{self.path}/pulls/comments?sort=created&direction=asc&per_page={self.per_page}",
        }[stream]

    # -- runs --------------------------------------------------------------------------------------

    def start(self, cursor: Optional[str]) -> Dict[str, Any]:
        """The state to continue from: a run under way, or a new one."""
        state = parse(cursor)
        if state.get("w"):
            return state
        streams = state.get("s") or {}
        todo: List[Dict[str, Any]] = []
        if not streams:
            # The first run: everything, and what changed since shortly before it began.
            since = iso(time.time() - CLOCK_MARGIN_S)
            for stream in ("all_issues", "all_pulls", "all_comments", "all_review_comments"):
                todo.append({"k": stream, "u": self.whole_url(stream)})
            for stream in SINCE_STREAMS:
                todo.append({"k": stream, "u": self.since_url(stream, since), "first": since})
        else:
            for stream in SINCE_STREAMS:
                since, etag = (streams.get(stream) or [None, None])[:2]
                if since is None:
                    since = iso(time.time() - CLOCK_MARGIN_S)
                todo.append({"k": stream, "u": self.since_url(stream, since), "e": etag, "first": since})
        for stream in WHOLE_STREAMS:
            _, etag = (streams.get(stream) or [None, None])[:2]
            todo.append({"k": stream, "u": self.whole_url(stream), "e": etag, "first": ""})
        return {"s": streams, "w": {"todo": todo, "next": {}, "ids": {}, "reviews": {}}}

    def run(self, cursor: Optional[str]) -> ChangePage:
        """One call's worth of the run: the next requests, what they found, the cursor to go on from."""
        state = self.start(cursor)
        work = state["w"]
        todo: List[Dict[str, Any]] = work["todo"]
        jobs, work["todo"] = todo[:REQUESTS_PER_CALL], todo[REQUESTS_PER_CALL:]
        results = self.api.send_all([self.api.request(job["u"], job.get("e")) for job in jobs])
        rows = Rows()
        page = ChangePage("", False)
        retry: List[Dict[str, Any]] = []
        waits: List[ConnectorError] = []
        for job, result in zip(jobs, results):
            if isinstance(result, (RateLimited, Transient)):
                retry.append(job)
                waits.append(result)
                continue
            if isinstance(result, NotFound):
                if getattr(result, "status", 404) == 410 or job["k"] in ("pull", "reviews"):
                    # Issues switched off (410), or a pull request gone: nothing to read there.
                    if "first" in job:
                        self.keep(work, job, None)
                    continue
                # The repository itself is gone (or out of the token's reach): so is everything in it,
                # and its cursor with it.
                page.delete("Repository", self.repo)
                page.next_cursor = "{}"
                return page
            if isinstance(result, ConnectorError):
                # Which list it was matters to a person reading the error (a token without access to
                # pull requests, say).
                path = job["u"].split("?", 1)[0].replace(self.api.base, "")
                raise type(result)(f"{result.message or result} (GET {path})") from None
            self.take(work, job, result, rows, page)
        if waits and len(waits) == len(jobs):
            # Nothing got through: the host waits as the API asked, then runs this call again.
            raise waits[0]
        work["todo"] = retry + work["todo"]
        for batch in rows.all():
            page.upsert(batch)
        if work["todo"]:
            page.has_more = True
            page.next_cursor = json.dumps(state, separators=(",", ":"))
        else:
            streams = dict(state.get("s") or {})
            streams.update(work["next"])
            page.next_cursor = json.dumps({"s": streams}, separators=(",", ":"))
        return page

    # -- answers ---------------------------------------------------------------------------------

    def take(self, work: Dict[str, Any], job: Dict[str, Any], response: Any, rows: Rows, page: ChangePage) -> None:
        """One answer: its rows, the page after it, and the state its stream keeps."""
        kind = job["k"]
        if response.status == 304:
            # Unchanged since the ETag sent: nothing to read, the stream's state stays.
            self.keep(work, job, job.get("e"))
            return
        if kind == "pull":
            rows.pull(self.repo, json_object(response, "a pull request"))
            return
        items = [item for item in json_list(response, f"{kind} of {self.repo}") if isinstance(item, dict)]
        for item in items:
            self.row(work, kind, job, item, rows)
        next_url = response.link_next()
        if next_url:
            follow = {"k": kind, "u": next_url}
            if "n" in job:
                follow["n"] = job["n"]
            work["todo"].append(follow)
        if "first" in job:
            etag = response.header("etag") if not next_url else None
            if kind in SINCE_STREAMS and (etag is None or len(items) >= self.small_window):
                # Many changes: the next sync asks from the newest one seen (no ETag for that question).
                newest = max((str(i.get("updated_at") or "") for i in items), default="")
                work["next"][kind] = [max(newest, job["first"]), None]
            else:
                self.keep(work, job, etag)
        if not next_url:
            self.listed(work, job, page)

    def row(self, work: Dict[str, Any], kind: str, job: Dict[str, Any], item: Dict[str, Any], rows: Rows) -> None:
        if kind in ("issues", "all_issues"):
            rows.issue(self.repo, item)
            if kind == "issues" and isinstance(item.get("pull_request"), dict):
                self.queue_pull(work, item.get("number"), details=True)
        elif kind == "all_pulls":
            rows.pull(self.repo, item)
            self.queue_pull(work, item.get("number"), details=False)
        elif kind in ("comments", "all_comments"):
            rows.issue_comment(self.repo, item)
        elif kind in ("review_comments", "all_review_comments"):
            rows.review_comment(self.repo, item)
        elif kind == "reviews":
            work["reviews"].setdefault(str(job["n"]), []).append(rows.review(f"{self.repo}#{job['n']}", item))
        elif kind == "labels":
            work["ids"].setdefault(kind, []).append(rows.label(self.repo, item))
        elif kind == "milestones":
            work["ids"].setdefault(kind, []).append(rows.milestone(self.repo, item))

    def keep(self, work: Dict[str, Any], job: Dict[str, Any], etag: Optional[str]) -> None:
        """The state a stream's first page leaves: the instant it asked from (`since` lists) and the
        ETag to send next time."""
        if job["k"] in SINCE_STREAMS:
            work["next"][job["k"]] = [job["first"], etag]
        elif job["k"] in WHOLE_STREAMS:
            work["next"][job["k"]] = [None, etag]

    def listed(self, work: Dict[str, Any], job: Dict[str, Any], page: ChangePage) -> None:
        """A list read whole reached its last page: the ids it listed replace the stored collection (what
        it no longer lists is deleted: the collections own their items)."""
        kind = job["k"]
        if kind in WHOLE_STREAMS:
            whole = Batch("Repository", [kind])
            whole.add(self.repo, {kind: Value.collection(work["ids"].pop(kind, []))})
            page.upsert(whole)
        elif kind == "reviews":
            whole = Batch("PullRequest", ["reviews"])
            whole.add(f"{self.repo}#{job['n']}", {"reviews": Value.collection(work["reviews"].pop(str(job["n"]), []))})
            page.upsert(whole)

    def queue_pull(self, work: Dict[str, Any], number: Any, details: bool) -> None:
        """Reads a pull request's reviews (and the pull request itself, when a `since` list named it),
        before the lists go on: what waits in the cursor stays a page's worth."""
        if not isinstance(number, int) or any(job.get("n") == number for job in work["todo"]):
            return
        jobs = [{"k": "reviews", "u": f"{self.path}/pulls/{number}/reviews?per_page={self.per_page}", "n": number}]
        if details:
            jobs.insert(0, {"k": "pull", "u": f"{self.path}/pulls/{number}", "n": number})
        work["todo"][:0] = jobs


def parse(cursor: Optional[str]) -> Dict[str, Any]:
    """The stored state (empty for none, or a cursor of another shape: the feed starts over)."""
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}
