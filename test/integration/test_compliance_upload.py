"""Compliance at upload: a batch's callingWindow form field (accepted, normalised, echoed; every
bad form refused with a message naming the problem and nothing stored), the workspace compliance
settings API (GET defaults, partial PUT, bad values, isolation between workspaces, the recorded
allowOutsideFederalWindowSetAt) and its admin command, consent evidence (consent_at and
consent_source columns; requireConsent turns rows without valid evidence into failed no_consent
calls that are never dialled or billed) and the --demo workspace's calling-window opt-out.

Batches that only need reading are scheduled in 2099 so nothing is dialled; batches that must be
dialled use the built-in simulator sped up (numbers ending 42 answer)."""

import json
import time

from harness import (ServerTestCase, admin, admin_run, make_workspace, mdb_entries, poll,
                     post_multipart, request, server_now_ms)

BATCHES = "/v1/api/batch-calls"
VALIDATE = BATCHES + "/validate"
SETTINGS = "/v1/api/compliance/settings"
HOLD = "2099-01-01T00:00:00Z"
DEFAULTS = {"callingWindows": None, "allowOutsideFederalWindow": False,
            "allowOutsideFederalWindowSetAt": None, "stateRules": True,
            "useNationalRegistry": True, "requireConsent": False, "maxAttemptsPerNumber": 3,
            "capWindowHours": 24}


def csv_bytes(*lines):
    return "".join(line + "\n" for line in lines).encode("utf-8")


def create_agent(server, auth):
    reply = request(server, "POST", "/v1/api/agents",
                    {"name": "Compliance test", "prompt": "Hello {first_name}",
                     "fromNumber": "+14155552671"}, auth=auth)
    assert reply.status == 201, reply.body
    return reply.body["id"]


class CallingWindowFieldTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()
        cls.auth = make_workspace(cls.server, requests_per_minute=100000)
        cls.agent = create_agent(cls.server, cls.auth)

    def upload(self, window, path=BATCHES):
        parts = [("agentId", self.agent), ("scheduledAt", HOLD),
                 ("file", ("c.csv", csv_bytes("phone_number", "+14155550142")))]
        if window is not None:
            parts.insert(1, ("callingWindow", window))
        return post_multipart(self.server, path, parts, auth=self.auth)

    def batch(self, batch_id):
        reply = request(self.server, "GET", f"{BATCHES}/{batch_id}", auth=self.auth)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.body

    def test_accepted_windows_are_normalised_and_echoed(self):
        cases = [
            ('{"start":"09:00","end":"17:00","days":["mon","tue","wed","thu","fri"]}',
             {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]}),
            # Days in any order come back in week order (from Sunday); no days = every day.
            ('{"days":["sat","sun"],"start":"10:30","end":"24:00"}',
             {"start": "10:30", "end": "24:00", "days": ["sun", "sat"]}),
            (' {"start":"08:00","end":"21:00"} ',
             {"start": "08:00", "end": "21:00",
              "days": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}),
        ]
        for text, want in cases:
            with self.subTest(window=text):
                reply = self.upload(text)
                self.assertEqual(reply.status, 201, reply.body)
                batch_id = reply.body["batchId"]
                self.assertEqual(self.batch(batch_id)["callingWindow"], want)
                listed = request(self.server, "GET", BATCHES + "?limit=100",
                                 auth=self.auth).body["batches"]
                self.assertEqual({b["id"]: b for b in listed}[batch_id]["callingWindow"], want)
        # Sent empty, or not at all: no window of the batch's own.
        for window in ("", None):
            reply = self.upload(window)
            self.assertEqual(reply.status, 201, reply.body)
            self.assertIsNone(self.batch(reply.body["batchId"])["callingWindow"])

    def test_bad_windows_are_refused_naming_the_problem(self):
        cases = [
            ("not json", "{start", "not valid JSON"),
            ("not an object", '["09:00","17:00"]', "must be a JSON object"),
            ("unknown field", '{"start":"09:00","end":"17:00","tz":"UTC"}',
             'unknown field "tz"'),
            ("missing start", '{"end":"17:00"}', "callingWindow.start is missing"),
            ("bad time", '{"start":"9am","end":"17:00"}', 'callingWindow.start "9am" is not a time'),
            ("minutes", '{"start":"09:60","end":"17:00"}', "is not a time"),
            ("24:00 start", '{"start":"24:00","end":"24:00"}', "is not a time"),
            ("not a string", '{"start":900,"end":"17:00"}', "must be a string"),
            ("end before start", '{"start":"17:00","end":"09:00"}',
             "end must be later than callingWindow.start"),
            ("end equals start", '{"start":"09:00","end":"09:00"}', "must be later"),
            ("bad day", '{"start":"09:00","end":"17:00","days":["monday"]}',
             'days[0] "monday" is not a day'),
            ("day not a string", '{"start":"09:00","end":"17:00","days":[1]}', "not a string"),
            ("days not an array", '{"start":"09:00","end":"17:00","days":"mon"}',
             "days must be an array"),
            ("duplicate day", '{"start":"09:00","end":"17:00","days":["mon","tue","mon"]}',
             "names mon twice"),
            ("empty days", '{"start":"09:00","end":"17:00","days":[]}', "days is empty"),
            ("too long", '{"start":"09:00","end":"17:00","days":["mon"' + ',"tue"' * 200 + "]}",
             "longer than 1024 bytes"),
        ]
        before = mdb_entries(self.server.data_dir, "batch")
        for label, text, words in cases:
            for path in (BATCHES, VALIDATE):
                with self.subTest(case=label, path=path):
                    reply = self.upload(text, path)
                    self.assertError(reply, 400, "invalid_field", field="callingWindow")
                    self.assertIn(words, reply.body["message"])
                    self.assertIn("callingWindow", reply.body["message"])
        self.assertEqual(mdb_entries(self.server.data_dir, "batch"), before, "a batch was stored")

    def test_idempotent_replay_sees_the_window(self):
        """The window is part of the request: the same key with another window is refused."""
        key = {"Idempotency-Key": f"cw-{time.monotonic_ns()}"}
        first = '{"start":"09:00","end":"17:00"}'

        def send(window):
            parts = [("agentId", self.agent), ("scheduledAt", HOLD), ("callingWindow", window),
                     ("file", ("c.csv", csv_bytes("phone_number", "+14155550142")))]
            return post_multipart(self.server, BATCHES, parts, auth=self.auth, headers=key)

        created = send(first)
        self.assertEqual(created.status, 201, created.body)
        again = send(first)
        self.assertEqual(again.status, 201, again.body)
        self.assertEqual(again.body["batchId"], created.body["batchId"])
        other = send('{"start":"10:00","end":"17:00"}')
        self.assertError(other, 422, "idempotency_key_reused")


class SettingsTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def test_defaults_partial_updates_and_isolation(self):
        a = make_workspace(self.server, compliance={})
        b = make_workspace(self.server, compliance={})
        self.assertEqual(request(self.server, "GET", SETTINGS, auth=a).body, DEFAULTS)
        reply = request(self.server, "PUT", SETTINGS,
                        {"requireConsent": True, "maxAttemptsPerNumber": 2}, auth=a)
        self.assertEqual(reply.status, 200, reply.body)
        want = dict(DEFAULTS, requireConsent=True, maxAttemptsPerNumber=2)
        self.assertEqual(reply.body, want)
        # A second partial update keeps the first one's settings.
        windows = [{"start": "09:00", "end": "12:00", "days": ["mon"]},
                   {"start": "13:00", "end": "17:00"}]
        reply = request(self.server, "PUT", SETTINGS,
                        {"callingWindows": windows, "stateRules": False, "capWindowHours": 48},
                        auth=a)
        want.update(callingWindows=windows, stateRules=False, capWindowHours=48)
        self.assertEqual(reply.body, want)
        self.assertEqual(request(self.server, "GET", SETTINGS, auth=a).body, want)
        # An empty object changes nothing; null removes the windows.
        self.assertEqual(request(self.server, "PUT", SETTINGS, {}, auth=a).body, want)
        reply = request(self.server, "PUT", SETTINGS, {"callingWindows": None}, auth=a)
        want["callingWindows"] = None
        self.assertEqual(reply.body, want)
        # The other workspace is untouched.
        self.assertEqual(request(self.server, "GET", SETTINGS, auth=b).body, DEFAULTS)
        # Settings survive a restart.
        self.server.restart()
        self.assertEqual(request(self.server, "GET", SETTINGS, auth=a).body, want)

    def test_bad_values_are_refused_and_change_nothing(self):
        auth = make_workspace(self.server, compliance={})
        request(self.server, "PUT", SETTINGS, {"maxAttemptsPerNumber": 5}, auth=auth)
        before = request(self.server, "GET", SETTINGS, auth=auth).body
        cases = [
            ({"requireConsent": "yes"}, "requireConsent", "must be true or false"),
            ({"stateRules": 1}, "stateRules", "must be true or false"),
            ({"useNationalRegistry": None}, "useNationalRegistry", "must be true or false"),
            ({"allowOutsideFederalWindow": "true"}, "allowOutsideFederalWindow",
             "must be true or false"),
            ({"maxAttemptsPerNumber": -1}, "maxAttemptsPerNumber", "whole number from 0 to 100"),
            ({"maxAttemptsPerNumber": 2.5}, "maxAttemptsPerNumber", "whole number"),
            ({"maxAttemptsPerNumber": 101}, "maxAttemptsPerNumber", "whole number"),
            ({"capWindowHours": 0}, "capWindowHours", "whole number from 1 to 720"),
            ({"capWindowHours": 1e300}, "capWindowHours", "whole number"),
            ({"callingWindows": {"start": "09:00"}}, "callingWindows", "must be an array"),
            ({"callingWindows": [{"start": "09:00", "end": "25:00"}]}, "callingWindows",
             'callingWindows[0].end "25:00" is not a time'),
            ({"callingWindows": [{"start": "09:00", "end": "17:00", "days": ["xyz"]}]},
             "callingWindows", 'callingWindows[0].days[0] "xyz" is not a day'),
            ({"callingWindows": [{"start": "09:00", "end": "17:00"}] * 15}, "callingWindows",
             "more than 14 windows"),
            ({"maxCalls": 3}, "maxCalls", 'unknown setting "maxCalls"'),
            # Valid settings before a bad one are not applied either.
            ({"requireConsent": True, "capWindowHours": "24"}, "capWindowHours", "whole number"),
        ]
        for body, field, words in cases:
            with self.subTest(body=body):
                reply = request(self.server, "PUT", SETTINGS, body, auth=auth)
                self.assertError(reply, 400, "invalid_field", field=field)
                self.assertIn(words, reply.body["message"])
                self.assertIn("nothing was changed", reply.body["message"])
        for raw, code in ((b"{", "invalid_json"), (b"[]", "invalid_json"), (b"", "invalid_json")):
            reply = request(self.server, "PUT", SETTINGS, raw, auth=auth,
                            headers={"Content-Type": "application/json"})
            self.assertError(reply, 400, code)
        self.assertEqual(request(self.server, "GET", SETTINGS, auth=auth).body, before)
        self.assertEqual(request(self.server, "GET", SETTINGS).status, 401)

    def test_allow_outside_federal_window_is_recorded(self):
        auth = make_workspace(self.server, compliance={})
        t0 = int(server_now_ms())
        reply = request(self.server, "PUT", SETTINGS, {"allowOutsideFederalWindow": True},
                        auth=auth)
        t1 = int(server_now_ms())
        self.assertEqual(reply.status, 200, reply.body)
        set_at = reply.body["allowOutsideFederalWindowSetAt"]
        self.assertTrue(t0 <= set_at <= t1, (t0, set_at, t1))
        logs = self.server.logs()
        self.assertIn("outside the federal calling window", logs)
        self.assertIn(f"workspace={auth[0]}", logs)
        self.assertRegex(logs, r"key=key_\w+")
        # Sent back as answered (the timestamp included) nothing changes; a client cannot set it.
        body = dict(reply.body, allowOutsideFederalWindowSetAt=1)
        again = request(self.server, "PUT", SETTINGS, body, auth=auth)
        self.assertEqual(again.status, 200, again.body)
        self.assertEqual(again.body["allowOutsideFederalWindowSetAt"], set_at)
        # Off keeps the time it was last turned on; on again records a new one.
        off = request(self.server, "PUT", SETTINGS, {"allowOutsideFederalWindow": False},
                      auth=auth).body
        self.assertEqual((off["allowOutsideFederalWindow"], off["allowOutsideFederalWindowSetAt"]),
                         (False, set_at))
        time.sleep(0.01)
        on = request(self.server, "PUT", SETTINGS, {"allowOutsideFederalWindow": True},
                     auth=auth).body
        self.assertGreater(on["allowOutsideFederalWindowSetAt"], set_at)

    def test_admin_command_shows_and_updates(self):
        ws, key = make_workspace(self.server, compliance={})
        data = self.server.data_dir
        shown = admin(data, "workspace", "compliance", "--workspace", ws)
        self.assertEqual(shown, {"workspaceId": ws, "compliance": DEFAULTS})
        changed = admin(data, "workspace", "compliance", "--workspace", ws, "--set",
                        '{"requireConsent": true, "allowOutsideFederalWindow": true}')
        self.assertTrue(changed["compliance"]["requireConsent"])
        self.assertIsInstance(changed["compliance"]["allowOutsideFederalWindowSetAt"], (int, float))
        # The running server sees the change at once.
        got = request(self.server, "GET", SETTINGS, auth=(ws, key)).body
        self.assertEqual(got, changed["compliance"])
        for args, code, words in (
                (["--set", '{"requireConsent": "on"}'], 2, "requireConsent must be true or false"),
                (["--set", "nonsense"], 2, "--set needs a JSON object"),
                ([], 2, "--workspace"),
        ):
            done = admin_run(data, "workspace", "compliance",
                             *(["--workspace", ws] if args else []), *args)
            self.assertEqual(done.returncode, code, done.stderr)
            self.assertIn(words, done.stderr)
        done = admin_run(data, "workspace", "compliance", "--workspace", "ws_missing")
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("not found", done.stderr)
        self.assertEqual(request(self.server, "GET", SETTINGS, auth=(ws, key)).body, got)


CONSENT_CSV = csv_bytes(
    "phone_number,first_name,Consent At,consent_source",
    "+14155501042,Ada,2026-05-01,web form 17",
    "+14155502042,Bob,,",
    "+14155503042,Cy,2099-01-01,paper",
    "+14155504042,Di,01/05/2026,phone",
    "+14155505042,Ed,2026-05-01T10:00:00+02:00,",
    "+14155506042,Fay,2026-05-01T10:00:00,sms",
    "+14155507042,Gus,2026-02-30,x",
)
CONSENTED = {1, 5}  # rows whose consent_at is valid


class ConsentTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server("--sim-speed", "1000")

    def workspace(self, require):
        auth = make_workspace(self.server, requests_per_minute=100000, calls_per_second=100)
        reply = request(self.server, "PUT", SETTINGS, {"requireConsent": require}, auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        return auth, create_agent(self.server, auth)

    def wait_done(self, auth, batch_id):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = request(self.server, "GET", f"{BATCHES}/{batch_id}", auth=auth).body
            if body["isComplete"]:
                return body
            time.sleep(0.05)
        self.fail(f"{batch_id} did not complete: {body}")

    def call(self, auth, batch_id, row):
        reply = request(self.server, "GET", f"{BATCHES}/{batch_id}/calls/call_{row}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.body

    def test_required_consent_fails_rows_without_valid_evidence(self):
        auth, agent = self.workspace(True)
        parts = [("agentId", agent), ("file", ("c.csv", CONSENT_CSV))]
        valid = post_multipart(self.server, VALIDATE, parts, auth=auth).body
        self.assertFalse(valid["valid"])
        self.assertEqual((valid["validRows"], valid["noConsentRows"]), (2, 5), valid)
        self.assertIn("5 rows have no valid consent_at", valid["reason"])
        reply = post_multipart(self.server, BATCHES, parts, auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        body = reply.body
        self.assertEqual((body["totalCalls"], body["validCalls"], body["noConsentRows"],
                          body["invalidRows"], body["duplicateRows"]), (7, 2, 5, 0, 0), body)
        self.assertEqual(body["warnings"], [])
        errors = {e["row"]: e for e in body["errors"]}
        self.assertEqual(set(errors), {2, 3, 4, 6, 7})
        for row, words in ((2, "consent_at is empty"), (3, "is in the future"),
                           (4, "is not an ISO-8601 date"), (6, "has no time zone"),
                           (7, "that month has 28 days")):
            with self.subTest(row=row):
                e = errors[row]
                self.assertEqual((e["code"], e["column"]), ("no_consent", "consent_at"), e)
                self.assertIn(words, e["message"])
                self.assertIn("requireConsent", e["message"])
        a2 = self.wait_done(auth, body["batchId"])
        progress = a2["progress"]
        self.assertEqual((progress["completed"], progress["failed"], progress["waiting"],
                          progress["total"]), (2, 5, 0, 7), a2)
        self.assertEqual(a2["noConsentRows"], 5)
        # Only the two consented rows were dialled and billed.
        self.assertEqual((a2["attempts"], a2["billableCalls"]), (2, 2), a2)
        for row in range(1, 8):
            detail = self.call(auth, body["batchId"], row)
            if row in CONSENTED:
                self.assertEqual(detail["outcome"], "answered", detail)
            else:
                self.assertEqual((detail["status"], detail["outcome"], detail["attempts"]),
                                 ("failed", "no_consent", 0), detail)
                self.assertIn("No consent", detail["error"])
        self.assertEqual(self.call(auth, body["batchId"], 1)["consent"],
                         {"at": "2026-05-01", "source": "web form 17"})
        self.assertEqual(self.call(auth, body["batchId"], 5)["consent"],
                         {"at": "2026-05-01T10:00:00+02:00", "source": None})
        self.assertEqual(self.call(auth, body["batchId"], 2)["consent"],
                         {"at": None, "source": None})
        # The list's outcome filter and the export show them too.
        export = request(self.server, "GET", f"{BATCHES}/{body['batchId']}/export",
                         auth=auth).body.decode()
        self.assertIn("consent_at,consent_source", export.splitlines()[0])
        self.assertEqual(export.count(",no_consent,"), 5, export)

    def test_a_row_without_consent_does_not_make_a_later_one_a_duplicate(self):
        auth, agent = self.workspace(True)
        data = csv_bytes("phone_number,consent_at", "+14155508042,", "+14155508042,2026-01-02")
        reply = post_multipart(self.server, BATCHES, [("agentId", agent), ("file", ("c.csv", data))],
                               auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        self.assertEqual((reply.body["validCalls"], reply.body["noConsentRows"],
                          reply.body["duplicateRows"]), (1, 1, 0), reply.body)

    def test_required_consent_without_the_column_refuses_the_upload(self):
        auth, agent = self.workspace(True)
        data = csv_bytes("phone_number,first_name", "+14155509042,Ada")
        before = mdb_entries(self.server.data_dir, "batch")
        reply = post_multipart(self.server, BATCHES, [("agentId", agent), ("file", ("c.csv", data))],
                               auth=auth)
        self.assertError(reply, 422, "no_valid_rows")
        self.assertIn("no consent_at column", reply.body["message"])
        self.assertEqual(reply.body["errors"][0]["code"], "no_consent")
        strict = post_multipart(self.server, BATCHES,
                                [("agentId", agent), ("strict", "true"),
                                 ("file", ("c.csv", CONSENT_CSV))], auth=auth)
        self.assertError(strict, 422, "invalid_rows")
        # What the refused uploads staged is purged in the background.
        left = poll(lambda: mdb_entries(self.server.data_dir, "batch") == before, timeout=10)
        self.assertTrue(left, "a refused upload left a batch behind")

    def test_consent_not_required_dials_every_row_and_warns(self):
        auth, agent = self.workspace(False)
        parts = [("agentId", agent), ("file", ("c.csv", CONSENT_CSV))]
        valid = post_multipart(self.server, VALIDATE, parts, auth=auth).body
        self.assertTrue(valid["valid"], valid)
        self.assertEqual(valid["noConsentRows"], 0)
        reply = post_multipart(self.server, BATCHES, parts, auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        self.assertEqual((reply.body["validCalls"], reply.body["noConsentRows"]), (7, 0))
        self.assertEqual(reply.body["errors"], [])
        # Present but wrong values are warned about (an empty one is not: nothing was claimed).
        warned = {w["row"]: w for w in reply.body["warnings"]}
        self.assertEqual(set(warned), {3, 4, 6, 7}, reply.body["warnings"])
        for w in warned.values():
            self.assertEqual(w["code"], "invalid_consent_at")
            self.assertIn("called all the same", w["message"])
        a2 = self.wait_done(auth, reply.body["batchId"])
        self.assertEqual((a2["progress"]["completed"], a2["attempts"]), (7, 7), a2)
        self.assertEqual(self.call(auth, reply.body["batchId"], 3)["consent"],
                         {"at": "2099-01-01", "source": "paper"})

    def test_calls_of_a_file_without_consent_columns_show_null(self):
        auth, agent = self.workspace(False)
        data = csv_bytes("phone_number", "+14155510042")
        reply = post_multipart(self.server, BATCHES, [("agentId", agent), ("scheduledAt", HOLD),
                                                      ("file", ("c.csv", data))], auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        self.assertIsNone(self.call(auth, reply.body["batchId"], 1)["consent"])


class DemoTest(ServerTestCase):
    def test_demo_workspace_opts_out_of_the_window_once(self):
        server = self.start_server("--demo")
        out = server.stdout_text()
        self.assertIn("calling window: off for this demo workspace (allowOutsideFederalWindow); "
                      "see README 'Compliance'", out)
        ws = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                  if line.strip().startswith("workspace:"))
        key = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                   if line.strip().startswith("api key:"))
        self.assertIn("frequency cap: off for this demo workspace", out)
        settings = request(server, "GET", SETTINGS, auth=(ws, key)).body
        self.assertTrue(settings["allowOutsideFederalWindow"], settings)
        # The sample file may be uploaded again and again.
        self.assertEqual(settings["maxAttemptsPerNumber"], 0, settings)
        self.assertIsInstance(settings["allowOutsideFederalWindowSetAt"], (int, float))
        self.assertIn("source=demo", server.logs())
        # The owner's later choice is kept at the next start, and the summary says so.
        request(server, "PUT", SETTINGS, {"allowOutsideFederalWindow": False}, auth=(ws, key))
        server.restart()
        self.assertIn("calling window: on", server.stdout_text())
        self.assertFalse(request(server, "GET", SETTINGS, auth=(ws, key)).body[
            "allowOutsideFederalWindow"])

    def test_demo_with_another_provider_keeps_the_window(self):
        """Only the simulator's demo opts out: a demo dialling real phones keeps the default."""
        server = self.start_server("--demo", "--provider", "http", "--http-provider-url",
                                   "http://127.0.0.1:9/calls", "--http-provider-secret", "s",
                                   "--public-url", "http://127.0.0.1:8080")
        out = server.stdout_text()
        self.assertIn("calling window: on", out)
        self.assertNotIn("allowOutsideFederalWindow)", out)
