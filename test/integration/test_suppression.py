"""Do-not-call lists end to end: the workspace list over the API (create, refresh, check, list
by cursor, delete, CSV import and export, per-workspace isolation), the national registry (the
admin command and the operator route, staleness in /readyz and in batch starts), the check of
every upload row, and opt-outs during calls (the simulator's numbers ending in 06)."""

import datetime
import os
import time
import unittest
import urllib.parse

from harness import (BATCHES, DispatchTestCase, RawClient, admin, admin_run, csv_of,
                     make_workspace, post_multipart, request, server_now_ms, twilio_signature)
from test_webhooks import Receiver

SUPP = "/v1/api/suppressions"
REGISTRY = "/v1/admin/dnc-registry"
TOKEN = "operator-token-0123456789abcdef"
DAY_MS = 86400000


def number(line, npa=415):
    return f"+1{npa}555{line:04d}"


def today():
    """The servers' date (harness.server_now_ms: the suite may run at another hour)."""
    return datetime.datetime.fromtimestamp(server_now_ms() / 1000, datetime.timezone.utc).date()


def import_file(server, auth, data, fields=()):
    parts = list(fields) + [("file", ("numbers.csv", data))]
    return post_multipart(server, f"{SUPP}/import", parts, auth=auth)


def put_registry(server, data, date, token=TOKEN):
    headers = {"Content-Type": "text/plain"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return request(server, "PUT", f"{REGISTRY}?date={date}", data, headers=headers, timeout=60)


class SuppressionApiTest(DispatchTestCase):
    """The workspace list over the API, on one server."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def setUp(self):
        self.auth = make_workspace(self.server, requests_per_minute=100000)

    def post(self, body, auth=None):
        return request(self.server, "POST", SUPP, body, auth=auth or self.auth)

    def check(self, phone, auth=None):
        q = urllib.parse.urlencode({"phone": phone})
        reply = request(self.server, "GET", f"{SUPP}/check?{q}", auth=auth or self.auth)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.body

    def test_create_refresh_get_delete(self):
        reply = self.post({"phone": "+1 (415) 555-0100", "reason": "asked on the phone"})
        self.assertEqual(reply.status, 201, reply.body)
        entry = reply.body
        self.assertEqual((entry["phone"], entry["areaCode"], entry["reason"], entry["source"],
                          entry["callId"]),
                         ("+14155550100", None, "asked on the phone", "api", None))
        self.assertEqual(entry["createdAt"], entry["updatedAt"])
        time.sleep(0.01)
        again = self.post({"phone": "+14155550100", "reason": "again", "source": "crm"})
        self.assertEqual(again.status, 200, again.body)
        self.assertEqual((again.body["reason"], again.body["source"]), ("again", "crm"))
        self.assertEqual(again.body["createdAt"], entry["createdAt"])
        self.assertGreaterEqual(again.body["updatedAt"], entry["updatedAt"])
        for path in ("%2B14155550100", "+14155550100", "14155550100"):
            got = request(self.server, "GET", f"{SUPP}/{path}", auth=self.auth)
            self.assertEqual(got.status, 200, (path, got.body))
            self.assertEqual(got.body["phone"], "+14155550100")
        national = self.post({"phone": "(415) 555-0101", "defaultCountry": "US"})
        self.assertEqual((national.status, national.body["phone"]), (201, "+14155550101"))
        area = self.post({"areaCode": "+1212"})
        self.assertEqual((area.status, area.body["areaCode"], area.body["phone"]),
                         (201, "+1212", None))
        deleted = request(self.server, "DELETE", f"{SUPP}/%2B14155550100", auth=self.auth)
        self.assertEqual((deleted.status, deleted.body), (200, {"entry": "+14155550100",
                                                               "deleted": True}))
        self.assertError(request(self.server, "DELETE", f"{SUPP}/%2B14155550100", auth=self.auth),
                         404, "not_found", id="+14155550100")
        self.assertError(request(self.server, "GET", f"{SUPP}/%2B14155550100", auth=self.auth),
                         404, "not_found")
        self.assertError(request(self.server, "DELETE", f"{SUPP}/not-a-number", auth=self.auth),
                         404, "not_found")
        self.assertEqual(request(self.server, "DELETE", f"{SUPP}/%2B1212", auth=self.auth).status,
                         200)

    def test_bad_entries_are_refused_and_change_nothing(self):
        cases = [
            ({}, 400, "missing_field", "phone"),
            ({"phone": "+14155550100", "areaCode": "+1415"}, 400, "missing_field", "phone"),
            ({"phone": "4155550100"}, 400, "invalid_field", "phone"),
            ({"phone": "+1415"}, 400, "invalid_field", "phone"),
            ({"phone": 14155550100}, 400, "invalid_field", "phone"),
            ({"areaCode": "+1115"}, 400, "invalid_field", "areaCode"),
            ({"areaCode": "+14155550100"}, 400, "invalid_field", "areaCode"),
            ({"phone": "+14155550100", "source": "Not Valid"}, 400, "invalid_field", "source"),
            ({"phone": "+14155550100", "reason": "x" * 501}, 400, "invalid_field", "reason"),
            ({"phone": "+14155550100", "defaultCountry": "XX"}, 400, "invalid_field",
             "defaultCountry"),
            ({"phone": "+14155550100", "note": "?"}, 400, "invalid_field", "note"),
        ]
        for body, status, code, field in cases:
            with self.subTest(body=body):
                self.assertError(self.post(body), status, code, field=field)
        self.assertError(request(self.server, "POST", SUPP, "not json", auth=self.auth,
                                 headers={"Content-Type": "application/json"}),
                         400, "invalid_json")
        listed = request(self.server, "GET", SUPP, auth=self.auth)
        self.assertEqual(listed.body["suppressions"], [])

    def test_check_numbers_area_codes_and_isolation(self):
        other = make_workspace(self.server)
        self.assertEqual(self.check("+14155550100"),
                         {"phone": "+14155550100", "suppressed": False, "source": None,
                          "entry": None, "useNationalRegistry": True})
        self.post({"phone": "+14155550100", "reason": "r1"})
        self.post({"areaCode": "+1646"})
        hit = self.check("+14155550100")
        self.assertEqual((hit["suppressed"], hit["source"], hit["entry"]["phone"],
                          hit["entry"]["reason"]), (True, "workspace", "+14155550100", "r1"))
        area = self.check("+16465550123")
        self.assertEqual((area["suppressed"], area["source"], area["entry"]["areaCode"]),
                         (True, "workspace", "+1646"))
        self.assertFalse(self.check("+14155550101")["suppressed"])
        # Another workspace sees none of these entries, and they never apply to it.
        self.assertFalse(self.check("+14155550100", auth=other)["suppressed"])
        self.assertFalse(self.check("+16465550123", auth=other)["suppressed"])
        self.assertEqual(request(self.server, "GET", SUPP, auth=other).body["suppressions"], [])
        self.assertError(request(self.server, "GET", f"{SUPP}/%2B1646", auth=other), 404,
                         "not_found")
        # An unencoded + reads as a space in a query string: still the number meant.
        raw = request(self.server, "GET", f"{SUPP}/check?phone=+14155550100", auth=self.auth)
        self.assertTrue(raw.body["suppressed"], raw.body)
        self.assertError(request(self.server, "GET", f"{SUPP}/check", auth=self.auth), 400,
                         "invalid_parameter", parameter="phone")
        self.assertError(request(self.server, "GET", f"{SUPP}/check?phone=abc", auth=self.auth),
                         400, "invalid_parameter", parameter="phone")

    def test_list_by_cursor_sees_every_entry_once_in_order(self):
        entries = [number(i) for i in range(23)] + ["+1212", "+442079460958"]
        for e in entries:
            body = {"areaCode": e} if len(e) == 5 else {"phone": e}
            self.assertEqual(self.post(body).status, 201)
        seen, after, pages = [], None, 0
        while True:
            q = "?limit=10" + (f"&after={urllib.parse.quote(after)}" if after else "")
            reply = request(self.server, "GET", SUPP + q, auth=self.auth)
            self.assertEqual(reply.status, 200, reply.body)
            pages += 1
            seen += [s["entry"] for s in reply.body["suppressions"]]
            after = reply.body["pagination"]["nextCursor"]
            if after is None:
                break
            # An entry added behind the cursor while walking is not seen twice.
            if pages == 1:
                self.post({"phone": number(0, npa=201)})
        self.assertEqual(seen, sorted(entries))
        self.assertEqual(pages, 3)
        for q, param in (("?limit=0", "limit"), ("?limit=1001", "limit"), ("?limit=x", "limit"),
                         ("?after=abc", "after")):
            self.assertError(request(self.server, "GET", SUPP + q, auth=self.auth), 400,
                             "invalid_parameter", parameter=param)

    def test_import_reports_rows_and_export_reads_back(self):
        rows = [("+14155550100", "asked"), ("(415) 555-0101", ""), ("+1646", "whole area"),
                ("not a phone", "x"), ("+14155550100", "twice"), ("", "empty")]
        data = csv_of(rows, columns=("Phone", "Reason")) + b'"+14155550102","a, b"\n'
        reply = import_file(self.server, self.auth, data, [("defaultCountry", "US")])
        self.assertEqual(reply.status, 200, reply.body)
        body = reply.body
        self.assertEqual((body["totalRows"], body["importedRows"], body["addedRows"],
                          body["refreshedRows"], body["invalidRows"]), (7, 5, 4, 1, 2), body)
        self.assertEqual([(e["row"], e["column"], e["code"]) for e in body["errors"]],
                         [(4, "phone", "invalid_phone_number"), (6, "phone",
                                                                 "invalid_phone_number")])
        self.assertEqual(self.check("+14155550100")["entry"]["reason"], "twice")
        self.assertEqual(self.check("+14155550100")["entry"]["source"], "import")
        self.assertTrue(self.check("+16465550000")["suppressed"])
        exported = request(self.server, "GET", f"{SUPP}/export", auth=self.auth)
        self.assertEqual(exported.status, 200)
        self.assertTrue(exported.headers["Content-Type"].startswith("text/csv"))
        lines = exported.body.decode().splitlines()
        self.assertEqual(lines[0], "phone,reason,source,call_id,created_at")
        self.assertEqual([ln.split(",")[0] for ln in lines[1:]],
                         ["+14155550100", "+14155550101", "+14155550102", "+1646"])
        self.assertIn('"a, b"', lines[3])
        # The export is a valid import: every entry comes back refreshed, none added.
        again = import_file(self.server, self.auth, exported.body)
        self.assertEqual((again.status, again.body["addedRows"], again.body["refreshedRows"]),
                         (200, 0, 4), again.body)

    def test_large_import_in_many_transactions(self):
        count = 10000
        data = csv_of([(number(i % 10000, npa=200 + i // 10000),) for i in range(count)],
                      columns=("phone",))
        reply = import_file(self.server, self.auth, data, [("source", "crm-sync")])
        self.assertEqual((reply.status, reply.body["addedRows"], reply.body["invalidRows"]),
                         (200, count, 0), reply.body)
        walked, after = 0, None
        while True:
            q = "?limit=1000" + (f"&after={urllib.parse.quote(after)}" if after else "")
            page = request(self.server, "GET", SUPP + q, auth=self.auth).body
            walked += len(page["suppressions"])
            after = page["pagination"]["nextCursor"]
            if after is None:
                break
        self.assertEqual(walked, count)
        self.assertEqual(self.check(number(9999, npa=200))["entry"]["source"], "crm-sync")

    def test_bad_imports_are_refused(self):
        cases = [
            (b"number,reason\n+14155550100,x\n", 422, "missing_phone_column"),
            (b"", 422, "empty_file"),
            (b"phone\n", 422, "no_rows"),
            (b"phone\nabc\nxyz\n", 422, "no_valid_rows"),
        ]
        for data, status, code in cases:
            with self.subTest(data=data):
                self.assertError(import_file(self.server, self.auth, data), status, code)
        self.assertError(request(self.server, "POST", f"{SUPP}/import", b"phone\n+14155550100\n",
                                 auth=self.auth, headers={"Content-Type": "text/csv"}),
                         415, "unsupported_media_type")
        late = post_multipart(self.server, f"{SUPP}/import",
                              [("file", ("n.csv", b"phone\n+14155550100\n")),
                               ("defaultCountry", "US")], auth=self.auth)
        self.assertError(late, 400, "invalid_field", field="defaultCountry")
        self.assertError(post_multipart(self.server, f"{SUPP}/import", [("source", "crm")],
                                        auth=self.auth), 400, "missing_file")
        self.assertError(import_file(self.server, self.auth, b"phone\n+14155550100\n",
                                     [("source", "Bad Source")]), 400, "invalid_field",
                         field="source")


class RegistryTest(DispatchTestCase):
    """The national registry: the admin command, the operator route, staleness."""

    def registry_file(self):
        return ("phone_number\r\n"
                "4155550100\r\n"
                "\r\n"
                "646,5550100\r\n"
                "1235550100\r\n"
                "garbage\r\n"
                "2125550100").encode()

    def test_admin_import_and_upload_time_check(self):
        server = self.start_server("--sim-speed", "1000")
        path = os.path.join(server.workdir, "registry.txt")
        with open(path, "wb") as f:
            f.write(self.registry_file())
        out = admin(server.data_dir, "registry", "import", "--file", path, "--date",
                    today().isoformat())
        self.assertEqual((out["count"], out["badLines"], out["stale"]), (3, 2, False), out)
        self.assertEqual([b["line"] for b in out["badLineSamples"]], [5, 6])
        self.assertEqual(admin(server.data_dir, "registry", "show")["count"], 3)
        bad = admin_run(server.data_dir, "registry", "import", "--file", path, "--date",
                        "2026-02-30")
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("YYYY-MM-DD", bad.stderr)
        empty = os.path.join(server.workdir, "empty.txt")
        with open(empty, "wb") as f:
            f.write(b"header\nnope\n")
        done = admin_run(server.data_dir, "registry", "import", "--file", empty, "--date",
                         today().isoformat())
        self.assertEqual(done.returncode, 1)
        self.assertEqual(admin(server.data_dir, "registry", "show")["count"], 3)

        auth, agent = self.setup_workspace(server)
        check = request(server, "GET", f"{SUPP}/check?phone=%2B16465550100", auth=auth).body
        self.assertEqual((check["suppressed"], check["source"], check["entry"]["registryDate"]),
                         (True, "registry", today().isoformat()))
        request(server, "POST", SUPP, {"phone": "+14155550199"}, auth=auth)
        numbers = ["+14155550100", "+14155550111", "+14155550199", "+16465550100",
                   "+12125550100", "+14155550112"]
        batch = self.upload(server, auth, agent, csv_of([(n, "x") for n in numbers]))
        a2 = self.wait_batch(server, auth, batch)
        self.assertEqual((a2["progress"]["completed"], a2["progress"]["failed"]), (2, 4), a2)
        self.assertEqual(a2["billableCalls"], 2)
        calls = self.calls(server, auth, batch, range(1, 7))
        want = {1: "registry", 3: "workspace", 4: "registry", 5: "registry"}
        for row, src in want.items():
            self.assertEqual((calls[row]["status"], calls[row]["outcome"], calls[row]["attempts"],
                              calls[row]["error"]),
                             ("failed", "suppressed", 0,
                              f"Suppressed: on the do-not-call list ({src})"), calls[row])
        # The validation reports them the same way, storing nothing.
        parts = [("agentId", agent), ("file", ("c.csv", csv_of([(n, "x") for n in numbers])))]
        v = post_multipart(server, f"{BATCHES}/validate", parts, auth=auth)
        self.assertEqual((v.status, v.body["suppressedRows"], v.body["validRows"]), (200, 4, 2),
                         v.body)
        self.assertEqual(sorted(e["row"] for e in v.body["errors"] if e["code"] == "suppressed"),
                         [1, 3, 4, 5])

    def test_screening_while_the_store_grows_and_when_rows_are_read_again(self):
        """Rows are screened in snapshots that never outlive a batch of rows: the map grows
        under a large upload (a 1 MiB map to start), and a late defaultCountry makes the rows be
        read again on the thread pool, screened there too."""
        server = self.start_server("--map-size-mb", "1", "--sim-speed", "1000")
        path = os.path.join(server.workdir, "registry.txt")
        with open(path, "w") as f:
            f.write("".join(f"415555{i:04d}\n" for i in range(0, 10000, 7)))
        admin(server.data_dir, "registry", "import", "--file", path, "--date", today().isoformat())
        auth, agent = self.setup_workspace(server, max_records=100000)
        rows = [(f"+1415555{i:04d}", "x" * 40) for i in range(10000)]
        listed = len(range(0, 10000, 7))
        parts = [("agentId", agent), ("scheduledAt", "2099-01-01T00:00:00Z"),
                 ("file", ("c.csv", csv_of(rows)))]
        big = post_multipart(server, BATCHES, parts, auth=auth)
        self.assertEqual((big.status, big.body["suppressedRows"], big.body["validCalls"]),
                         (201, listed, 10000 - listed), big.body)
        national = [(f"(415) 555-{i:04d}", "y") for i in range(100)]
        parts = [("agentId", agent), ("scheduledAt", "2099-01-01T00:00:00Z"),
                 ("file", ("n.csv", csv_of(national))), ("defaultCountry", "US")]
        late = post_multipart(server, BATCHES, parts, auth=auth)
        self.assertEqual((late.status, late.body["suppressedRows"], late.body["validCalls"]),
                         (201, len(range(0, 100, 7)), 100 - len(range(0, 100, 7))), late.body)

    def test_operator_route(self):
        off = self.start_server()
        self.assertError(put_registry(off, b"4155550100\n", today().isoformat()), 403,
                         "forbidden")
        server = self.start_server("--admin-token", TOKEN)
        self.assertError(request(server, "GET", REGISTRY, headers={"Authorization": f"Bearer {TOKEN}"}),
                         404, "not_found")
        self.assertError(put_registry(server, b"4155550100\n", today().isoformat(), token="nope"),
                         401, "unauthorized")
        self.assertError(put_registry(server, b"4155550100\n", today().isoformat(), token=None),
                         401, "unauthorized")
        for date in ("2026-13-01", "yesterday", ""):
            self.assertError(put_registry(server, b"4155550100\n", date), 400,
                             "invalid_parameter", parameter="date")
        future = (today() + datetime.timedelta(days=5)).isoformat()
        self.assertError(put_registry(server, b"4155550100\n", future), 400, "invalid_parameter")
        self.assertError(put_registry(server, b"header\nxx\n", today().isoformat()), 422,
                         "no_numbers")
        first = put_registry(server, self.registry_file(), "2026-11-01")
        self.assertEqual((first.status, first.body["count"], first.body["previous"]),
                         (200, 3, None), first.body)
        # A larger file, in several merges; it replaces the first registry entirely.
        lines = "".join(f"718555{i:04d}\n" for i in range(0, 10000, 3)).encode()
        second = put_registry(server, lines, today().isoformat())
        self.assertEqual((second.status, second.body["count"], second.body["previous"]["count"]),
                         (200, 3334, 3), second.body)
        auth = make_workspace(server)
        chk = lambda p: request(server, "GET", f"{SUPP}/check?phone=%2B{p}", auth=auth).body
        self.assertFalse(chk("14155550100")["suppressed"])
        self.assertTrue(chk("17185550003")["suppressed"])
        self.assertFalse(chk("17185550004")["suppressed"])
        meta = request(server, "GET", REGISTRY, headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual((meta.status, meta.body["count"], meta.body["date"]),
                         (200, 3334, today().isoformat()))

    def test_one_import_at_a_time_and_an_abandoned_one_changes_nothing(self):
        server = self.start_server("--admin-token", TOKEN)
        self.assertEqual(put_registry(server, b"4155550100\n", "2026-11-01").status, 200)
        # An import whose body never ends holds the lock: a second one is refused.
        body = b"".join(f"212555{i:04d}\n".encode() for i in range(1000))
        head = (f"PUT {REGISTRY}?date=2026-11-02 HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body) + 100}\r\n\r\n")
        slow = RawClient(server)
        slow.send(head.encode() + body)
        deadline = time.monotonic() + 5
        while True:
            busy = put_registry(server, b"7185550100\n", "2026-11-03")
            if busy.status == 409 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertError(busy, 409, "conflict")
        self.assertIn("process", busy.body["message"])
        # The client goes away mid-body: the old registry stays, the lock goes.
        slow.close()
        auth = make_workspace(server)

        def check(phone):
            return request(server, "GET", f"{SUPP}/check?phone=%2B{phone}", auth=auth).body

        deadline = time.monotonic() + 5
        while True:
            done = put_registry(server, b"7185550100\n", "2026-11-04")
            if done.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual((done.status, done.body["previous"]["date"]), (200, "2026-11-01"),
                         done.body)
        self.assertFalse(check("12125550005")["suppressed"])
        self.assertTrue(check("17185550100")["suppressed"])
        self.assertFalse(check("14155550100")["suppressed"])

    def test_stale_registry_warns_in_readyz_and_batch_starts(self):
        server = self.start_server("--sim-speed", "1000", keep_data=False)
        path = os.path.join(server.workdir, "registry.txt")
        with open(path, "wb") as f:
            f.write(b"4155550100\n")
        admin(server.data_dir, "registry", "import", "--file", path, "--date", today().isoformat())
        ready = request(server, "GET", "/readyz")
        self.assertEqual((ready.status, ready.body), (200, {"status": "ready"}))
        auth, agent = self.setup_workspace(server)
        fresh = post_multipart(server, BATCHES, [("agentId", agent), ("file", (
            "c.csv", csv_of([("+14155550111", "x")])))], auth=auth)
        self.assertEqual(fresh.body["warnings"], [])
        server.stop()
        # 40 days later the same registry is stale: a warning, not "not ready".
        server.args += ["--clock-offset-ms", str(40 * DAY_MS)]
        server.start()
        ready = request(server, "GET", "/readyz")
        self.assertEqual(ready.status, 200, ready.body)
        self.assertEqual(ready.body["status"], "ready")
        self.assertEqual([w["code"] for w in ready.body["warnings"]], ["dnc_registry_stale"])
        self.assertIn("days old", ready.body["warnings"][0]["message"])
        started = post_multipart(server, BATCHES, [("agentId", agent), ("file", (
            "c.csv", csv_of([("+14155550112", "x")])))], auth=auth)
        self.assertEqual(started.status, 201, started.body)
        self.assertEqual([w["code"] for w in started.body["warnings"]], ["dnc_registry_stale"])


class RestartTest(DispatchTestCase):
    def test_lists_and_the_registry_survive_a_restart(self):
        server = self.start_server("--sim-speed", "1000", "--admin-token", TOKEN)
        auth, agent = self.setup_workspace(server)
        self.assertEqual(request(server, "POST", SUPP, {"phone": "+14155550130"},
                                 auth=auth).status, 201)
        self.assertEqual(request(server, "POST", SUPP, {"areaCode": "+1212"}, auth=auth).status,
                         201)
        self.assertEqual(put_registry(server, b"3125550140\n", today().isoformat()).status, 200)
        server.restart()
        q = lambda n: request(server, "GET", f"{SUPP}/check?phone={urllib.parse.quote(n)}",
                              auth=auth).body
        self.assertEqual(q("+14155550130")["source"], "workspace")
        self.assertEqual(q("+12125550100")["source"], "workspace")
        self.assertEqual(q("+13125550140")["source"], "registry")
        self.assertFalse(q("+14155550131")["suppressed"])
        reply = post_multipart(server, BATCHES, [("agentId", agent), ("file", (
            "c.csv", csv_of([("+14155550130", "a"), ("+13125550140", "b"),
                             ("+14155550131", "c")])))], auth=auth)
        self.assertEqual((reply.status, reply.body["suppressedRows"]), (201, 2), reply.body)


class OptOutTest(DispatchTestCase):
    """A callee who opts out during a call (the simulator: numbers ending in 06)."""

    def test_simulator_opt_out_adds_the_entry_and_sends_the_event(self):
        rx = Receiver().start()
        self.addCleanup(rx.stop)
        server = self.start_server("--sim-speed", "1000", "--webhook-allow-private")
        auth, agent = self.setup_workspace(server)
        reply = request(server, "PUT", "/v1/api/webhook", {"url": rx.url}, auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        numbers = ["+14155550106", "+14155550111", "+14155550206"]
        batch = self.upload(server, auth, agent, csv_of([(n, "x") for n in numbers]))
        a2 = self.wait_batch(server, auth, batch)
        # The calls themselves end as their outcome says: answered.
        self.assertEqual(a2["progress"]["completed"], 3, a2)
        calls = self.calls(server, auth, batch, range(1, 4))
        for row in (1, 3):
            entry = request(server, "GET", f"{SUPP}/%2B{numbers[row - 1][1:]}", auth=auth)
            self.assertEqual(entry.status, 200, entry.body)
            self.assertEqual((entry.body["source"], entry.body["callId"]),
                             ("call", calls[row]["result"]["callId"]), entry.body)
        self.assertEqual(request(server, "GET", f"{SUPP}/%2B14155550111", auth=auth).status, 404)
        deadline = time.monotonic() + 20
        while True:
            events = [e for e in rx.accepted() if e["type"] == "call.opted_out"]
            if len(events) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(sorted(e["data"]["phone"] for e in events), ["+14155550106",
                                                                     "+14155550206"])
        for e in events:
            self.assertEqual((e["data"]["batchId"], e["data"]["status"], e["data"]["outcome"]),
                             (batch, "completed", "answered"), e)
        # A later upload of the number is suppressed at once.
        again = post_multipart(server, BATCHES, [("agentId", agent), ("file", (
            "c.csv", csv_of([("+14155550106", "x"), ("+14155550112", "y")])))], auth=auth)
        self.assertEqual((again.status, again.body["suppressedRows"], again.body["validCalls"]),
                         (201, 1, 1), again.body)


class TwilioDigitsTest(DispatchTestCase):
    """Twilio reports the key the callee pressed as Digits: the agent's optOutDigit opts out."""

    def test_digits_equal_to_the_agents_opt_out_digit(self):
        token = "digits-test-token"
        # The in-process simulator at real-time speed: the calls stay active for seconds.
        server = self.start_server("--sim-speed", "1", "--twilio-auth-token", token)
        auth = make_workspace(server, requests_per_minute=100000)
        bad = request(server, "POST", "/v1/api/agents", {"name": "n", "prompt": "p",
                      "fromNumber": "+14155552671", "optOutDigit": "99"}, auth=auth)
        self.assertError(bad, 400, "invalid_field", field="optOutDigit")
        agent = request(server, "POST", "/v1/api/agents", {"name": "n", "prompt": "p",
                        "fromNumber": "+14155552671", "optOutDigit": "9"}, auth=auth)
        self.assertEqual((agent.status, agent.body["optOutDigit"]), (201, "9"), agent.body)
        batch = self.upload(server, auth, agent.body["id"],
                            csv_of([("+14155550150", "a"), ("+14155550151", "b")]))

        def active():
            calls = self.calls(server, auth, batch, [1, 2])
            return all(c["status"] == "active" and c["attempts"] == 1 for c in calls.values())
        deadline = time.monotonic() + 10
        while not active():
            self.assertLess(time.monotonic(), deadline, "the calls never became active")
            time.sleep(0.05)
        for row, digits in ((1, "9"), (2, "3")):
            path = f"/v1/provider/twilio/status?b={batch}&r={row}&a=1"
            url = f"http://127.0.0.1:{server.port}{path}"
            params = [("CallSid", f"CA{row:032d}"), ("CallStatus", "completed"),
                      ("CallDuration", "7"), ("AnsweredBy", "human"), ("Digits", digits),
                      ("SequenceNumber", "90")]
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": twilio_signature(token, url, params)}
            reply = request(server, "POST", path, urllib.parse.urlencode(params), headers=headers)
            self.assertEqual(reply.status, 204, reply.body)
        self.wait_batch(server, auth, batch, timeout=10)
        opted = request(server, "GET", f"{SUPP}/%2B14155550150", auth=auth)
        self.assertEqual((opted.status, opted.body["source"]), (200, "call"), opted.body)
        self.assertEqual(request(server, "GET", f"{SUPP}/%2B14155550151", auth=auth).status, 404)


class DialTimeTest(DispatchTestCase):
    """An entry added after the upload still stops the call, at its pick."""

    def test_entry_added_after_upload_stops_the_call(self):
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server)
        later = datetime.datetime.fromtimestamp(server_now_ms() / 1000 + 3, datetime.timezone.utc)
        batch = self.upload(server, auth, agent,
                            csv_of([("+14155550120", "a"), ("+14155550121", "b")]),
                            scheduledAt=later.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(request(server, "POST", SUPP, {"phone": "+14155550120"},
                                 auth=auth).status, 201)
        a2 = self.wait_batch(server, auth, batch, timeout=30)
        self.assertEqual((a2["progress"]["completed"], a2["progress"]["failed"]), (1, 1), a2)
        call = self.calls(server, auth, batch, [1])[1]
        self.assertEqual((call["outcome"], call["attempts"], a2["billableCalls"]),
                         ("suppressed", 0, 1), call)
        self.assertEqual(call["error"], "Suppressed: on the do-not-call list (workspace)")
        report = request(server, "GET", f"{BATCHES}/{batch}/compliance", auth=auth).body
        self.assertEqual((report["suppressedAtDial"], report["suppressedAtUpload"]), (1, 0))
        self.assertEqual(a2["progress"]["total"], a2["progress"]["completed"]
                         + a2["progress"]["failed"])

    def test_an_opt_out_stops_the_numbers_calls_in_other_batches(self):
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server)
        opting = "+14155550106"  # the simulator's callee asks not to be called again
        later = datetime.datetime.fromtimestamp(server_now_ms() / 1000 + 4, datetime.timezone.utc)
        waiting = self.upload(server, auth, agent, csv_of([(opting, "again"),
                                                           ("+14155550122", "other")]),
                              scheduledAt=later.strftime("%Y-%m-%dT%H:%M:%SZ"))
        first = self.upload(server, auth, agent, csv_of([(opting, "first")]))
        a2 = self.wait_batch(server, auth, first, timeout=30)
        self.assertEqual(a2["progress"]["completed"], 1, a2)
        entry = request(server, "GET", f"{SUPP}/%2B14155550106", auth=auth).body
        self.assertEqual(entry["source"], "call", entry)
        # The batch uploaded before the opt-out: its call to that number ends suppressed at its
        # pick, never dialled; the other number is called.
        b2 = self.wait_batch(server, auth, waiting, timeout=30)
        calls = self.calls(server, auth, waiting, [1, 2])
        self.assertEqual((calls[1]["outcome"], calls[1]["attempts"]), ("suppressed", 0), calls[1])
        self.assertEqual(calls[2]["outcome"], "answered", calls[2])
        self.assertEqual(b2["billableCalls"], 1, b2)
        report = request(server, "GET", f"{BATCHES}/{waiting}/compliance", auth=auth).body
        self.assertEqual(report["suppressedAtDial"], 1, report)
        self.assertEqual(request(server, "GET", f"{BATCHES}/{first}/compliance",
                                 auth=auth).body["optedOut"], 1)
