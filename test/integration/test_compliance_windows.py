"""Calling windows and frequency caps through the real binary (issue: dialling compliance).

The server's wall clock is set with BATCHCALLD_CLOCK_OFFSET_MS, so each test sees a chosen
instant whatever the hour it runs at; a restart with a later offset moves time on (holds, caps
and counters must survive it). Calls go to the built-in simulator, which answers numbers whose
last two digits are 10..99 and reports busy for 00."""

import calendar
import os
import time

from harness import BATCHES, DispatchTestCase, csv_of, poll, request

# Wednesday 13 January 2027, 14:30 UTC: 09:30 in New York and Chicago's 08:30 are inside the
# federal window (08:00-21:00 callee local time); Denver (07:30), Los Angeles (06:30) and
# Honolulu (04:30) are not, and Kentucky's state rule (10:00-21:00) keeps Louisville shut.
T0 = calendar.timegm((2027, 1, 13, 14, 30, 0)) * 1000


def at(h, m=0, s=0, day=13):
    return calendar.timegm((2027, 1, day, h, m, s)) * 1000


# Number -> (what the window does at T0, when it opens in UTC ms; None: open at T0).
CONTACTS = {
    "+12125550110": None,  # New York: 09:30
    "+13125550111": None,  # Chicago: 08:30
    "+12035550117": None,  # Connecticut (9am state rule): 09:30
    "+442079460123": None,  # London: 14:30
    "+13035550112": at(15),  # Denver: 07:30 -> 08:00 MST
    "+15025550116": at(15),  # Louisville: 09:30, Kentucky opens at 10:00
    "+14155550113": at(16),  # Los Angeles: 06:30 -> 08:00 PST
    "+18085550114": at(18),  # Honolulu: 04:30 -> 08:00 HST
}
FLAGS = ["--sim-speed", "1000", "--provider-cps", "0"]


def offset_to(instant_ms):
    """The clock offset that makes the server's clock read instant_ms now."""
    return str(int(instant_ms - time.time() * 1000))


class WindowTest(DispatchTestCase):
    def server_at(self, instant_ms, server=None):
        env = {"BATCHCALLD_CLOCK_OFFSET_MS": offset_to(instant_ms)}
        if server is None:
            return self.start_server(*FLAGS, env=env)
        server.env = env
        return server.restart()

    def calls(self, server, auth, batch):
        reply = request(server, "GET", f"{BATCHES}/{batch}/calls?limit=100", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        return {c["phone_number"]: c for c in reply.body["calls"]}

    def settled(self, server, auth, batch, final, held=0):
        """Waits until final calls have ended, held calls are held and nothing is in progress;
        returns A2."""
        def done():
            b = self.batch(server, auth, batch)
            p = b["progress"] if "progress" in b else b
            ended = p["completed"] + p["failed"]
            return b if ended >= final and p["active"] == 0 and p["held"] >= held else None
        b = poll(done, timeout=30)
        self.assertTrue(b, "the batch did not settle")
        return b

    def assertAddsUp(self, b):
        p = b.get("progress", b)
        self.assertEqual(p["total"],
                         p["waiting"] + p["active"] + p["completed"] + p["failed"] + p["cancelled"])
        self.assertLessEqual(p["held"], p["waiting"])

    def test_six_zones_each_dialled_only_inside_its_window(self):
        server = self.server_at(T0)
        self.assertIn("clock is shifted", server.logs())
        auth, agent = self.setup_workspace(server, compliance={})
        rows = [(n, f"Name{i}") for i, n in enumerate(CONTACTS)]
        batch = self.upload(server, auth, agent, csv_of(rows))
        open_now = [n for n, t in CONTACTS.items() if t is None]
        b = self.settled(server, auth, batch, len(open_now), held=len(CONTACTS) - len(open_now))
        calls = self.calls(server, auth, batch)
        for number, opens in CONTACTS.items():
            call = calls[number]
            if opens is None:
                self.assertEqual(call["status"], "completed", call)
                self.assertIsNone(call["heldReason"])
            else:
                self.assertEqual(call["status"], "waiting", call)
                self.assertEqual(call["heldReason"], "calling_window", call)
                self.assertEqual(call["heldUntil"], opens, (number, call))
                self.assertEqual(call["attempts"], 0)
        p = b.get("progress", b)
        self.assertEqual(p["held"], 4)
        self.assertAddsUp(b)
        # Nothing held was billed.
        self.assertEqual(b["billableCalls"], len(open_now))
        report = request(server, "GET", f"{BATCHES}/{batch}/compliance", auth=auth).body
        self.assertEqual(report["heldByWindow"]["total"], 4)
        self.assertEqual(sum(report["heldByWindow"]["byZone"].values()), 4)
        for zone in ("America/Denver", "America/Los_Angeles", "Pacific/Honolulu"):
            self.assertIn(zone, report["heldByWindow"]["byZone"])
        self.assertEqual(report["nextWindowOpensAt"], at(15))
        self.assertEqual(report["heldByCap"], 0)

        # 15:00:30: Denver and Louisville open; the holds survived the restart.
        self.server_at(at(15, 0, 30), server)
        b = self.settled(server, auth, batch, len(open_now) + 2, held=2)
        calls = self.calls(server, auth, batch)
        for number in ("+13035550112", "+15025550116"):
            self.assertEqual(calls[number]["status"], "completed")
            self.assertGreaterEqual(calls[number]["startTime"], at(15))
        for number in ("+14155550113", "+18085550114"):
            self.assertEqual(calls[number]["heldReason"], "calling_window")
        self.assertEqual(b.get("progress", b)["held"], 2)
        self.assertAddsUp(b)

        # 18:00:30: Los Angeles and Honolulu are open too: the batch completes.
        self.server_at(at(18, 0, 30), server)
        b = self.settled(server, auth, batch, len(CONTACTS))
        self.assertTrue(poll(lambda: self.batch(server, auth, batch)["status"] == "completed",
                             timeout=10))
        b = self.batch(server, auth, batch)
        self.assertEqual(b.get("progress", b)["held"], 0)
        self.assertEqual(b["billableCalls"], len(CONTACTS))
        report = request(server, "GET", f"{BATCHES}/{batch}/compliance", auth=auth).body
        self.assertEqual(report["heldByWindow"], {"total": 0, "byZone": {}})
        self.assertIsNone(report["nextWindowOpensAt"])

    def test_a_batch_calling_window_narrows_further(self):
        server = self.server_at(T0)  # 09:30 in New York
        auth, agent = self.setup_workspace(server, compliance={})
        window = '{"start":"10:00","end":"17:00","days":["mon","tue","wed","thu","fri"]}'
        batch = self.upload(server, auth, agent, csv_of([("+12125550110", "A")]),
                            callingWindow=window)
        call = poll(lambda: (c := self.calls(server, auth, batch)["+12125550110"])["heldReason"]
                    and c, timeout=15)
        self.assertTrue(call, "the call was not held by the batch's window")
        self.assertEqual(call["heldUntil"], at(15))  # 10:00 EST
        self.assertEqual(self.batch(server, auth, batch)["callingWindow"]["start"], "10:00")

    def test_a_workspace_that_opts_out_dials_at_night(self):
        server = self.server_at(at(10))  # 05:00 in New York
        auth, agent = self.setup_workspace(server, compliance={"allowOutsideFederalWindow": True})
        batch = self.upload(server, auth, agent, csv_of([("+12125550110", "A")]))
        b = self.settled(server, auth, batch, 1)
        self.assertEqual(b.get("progress", b)["completed"], 1)

    def test_a_busy_retry_lands_in_the_next_opening(self):
        # 20:59 in Los Angeles; the busy retry comes 2 minutes later, after 21:00.
        server = self.start_server(*FLAGS[2:], "--sim-speed", "1", "--busy-retry-ms", "120000",
                                   env={"BATCHCALLD_CLOCK_OFFSET_MS": offset_to(at(4, 59, day=14))})
        auth, agent = self.setup_workspace(server, compliance={})
        batch = self.upload(server, auth, agent, csv_of([("+14155550100", "Busy")]))

        def held():
            call = self.calls(server, auth, batch)["+14155550100"]
            return call if call["attempts"] == 1 and call["status"] == "waiting" else None
        call = poll(held, timeout=30)
        self.assertTrue(call, "the busy call was not scheduled again")
        self.assertEqual(call["heldReason"], "calling_window")
        self.assertEqual(call["heldUntil"], at(16, day=14))  # 08:00 PST
        b = self.batch(server, auth, batch)
        self.assertEqual(b.get("progress", b)["held"], 1)
        self.assertAddsUp(b)


class CapTest(DispatchTestCase):
    def test_cap_across_batches_holds_then_releases_after_the_window(self):
        noon = at(18)  # 13:00 in New York
        env = {"BATCHCALLD_CLOCK_OFFSET_MS": offset_to(noon)}
        server = self.start_server(*FLAGS, env=env)
        auth, agent = self.setup_workspace(
            server, compliance={"maxAttemptsPerNumber": 2, "capWindowHours": 24})
        number = "+12125550150"
        batches = []
        for i in range(3):
            batches.append(self.upload(server, auth, agent, csv_of([(number, f"N{i}")])))
            if i < 2:
                self.settled(server, auth, batches[-1], 1)
        third = batches[2]

        def held():
            call = self.calls(server, auth, third)[number]
            return call if call["heldReason"] == "frequency_cap" else None
        call = poll(held, timeout=15)
        self.assertTrue(call, "the third attempt within 24 h was not held")
        self.assertEqual(call["status"], "waiting")
        first_start = self.calls(server, auth, batches[0])[number]["startTime"]
        # Held until the first of the two attempts is 24 h old.
        self.assertAlmostEqual(call["heldUntil"], first_start + 24 * 3600 * 1000, delta=2)
        report = request(server, "GET", f"{BATCHES}/{third}/compliance", auth=auth).body
        self.assertEqual(report["heldByCap"], 1)
        b = self.batch(server, auth, third)
        self.assertEqual(b["billableCalls"], 0)
        self.assertAddsUp(b)

        # The cap survives a restart; a day later the call goes.
        server.env = {"BATCHCALLD_CLOCK_OFFSET_MS": offset_to(noon)}
        server.restart()
        time.sleep(0.5)
        self.assertEqual(self.calls(server, auth, third)[number]["heldReason"], "frequency_cap")
        server.env = {"BATCHCALLD_CLOCK_OFFSET_MS": offset_to(noon + 24 * 3600 * 1000 + 60000)}
        server.restart()
        b = self.settled(server, auth, third, 1)
        self.assertEqual(b.get("progress", b)["completed"], 1)

    calls = WindowTest.calls
    settled = WindowTest.settled
    assertAddsUp = WindowTest.assertAddsUp


if __name__ == "__main__":
    import unittest
    unittest.main()
