"""The dispatch engine seen from both ends: the public API (A2-A6, B2, B4, B9, B11) and the
provider's side, through the carrier simulator's ledger (what it was asked to dial, when, and
with which attempt number). Every ledger test runs `batchcalld carrier-sim` as its own process
and points the server at it over the Twilio dialect, which is the production path.

The simulator decides outcomes by the number's last two digits: 00 busy, 01 no answer, 02
unreachable (SIP 480), 03 carrier blocked (SIP 608), 04 voicemail (billable, failed), 05 the
create request answers 503; anything else is answered with a talk time of 5 + (number mod 55)
seconds. All of its times are divided by its speed."""

import collections
import http.client
import http.server
import json
import signal
import threading
import time
import urllib.parse

from harness import (BATCHES, DispatchTestCase, csv_of, free_port, hmac_sha256_hex, poll, request,
                     scrape, slow_disk_env, twilio_signature)

# Contacts of the tests that stop a batch or the server while a slow disk (every fsync
# SLOW_DISK_MS) keeps a commit in flight.
STOPPED_CONTACTS = 60
# More than two of the background rewrite's steps (SWEEP_CHUNK, 2,000 jobs).
SWEPT_CONTACTS = 4500
SLOW_DISK_MS = 300
CLASSES = {0: "busy", 1: "no_answer", 2: "unreachable", 3: "carrier_blocked", 4: "voicemail",
           5: "provider_error"}
# Flags that make the server's own delays short enough for a test.
FAST = ["--busy-retry-ms", "20", "--provider-backoff-ms", "10", "--provider-backoff-max-ms", "40",
        "--provider-cps", "0"]


def number(line):
    """A valid, fictional NANP number: +1 415 555 and a four-digit line."""
    return f"+1415555{line:04d}"


def outcome_of(e164):
    """What the simulator does with this number (B2 outcome words)."""
    return CLASSES.get(int(e164[-2:]), "answered")


def talk_seconds(e164):
    """The simulator's talk time of a connected call, in (unscaled) seconds."""
    return 5 + int(e164[1:]) % 55


def answered_numbers(count, start=0):
    """count distinct numbers that the simulator answers (last two digits 10..99)."""
    out, line = [], start
    while len(out) < count:
        if line % 100 >= 10:
            out.append(number(line))
        line += 1
    return out


def contacts(numbers):
    """A CSV of the numbers with first_name Name<row> (rows are 1-based)."""
    return csv_of([(n, f"Name{i + 1}") for i, n in enumerate(numbers)])


def now_ms():
    return time.time() * 1000


def post_callback(target, path, body, headers):
    """POSTs a provider callback. Returns (status, body bytes): a 204 has no body, so it is not
    decoded even when the server labels it JSON."""
    conn = http.client.HTTPConnection(*target, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def sliding_max(timestamps, window_ms=1000):
    """The most timestamps that fall in any half-open window [t, t + window_ms)."""
    ts = sorted(timestamps)
    best, lo = 0, 0
    for hi, t in enumerate(ts):
        while ts[lo] <= t - window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class DispatchTest(DispatchTestCase):

    def progress(self, a2):
        p = a2["progress"]
        return {k: p[k] for k in ("waiting", "active", "completed", "failed", "cancelled", "total")}

    def assertAddsUp(self, a2):
        p = a2["progress"]
        self.assertEqual(p["waiting"] + p["active"] + p["completed"] + p["failed"] +
                         p["cancelled"], p["total"], p)

    def usage(self, server, auth):
        reply = request(server, "GET", "/v1/api/usage", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.body

    def rows_of(self, dials):
        """{row: [(ms, seq), ...]} from a ledger's dial list, in arrival order."""
        out = {}
        for ms, row, seq in dials:
            out.setdefault(row, []).append((ms, seq))
        return out

    # ----- 1. the outcome table ------------------------------------------------------------

    def test_every_outcome_class_counts_exactly(self):
        """1,000 contacts over every outcome class: counters, each call, usage and the ledger
        equal what the simulator's table predicts."""
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST, "--busy-attempts", "3",
                                          "--provider-retries", "2")
        auth, agent = self.setup_workspace(server, calls_per_second=2000,
                                           max_concurrent_calls=1000)
        cycle = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 37, 99]
        numbers = [number((i // len(cycle)) * 100 + cycle[i % len(cycle)]) for i in range(1000)]
        self.assertEqual(len(set(numbers)), 1000)
        batch = self.upload(server, auth, agent, contacts(numbers))
        a2 = self.wait_batch(server, auth, batch, timeout=60)

        by_class = {}
        for n in numbers:
            by_class.setdefault(outcome_of(n), []).append(n)
        count = {k: len(v) for k, v in by_class.items()}
        self.assertEqual(set(count), set(CLASSES.values()) | {"answered"})
        connected = by_class["answered"] + by_class["voicemail"]
        expected_attempts = (count["answered"] + 3 * count["busy"] + count["no_answer"] +
                             count["unreachable"] + count["carrier_blocked"] + count["voicemail"])
        self.assertEqual((a2["status"], a2["isComplete"]), ("completed", True), a2)
        self.assertEqual(self.progress(a2),
                         {"waiting": 0, "active": 0, "completed": count["answered"],
                          "failed": 1000 - count["answered"], "cancelled": 0, "total": 1000})
        self.assertEqual(a2["billableCalls"], len(connected))
        self.assertEqual(a2["attempts"], expected_attempts)
        seconds = sum(talk_seconds(n) for n in connected)
        self.assertAlmostEqual(a2["progress"]["averageCallDuration"], seconds / len(connected),
                               places=6)
        self.assertIsNotNone(a2["progress"]["completedTime"])

        calls = self.calls(server, auth, batch, range(1, 1001))
        for row, n in enumerate(numbers, start=1):
            self.check_call(calls[row], n, f"Name{row}")

        usage = self.usage(server, auth)
        self.assertEqual(usage["billableCalls"], len(connected), usage)
        self.assertEqual(usage["connectedSeconds"], seconds, usage)

        stats = sim.stats()
        self.assertEqual(stats["duplicates"], 0, stats)
        ledger = stats["batches"][batch]
        self.assertEqual(ledger["rows"], 1000, ledger)
        self.assertEqual(ledger["accepted"], expected_attempts, ledger)
        # A 503 is not an attempt, but it is a request: provider_retries + 1 tries each.
        self.assertEqual(ledger["requests"], expected_attempts + 3 * count["provider_error"])

    def check_call(self, call, e164, name):
        """One A5 against the simulator's table (busy attempts 3, provider retries 2)."""
        kind = outcome_of(e164)
        where = f"{e164} ({kind}): {call}"
        self.assertEqual((call["phone_number"], call["outcome"], call["metadata"]),
                         (e164, kind, {"first_name": name}), where)
        self.assertIsNone(call["nextAttemptAt"], where)
        self.assertIsInstance(call["endTime"], (int, float), where)
        if kind == "answered":
            self.assertEqual((call["status"], call["attempts"], call["duration"]),
                             ("completed", 1, talk_seconds(e164)), where)
            self.assertNotIn("error", call, where)
            self.assertRegex(call["result"]["callId"], r"^CA[0-9a-f]{32}$", where)
            self.assertEqual(call["result"]["outcome"], "answered", where)
            return
        self.assertEqual(call["status"], "failed", where)
        if kind == "voicemail":
            # It connected: its duration is shown, and counted in averageCallDuration.
            self.assertEqual(call["duration"], talk_seconds(e164), where)
        else:
            self.assertNotIn("duration", call, where)
        expected = {
            "busy": (3, "Number busy - unable to connect after 3 attempts"),
            "no_answer": (1, "No answer after 1 attempt"),
            "voicemail": (1, "Reached voicemail after 1 attempt"),
        }
        if kind in expected:
            self.assertEqual((call["attempts"], call["error"]), expected[kind], where)
        elif kind == "provider_error":
            self.assertEqual(call["attempts"], 0, where)
            self.assertTrue(call["error"].startswith("Provider unavailable"), where)
            self.assertIn("after 3 tries", call["error"], where)
        else:
            sip = {"unreachable": "480", "carrier_blocked": "608"}[kind]
            self.assertEqual(call["attempts"], 1, where)
            self.assertIn(sip, call["error"], where)

    # ----- 2. busy ---------------------------------------------------------------------------

    def test_busy_is_retried_busy_attempts_times_apart(self):
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST, "--busy-attempts", "4",
                                          "--busy-retry-ms", "300")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        busy, answered = number(100), number(111)
        batch = self.upload(server, auth, agent, contacts([busy, answered]))
        a2 = self.wait_batch(server, auth, batch, timeout=20)
        self.assertEqual((a2["progress"]["completed"], a2["progress"]["failed"],
                          a2["attempts"], a2["billableCalls"]), (1, 1, 5, 1), a2)

        rows = self.rows_of(sim.dials(batch))
        self.assertEqual([seq for _, seq in rows[1]], [1, 2, 3, 4], rows[1])
        self.assertEqual([seq for _, seq in rows[2]], [1], rows[2])
        times = [ms for ms, _ in rows[1]]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertTrue(all(gap >= 300 for gap in gaps), gaps)

        call = self.calls(server, auth, batch, [1])[1]
        self.assertEqual((call["status"], call["outcome"], call["attempts"], call["error"]),
                         ("failed", "busy", 4, "Number busy - unable to connect after 4 attempts"),
                         call)

    # ----- 3. smartCallbackConfig ------------------------------------------------------------

    def test_smart_callback_redials_no_answer_and_voicemail_after_gaps(self):
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST, "--smart-hour-ms", "200")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        config = {"enabled": True, "maxAttempts": 3,
                  "gaps": [{"days": 0, "hours": 1}, {"days": 0, "hours": 2}]}
        no_answer, voicemail = number(201), number(304)
        smart = self.upload(server, auth, agent, contacts([no_answer, voicemail]),
                            smartCallbackConfig=json.dumps(config))
        plain = self.upload(server, auth, agent, contacts([number(401), number(504)]))
        a2 = self.wait_batch(server, auth, smart, timeout=20)
        # Voicemail connected each time, so each of its three attempts is billable.
        self.assertEqual((a2["progress"]["failed"], a2["attempts"], a2["billableCalls"]),
                         (2, 6, 3), a2)
        rows = self.rows_of(sim.dials(smart))
        for row in (1, 2):
            self.assertEqual([seq for _, seq in rows[row]], [1, 2, 3], rows)
            times = [ms for ms, _ in rows[row]]
            self.assertGreaterEqual(times[1] - times[0], 200, times)
            self.assertGreaterEqual(times[2] - times[1], 400, times)
        calls = self.calls(server, auth, smart, [1, 2])
        self.assertEqual((calls[1]["outcome"], calls[1]["attempts"], calls[1]["error"]),
                         ("no_answer", 3, "No answer after 3 attempts"), calls[1])
        self.assertEqual((calls[2]["outcome"], calls[2]["attempts"], calls[2]["error"]),
                         ("voicemail", 3, "Reached voicemail after 3 attempts"), calls[2])

        a2 = self.wait_batch(server, auth, plain, timeout=10)
        self.assertEqual((a2["progress"]["failed"], a2["attempts"]), (2, 2), a2)
        rows = self.rows_of(sim.dials(plain))
        self.assertEqual({row: [seq for _, seq in d] for row, d in rows.items()},
                         {1: [1], 2: [1]})
        calls = self.calls(server, auth, plain, [1, 2])
        self.assertEqual(calls[1]["error"], "No answer after 1 attempt", calls[1])
        self.assertEqual(calls[2]["error"], "Reached voicemail after 1 attempt", calls[2])

    def test_commits_are_grouped_at_least_10_ms_apart(self):
        """README, "Dialling": the dispatcher's transactions are at least 10 ms apart, so 400
        calls with four reports each (about 2,000 changes) share a few hundred commits at most,
        whatever the machine's speed."""
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server, calls_per_second=400,
                                           max_concurrent_calls=1000)
        before = scrape(server).value("batchcalld_store_commits_total")
        started = time.monotonic()
        batch = self.upload(server, auth, agent, contacts(answered_numbers(400)))
        a2 = self.wait_batch(server, auth, batch, timeout=60, interval=0.2)
        elapsed_ms = (time.monotonic() - started) * 1000
        self.assertEqual(a2["progress"]["completed"], 400, a2)
        commits = scrape(server).value("batchcalld_store_commits_total") - before
        # One per 10 ms of the run at most, plus the upload's own and some slack for reads of
        # metrics and the like; a commit per report would be several times more.
        self.assertLessEqual(commits, elapsed_ms / 10 + 20, (commits, elapsed_ms))

    # ----- 4. calls per second ---------------------------------------------------------------

    def test_calls_per_second_is_held(self):
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=50, max_concurrent_calls=1000)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(700)))
        a2 = self.wait_batch(server, auth, batch, timeout=40, interval=0.5)
        self.assertEqual(a2["progress"]["completed"], 700, a2)

        # The pace is measured where it is kept: the time the server recorded each dial (a
        # call's startTime; each was dialled once). The simulator's ledger says when requests
        # arrived, which on a busy machine adds transport delays that bunch or spread them.
        self.assertEqual(len(sim.dials(batch)), 700)
        starts = sorted(self.start_times(server, auth, batch))
        self.assertEqual(len(starts), 700)
        seconds = sorted(collections.Counter(ms // 1000 for ms in starts).items())
        self.assertGreaterEqual(len(seconds), 12, seconds)
        steady = seconds[1:-1][-10:]
        # Over 10 s the rate is within 5% of 50/s. A single second may be off by a call or two:
        # a dial near a second boundary lands on one side or the other.
        total = sum(dials for _, dials in steady)
        self.assertTrue(475 <= total <= 525, f"{total} dials in 10 s, not within 5% of 500: "
                                             f"{steady}")
        # The workspace bucket holds max(2, rate/20) tokens (README, "Dialling"): no second may
        # hold more than rate + burst. Tokens are counted on the loop's clock and dials stamped
        # with the wall clock read once per round of picks, so a window may hold one more.
        burst = max(2, 50 / 20)
        self.assertTrue(all(d <= 50 + burst for _, d in seconds), seconds)
        worst = sliding_max(starts)
        self.assertLessEqual(worst, 50 + burst + 1, f"a 1-second window held {worst} dials; "
                                                    f"per second: {seconds}")

    def start_times(self, server, auth, batch):
        """The startTime of every call of the batch, read through A4's pages."""
        out, page = [], 1
        while True:
            reply = request(server, "GET", f"{BATCHES}/{batch}/calls?limit=100&page={page}",
                            auth=auth)
            self.assertEqual(reply.status, 200, reply.body)
            out += [c["startTime"] for c in reply.body["calls"]]
            if not reply.body["pagination"]["hasNext"]:
                return out
            page += 1

    # ----- 5. concurrent calls ---------------------------------------------------------------

    def test_max_concurrent_calls_is_held(self):
        sim = self.start_carrier_sim(speed=20)
        server = self.start_twilio_server(sim, *FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=100, max_concurrent_calls=5)
        # Talk times of 5 to 9 seconds: at speed 20 a call lasts about half a second.
        numbers = [n for n in answered_numbers(400) if talk_seconds(n) < 10][:25]
        batch = self.upload(server, auth, agent, contacts(numbers))
        most = 0
        deadline = time.monotonic() + 30
        while True:
            a2 = self.batch(server, auth, batch)
            most = max(most, a2["progress"]["active"])
            self.assertLessEqual(a2["progress"]["active"], 5, a2)
            if a2["isComplete"] or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.assertEqual(a2["progress"]["completed"], 25, a2)
        self.assertEqual(most, 5, "the limit was never reached, so the test proved nothing")
        self.assertEqual(sim.stats()["maxInProgress"], 5)

    def test_one_call_at_a_time(self):
        """With a single slot, each call can only start when the previous one's end has been
        applied: nothing else is happening that could wake the dialler."""
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=100, max_concurrent_calls=1)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(5)))
        a2 = self.wait_batch(server, auth, batch, timeout=10)
        self.assertEqual((a2["status"], a2["progress"]["completed"]), ("completed", 5), a2)
        self.assertEqual([(row, seq) for _, row, seq in sim.dials(batch)],
                         [(row, 1) for row in range(1, 6)])
        self.assertEqual(sim.stats()["maxInProgress"], 1)

    # ----- 6. cancel -------------------------------------------------------------------------

    def test_cancel_mid_run(self):
        sim = self.start_carrier_sim(speed=100)
        server = self.start_twilio_server(sim, *FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=20)
        done = self.upload(server, auth, agent, contacts(answered_numbers(2)))
        self.wait_batch(server, auth, done, timeout=10)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(300, start=1000)))
        self.wait_batch(server, auth, batch, until=lambda a2: a2["progress"]["completed"] >= 10)

        reply = request(server, "DELETE", f"{BATCHES}/{batch}", auth=auth)
        cancelled_at = now_ms()
        self.assertEqual(reply.status, 200, reply.body)
        first = reply.body
        self.assertEqual((first["batchId"], first["status"], first["message"]),
                         (batch, "cancelled", "Batch cancelled successfully"), first)
        details = first["details"]
        self.assertEqual(details["totalCalls"], 300)
        self.assertGreater(details["cancelledCalls"], 200, details)
        self.assertEqual(details["completedCalls"] + details["failedCalls"] +
                         details["cancelledCalls"] + details.get("activeCalls", 0) +
                         details.get("waitingCalls", 0), 300, details)

        # Calls already active finish normally; nothing new is dialled.
        a2 = self.wait_batch(server, auth, batch,
                             until=lambda a2: a2["progress"]["active"] == 0, timeout=10)
        time.sleep(0.5)
        late = [d for d in sim.dials(batch) if d[0] > cancelled_at + 50]
        self.assertEqual(late, [], f"dialled after the cancel at {cancelled_at:.0f}")
        a2 = self.batch(server, auth, batch)
        self.assertEqual((a2["status"], a2["isComplete"]), ("cancelled", True), a2)
        self.assertAddsUp(a2)
        p = a2["progress"]
        # Calls active when it was cancelled finished as they would have, except those whose
        # dial was still being recorded (README, "Dialling": the cancel wins, the dial never
        # leaves and the call ends cancelled). How many that is depends on timing; the
        # accounting is exact either way.
        recorded_back = p["cancelled"] - details["cancelledCalls"]
        self.assertEqual(p["waiting"], 0, p)
        self.assertTrue(0 <= recorded_back <= details.get("activeCalls", 0), (p, details))
        if recorded_back:
            self.assertIn("dials not sent: their batch stopped dialling", server.logs(100000))
        self.assertEqual(p["completed"] + p["failed"] + recorded_back,
                         details["completedCalls"] + details["failedCalls"] +
                         details.get("activeCalls", 0), (p, details))

        calls = self.calls(server, auth, batch, range(1, 301))
        recount = {}
        for call in calls.values():
            recount[call["status"]] = recount.get(call["status"], 0) + 1
            if call["status"] == "cancelled":
                self.assertEqual(call["outcome"], "cancelled", call)
                self.assertIsNone(call["nextAttemptAt"], call)
        self.assertEqual(recount, {k: p[k] for k in ("completed", "failed", "cancelled") if p[k]})
        dialled = {row for _, row, _ in sim.dials(batch)}
        never = {row for row, call in calls.items() if call["status"] == "cancelled"}
        self.assertEqual(dialled & never, set(), "a cancelled call was dialled")
        self.assertEqual(len(dialled), 300 - len(never))

        # Idempotent: the same answer again (once nothing is moving, exactly the same).
        again = request(server, "DELETE", f"{BATCHES}/{batch}", auth=auth)
        self.assertEqual(again.status, 200, again.body)
        self.assertEqual({k: v for k, v in again.body.items() if k != "details"},
                         {k: v for k, v in first.items() if k != "details"})
        self.assertEqual(again.body["details"]["cancelledCalls"], p["cancelled"])
        third = request(server, "DELETE", f"/v1/batch-calls/{batch}", auth=auth)
        self.assertEqual((third.status, third.body), (200, again.body))

        conflict = request(server, "DELETE", f"{BATCHES}/{done}", auth=auth)
        self.assertError(conflict, 409, "conflict")
        self.assertEqual(self.batch(server, auth, done)["status"], "completed")

    # ----- 7. pause and resume ---------------------------------------------------------------

    def test_pause_and_resume(self):
        sim = self.start_carrier_sim(speed=100)
        server = self.start_twilio_server(sim, *FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=20)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(100)))
        self.wait_batch(server, auth, batch, until=lambda a2: a2["progress"]["completed"] >= 10)

        reply = request(server, "POST", f"{BATCHES}/{batch}/pause", auth=auth)
        paused_at = now_ms()
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual((reply.body["batchId"], reply.body["paused"]), (batch, True), reply.body)
        a2 = self.wait_batch(server, auth, batch,
                             until=lambda a2: a2["progress"]["active"] == 0, timeout=10)
        self.assertEqual((a2["status"], a2["paused"], a2["isComplete"]),
                         ("processing", True, False), a2)
        waiting = a2["progress"]["waiting"]
        self.assertGreater(waiting, 0, a2)
        time.sleep(1.0)
        a2 = self.batch(server, auth, batch)
        self.assertEqual((a2["progress"]["waiting"], a2["progress"]["active"]), (waiting, 0), a2)
        late = [d for d in sim.dials(batch) if d[0] > paused_at + 50]
        self.assertEqual(late, [], f"dialled after the pause at {paused_at:.0f}")

        # Taken before the request: dialling may start before this process reads the answer.
        # Whole milliseconds, as the simulator's ledger records them.
        resume_sent_at = int(now_ms())
        reply = request(server, "POST", f"{BATCHES}/{batch}/resume", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.body["paused"], False, reply.body)
        a2 = self.wait_batch(server, auth, batch, timeout=20)
        self.assertEqual((a2["status"], a2["paused"], a2["progress"]["completed"]),
                         ("completed", False, 100), a2)
        dials = sim.dials(batch)
        self.assertEqual(sorted(row for _, row, _ in dials), list(range(1, 101)))
        self.assertEqual(len([d for d in dials if d[0] >= resume_sent_at]), waiting)
        self.assertEqual(sim.stats()["duplicates"], 0)

    # ----- 8. forged callbacks ---------------------------------------------------------------

    def placed(self, server, auth, batch):
        """A5 of row 1 once the provider has accepted its first attempt, else None."""
        call = self.calls(server, auth, batch, [1])[1]
        return call if (call["status"], call["attempts"]) == ("active", 1) else None

    def test_forged_twilio_callbacks_change_nothing(self):
        token = "callback-test-token"
        # The in-process simulator at real-time speed: the call stays active for seconds.
        server = self.start_server("--sim-speed", "1", "--twilio-auth-token", token)
        auth, agent = self.setup_workspace(server, calls_per_second=10)
        batch = self.upload(server, auth, agent, contacts([number(150)]))
        # Active with one attempt: the provider accepted the call and it is ringing or talking.
        before = poll(lambda: self.placed(server, auth, batch), timeout=5)
        self.assertTrue(before, self.calls(server, auth, batch, [1])[1])
        status_before = self.progress(self.batch(server, auth, batch))

        path = f"/v1/provider/twilio/status?b={batch}&r=1&a=1"
        url = f"http://127.0.0.1:{server.port}{path}"
        params = [("AccountSid", "ACsimulator00000000000000000000000"),
                  ("CallSid", "CA" + "f" * 32), ("CallStatus", "completed"),
                  ("CallDuration", "7"), ("AnsweredBy", "human"), ("SequenceNumber", "90")]
        body = urllib.parse.urlencode(params)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        tampered = [(k, "700" if k == "CallDuration" else v) for k, v in params]
        forgeries = {
            "unsigned": {},
            "wrong token": {"X-Twilio-Signature": twilio_signature("not-the-token", url, params)},
            "another body": {"X-Twilio-Signature": twilio_signature(token, url, tampered)},
            "another attempt": {"X-Twilio-Signature": twilio_signature(
                token, url.replace("a=1", "a=2"), params)},
            "garbage": {"X-Twilio-Signature": "x" * 28},
        }
        for label, headers in forgeries.items():
            reply = request(server, "POST", path, body, headers={**form, **headers})
            self.assertError(reply, 403, "forbidden")
            after = self.calls(server, auth, batch, [1])[1]
            self.assertEqual(after, before, f"{label} callback changed the call")
            self.assertEqual(self.progress(self.batch(server, auth, batch)), status_before, label)

        signed = {"X-Twilio-Signature": twilio_signature(token, url, params)}
        status, data = post_callback((server.host, server.port), path, body, {**form, **signed})
        self.assertEqual((status, data), (204, b""))
        a2 = self.wait_batch(server, auth, batch, timeout=5)
        self.assertEqual((a2["progress"]["completed"], a2["billableCalls"]), (1, 1), a2)
        call = self.calls(server, auth, batch, [1])[1]
        self.assertEqual((call["status"], call["duration"], call["attempts"]),
                         ("completed", 7, 1), call)
        self.assertEqual(self.usage(server, auth)["connectedSeconds"], 7)

    # ----- 9. 503 from the provider ----------------------------------------------------------

    def test_503_burst_is_retried_without_counting_attempts(self):
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST, "--provider-retries", "30",
                                          "--provider-backoff-ms", "20",
                                          "--provider-backoff-max-ms", "100")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        sim.configure(fail503=20)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(10)))
        a2 = self.wait_batch(server, auth, batch, timeout=20)
        self.assertEqual((a2["status"], a2["progress"]["completed"], a2["billableCalls"],
                          a2["attempts"]), ("completed", 10, 10, 10), a2)
        for call in self.calls(server, auth, batch, range(1, 11)).values():
            self.assertEqual((call["status"], call["outcome"], call["attempts"]),
                             ("completed", "answered", 1), call)
        stats = sim.stats()
        self.assertEqual((stats["requests"], stats["rejected"], stats["accepted"],
                          stats["duplicates"]), (30, 20, 10, 0), stats)
        rows = self.rows_of(sim.dials(batch))
        self.assertEqual(set(rows), set(range(1, 11)))
        for row, dials in rows.items():
            self.assertEqual([seq for _, seq in dials], list(range(1, len(dials) + 1)), row)
        self.assertEqual(sum(len(d) for d in rows.values()), 30)

    # ----- 10. provider down -----------------------------------------------------------------

    def test_provider_down_then_retry(self):
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST, "--provider-retries", "3",
                                          "--provider-backoff-ms", "20",
                                          "--provider-backoff-max-ms", "100")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        sim.configure(down=True)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(10)))
        a2 = self.wait_batch(server, auth, batch, timeout=20)
        self.assertEqual((a2["progress"]["failed"], a2["billableCalls"], a2["attempts"]),
                         (10, 0, 0), a2)
        for call in self.calls(server, auth, batch, range(1, 11)).values():
            self.assertEqual((call["status"], call["outcome"], call["attempts"]),
                             ("failed", "provider_error", 0), call)
            self.assertTrue(call["error"].startswith("Provider unavailable"), call)
        rows = self.rows_of(sim.dials(batch))
        self.assertEqual({row: [seq for _, seq in d] for row, d in rows.items()},
                         {row: [1, 2, 3, 4] for row in range(1, 11)})
        self.assertEqual(self.usage(server, auth)["billableCalls"], 0)

        sim.configure(down=False)
        reply = request(server, "POST", f"{BATCHES}/{batch}/retry", auth=auth)
        self.assertIn(reply.status, (200, 202), reply.body)
        self.assertEqual(reply.body["batchId"], batch, reply.body)
        a2 = self.wait_batch(server, auth, batch, timeout=20,
                             until=lambda a2: a2["isComplete"] and
                             a2["progress"]["completed"] == 10)
        self.assertEqual((a2["status"], a2["progress"]["failed"], a2["billableCalls"],
                          a2["attempts"]), ("completed", 0, 10, 10), a2)
        for call in self.calls(server, auth, batch, range(1, 11)).values():
            self.assertEqual((call["status"], call["outcome"], call["attempts"]),
                             ("completed", "answered", 1), call)
            self.assertNotIn("error", call)
        self.assertEqual(self.usage(server, auth)["billableCalls"], 10)
        self.assertEqual(sim.stats()["duplicates"], 0)

    # ----- 11. fairness between workspaces ---------------------------------------------------

    def test_small_workspace_is_not_stuck_behind_a_large_one(self):
        cps = 50
        sim = self.start_carrier_sim(speed=1000)
        # The provider account's rate is the bottleneck the two workspaces share.
        server = self.start_twilio_server(sim, "--provider-cps", str(cps))
        auth_a, agent_a = self.setup_workspace(server, calls_per_second=cps,
                                               max_concurrent_calls=1000)
        auth_b, agent_b = self.setup_workspace(server, calls_per_second=cps,
                                               max_concurrent_calls=1000)
        big = self.upload(server, auth_a, agent_a, contacts(answered_numbers(2000)))
        self.wait_batch(server, auth_a, big, until=lambda a2: a2["progress"]["completed"] >= cps)
        small = self.upload(server, auth_b, agent_b, contacts(answered_numbers(10, start=5000)))
        uploaded_at = now_ms()
        b2 = self.wait_batch(server, auth_b, small, timeout=10)
        a2 = self.batch(server, auth_a, big)
        self.assertEqual(b2["progress"]["completed"], 10, b2)
        self.assertGreater(a2["progress"]["waiting"], 1000, a2)
        first = sim.stats()["batches"][small]["firstDialAt"]
        self.assertLess(first - uploaded_at, 1000 / cps + 200,
                        f"first dial {first - uploaded_at:.0f} ms after the upload")
        reply = request(server, "DELETE", f"{BATCHES}/{big}", auth=auth_a)
        self.assertEqual(reply.status, 200, reply.body)

    # ----- 12. the http provider dialect -----------------------------------------------------

    def test_http_provider_dialect(self):
        secret = "http-provider-secret"
        provider = FakeHttpProvider(secret)
        self.addCleanup(provider.close)
        port = free_port()
        server = self.start_server("--provider", "http", "--http-provider-url",
                                   f"{provider.url}/calls", "--http-provider-secret", secret,
                                   "--public-url", f"http://127.0.0.1:{port}", port=port)
        auth, agent = self.setup_workspace(server, prompt="Hello {first_name}, this is a test.",
                                           calls_per_second=100)
        numbers = answered_numbers(5)
        names = ["Ada", "Alan", "Grace", "Edsger", "Barbara"]
        data = csv_of(list(zip(numbers, names)))
        batch = self.upload(server, auth, agent, data)
        a2 = self.wait_batch(server, auth, batch, timeout=20)
        self.assertEqual(provider.errors, [])
        self.assertEqual((a2["status"], a2["progress"]["completed"], a2["billableCalls"]),
                         ("completed", 5, 5), a2)
        self.assertEqual(len(provider.creates), 5)
        for create in provider.creates:
            row = int(create["id"].split(":")[1])
            self.assertEqual(create["id"], f"{batch}:{row}:1")
            self.assertEqual((create["to"], create["from"], create["agentId"], create["prompt"]),
                             (numbers[row - 1], "+14155552671", agent,
                              f"Hello {names[row - 1]}, this is a test."), create)
            self.assertEqual(create["variables"]["first_name"], names[row - 1], create)
            self.assertTrue(create["callbackUrl"].startswith(
                f"http://127.0.0.1:{port}/v1/provider/ws/{auth[0]}/http/status?"), create)
        self.assertEqual(provider.callback_statuses(), [204] * 5)
        for row, call in self.calls(server, auth, batch, range(1, 6)).items():
            self.assertEqual((call["status"], call["duration"], call["result"]["callId"]),
                             ("completed", 7, f"prov-{row}"), call)

        path = f"/v1/provider/http/status?b={batch}&r=1&a=1"
        body = json.dumps({"callId": "prov-1", "status": "busy"}).encode()
        for headers in ({}, {"X-Signature": hmac_sha256_hex("wrong", body)},
                        {"X-Signature": hmac_sha256_hex(secret, body + b" ")}):
            reply = request(server, "POST", path, body,
                            headers={"Content-Type": "application/json", **headers})
            self.assertError(reply, 403, "forbidden")
        self.assertEqual(self.batch(server, auth, batch)["progress"]["completed"], 5)

    def test_http_provider_callback_replayed_to_another_call_changes_nothing(self):
        """A genuine, signed "completed, 9 s" report on call_1, replayed to call_2's callback URL
        (whose query picks the job), is refused: the signature covers the URL. Before, it
        completed and billed call_2."""
        secret = "http-provider-secret"
        provider = FakeHttpProvider(secret, report_rows=set())
        self.addCleanup(provider.close)
        port = free_port()
        server = self.start_server("--provider", "http", "--http-provider-url",
                                   f"{provider.url}/calls", "--http-provider-secret", secret,
                                   "--public-url", f"http://127.0.0.1:{port}", port=port)
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(2)))
        # Both calls placed: the provider's answers to the creates are recorded (attempt 1).
        def placed():
            calls = self.calls(server, auth, batch, [1, 2]).values()
            return all((c["status"], c["attempts"]) == ("active", 1) for c in calls)
        self.assertTrue(poll(placed, timeout=10), self.calls(server, auth, batch, [1, 2]))
        urls = {int(c["id"].split(":")[1]): c["callbackUrl"] for c in provider.creates}
        target = (server.host, server.port)
        form = {"Content-Type": "application/json"}

        def path(url):
            parts = urllib.parse.urlsplit(url)
            return f"{parts.path}?{parts.query}"

        body = json.dumps({"callId": "prov-1", "status": "completed", "duration": 9}).encode()
        genuine = {**form, "X-Signature": provider.sign_callback(urls[1], body)}
        self.assertEqual(post_callback(target, path(urls[1]), body, genuine), (204, b""))
        a2 = self.wait_batch(server, auth, batch, timeout=10,
                             until=lambda a2: a2["progress"]["completed"] == 1)
        self.assertEqual((a2["progress"]["active"], a2["billableCalls"]), (1, 1), a2)
        before = self.calls(server, auth, batch, [2])[2]

        replays = {"call_1's signature": genuine,
                   "a signature of the body alone": {**form,
                                                     "X-Signature": hmac_sha256_hex(secret, body)}}
        for label, headers in replays.items():
            status, data = post_callback(target, path(urls[2]), body, headers)
            self.assertEqual(status, 403, f"{label}: {data!r}")
            self.assertEqual(json.loads(data)["error"], "forbidden", data)
        time.sleep(0.2)  # an accepted report is applied in the next group commit
        a2 = self.batch(server, auth, batch)
        self.assertEqual((a2["progress"]["completed"], a2["progress"]["active"],
                          a2["billableCalls"]), (1, 1, 1), a2)
        self.assertEqual(self.calls(server, auth, batch, [2])[2], before)

        # call_2's own report, signed for its URL, still counts.
        body = json.dumps({"callId": "prov-2", "status": "completed", "duration": 4}).encode()
        signed = {**form, "X-Signature": provider.sign_callback(urls[2], body)}
        self.assertEqual(post_callback(target, path(urls[2]), body, signed), (204, b""))
        a2 = self.wait_batch(server, auth, batch, timeout=10)
        self.assertEqual((a2["progress"]["completed"], a2["billableCalls"]), (2, 2), a2)
        self.assertEqual(self.calls(server, auth, batch, [2])[2]["duration"], 4)


    # ----- 9b. background rewrites of more than one step -------------------------------------

    def calls_in_state(self, server, auth, batch, status):
        """Rows listed under a status filter (A4, which reads the per-state index), all pages."""
        rows, page = [], 1
        while True:
            reply = request(server, "GET",
                            f"{BATCHES}/{batch}/calls?status={status}&limit=100&page={page}",
                            auth=auth)
            self.assertEqual(reply.status, 200, reply.body)
            rows += [int(c["jobId"].split("_")[1]) for c in reply.body["calls"]]
            if not reply.body["pagination"]["hasNext"]:
                return rows
            page += 1

    def test_cancel_and_retry_of_more_than_one_sweep_step(self):
        """A cancel rewrites the batch's waiting calls, and a retry its failed ones, in the
        background, 2,000 per step: batches of several steps end with every call in its new
        state, where the status filters find it, and every retried call dialled again."""
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=5000,
                                           max_concurrent_calls=10000)
        later = self.upload(server, auth, agent, contacts(answered_numbers(SWEPT_CONTACTS)),
                            scheduledAt="2099-01-01T00:00:00Z")
        reply = request(server, "DELETE", f"{BATCHES}/{later}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertTrue(poll(lambda: f"work done\" batch={later} kind=cancel" in server.logs(10000),
                             timeout=20), "the cancel's rewrite did not finish")
        self.assertEqual(self.calls_in_state(server, auth, later, "waiting"), [])
        self.assertEqual(sorted(self.calls_in_state(server, auth, later, "cancelled")),
                         list(range(1, SWEPT_CONTACTS + 1)))

        # Numbers ending in 02 are unreachable: final at once, and retryable.
        unreachable = [f"+1415{556 + i // 100}{(i % 100) * 100 + 2:04d}"
                       for i in range(SWEPT_CONTACTS)]
        batch = self.upload(server, auth, agent, contacts(unreachable))
        a2 = self.wait_batch(server, auth, batch, timeout=60, interval=0.2)
        self.assertEqual(a2["progress"]["failed"], SWEPT_CONTACTS, a2)
        reply = request(server, "POST", f"{BATCHES}/{batch}/retry", auth=auth)
        self.assertEqual(reply.status, 202, reply.body)
        self.assertTrue(poll(lambda: len(sim.dials(batch)) == 2 * SWEPT_CONTACTS, timeout=60),
                        f"{len(sim.dials(batch))} dials, want {2 * SWEPT_CONTACTS}")
        retried = 2 * SWEPT_CONTACTS
        a2 = self.wait_batch(server, auth, batch, timeout=60, interval=0.2,
                             until=lambda a2: a2["isComplete"] and a2["attempts"] == retried)
        self.assertEqual(a2["progress"]["failed"], SWEPT_CONTACTS, a2)
        per_row = {}
        for _, row, _ in sim.dials(batch):
            per_row[row] = per_row.get(row, 0) + 1
        self.assertEqual(set(per_row.values()), {2}, "every call dialled twice: once, retried once")

    def test_cancel_rewrite_resumes_after_a_crash(self):
        """The server dies while a cancel's rewrite is under way (a slow disk makes each
        2,000-job step last 300 ms): the next start finishes it, so the status filters list
        every call as cancelled, none as waiting."""
        self.stop_during_cancel_rewrite(signal.SIGKILL, -signal.SIGKILL)

    def test_cancel_rewrite_resumes_after_a_shutdown(self):
        """The same after SIGTERM: the step being written on the thread pool ends before the
        server exits (cleanly), and the next start does the rest."""
        self.stop_during_cancel_rewrite(signal.SIGTERM, 0)

    def stop_during_cancel_rewrite(self, sig, exit_code):
        server = self.start_server("--sim-speed", "1000", env=slow_disk_env(SLOW_DISK_MS))
        auth, agent = self.setup_workspace(server)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(SWEPT_CONTACTS)),
                            scheduledAt="2099-01-01T00:00:00Z")
        reply = request(server, "DELETE", f"{BATCHES}/{batch}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        # The last row is rewritten in the last step, seconds from now; it reads cancelled at once.
        last = self.calls(server, auth, batch, [SWEPT_CONTACTS])[SWEPT_CONTACTS]
        self.assertEqual((last["status"], last["outcome"], last["error"]),
                         ("cancelled", "cancelled", "Cancelled before it was dialled"), last)
        server.kill(sig)
        self.assertEqual(server.wait(), exit_code, server.logs())
        self.assertNotIn(f"batch={batch} kind=cancel", server.logs(10000))
        server.env = {}
        server.start()
        self.assertTrue(poll(lambda: f"work done\" batch={batch} kind=cancel" in server.logs(10000),
                             timeout=20), "the cancel's rewrite was not finished")
        self.assertIn(f"finishing a cancel interrupted by a restart\" batch={batch}",
                      server.logs(10000))
        self.assertEqual(self.calls_in_state(server, auth, batch, "waiting"), [])
        self.assertEqual(len(self.calls_in_state(server, auth, batch, "cancelled")),
                         SWEPT_CONTACTS)
        a2 = self.batch(server, auth, batch)
        self.assertEqual((a2["status"], a2["progress"]["cancelled"]),
                         ("cancelled", SWEPT_CONTACTS), a2)

    # ----- 10. a batch stopped while its dials are being recorded --------------------------

    def test_batch_stopped_while_its_dials_are_being_recorded(self):
        """A commit's dials are sent once it has been written, on the thread pool. A pause or a
        cancel answered meanwhile wins: those dials are recorded back, as waiting calls of the
        paused batch and cancelled calls of the cancelled one, and never leave. A slow disk
        (every fsync 300 ms) keeps a commit in flight nearly all the time, so each of the four
        requests very likely lands in one; the log must show that at least one did."""
        sim = self.start_carrier_sim(speed=100)
        server = self.start_twilio_server(sim, *FAST, env=slow_disk_env(SLOW_DISK_MS))
        batches = []
        for i in range(4):
            # One workspace each: workspaces take turns, so every commit holds dials of each.
            auth, agent = self.setup_workspace(server, calls_per_second=40,
                                               max_concurrent_calls=1000)
            numbers = answered_numbers(STOPPED_CONTACTS, start=1000 * (i + 1))
            batches.append((auth, self.upload(server, auth, agent, contacts(numbers))))
        for auth, batch in batches:
            self.assertTrue(poll(lambda: len(sim.dials(batch)) >= 5, timeout=20), batch)

        stopped_at = {}
        for i, (auth, batch) in enumerate(batches):
            time.sleep(0.15)  # into the next commit: the previous request ended one
            op = ("DELETE", f"{BATCHES}/{batch}") if i < 2 else ("POST", f"{BATCHES}/{batch}/pause")
            reply = request(server, *op, auth=auth)
            stopped_at[batch] = now_ms()
            self.assertEqual(reply.status, 200, reply.body)
        for auth, batch in batches:
            self.wait_batch(server, auth, batch, timeout=20,
                            until=lambda a2: a2["progress"]["active"] == 0)
        time.sleep(0.5)
        for auth, batch in batches:
            late = [d for d in sim.dials(batch) if d[0] > stopped_at[batch] + 50]
            self.assertEqual(late, [], f"{batch} dialled after it was stopped")
        self.assertIn("dials not sent: their batch stopped dialling", server.logs(100000))

        for auth, batch in batches[:2]:
            a2 = self.batch(server, auth, batch)
            self.assertEqual((a2["status"], a2["isComplete"]), ("cancelled", True), a2)
            self.assertAddsUp(a2)
            self.assertIsNotNone(a2["progress"]["completedTime"], a2)
            calls = self.calls(server, auth, batch, range(1, STOPPED_CONTACTS + 1))
            never = {row for row, call in calls.items() if call["status"] == "cancelled"}
            for row in never:
                self.assertEqual((calls[row]["outcome"], calls[row]["attempts"]),
                                 ("cancelled", 0), calls[row])
            dialled = {row for _, row, _ in sim.dials(batch)}
            self.assertEqual(dialled & never, set(), "a cancelled call was dialled")
            self.assertEqual(len(dialled), STOPPED_CONTACTS - len(never))
            self.assertEqual(a2["progress"]["cancelled"], len(never), a2)

        for auth, batch in batches[2:]:
            a2 = self.batch(server, auth, batch)
            self.assertEqual((a2["status"], a2["paused"]), ("processing", True), a2)
            self.assertAddsUp(a2)
            reply = request(server, "POST", f"{BATCHES}/{batch}/resume", auth=auth)
            self.assertEqual(reply.status, 200, reply.body)
        for auth, batch in batches[2:]:
            a2 = self.wait_batch(server, auth, batch, timeout=60, interval=0.2)
            self.assertEqual((a2["status"], a2["progress"]["completed"]),
                             ("completed", STOPPED_CONTACTS), a2)
            rows = sorted(row for _, row, _ in sim.dials(batch))
            self.assertEqual(rows, list(range(1, STOPPED_CONTACTS + 1)), "dialled twice or never")
        self.assertEqual(sim.stats()["duplicates"], 0)

    def stop_while_dialling(self, signals):
        """Sends signals (0.05 s apart) to a server dialling on a slow disk, then restarts it
        without the slow disk and returns (sim, server, auth, batch, calls) once the batch is
        complete."""
        sim = self.start_carrier_sim(speed=100)
        # Calls still ringing when the server stops report to nobody: short waits before they
        # are looked up (or, if never placed, reconciled) after the restart.
        server = self.start_twilio_server(sim, *FAST, "--reconcile-ms", "300",
                                          "--call-overdue-ms", "1000",
                                          env=slow_disk_env(SLOW_DISK_MS))
        auth, agent = self.setup_workspace(server, calls_per_second=40, max_concurrent_calls=1000)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(STOPPED_CONTACTS)))
        self.assertTrue(poll(lambda: len(sim.dials(batch)) >= 10, timeout=20), batch)
        for i, sig in enumerate(signals):
            if i:
                time.sleep(0.05)
            server.kill(sig)
        self.assertEqual(server.wait(), 0, server.logs())
        server.env = {}
        server.start()
        a2 = self.wait_batch(server, auth, batch, timeout=60, interval=0.2)
        self.assertAddsUp(a2)
        calls = self.calls(server, auth, batch, range(1, STOPPED_CONTACTS + 1))
        dials = sim.dials(batch)
        self.assertEqual(len({(row, seq) for _, row, seq in dials}), len(dials))
        self.assertEqual(sim.stats()["duplicates"], 0)
        self.assertEqual(sorted({row for _, row, _ in dials}),
                         list(range(1, STOPPED_CONTACTS + 1)), "a contact was never dialled")
        return calls, dials

    def test_sigterm_while_dials_are_being_recorded(self):
        """A drain that begins while a commit of dials is being written records those dials
        back as waiting: nothing is left in doubt, and after a restart every contact is called
        exactly once and completes."""
        calls, dials = self.stop_while_dialling([signal.SIGTERM])
        self.assertEqual(sorted(row for _, row, _ in dials), list(range(1, STOPPED_CONTACTS + 1)))
        for call in calls.values():
            self.assertEqual((call["status"], call["outcome"]), ("completed", "answered"), call)

    def test_stop_now_while_dials_are_being_recorded(self):
        """SIGTERM then SIGINT (stop now): the commit being written still ends before the
        server does (its dials are not sent), and the server exits cleanly. Requests already
        sent are reconciled after the restart (outcome unknown, not dialled again)."""
        calls, dials = self.stop_while_dialling([signal.SIGTERM, signal.SIGINT])
        sent = {}
        for _, row, _ in dials:
            sent[row] = sent.get(row, 0) + 1
        for row, call in calls.items():
            self.assertIn((call["status"], call["outcome"]),
                          (("completed", "answered"), ("failed", "unknown")), call)
            if call["outcome"] == "unknown":
                self.assertEqual(sent[row], 1, call)


class FakeHttpProvider:
    """A voice-agent provider speaking the http dialect, on a thread: it checks each create
    request (X-Signature, Idempotency-Key, the JSON fields), answers {"callId"}, and shortly
    afterwards reports the call completed (duration 7) to its callbackUrl, signed. Anything
    wrong is collected in errors and answered 400."""

    FIELDS = {"id", "to", "from", "agentId", "prompt", "variables", "callbackUrl"}

    def __init__(self, secret, report_rows=None):
        self.secret = secret
        self.report_rows = report_rows  # rows reported on (None: all)
        self.creates = []
        self.errors = []
        self.callbacks = []
        self.lock = threading.Lock()
        self.threads = []
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                problem = provider.check(self.path, self.headers, body)
                if problem:
                    with provider.lock:
                        provider.errors.append(problem)
                    self.answer(400, {"error": "bad_request", "message": problem})
                    return
                create = json.loads(body)
                call_id = f"prov-{create['id'].split(':')[1]}"
                with provider.lock:
                    provider.creates.append(create)
                self.answer(201, {"callId": call_id})
                row = int(create["id"].split(":")[1])
                if provider.report_rows is None or row in provider.report_rows:
                    provider.report_later(create["callbackUrl"], call_id)

            def answer(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def check(self, path, headers, body):
        """What is wrong with a create request, or None."""
        if path != "/calls":
            return f"unexpected path {path}"
        if headers.get("X-Signature") != hmac_sha256_hex(self.secret, body):
            return f"bad X-Signature {headers.get('X-Signature')!r}"
        try:
            create = json.loads(body)
        except ValueError:
            return f"body is not JSON: {body[:200]!r}"
        if set(create) != self.FIELDS:
            return f"fields {sorted(create)}, expected {sorted(self.FIELDS)}"
        if headers.get("Idempotency-Key") != create["id"]:
            return f"Idempotency-Key {headers.get('Idempotency-Key')!r} is not id {create['id']}"
        return None

    def report_later(self, callback_url, call_id):
        """POSTs the signed final report after the create's answer has had time to arrive."""
        def report():
            time.sleep(0.02)
            body = json.dumps({"callId": call_id, "status": "completed", "duration": 7}).encode()
            parts = urllib.parse.urlsplit(callback_url)
            try:
                status, _ = post_callback(("127.0.0.1", parts.port),
                                          f"{parts.path}?{parts.query}", body,
                                          {"Content-Type": "application/json",
                                           "X-Signature": self.sign_callback(callback_url, body)})
            except OSError as e:
                status = repr(e)
            with self.lock:
                self.callbacks.append(status)
        thread = threading.Thread(target=report, daemon=True)
        with self.lock:
            self.threads.append(thread)
        thread.start()

    def sign_callback(self, callback_url, body):
        """X-Signature of a callback: HMAC-SHA256 of the callback URL, a newline and the body."""
        return hmac_sha256_hex(self.secret, callback_url.encode() + b"\n" + body)

    def callback_statuses(self):
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(10)
        with self.lock:
            return list(self.callbacks)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
