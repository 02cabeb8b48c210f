"""The Python SDK's own tests, run natively (`python3 -m unittest discover -s tests`): the packed rows,
entity tables, HTTP status mapping and helpers, and the fake HTTP host."""

import struct
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from max_connector import (  # noqa: E402
    Batch, Column, Config, Forbidden, InvalidInput, InvalidResponse, Kind, NotFound, Other, RateLimited, Table,
    Transient, Unauthorized, Value, http,
)
from max_connector.testing import FakeHttp, rows  # noqa: E402


class PackedRows(unittest.TestCase):
    def test_every_type_round_trips_and_unset_columns_are_null(self):
        batch = Batch("Task", ["title", "n", "x", "done", "due", "tags", "owner", "items", "left"])
        batch.row("t1", ["héllo", -3, 1.5, True, Value.datetime("2024-05-02T10:11:12Z"), Value.json({"a": [1]}),
                         Value.reference("u1"), Value.collection(["a", "b"]), None])
        writer = batch.start_row()
        writer.text(0, "second").text(0, "ignored")
        writer.finish("t2")
        [first, second] = rows(batch)
        self.assertEqual(first, {"title": "héllo", "n": -3, "x": 1.5, "done": True, "due": "2024-05-02T10:11:12Z",
                                 "tags": '{"a":[1]}', "owner": "u1", "items": ["a", "b"], "left": None, "id": "t1"})
        self.assertEqual(second["title"], "second", "a column set twice keeps its first value")
        self.assertIsNone(second["n"])

    def test_the_wire_format_is_the_contracts(self):
        batch = Batch("T", ["a", "b"])
        batch.row("id", ["é", 2])
        data, text = batch.packed()
        # column 0, tag 1 (text), span 2 bytes; column 1, tag 2 (integer) i64; the id's span.
        self.assertEqual(data, bytes([0, 1, 2, 1, 2]) + struct.pack("<q", 2) + bytes([2]))
        self.assertEqual(text, "éid")

    def test_a_failed_row_leaves_the_batch_as_it_was_and_bad_values_are_refused(self):
        batch = Batch("T", ["a"])
        batch.row("1", ["kept"])
        with self.assertRaises(TypeError):
            batch.row("2", [object()])
        with self.assertRaises(ValueError):
            batch.row("3", [float("nan")])
        with self.assertRaises(ValueError):
            batch.row("", ["no id"])
        self.assertEqual([r["id"] for r in rows(batch)], ["1"])

    def test_a_lone_surrogate_becomes_a_replacement_character(self):
        batch = Batch("T", ["a"])
        batch.row("x", ["a\ud800b"])
        self.assertEqual(rows(batch)[0]["a"], "a\ufffdb")


class EntityTables(unittest.TestCase):
    TABLE = Table("Task", "A task", [Column("title", Kind.TEXT).searchable(5), Column("size", Kind.INTEGER),
                                     Column("owner", Kind.ref("User"), source="ownerId")])

    def test_api_objects_become_rows_by_key_and_kind(self):
        batch = self.TABLE.rows([{"id": 7, "title": "T", "size": "12", "ownerId": 3, "extra": [1]}])
        self.assertEqual(rows(batch), [{"title": "T", "size": 12, "owner": "3", "id": "7"}])

    def test_values_of_the_wrong_kind_are_invalid_responses(self):
        for bad in ({"id": "1", "size": "twelve"}, {"id": "1", "size": 1.5}, {"title": "no id"}, ["not an object"]):
            with self.assertRaises(InvalidResponse, msg=bad):
                self.TABLE.push(self.TABLE.batch(), bad)


class Http(unittest.TestCase):
    def test_statuses_map_to_the_errors_the_host_acts_on(self):
        cases = {401: Unauthorized, 403: Forbidden, 404: NotFound, 500: Transient, 503: Transient, 408: Transient,
                 418: Other}
        for status, error in cases.items():
            with self.assertRaises(error, msg=status):
                http.Response(status, [], b"no").ok()
        with self.assertRaises(RateLimited) as limited:
            http.Response(429, [("Retry-After", "2.5")], b"").ok()
        self.assertEqual(limited.exception.retry_after_ms, 2500)
        self.assertEqual(http.Response(204, [], b"").ok().status, 204)

    def test_helpers(self):
        self.assertEqual(http.encode_query("a,b c/é~_.-"), "a%2Cb%20c%2F%C3%A9~_.-")
        link = '<https://api.github.com/r?page=2>; rel="next", <https://api.github.com/r?page=5>; rel="last"'
        self.assertEqual(http.link_next(link), "https://api.github.com/r?page=2")
        self.assertIsNone(http.link_next('<https://x/r?page=1>; rel="prev"'))
        self.assertEqual(Config([("base_url", "https://x/")]).base_url("https://y"), "https://x")
        with self.assertRaises(InvalidInput):
            Config([("base_url", "ftp://x")]).base_url("https://y")

    def test_requests_go_to_the_fake_with_their_credential(self):
        with FakeHttp() as fake:
            fake.get("https://api.example.com/me", json={"name": "Ada"})
            self.assertEqual(http.get("https://api.example.com/me?x=1").credential("k").send().ok().json(), {"name": "Ada"})
            self.assertEqual(http.get("https://api.example.com/other").send().status, 404)
            self.assertEqual([r.credential_name for r in fake.requests], ["k", None])
        with self.assertRaises(InvalidInput):
            http.get("https://api.example.com/me").send()


if __name__ == "__main__":
    unittest.main()
