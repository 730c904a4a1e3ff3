"""Waiting for retries, seen by a user of the built-in simulator: the waits the server adds after
a simulated outcome follow --sim-speed, and batch progress says when the next retry is due
(nextAttemptAt)."""

import time

from harness import server_now_ms, BATCHES, DispatchTestCase, csv_of, request

BUSY = "+14155550100"  # the simulator answers a number ending in 00 busy
ANSWERED = "+14155550111"
HOLD = "2099-01-01T00:00:00Z"


class SimulatedWaitsTest(DispatchTestCase):
    def test_busy_retries_follow_sim_speed(self):
        # The default --busy-retry-ms is ten minutes: at --sim-speed 1000 that is 0.6 s, so the
        # three attempts of a busy number end in seconds, not in twenty minutes.
        server = self.start_server("--sim-speed", "1000")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        batch = self.upload(server, auth, agent, csv_of([(BUSY, "Bo"), (ANSWERED, "Al")]))
        a2 = self.wait_batch(server, auth, batch, timeout=30)
        self.assertEqual((a2["status"], a2["progress"]["completed"], a2["progress"]["failed"],
                          a2["attempts"]), ("completed", 1, 1, 4), a2)
        busy = self.calls(server, auth, batch, [1])[1]
        self.assertEqual((busy["status"], busy["outcome"], busy["attempts"]),
                         ("failed", "busy", 3), busy)
        self.assertIsNone(a2["progress"]["nextAttemptAt"], a2)


class NextAttemptTest(DispatchTestCase):
    def test_progress_shows_when_the_next_retry_is_due(self):
        server = self.start_server("--busy-retry-ms", "600000")
        auth, agent = self.setup_workspace(server, calls_per_second=100)
        held = self.upload(server, auth, agent, csv_of([(BUSY, "Bo")]), scheduledAt=HOLD)
        self.assertIsNone(self.batch(server, auth, held)["progress"]["nextAttemptAt"])

        before_ms = server_now_ms()
        batch = self.upload(server, auth, agent, csv_of([(BUSY, "Bo"), (ANSWERED, "Al")]))
        a2 = self.wait_batch(server, auth, batch, timeout=30,
                             until=lambda a2: a2["progress"]["nextAttemptAt"] is not None)
        due = a2["progress"]["nextAttemptAt"]
        # Ten minutes after the busy attempt ended, which was after the upload and before now.
        self.assertGreaterEqual(due, before_ms + 600000 - 1000, a2)
        self.assertLessEqual(due, server_now_ms() + 600000 + 1000, a2)
        self.assertEqual(a2["progress"]["waiting"] + a2["progress"]["active"] +
                         a2["progress"]["completed"], 2, a2)
        # The flat progress (A3) says the same.
        a3 = request(server, "GET", f"{BATCHES}/{batch}/status", auth=auth)
        self.assertEqual(a3.status, 200, a3.body)
        self.assertEqual(a3.body["nextAttemptAt"], due, a3.body)
        # The call itself names the same time.
        call = self.calls(server, auth, batch, [1])[1]
        self.assertEqual((call["status"], call.get("nextAttemptAt")), ("waiting", due), call)
