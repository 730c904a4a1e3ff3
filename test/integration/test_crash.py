"""The crash test: a server killed with SIGKILL in the middle of a campaign, again and again,
must still finish it without ever placing the same call attempt twice (DESIGN.md, "Call state
machine and at-most-once dialling"). The carrier simulator runs in its own process, so it
survives the kills and its ledger sees every create request, duplicates included."""

import os
import random
import re
import signal
import time

from harness import DispatchTestCase, KeepAliveClient, csv_of, request

KILLS = 5
SEED = 20261128
CONTACTS = 10_000
CLASSES = {0: "busy", 1: "no_answer", 2: "unreachable", 3: "carrier_blocked", 4: "voicemail",
           5: "provider_error"}
FINAL = ("completed", "failed")


def number(line):
    """A valid, fictional NANP number: +1 415 555 and a four-digit line."""
    return f"+1415555{line:04d}"


class CrashTest(DispatchTestCase):

    def possible_outcomes(self, e164):
        """What the simulator's table says, or unknown when a crash hid the call's end. A
        carrier-blocked call whose end was learnt by looking the call up reads unreachable:
        the Call resource says only "failed", without the SIP code (608) that tells them
        apart."""
        expected = CLASSES.get(int(e164[-2:]), "answered")
        if expected == "carrier_blocked":
            return (expected, "unreachable", "unknown")
        return (expected, "unknown")

    def stderr_since(self, server, offset):
        with open(server.stderr_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def test_sigkill_during_dialling_never_dials_twice(self):
        rng = random.Random(SEED)
        # Speed 100: a call rings for 40 ms and talks for 50 to 590 ms.
        sim = self.start_carrier_sim(speed=100)
        server = self.start_twilio_server(sim, "--reconcile-ms", "2000",
                                          "--call-overdue-ms", "3000", "--busy-attempts", "2",
                                          "--busy-retry-ms", "200", "--provider-cps", "0",
                                          "--provider-retries", "2", "--provider-backoff-ms", "50",
                                          "--provider-backoff-max-ms", "200")
        auth, agent = self.setup_workspace(server, calls_per_second=500,
                                           max_concurrent_calls=1000)
        # Lines 0000-9999: one number in a hundred of each failure class, the rest answered.
        numbers = [number(line) for line in range(CONTACTS)]
        batch = self.upload(server, auth, agent,
                            csv_of([(n, f"Name{i + 1}") for i, n in enumerate(numbers)]))

        restarts = []  # (stderr offset of the restart, calls in progress when killed)
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.5, 2.5))
            a2 = self.batch(server, auth, batch)
            self.assertGreater(a2["progress"]["waiting"], 0, f"dialling finished too soon: {a2}")
            server.kill(signal.SIGKILL)
            self.assertEqual(server.wait(), -signal.SIGKILL)
            offset = os.path.getsize(server.stderr_path)
            server.start()
            restarts.append((offset, a2["progress"]["active"]))

        a2 = self.wait_batch(server, auth, batch, timeout=120, interval=0.5)
        p = a2["progress"]
        self.assertEqual((a2["status"], p["waiting"], p["active"], p["cancelled"], p["total"]),
                         ("completed", 0, 0, 0, CONTACTS), a2)
        self.assertEqual(p["completed"] + p["failed"], CONTACTS, p)

        calls = {}
        with KeepAliveClient(server, auth) as client:
            for row in range(1, CONTACTS + 1):
                reply = client.get(f"/v1/api/batch-calls/{batch}/calls/call_{row}")
                self.assertEqual(reply.status, 200, reply.body)
                calls[row] = reply.body
        recount = {status: 0 for status in FINAL}
        for row, call in calls.items():
            self.assertIn(call["status"], FINAL, call)
            recount[call["status"]] += 1
            self.assertIn(call["outcome"], self.possible_outcomes(numbers[row - 1]), call)
        self.assertEqual(recount, {"completed": p["completed"], "failed": p["failed"]})

        stats = sim.stats()
        self.assertEqual(stats["duplicates"], 0, "an attempt was sent to the provider twice")
        dials = sim.dials(batch)
        seen = set()
        for _, row, seq in dials:
            self.assertNotIn((row, seq), seen)
            seen.add((row, seq))
        dialled = {row for row, _ in seen}
        completed = {row for row, call in calls.items() if call["status"] == "completed"}
        self.assertEqual(completed - dialled, set(), "completed calls the provider never saw")
        connected = sum(1 for c in calls.values() if c["outcome"] in ("answered", "voicemail"))
        self.assertEqual(a2["billableCalls"], connected, a2)
        self.assertLessEqual(a2["attempts"], stats["batches"][batch]["accepted"])
        usage = request(server, "GET", "/v1/api/usage", auth=auth).body
        self.assertEqual(usage["billableCalls"], connected, usage)

        # Every restart that found calls in progress says so, and how many it adopted.
        for offset, active in restarts:
            log = self.stderr_since(server, offset)
            resumed = re.search(r'msg="dispatch resumed" batches=(\d+) calls_in_progress=(\d+)',
                                log)
            self.assertIsNotNone(resumed, f"no 'dispatch resumed' line after a restart:\n{log}")
            if active:
                self.assertGreater(int(resumed.group(2)), 0, resumed.group(0))
        unknown = [c for c in calls.values() if c["outcome"] == "unknown"]
        for call in unknown:
            self.assertTrue(call["error"], call)
