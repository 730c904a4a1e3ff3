"""What a batch reports stays true (issue 13, section 2): a retry with nothing to retry changes
nothing and says so, a retry says how many calls it re-queued, a call's attempts count every
dial across manual retries (while the retry limits start again), averageCallDuration is the
mean of the durations the calls show, the upload's settings are shown again, the status filters
of a cancelled batch list each call under the status it has, and a backwards usage range is an
error.

The simulator decides outcomes by the number's last two digits: 00 busy, 02 unreachable, 03
carrier blocked, 04 voicemail; anything from 10 up is answered, talking 5 + (number mod 55)
seconds."""

import csv
import io

from harness import (BATCHES, DispatchTestCase, EventStream, csv_of, poll, post_multipart,
                     request, slow_disk_env)

FAST = ["--busy-retry-ms", "20", "--provider-backoff-ms", "10", "--provider-backoff-max-ms", "40",
        "--provider-cps", "0"]
# More than one step (2,000 jobs) of the cancel's background rewrite.
SWEPT_CONTACTS = 4500


def number(line):
    """A valid, fictional NANP number: +1 415 555 and a four-digit line."""
    return f"+1415555{line:04d}"


def contacts(numbers):
    return csv_of([(n, f"Name{i + 1}") for i, n in enumerate(numbers)])


def answered_numbers(count, start=0):
    out, line = [], start
    while len(out) < count:
        if line % 100 >= 10:
            out.append(number(line))
        line += 1
    return out


def talk_seconds(e164):
    return 5 + int(e164[1:]) % 55


class RetryTest(DispatchTestCase):

    def start(self, *flags):
        server = self.start_server("--sim-speed", "1000", *FAST, *flags)
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        return server, auth, agent

    def events_of(self, server, auth, batch):
        """The event stream of a final batch, read to its end (it ends after done)."""
        with EventStream(server, f"{BATCHES}/{batch}/events", auth=auth) as stream:
            self.assertEqual(stream.status, 200)
            return [ev.event for ev in stream.events()]

    def test_retry_with_nothing_retryable_is_409_and_changes_nothing(self):
        """All answered, or answered and carrier blocked (final): a retry answers 409
        nothing_to_retry; the batch stays completed with its completedTime, its event stream
        still ends with done, and a later cancel is still refused."""
        server, auth, agent = self.start()
        for numbers in ([number(110), number(111)], [number(110), number(203)]):
            batch = self.upload(server, auth, agent, contacts(numbers))
            before = self.wait_batch(server, auth, batch)
            self.assertEqual(before["status"], "completed", before)
            reply = request(server, "POST", f"{BATCHES}/{batch}/retry", auth=auth)
            self.assertError(reply, 409, "nothing_to_retry", id=batch)
            self.assertIn("retryable outcome", reply.body["message"])
            after = self.batch(server, auth, batch)
            before.pop("timestamp")
            after.pop("timestamp")
            self.assertEqual(after, before)
            self.assertEqual(self.events_of(server, auth, batch), ["progress", "done"])
            reply = request(server, "DELETE", f"{BATCHES}/{batch}", auth=auth)
            self.assertError(reply, 409, "conflict")
            self.assertEqual(self.batch(server, auth, batch)["status"], "completed")

    def test_retry_says_how_many_calls_it_requeued(self):
        """Two unreachable calls (retryable), one carrier blocked (final), one answered: the
        retry answers 202 with requeuedCalls 2 and the counts after the retry, and the batch
        completes again (its stream ends with done)."""
        server, auth, agent = self.start()
        numbers = [number(202), number(302), number(403), number(510)]
        batch = self.upload(server, auth, agent, contacts(numbers))
        self.wait_batch(server, auth, batch)
        reply = request(server, "POST", f"{BATCHES}/{batch}/retry", auth=auth)
        self.assertEqual(reply.status, 202, reply.body)
        self.assertEqual(reply.body["requeuedCalls"], 2, reply.body)
        self.assertEqual(reply.body["status"], "processing", reply.body)
        self.assertEqual(reply.body["details"],
                         {"completedCalls": 1, "failedCalls": 1, "cancelledCalls": 0,
                          "activeCalls": 0, "waitingCalls": 2, "totalCalls": 4}, reply.body)
        a2 = self.wait_batch(server, auth, batch)
        self.assertEqual((a2["status"], a2["attempts"], a2["progress"]["failed"]),
                         ("completed", 6, 3), a2)
        self.assertIsNotNone(a2["progress"]["completedTime"], a2)
        self.assertEqual(self.events_of(server, auth, batch)[-1], "done")
        # Each retry counts again what is retryable now.
        reply = request(server, "POST", f"{BATCHES}/{batch}/retry", auth=auth)
        self.assertEqual((reply.status, reply.body["requeuedCalls"]), (202, 2), reply.body)
        self.wait_batch(server, auth, batch)

    def test_attempts_count_every_dial_across_manual_retries(self):
        """A busy number: three attempts, then a manual retry gives it three more (the busy limit
        counts from the retry). The provider saw six dials, and the call says six attempts."""
        sim = self.start_carrier_sim(speed=1000)
        server = self.start_twilio_server(sim, *FAST, "--busy-attempts", "3")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        batch = self.upload(server, auth, agent, contacts([number(100), number(110)]))
        self.wait_batch(server, auth, batch)
        call = self.calls(server, auth, batch, [1])[1]
        self.assertEqual((call["attempts"], call["error"]),
                         (3, "Number busy - unable to connect after 3 attempts"), call)
        reply = request(server, "POST", f"{BATCHES}/{batch}/retry", auth=auth)
        self.assertEqual((reply.status, reply.body["requeuedCalls"]), (202, 1), reply.body)
        a2 = self.wait_batch(server, auth, batch)
        dials = [row for _, row, _ in sim.dials(batch)]
        self.assertEqual(dials.count(1), 6, sim.dials(batch))
        call = self.calls(server, auth, batch, [1])[1]
        self.assertEqual((call["status"], call["outcome"], call["attempts"], call["error"]),
                         ("failed", "busy", 6, "Number busy - unable to connect after 6 attempts"),
                         call)
        self.assertEqual(a2["attempts"], 7, a2)
        listed = request(server, "GET", f"{BATCHES}/{batch}/calls", auth=auth).body["calls"]
        self.assertEqual(listed[0]["attempts"], 6, listed)
        export = request(server, "GET", f"{BATCHES}/{batch}/export", auth=auth)
        rows = list(csv.DictReader(io.StringIO(export.body.decode("utf-8"), newline="")))
        self.assertEqual(rows[0]["attempts"], "6", rows)


class DurationTest(DispatchTestCase):

    def test_average_duration_is_the_mean_of_the_durations_shown(self):
        """Answered and voicemail calls both connected: each shows its duration (list, detail,
        export, recent_calls), and averageCallDuration is the mean of exactly those."""
        server = self.start_server("--sim-speed", "1000", *FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        numbers = [number(110), number(204), number(321), number(404), number(502)]
        batch = self.upload(server, auth, agent, contacts(numbers))
        a2 = self.wait_batch(server, auth, batch)
        listed = request(server, "GET", f"{BATCHES}/{batch}/calls", auth=auth).body["calls"]
        shown = [c["duration"] for c in listed if "duration" in c]
        self.assertEqual(len(shown), 4, listed)
        self.assertAlmostEqual(a2["progress"]["averageCallDuration"], sum(shown) / len(shown),
                               places=6)
        detail = self.calls(server, auth, batch, [2, 4, 5])
        for row in (2, 4):
            self.assertEqual((detail[row]["outcome"], detail[row]["duration"]),
                             ("voicemail", talk_seconds(numbers[row - 1])), detail[row])
        self.assertNotIn("duration", detail[5])
        recent = {c["jobId"]: c for c in a2["progress"]["recent_calls"]}
        self.assertEqual(recent["call_2"]["duration"], talk_seconds(numbers[1]), recent)
        self.assertNotIn("duration", recent["call_5"], recent)
        export = request(server, "GET", f"{BATCHES}/{batch}/export", auth=auth)
        rows = list(csv.DictReader(io.StringIO(export.body.decode("utf-8"), newline="")))
        durations = [float(r["duration"]) for r in rows if r["duration"]]
        self.assertEqual(sorted(durations), sorted(shown), rows)


class SettingsTest(DispatchTestCase):

    def test_upload_settings_are_shown_in_status_and_list(self):
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        smart = '{"enabled": true, "maxAttempts": 3, "gaps": [{"days": 0, "hours": 2}]}'
        parts = [("agentId", agent), ("name", "Spring renewals"), ("maxConcurrency", "7"),
                 ("callsPerSecond", "2.5"), ("webhookUrl", "https://hooks.example/x"),
                 ("smartCallbackConfig", smart), ("defaultCountry", "US"),
                 ("callingWindow", '{"days": ["fri", "mon"], "end": "17:30", "start": "09:00"}'),
                 ("scheduledAt", "2099-01-01T00:00:00Z"),
                 ("file", ("c.csv", contacts([number(110)])))]
        reply = post_multipart(server, BATCHES, parts, auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        batch = reply.body["batchId"]
        plain = self.upload(server, auth, agent, contacts([number(111)]),
                            scheduledAt="2099-01-01T00:00:00Z")
        want = {"name": "Spring renewals", "maxConcurrency": 7, "callsPerSecond": 2.5,
                "webhookUrl": "https://hooks.example/x",
                "smartCallbackConfig": {"enabled": True, "maxAttempts": 3,
                                        "gaps": [{"days": 0, "hours": 2}]},
                "defaultCountry": "US", "allowDuplicates": False,
                "callingWindow": {"start": "09:00", "end": "17:30", "days": ["mon", "fri"]}}
        defaults = {"name": None, "maxConcurrency": None, "callsPerSecond": None,
                    "webhookUrl": None, "smartCallbackConfig": None, "defaultCountry": None,
                    "allowDuplicates": False, "callingWindow": None}
        a2 = self.batch(server, auth, batch)
        self.assertEqual({k: a2.get(k) for k in want}, want, a2)
        a2 = self.batch(server, auth, plain)
        self.assertEqual({k: a2.get(k, "absent") for k in defaults}, defaults, a2)
        listed = request(server, "GET", BATCHES, auth=auth).body["batches"]
        by_id = {b["id"]: b for b in listed}
        self.assertEqual({k: by_id[batch].get(k) for k in want}, want, by_id[batch])
        self.assertEqual({k: by_id[plain].get(k, "absent") for k in defaults}, defaults)
        for b in (batch, plain):
            self.assertEqual(request(server, "DELETE", f"{BATCHES}/{b}", auth=auth).status, 200)

    def test_a_webhook_url_password_is_never_shown(self):
        """A webhookUrl with user information (if the upload accepts one) is shown without it."""
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server)
        parts = [("agentId", agent), ("webhookUrl", "https://u:s3cret@hooks.example:8443/x?a=@"),
                 ("scheduledAt", "2099-01-01T00:00:00Z"),
                 ("file", ("c.csv", contacts([number(110)])))]
        reply = post_multipart(server, BATCHES, parts, auth=auth)
        if reply.status == 400:
            return  # refused outright: nothing to echo
        self.assertEqual(reply.status, 201, reply.body)
        a2 = self.batch(server, auth, reply.body["batchId"])
        self.assertEqual(a2["webhookUrl"], "https://redacted@hooks.example:8443/x?a=@", a2)
        self.assertNotIn("s3cret", str(a2))


class CancelledFilterTest(DispatchTestCase):

    def test_filters_of_a_cancelled_batch_while_its_calls_are_rewritten(self):
        """Right after a cancel, while the background rewrite (slowed by a slow disk) has not
        reached every call: waiting lists none, cancelled lists every call, and each list's
        total is what it lists."""
        server = self.start_server("--sim-speed", "1000", env=slow_disk_env(300))
        auth, agent = self.setup_workspace(server)
        batch = self.upload(server, auth, agent, contacts(answered_numbers(SWEPT_CONTACTS)),
                            scheduledAt="2099-01-01T00:00:00Z")
        reply = request(server, "DELETE", f"{BATCHES}/{batch}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        waiting = request(server, "GET", f"{BATCHES}/{batch}/calls?status=waiting&limit=100",
                          auth=auth).body
        self.assertEqual((waiting["calls"], waiting["pagination"]["total"]), ([], 0), waiting)
        # The last page of the cancelled filter: rows the rewrite has not reached yet.
        last = (SWEPT_CONTACTS + 99) // 100
        page = request(server, "GET",
                       f"{BATCHES}/{batch}/calls?status=cancelled&limit=100&page={last}",
                       auth=auth).body
        self.assertNotIn(f"work done\" batch={batch} kind=cancel", server.logs(10000),
                         "the rewrite ended before the lists were read: the test saw nothing")
        self.assertEqual(page["pagination"]["total"], SWEPT_CONTACTS, page["pagination"])
        self.assertEqual([c["jobId"] for c in page["calls"]],
                         [f"call_{r}" for r in range((last - 1) * 100 + 1, SWEPT_CONTACTS + 1)])
        self.assertEqual({c["status"] for c in page["calls"]}, {"cancelled"})
        first = request(server, "GET", f"{BATCHES}/{batch}/calls?status=cancelled&limit=100",
                        auth=auth).body
        self.assertEqual([c["jobId"] for c in first["calls"]],
                         [f"call_{r}" for r in range(1, 101)])
        cursor = request(server, "GET",
                         f"{BATCHES}/{batch}/calls?status=cancelled&limit=100&after=call_4450",
                         auth=auth).body
        self.assertEqual([c["jobId"] for c in cursor["calls"]],
                         [f"call_{r}" for r in range(4451, SWEPT_CONTACTS + 1)])
        self.assertTrue(poll(lambda: f"work done\" batch={batch} kind=cancel" in
                             server.logs(10000), timeout=30))
        page = request(server, "GET",
                       f"{BATCHES}/{batch}/calls?status=cancelled&limit=100&page={last}",
                       auth=auth).body
        self.assertEqual(len(page["calls"]), SWEPT_CONTACTS - (last - 1) * 100, page)


class UsageRangeTest(DispatchTestCase):

    def test_from_after_to_is_400_naming_the_parameter(self):
        server = self.start_server()
        auth, _ = self.setup_workspace(server)
        reply = request(server, "GET", "/v1/api/usage?from=2000&to=1000", auth=auth)
        self.assertError(reply, 400, "invalid_parameter", parameter="from")
        self.assertIn("after to", reply.body["message"])
        reply = request(server, "GET", "/v1/api/usage?from=1000&to=1000", auth=auth)
        self.assertEqual((reply.status, reply.body["billableCalls"]), (200, 0), reply.body)
