"""Authentication, workspace isolation and the per-workspace API rate limit."""

from harness import RawClient, ServerTestCase, make_workspace, request

AGENT = {"name": "Isolated", "prompt": "Hi {first_name}", "fromNumber": "+14155550100"}


class AuthTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()
        cls.a = make_workspace(cls.server, requests_per_minute=100000)
        cls.b = make_workspace(cls.server, requests_per_minute=100000)

    def test_operations_routes_need_no_auth(self):
        for path in ("/healthz", "/readyz", "/metrics"):
            with self.subTest(path):
                self.assertEqual(request(self.server, "GET", path).status, 200)

    def test_missing_or_wrong_credentials_are_401(self):
        (wa, ka), (wb, kb) = self.a, self.b
        cases = {
            "no headers": {},
            "key only": {"x-api-key": ka},
            "workspace only": {"x-workspace-id": wa},
            "unknown key": {"x-workspace-id": wa, "x-api-key": "bck_not_a_real_key"},
            "truncated key": {"x-workspace-id": wa, "x-api-key": ka[:-1]},
            "key of another workspace": {"x-workspace-id": wb, "x-api-key": ka},
            "unknown workspace": {"x-workspace-id": "ws_doesnotexist", "x-api-key": ka},
            "empty values": {"x-workspace-id": "", "x-api-key": ""},
            "workspace id as key": {"x-workspace-id": wa, "x-api-key": wa},
        }
        routes = [("GET", "/v1/api/agents", None), ("POST", "/v1/api/agents", AGENT),
                  ("GET", "/v1/api/agents/agent_whatever", None),
                  ("DELETE", "/v1/api/agents/agent_whatever", None)]
        for name, headers in cases.items():
            for method, path, body in routes:
                with self.subTest(name, method=method, path=path):
                    reply = request(self.server, method, path, body, headers=headers)
                    self.assertError(reply, 401, "unauthorized")

    def test_rejected_write_changes_nothing(self):
        before = request(self.server, "GET", "/v1/api/agents", auth=self.a).body
        reply = request(self.server, "POST", "/v1/api/agents", AGENT,
                        auth=(self.a[0], self.b[1]))
        self.assertError(reply, 401, "unauthorized")
        after = request(self.server, "GET", "/v1/api/agents", auth=self.a).body
        self.assertEqual(after["pagination"]["total"], before["pagination"]["total"])

    def test_header_names_are_case_insensitive(self):
        headers = {"X-Workspace-ID": self.a[0], "X-API-KEY": self.a[1]}
        self.assertEqual(request(self.server, "GET", "/v1/api/agents", headers=headers).status,
                         200)

    def test_whitespace_around_credentials_is_not_part_of_them(self):
        """RFC 9110 5.5: a field value has no leading or trailing whitespace, so a valid key
        padded with spaces or tabs (as a copy and paste leaves it) is accepted."""
        wa, ka = self.a
        for pad in (" ", "\t", " \t  "):
            with self.subTest(pad=pad), RawClient(self.server) as client:
                client.send(f"GET /v1/api/agents HTTP/1.1\r\nHost: x\r\n"
                            f"x-api-key:{pad}{ka}{pad}\r\nx-workspace-id:{pad}{wa}{pad}\r\n\r\n"
                            .encode())
                self.assertEqual(client.read_response().status, 200)


class IsolationTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()
        cls.a = make_workspace(cls.server, requests_per_minute=100000)
        cls.b = make_workspace(cls.server, requests_per_minute=100000)

    def without_id(self, body, agent_id):
        """Error body with the id blanked out, to compare two 404s for different ids."""
        return {k: (v.replace(agent_id, "<id>") if isinstance(v, str) else v)
                for k, v in body.items()}

    def test_other_workspaces_agent_is_404_like_a_missing_one(self):
        created = request(self.server, "POST", "/v1/api/agents", AGENT, auth=self.a)
        self.assertEqual(created.status, 201)
        agent_id = created.body["id"]
        missing_id = "agent_doesnotexist00000000"
        for method, body in (("GET", None), ("PUT", {"name": "hijacked"}), ("DELETE", None)):
            with self.subTest(method):
                cross = request(self.server, method, f"/v1/api/agents/{agent_id}", body,
                                auth=self.b)
                missing = request(self.server, method, f"/v1/api/agents/{missing_id}", body,
                                  auth=self.b)
                self.assertError(cross, 404, "not_found", id=agent_id)
                self.assertError(missing, 404, "not_found", id=missing_id)
                self.assertEqual(self.without_id(cross.body, agent_id),
                                 self.without_id(missing.body, missing_id))
        listed = request(self.server, "GET", "/v1/api/agents?limit=100", auth=self.b).body
        self.assertNotIn(agent_id, [a["id"] for a in listed["agents"]])
        still = request(self.server, "GET", f"/v1/api/agents/{agent_id}", auth=self.a)
        self.assertEqual(still.status, 200)
        self.assertEqual(still.body, created.body, "another workspace changed the agent")


class RateLimitTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()
        cls.limited = make_workspace(cls.server, requests_per_minute=5)
        cls.other = make_workspace(cls.server)

    def assertRateHeaders(self, reply, limit, remaining):
        self.assertEqual(reply.headers.get("RateLimit-Limit"), str(limit))
        self.assertEqual(reply.headers.get("RateLimit-Remaining"), str(remaining))
        reset = reply.headers.get("RateLimit-Reset") or ""
        self.assertTrue(reset.isdigit() and int(reset) <= 60, f"RateLimit-Reset: {reset!r}")

    def test_limit_is_enforced_per_workspace(self):
        for remaining in (4, 3, 2, 1, 0):
            reply = request(self.server, "GET", "/v1/api/agents", auth=self.limited)
            self.assertEqual(reply.status, 200)
            self.assertRateHeaders(reply, 5, remaining)

        for method, body in (("GET", None), ("POST", AGENT)):
            with self.subTest(method):
                reply = request(self.server, method, "/v1/api/agents", body, auth=self.limited)
                self.assertError(reply, 429, "rate_limit_exceeded")
                retry_after = reply.body.get("retryAfter")
                self.assertIsInstance(retry_after, int, reply.body)
                self.assertTrue(1 <= retry_after <= 60, retry_after)
                self.assertEqual(reply.headers.get("Retry-After"), str(retry_after))
                self.assertRateHeaders(reply, 5, 0)

        reply = request(self.server, "GET", "/v1/api/agents", auth=self.other)
        self.assertEqual(reply.status, 200, "another workspace was limited too")
        self.assertRateHeaders(reply, 600, 599)
        self.assertEqual(request(self.server, "GET", "/healthz").status, 200,
                         "operations routes must not be rate limited")
