"""Unit tests of the connector, run natively with `python3 -m unittest`: a fake HTTP host answers."""

import unittest

from max_connector import Config, EntityRef, Unauthorized
from max_connector.testing import FakeHttp, rows

from connector import Example

ACCOUNT = EntityRef("Account", "me")


class ExampleTest(unittest.TestCase):
    def test_pages_of_items_become_rows_until_there_is_no_next_page(self):
        with FakeHttp() as fake:
            fake.get(
                "https://api.example.com/items?limit=100",
                json={"items": [{"id": "1", "title": "First", "done": True, "updatedAt": "2026-01-02T10:00:00Z"}], "next": "p2"},
            )
            fake.get("https://api.example.com/items?limit=100&cursor=p2", json={"items": [], "next": None})
            connector = Example(Config())
            first = connector.load_page("account-items", ACCOUNT, None)
            self.assertEqual(rows(first.items)[0]["title"], "First")
            self.assertEqual(first.next_cursor, "p2")
            self.assertIsNone(connector.load_page("account-items", ACCOUNT, "p2").next_cursor)
            self.assertTrue(all(r.credential_name == "api_key" for r in fake.requests))

    def test_a_refused_key_is_unauthorized(self):
        with FakeHttp() as fake:
            fake.get("https://api.example.com/me", json={"error": "bad key"}, status=401)
            with self.assertRaises(Unauthorized):
                Example(Config()).validate()


if __name__ == "__main__":
    unittest.main()
