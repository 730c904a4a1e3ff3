"""Agents CRUD under /v1/api/agents: shapes, pagination, partial updates and validation."""

import json
import time

from harness import server_now_ms, ServerTestCase, make_workspace, request, scrape

AGENT = {"name": "Reminder bot", "prompt": "Hi {first_name}", "fromNumber": "+14155552671"}
MISSING = object()
AGENT_FIELDS = {"id", "name", "prompt", "fromNumber", "voiceUrl", "optOutDigit", "variables",
                "createdAt", "updatedAt"}


def now_ms():
    return int(server_now_ms())


class AgentsTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()
        cls.auth = make_workspace(cls.server, requests_per_minute=100000)

    def call(self, method, path, body=None, auth=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        return request(self.server, method, path, body, headers=headers, auth=auth or self.auth)

    def create(self, auth=None, **fields):
        reply = self.call("POST", "/v1/api/agents", {**AGENT, **fields}, auth)
        self.assertEqual(reply.status, 201, reply.body)
        return reply.body

    def fresh_workspace(self):
        return make_workspace(self.server, requests_per_minute=100000)

    def test_create_returns_the_agent(self):
        prompt = "Hi {first_name}, your {appointment_date} slot is booked. Bye {first_name}! {x_1}"
        before = now_ms()
        reply = self.call("POST", "/v1/api/agents", {**AGENT, "prompt": prompt})
        after = now_ms()
        self.assertEqual(reply.status, 201, reply.body)
        self.assertJsonType(reply.headers)
        agent = reply.body
        self.assertTrue(AGENT_FIELDS <= set(agent), agent)
        self.assertTrue(agent["id"].startswith("agent_"), agent)
        self.assertEqual(agent["name"], AGENT["name"])
        self.assertEqual(agent["prompt"], prompt)
        self.assertEqual(agent["fromNumber"], AGENT["fromNumber"])
        self.assertIsNone(agent["voiceUrl"])
        self.assertEqual(agent["variables"], ["first_name", "appointment_date", "x_1"])
        self.assertIsInstance(agent["createdAt"], int)
        self.assertTrue(before - 1000 <= agent["createdAt"] <= after + 1000, agent)
        self.assertGreaterEqual(agent["updatedAt"], agent["createdAt"])
        got = self.call("GET", f"/v1/api/agents/{agent['id']}")
        self.assertEqual((got.status, got.body), (200, agent))
        self.assertNotEqual(self.create()["id"], agent["id"])

    def test_text_round_trips_verbatim(self):
        fields = {"name": "Zoë 🤖 \"quoted\"",
                  "prompt": "Say \"hi\"\n\tthen {name} \\ {} { spaced } {unclosed ünï {códe}",
                  "voiceUrl": "https://voice.example.com/agent?x=1&y=%20"}
        agent = self.create(**fields)
        for key, value in fields.items():
            self.assertEqual(agent[key], value)
        self.assertIn("name", agent["variables"])
        self.assertEqual(self.call("GET", f"/v1/api/agents/{agent['id']}").body, agent)

    def test_variables_are_unique_in_first_appearance_order(self):
        cases = {"no placeholders": [], "{a}{b}{a}": ["a", "b"],
                 "{b} then {a} then {b}": ["b", "a"],
                 "Hello {first_name} {unclosed": ["first_name"]}
        for prompt, variables in cases.items():
            with self.subTest(prompt):
                self.assertEqual(self.create(prompt=prompt)["variables"], variables)

    def test_list_is_paginated_oldest_first(self):
        auth = self.fresh_workspace()
        ids = [self.create(auth, name=f"agent {i:02d}")["id"] for i in range(25)]

        def page(query):
            reply = self.call("GET", f"/v1/api/agents{query}", auth=auth)
            self.assertEqual(reply.status, 200, reply.body)
            return [a["id"] for a in reply.body["agents"]], reply.body["pagination"]

        got, pagination = page("")
        self.assertEqual(got, ids[:20])
        self.assertEqual(pagination, {"page": 1, "limit": 20, "total": 25, "totalPages": 2,
                                      "hasNext": True, "hasPrev": False})
        got, pagination = page("?page=2")
        self.assertEqual(got, ids[20:])
        self.assertEqual(pagination, {"page": 2, "limit": 20, "total": 25, "totalPages": 2,
                                      "hasNext": False, "hasPrev": True})
        got, pagination = page("?page=2&limit=10")
        self.assertEqual(got, ids[10:20])
        self.assertEqual(pagination, {"page": 2, "limit": 10, "total": 25, "totalPages": 3,
                                      "hasNext": True, "hasPrev": True})
        got, pagination = page("?limit=100")
        self.assertEqual(got, ids)
        self.assertFalse(pagination["hasNext"])
        got, pagination = page("?page=9&limit=10")
        self.assertEqual(got, [])
        self.assertEqual((pagination["total"], pagination["hasNext"]), (25, False))
        listed = self.call("GET", "/v1/api/agents?limit=1", auth=auth).body["agents"][0]
        self.assertEqual(listed, self.call("GET", f"/v1/api/agents/{ids[0]}", auth=auth).body)

    def test_repeated_gets_are_served_from_the_snapshot_cache(self):
        """Reads of an agent with no commit between them come from memory (the read cache's
        hits in /metrics), and a change is seen by the very next GET."""
        def cache():
            metrics = scrape(self.server)
            return (metrics.value("batchcalld_store_read_cache_total", result="hit"),
                    metrics.value("batchcalld_store_read_cache_total", result="miss"))

        agent = self.create(name="Cached")
        hits, misses = cache()
        for _ in range(20):
            reply = self.call("GET", f"/v1/api/agents/{agent['id']}")
            self.assertEqual(reply.status, 200, reply.body)
            self.assertEqual(reply.body["name"], "Cached")
        hits2, misses2 = cache()
        self.assertEqual((hits2 - hits) + (misses2 - misses), 20)
        # Only a commit between two of them (the server's own background work) makes a miss.
        self.assertGreaterEqual(hits2 - hits, 10, (hits2 - hits, misses2 - misses))
        self.assertEqual(self.call("PUT", f"/v1/api/agents/{agent['id']}",
                                   {"name": "Renamed"}).status, 200)
        self.assertEqual(self.call("GET", f"/v1/api/agents/{agent['id']}").body["name"], "Renamed")

    def test_list_of_empty_workspace(self):
        reply = self.call("GET", "/v1/api/agents", auth=self.fresh_workspace())
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.body["agents"], [])
        pagination = reply.body["pagination"]
        self.assertEqual((pagination["page"], pagination["limit"], pagination["total"],
                          pagination["hasNext"], pagination["hasPrev"]), (1, 20, 0, False, False))

    def test_bad_pagination_parameters_are_400_naming_the_parameter(self):
        cases = [("page", "0"), ("page", "-1"), ("page", "abc"), ("page", "1.5"), ("page", ""),
                 ("page", "99999999999999999999999"), ("limit", "0"), ("limit", "101"),
                 ("limit", "-5"), ("limit", "ten"), ("limit", "")]
        for param, value in cases:
            with self.subTest(param=param, value=value):
                reply = self.call("GET", f"/v1/api/agents?{param}={value}")
                self.assertEqual(reply.status, 400, reply.body)
                self.assertJsonType(reply.headers)
                self.assertIsInstance(reply.body.get("error"), str)
                self.assertIn(param, json.dumps(reply.body), "the error does not name the param")

    def test_unknown_agent_is_404_with_its_id(self):
        for method, body in (("GET", None), ("PUT", {"name": "x"}), ("DELETE", None)):
            with self.subTest(method):
                reply = self.call(method, "/v1/api/agents/agent_nope", body)
                self.assertError(reply, 404, "not_found", id="agent_nope")

    def test_reads_after_every_kind_of_get_see_the_latest_writes(self):
        # A GET of one agent reads in the read transaction its authentication began; each kind
        # of answer must end it, or the reads after it would keep that old snapshot.
        auth = self.fresh_workspace()
        agent = self.create(auth)
        path = f"/v1/api/agents/{agent['id']}"
        twin = agent["id"][:-1] + ("0" if agent["id"][-1] != "0" else "1")
        gets = (("found", path, None, 200), ("malformed id", "/v1/api/agents/agent_nope", None, 404),
                ("well-formed unknown id", f"/v1/api/agents/{twin}", None, 404),
                ("with a body", path, {"ignored": True}, 200))
        for n, (label, get_path, body, status) in enumerate(gets):
            with self.subTest(label):
                self.assertEqual(self.call("GET", get_path, body, auth).status, status)
                renamed = self.call("PUT", path, {"name": f"Name {n}"}, auth)
                self.assertEqual(renamed.status, 200, renamed.body)
                self.assertEqual(self.call("GET", path, auth=auth).body["name"], f"Name {n}")
                added = self.create(auth)["id"]
                self.assertEqual(self.call("GET", f"/v1/api/agents/{added}", auth=auth).status, 200)

    def test_update_changes_only_the_given_fields(self):
        agent = self.create()
        path = f"/v1/api/agents/{agent['id']}"
        time.sleep(0.01)
        reply = self.call("PUT", path, {"name": "Renamed"})
        self.assertEqual(reply.status, 200, reply.body)
        updated = reply.body
        self.assertEqual(updated, {**agent, "name": "Renamed", "updatedAt": updated["updatedAt"]})
        self.assertGreater(updated["updatedAt"], agent["updatedAt"])
        time.sleep(0.01)
        reply = self.call("PUT", path, {"prompt": "Now {b} and {a}", "fromNumber": "+442071838750",
                                        "voiceUrl": "http://voice.example.com/v"})
        self.assertEqual(reply.status, 200, reply.body)
        again = reply.body
        self.assertEqual((again["name"], again["prompt"], again["variables"], again["fromNumber"],
                          again["voiceUrl"], again["createdAt"]),
                         ("Renamed", "Now {b} and {a}", ["b", "a"], "+442071838750",
                          "http://voice.example.com/v", agent["createdAt"]))
        self.assertGreater(again["updatedAt"], updated["updatedAt"])
        self.assertEqual(self.call("GET", path).body, again)
        reply = self.call("PUT", path, {})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual({**reply.body, "updatedAt": 0}, {**again, "updatedAt": 0})

    def test_invalid_update_leaves_the_agent_unchanged(self):
        agent = self.create()
        path = f"/v1/api/agents/{agent['id']}"
        for field, value in (("fromNumber", "12345"), ("name", ""), ("prompt", 7),
                             ("voiceUrl", "ftp://x.example.com")):
            with self.subTest(field):
                reply = self.call("PUT", path, {"name": "Should not stick", field: value})
                self.assertError(reply, 400, "invalid_field", field=field)
        self.assertError(self.call("PUT", path, "{not json"), 400, "invalid_json")
        self.assertEqual(self.call("GET", path).body, agent)

    def test_delete(self):
        auth = self.fresh_workspace()
        keep, gone = self.create(auth)["id"], self.create(auth)["id"]
        reply = self.call("DELETE", f"/v1/api/agents/{gone}", auth=auth)
        self.assertEqual((reply.status, reply.body), (200, {"id": gone, "deleted": True}))
        self.assertError(self.call("GET", f"/v1/api/agents/{gone}", auth=auth), 404, "not_found")
        self.assertError(self.call("DELETE", f"/v1/api/agents/{gone}", auth=auth), 404,
                         "not_found")
        listed = self.call("GET", "/v1/api/agents", auth=auth).body
        self.assertEqual([a["id"] for a in listed["agents"]], [keep])
        self.assertEqual(listed["pagination"]["total"], 1)

    INVALID = [
        ("name", MISSING), ("name", None), ("name", ""), ("name", 123), ("name", ["a"]),
        ("name", "x" * 201),
        ("prompt", MISSING), ("prompt", None), ("prompt", 5), ("prompt", {"a": 1}),
        ("prompt", "x" * 32769), ("prompt", "é" * 16385),
        ("fromNumber", MISSING), ("fromNumber", None), ("fromNumber", ""),
        ("fromNumber", "14155552671"), ("fromNumber", "+0123456789"), ("fromNumber", "+1234567"),
        ("fromNumber", "+1234567890123456"), ("fromNumber", "+1415555abcd"),
        ("fromNumber", "+1 415 555 2671"), ("fromNumber", "+"), ("fromNumber", 14155552671),
        ("voiceUrl", "ftp://example.com/voice"), ("voiceUrl", "not a url"), ("voiceUrl", 5),
        ("voiceUrl", "http://"), ("voiceUrl", "example.com/voice"),
    ]

    def test_invalid_fields_are_400_naming_the_field(self):
        auth = self.fresh_workspace()
        for field, value in self.INVALID:
            body = dict(AGENT)
            if value is MISSING:
                del body[field]
            else:
                body[field] = value
            shown = "missing" if value is MISSING else str(value)[:30]
            with self.subTest(field=field, value=shown):
                reply = self.call("POST", "/v1/api/agents", body, auth=auth)
                self.assertError(reply, 400, "invalid_field", field=field)
        listed = self.call("GET", "/v1/api/agents", auth=auth).body
        self.assertEqual(listed["pagination"]["total"], 0, "an invalid agent was stored")

    def test_boundary_values_are_accepted(self):
        for field, value in (("name", "n" * 200), ("prompt", "p" * 32768),
                             ("prompt", "é" * 16384), ("fromNumber", "+12345678"),
                             ("fromNumber", "+123456789012345"),
                             ("voiceUrl", "http://voice.example.com"),
                             ("voiceUrl", "https://voice.example.com:8443/a/b")):
            with self.subTest(field=field, value=value[:20]):
                self.assertEqual(self.create(**{field: value})[field], value)

    def test_bodies_that_are_not_json_objects_are_invalid_json(self):
        for body in ("{bad", "[1, 2]", '"text"', "42", "null", "", "{\"name\": \"x\"} trailing"):
            with self.subTest(body=body):
                reply = self.call("POST", "/v1/api/agents", body)
                self.assertError(reply, 400, "invalid_json")
