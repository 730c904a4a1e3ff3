"""Acceptance test: batchcalld with --provider twilio against a fake Twilio REST API built on
Twilio's own Node library (fake_twilio.js, the `twilio` npm package pinned in package-lock.json,
installed by `bash deps/install.sh --test`).

The fake checks every create request against Twilio's documented Call parameters, answers with
Twilio-shaped errors, and sends status callbacks signed with the library's own signing function.
Each contact's number picks a script: what the create answers and which callbacks follow, in
which order. The test then reads the outcome of every call through the public API, and compares
our create request with the one the library's client.calls.create sends for the same
parameters."""

import json
import os
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import (BATCHES, DispatchTestCase, csv_of, free_port, poll,  # noqa: E402
                     request)

ACCOUNT_SID = "AC" + "5ca1ab1e" * 4
AUTH_TOKEN = "acceptance-auth-token"
FAST = ["--busy-attempts", "1", "--provider-backoff-ms", "10", "--provider-backoff-max-ms", "40",
        "--provider-cps", "0"]
PROMPT = "You are Ada, calling {first_name} about the renewal. Be brief."


def number(line):
    return f"+1415555{line:04d}"


def progress_callbacks(*final, duration=None, answered_by=None, sip=None):
    """initiated, ringing, in-progress (when the call connected), then the final callback."""
    status = final[0]
    out = [{"CallStatus": "initiated"}, {"CallStatus": "ringing"}]
    if status == "completed":
        out.append({"CallStatus": "in-progress"})
    last = {"CallStatus": status}
    if duration is not None:
        last["CallDuration"] = duration
        last["Duration"] = max(1, (duration + 59) // 60)
    if answered_by:
        last["AnsweredBy"] = answered_by
    if sip:
        last["SipResponseCode"] = sip
    out.append(last)
    return out


class FakeTwilio:
    """fake_twilio.js in its own process."""

    def __init__(self):
        modules = os.path.join(HERE, "node_modules", "twilio")
        if not os.path.isdir(modules):
            raise RuntimeError(f"{modules} is missing: run `bash deps/install.sh --test` (or "
                               f"`npm ci` in {HERE})")
        env = dict(os.environ, FAKE_ACCOUNT_SID=ACCOUNT_SID, FAKE_AUTH_TOKEN=AUTH_TOKEN)
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "fake_twilio.js")], cwd=HERE,
                                     env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fake_twilio.js did not start: {self.proc.stderr.read()}")
        self.url = f"http://127.0.0.1:{json.loads(line)['port']}"

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + "/control/" + path, data=data,
                                     method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def script(self, to, **script):
        self.control("scenario", {"to": to, **script})

    def log(self):
        return self.control("log")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return stderr


class TwilioAcceptance(DispatchTestCase):

    def setUp(self):
        self.fake = FakeTwilio()
        self.addCleanup(self.check_fake_stderr)

    def check_fake_stderr(self):
        stderr = self.fake.close()
        self.assertNotIn("fake_twilio:", stderr, "fake_twilio.js reported errors")

    def start(self, *flags):
        port = free_port()
        return self.start_server("--provider", "twilio", "--twilio-api-base", self.fake.url,
                                 "--twilio-account-sid", ACCOUNT_SID, "--twilio-auth-token",
                                 AUTH_TOKEN, "--public-url", f"http://127.0.0.1:{port}", *FAST,
                                 *flags, port=port)

    def agent(self, server, auth, **fields):
        body = {"name": "Acceptance", "prompt": PROMPT, "fromNumber": "+14155550199", **fields}
        return request(server, "POST", "/v1/api/agents", body, auth=auth)

    def workspace(self, server, **agent_fields):
        auth = self.make_auth(server)
        reply = self.agent(server, auth, voiceUrl="https://voice.example.com/agent?k=1",
                           **agent_fields)
        self.assertEqual(reply.status, 201, reply.body)
        return auth, reply.body["id"]

    def make_auth(self, server):
        from harness import make_workspace
        return make_workspace(server, requests_per_minute=100000, calls_per_second=100,
                              max_concurrent_calls=100)

    def creates_for(self, to):
        return [c for c in self.fake.log()["creates"] if c["to"] == to]

    def assert_no_violations(self):
        log = self.fake.log()
        bad = [(c["to"], c["violations"]) for c in log["creates"] if c["violations"]]
        self.assertEqual(bad, [], "create requests Twilio's API would refuse")
        # Every genuine callback was taken (2xx).
        refused = [(c["to"], c["params"].get("CallStatus"), c["status"])
                   for c in log["callbacks"] if c["label"] == "genuine"
                   and not (isinstance(c["status"], int) and 200 <= c["status"] < 300)]
        self.assertEqual(refused, [], "genuine callbacks the server did not accept")

    # ----- outcomes ----------------------------------------------------------------------------

    def test_every_outcome(self):
        server = self.start()
        auth, agent = self.workspace(server)
        rows = []  # (number, script, expected (status, outcome, attempts, duration))

        def add(script, expect):
            rows.append((number(len(rows) + 1), script, expect))

        add({"callbacks": progress_callbacks("completed", duration=12, answered_by="human")},
            ("completed", "answered", 1, 12))
        for amd in ("machine_start", "machine_end_beep", "machine_end_silence",
                    "machine_end_other", "fax"):
            # A voicemail shows how long it connected (README, "Durations").
            add({"callbacks": progress_callbacks("completed", duration=20, answered_by=amd)},
                ("failed", "voicemail", 1, 20))
        # No verdict from answering-machine detection: counted as a person.
        add({"callbacks": progress_callbacks("completed", duration=9, answered_by="unknown")},
            ("completed", "answered", 1, 9))
        add({"callbacks": progress_callbacks("busy", sip=486)}, ("failed", "busy", 1, None))
        add({"callbacks": progress_callbacks("no-answer", sip=487)},
            ("failed", "no_answer", 1, None))
        add({"callbacks": progress_callbacks("canceled")}, ("failed", "no_answer", 1, None))
        sip_outcomes = {480: "unreachable", 404: "invalid_number", 484: "invalid_number",
                        604: "invalid_number", 410: "invalid_number", 603: "rejected",
                        607: "carrier_blocked", 608: "carrier_blocked", 486: "busy", 600: "busy",
                        408: "no_answer", 487: "no_answer", 500: "unreachable"}
        for sip, outcome in sip_outcomes.items():
            add({"callbacks": progress_callbacks("failed", sip=sip)},
                ("failed", outcome, 1, None))
        # A create refused for this number: never dialled, no attempt.
        add({"create": {"status": 400, "code": 21211,
                        "message": "The 'To' number +14155550000 is not a valid phone number."}},
            ("failed", "invalid_number", 0, None))
        # Provider trouble, then accepted: one attempt only.
        add({"create": {"status": 429, "code": 20429, "message": "Too Many Requests",
                        "retryAfter": 1, "times": 1},
             "callbacks": progress_callbacks("completed", duration=5, answered_by="human")},
            ("completed", "answered", 1, 5))
        add({"create": {"status": 503, "code": 20500, "message": "Service unavailable",
                        "times": 2},
             "callbacks": progress_callbacks("completed", duration=6, answered_by="human")},
            ("completed", "answered", 1, 6))
        # Callbacks out of order, each twice, and before the create's 201.
        add({"order": "reverse",
             "callbacks": progress_callbacks("completed", duration=7, answered_by="human")},
            ("completed", "answered", 1, 7))
        add({"order": "reverse", "callbacks": progress_callbacks("busy", sip=486)},
            ("failed", "busy", 1, None))
        add({"order": "duplicate",
             "callbacks": progress_callbacks("completed", duration=8, answered_by="human")},
            ("completed", "answered", 1, 8))
        add({"beforeCreate": True,
             "callbacks": progress_callbacks("completed", duration=4, answered_by="human")},
            ("completed", "answered", 1, 4))
        add({"beforeCreate": True, "callbacks": progress_callbacks("no-answer", sip=487)},
            ("failed", "no_answer", 1, None))

        for to, script, _ in rows:
            self.fake.script(to, **script)
        data = csv_of([(to, f"Name{i}") for i, (to, _, _) in enumerate(rows, start=1)])
        batch = self.upload(server, auth, agent, data)
        a2 = self.wait_batch(server, auth, batch, timeout=60)
        calls = self.calls(server, auth, batch, range(1, len(rows) + 1))
        for row, (to, script, expect) in enumerate(rows, start=1):
            call = calls[row]
            where = f"row {row} {json.dumps(script)}: {call}"
            self.assertEqual((call["status"], call["outcome"], call["attempts"],
                              call.get("duration")), expect, where)
        connected = sum(1 for _, _, e in rows if e[1] in ("answered", "voicemail"))
        self.assertEqual(a2["billableCalls"], connected, a2)
        answered_seconds = [e[3] for _, _, e in rows if e[1] == "answered"]
        self.assertEqual(a2["progress"]["completed"], len(answered_seconds), a2)
        self.assertEqual(self.usage(server, auth)["billableCalls"], connected)

        # 21211 names Twilio's code; the 429's Retry-After was honoured; every number whose
        # create failed for provider trouble was dialled exactly once in the end.
        self.assertIn("21211", calls[rows.index(next(r for r in rows if "create" in r[1] and
                                                      r[1]["create"]["code"] == 21211)) + 1]
                      ["error"])
        for to, script, _ in rows:
            creates = self.creates_for(to)
            accepted = [c for c in creates if c["answer"] == 201]
            self.assertEqual(len(accepted), 0 if script.get("create", {}).get("code") == 21211
                             else 1, to)
            if script.get("create", {}).get("status") == 429:
                self.assertEqual([c["answer"] for c in creates], [429, 201])
                self.assertGreaterEqual(creates[1]["at"] - creates[0]["at"], 900,
                                        "Retry-After: 1 was not honoured")
            if script.get("create", {}).get("status") == 503:
                self.assertEqual([c["answer"] for c in creates], [503, 503, 201])
        self.assert_no_violations()

    def test_bad_credentials_pause_the_batch(self):
        """20003 (authentication) is our configuration's fault: the batch pauses, saying what
        to fix, instead of failing every contact."""
        server = self.start()
        auth, agent = self.workspace(server)
        for n in (1, 2):
            self.fake.script(number(n), create={"status": 401, "code": 20003,
                                                "message": "Authenticate"})
        batch = self.upload(server, auth, agent, csv_of([(number(1), "A"), (number(2), "B")]))
        a2 = self.wait_batch(server, auth, batch,
                             until=lambda a: a["paused"] and a["progress"]["active"] == 0)
        self.assertEqual((a2["status"], a2["isComplete"], a2["attempts"]),
                         ("processing", False, 0), a2)
        self.assertIn("20003", a2["statusMessage"], a2)
        self.assertIn("--twilio-auth-token", a2["statusMessage"], a2)
        calls = self.calls(server, auth, batch, [1, 2])
        self.assertEqual([calls[r]["status"] for r in (1, 2)], ["waiting", "waiting"], calls)

    def test_twiml_over_4000_characters(self):
        """Twilio refuses inline Twiml over 4,000 characters (error 32018). A prompt that makes
        it longer is refused when the agent is saved; a row whose values make it longer fails
        alone, naming the limit; the other rows are dialled."""
        server = self.start()
        auth = self.make_auth(server)
        long_prompt = "Say this. " * 450  # 4,500 characters
        reply = self.agent(server, auth, prompt=long_prompt,
                           voiceUrl="https://voice.example.com/agent")
        self.assertError(reply, 400, "invalid_field", field="prompt")
        self.assertIn("4000", reply.body["message"].replace(",", ""))
        reply = self.agent(server, auth, prompt="Hello {first_name}",
                           voiceUrl="https://voice.example.com/agent")
        self.assertEqual(reply.status, 201, reply.body)
        agent_id = reply.body["id"]
        # An update that makes the prompt too long is refused the same way.
        reply = request(server, "PUT", f"/v1/api/agents/{agent_id}", {"prompt": long_prompt},
                        auth=auth)
        self.assertError(reply, 400, "invalid_field", field="prompt")

        self.fake.script(number(1), callbacks=progress_callbacks("completed", duration=3,
                                                                 answered_by="human"))
        self.fake.script(number(2), callbacks=progress_callbacks("completed", duration=3,
                                                                 answered_by="human"))
        batch = self.upload(server, auth, agent_id,
                            csv_of([(number(1), "x" * 3000), (number(2), "Bo")]))
        self.wait_batch(server, auth, batch, timeout=30)
        calls = self.calls(server, auth, batch, [1, 2])
        self.assertEqual((calls[1]["status"], calls[1]["outcome"]),
                         ("failed", "provider_error"), calls[1])
        self.assertIn("4000", calls[1]["error"].replace(",", ""), calls[1])
        # Checked here, not by asking Twilio.
        self.assertEqual(self.creates_for(number(1)), [])
        self.assertEqual(calls[2]["outcome"], "answered", calls[2])
        self.assert_no_violations()

    def test_agent_saved_elsewhere_is_checked_at_upload(self):
        """An agent saved while the server used another provider is checked against Twilio's
        rules when a batch is uploaded: 400 naming the rule, nothing dialled."""
        port = free_port()
        server = self.start_server(port=port)
        auth = self.make_auth(server)
        long_id = self.agent(server, auth, prompt="Hi. " * 1200,
                             voiceUrl="https://voice.example.com/a").body["id"]
        http_id = self.agent(server, auth, voiceUrl="http://voice.example.com/a").body["id"]
        server.args = ["--provider", "twilio", "--twilio-api-base", self.fake.url,
                       "--twilio-account-sid", ACCOUNT_SID, "--twilio-auth-token", AUTH_TOKEN,
                       "--public-url", f"http://127.0.0.1:{port}", *FAST]
        server.restart()
        from harness import post_multipart
        for agent_id, limit in ((long_id, "4000"), (http_id, "wss://")):
            reply = post_multipart(server, BATCHES, [("agentId", agent_id),
                                                     ("file", ("c.csv", csv_of([(number(1),
                                                                                 "A")])))],
                                   auth=auth)
            self.assertError(reply, 400, "invalid_field", field="agentId")
            self.assertIn(limit, reply.body["message"].replace(",", ""), reply.body)
        self.assertEqual(self.fake.log()["creates"], [])

    # ----- what we send ----------------------------------------------------------------------

    def test_stream_url_and_say(self):
        """Twilio's <Stream url> takes only wss://: an https voiceUrl is connected as wss://,
        an http one is refused when the agent is saved. Without a voiceUrl, Twilio does not
        read the LLM prompt to the callee."""
        server = self.start()
        auth = self.make_auth(server)
        reply = self.agent(server, auth, voiceUrl="http://voice.example.com/agent")
        self.assertError(reply, 400, "invalid_field", field="voiceUrl")
        self.assertIn("wss://", reply.body["message"])
        stream = self.agent(server, auth, voiceUrl="https://voice.example.com:8443/agent?k=1")
        self.assertEqual(stream.status, 201, stream.body)
        say = self.agent(server, auth)
        self.assertEqual(say.status, 201, say.body)
        self.assertIsNone(say.body["voiceUrl"])

        for n in (1, 2):
            self.fake.script(number(n), callbacks=progress_callbacks("completed", duration=2,
                                                                     answered_by="human"))
        b1 = self.upload(server, auth, stream.body["id"], csv_of([(number(1), "Ann")]))
        b2 = self.upload(server, auth, say.body["id"], csv_of([(number(2), "Bob")]))
        self.wait_batch(server, auth, b1)
        self.wait_batch(server, auth, b2)
        twiml1 = dict(self.creates_for(number(1))[0]["pairs"])["Twiml"]
        self.assertIn('<Stream url="wss://voice.example.com:8443/agent?k=1">', twiml1)
        self.assertIn('<Parameter name="first_name" value="Ann"/>', twiml1)
        twiml2 = dict(self.creates_for(number(2))[0]["pairs"])["Twiml"]
        self.assertNotIn("Ada", twiml2)
        self.assertNotIn("Bob", twiml2)
        self.assertRegex(twiml2, r"^<Response><Say>[^<]+</Say></Response>$")
        self.assert_no_violations()

    def test_create_body_matches_the_library(self):
        """Our create request carries exactly the parameters client.calls.create sends for the
        same call, with the same method, path, content type and credentials."""
        server = self.start()
        auth, agent = self.workspace(server)
        self.fake.script(number(7), callbacks=progress_callbacks("completed", duration=2,
                                                                 answered_by="human"))
        batch = self.upload(server, auth, agent, csv_of([(number(7), "Cy")]))
        self.wait_batch(server, auth, batch)
        ours = self.creates_for(number(7))[0]
        params = {}
        for name, value in ours["pairs"]:
            key = name[0].lower() + name[1:]
            if name == "StatusCallbackEvent":
                params.setdefault(key, []).append(value)
            else:
                params[key] = value
        self.fake.script("+14155559999")
        lib = self.fake.control("library-create", {"params": {**params, "to": "+14155559999"}})
        theirs = lib["entry"]
        self.assertEqual(lib["status"], "queued")
        expected = sorted((k, "+14155559999" if k == "To" else v) for k, v in ours["pairs"])
        self.assertEqual(sorted(map(tuple, theirs["pairs"])), expected)
        self.assertEqual(theirs["contentType"].split(";")[0], ours["contentType"].split(";")[0])
        self.assertEqual(theirs["authorization"], ours["authorization"])
        self.assertEqual(theirs["account"], ours["account"])
        self.assertEqual(theirs["violations"], [])
        self.assert_no_violations()

    # ----- forged callbacks --------------------------------------------------------------------

    def test_forged_callbacks_are_refused(self):
        server = self.start()
        auth, agent = self.workspace(server)
        to = number(3)
        # Accepted and ringing; the call ends only when the test says so.
        self.fake.script(to, callbacks=[{"CallStatus": "initiated"}, {"CallStatus": "ringing"}])
        self.fake.script(number(4), callbacks=[{"CallStatus": "initiated"}])
        batch = self.upload(server, auth, agent, csv_of([(to, "Di"), (number(4), "Ed")]))

        def sent(n):
            return len([c for c in self.fake.log()["callbacks"] if c["to"] == n])
        self.assertTrue(poll(lambda: sent(to) >= 2 and sent(number(4)) >= 1, timeout=10),
                        self.fake.log())
        before = self.calls(server, auth, batch, [1, 2])
        self.assertEqual(before[1]["status"], "active", before)
        final = {"CallStatus": "completed", "CallDuration": "9", "AnsweredBy": "human"}
        for kind in ("wrong-signature", "wrong-url", "other-row", "modified-param",
                     "missing-header"):
            status = self.fake.control("forge", {"to": to, "kind": kind, "fields": final})
            self.assertEqual(status["status"], 403, kind)
            self.assertEqual(self.calls(server, auth, batch, [1, 2]), before, kind)
        sent = self.fake.control("send", {"to": to, "fields": final, "sequence": 5})
        self.assertEqual(sent["status"], 204)
        call = poll(lambda: (lambda c: c if c["status"] == "completed" else None)(
            self.calls(server, auth, batch, [1])[1]), timeout=10)
        self.assertEqual((call["outcome"], call["duration"]), ("answered", 9), call)
        self.assert_no_violations()

    def usage(self, server, auth):
        reply = request(server, "GET", "/v1/api/usage?from=0&to=99999999999999", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.body


if __name__ == "__main__":
    unittest.main()
