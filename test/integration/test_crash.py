"""The crash test: a server killed with SIGKILL in the middle of a campaign, again and again,
must still finish it without ever placing the same call attempt twice (DESIGN.md, "Call state
machine and at-most-once dialling"). The carrier simulator runs in its own process, so it
survives the kills and its ledger sees every create request, duplicates included."""

import http.server
import json
import os
import random
import re
import signal
import threading
import time
import urllib.parse
import uuid

from harness import (BATCHES, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, DispatchTestCase, KeepAliveClient,
                     csv_of, free_port, poll, request)

KILLS = 5
SEED = 20261128
CONTACTS = 10_000
CLASSES = {0: "busy", 1: "no_answer", 2: "unreachable", 3: "carrier_blocked", 4: "voicemail",
           5: "provider_error"}
FINAL = ("completed", "failed")


def number(line):
    """A valid, fictional NANP number: +1 415 555 and a four-digit line."""
    return f"+1415555{line:04d}"


def long_calls(count):
    """Numbers the simulator answers after a talk time of 40 s or more (5 s + the number mod 55),
    so that calls placed at --sim-speed 1 are still in progress for the whole test."""
    out = []
    line = 1000
    while len(out) < count:
        n = number(line)
        if int(n[-2:]) > 6 and int(n[1:]) % 55 >= 35:
            out.append(n)
        line += 1
    return out


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


class HoldingTwilio:
    """A Twilio REST API on a thread that never answers the first `hold` create requests (they
    stay in flight until release()), so the server is killed with calls still being placed: in
    doubt, since nothing says whether they reached the provider. Later creates get a 201 with a
    new call sid, and no call ever ends; every call lookup answers 404. `dials` is the ledger:
    (row, seq) of every create request, from its StatusCallback URL."""

    def __init__(self, hold):
        self.hold = hold
        self.dials = []
        self.fetches = 0
        self.lock = threading.Lock()
        self.released = threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                form = urllib.parse.parse_qs(body.decode())
                query = urllib.parse.parse_qs(
                    urllib.parse.urlsplit(form["StatusCallback"][0]).query)
                with fake.lock:
                    fake.dials.append((int(query["r"][0]), int(query["a"][0])))
                    held = len(fake.dials) <= fake.hold
                if held:
                    fake.released.wait(60)
                    self.close_connection = True
                    return
                self.answer(201, {"sid": "CA" + uuid.uuid4().hex, "status": "queued"})

            def do_GET(self):
                with fake.lock:
                    fake.fetches += 1
                self.answer(404, {"code": 20404, "message": "The requested resource was not found",
                                  "status": 404})

            def answer(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def ledger(self):
        with self.lock:
            return list(self.dials)

    def release(self):
        self.released.set()

    def close(self):
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


class InDoubtTest(DispatchTestCase):
    """Issue 13, 2.5: after kill -9, the calls found in progress must not keep the workspace's
    other contacts waiting. A call the provider accepted is looked up at once; a call that was
    still being placed holds no concurrency slot while it waits, in doubt, for a late report;
    neither is ever dialled again."""

    def sim_url(self, server, offset):
        """(host, port) of the built-in simulator of the server started at stderr offset."""
        with open(server.stderr_path, "rb") as f:
            f.seek(offset)
            log = f.read().decode("utf-8", "replace")
        found = re.search(r'simulator listening" url=http://([0-9.]+):(\d+)', log)
        self.assertIsNotNone(found, log)
        return (found.group(1), int(found.group(2)))

    def kill_and_restart(self, server):
        server.kill(signal.SIGKILL)
        self.assertEqual(server.wait(), -signal.SIGKILL)
        offset = os.path.getsize(server.stderr_path)
        server.start()
        return offset

    def resumed(self, server, offset):
        with open(server.stderr_path, "rb") as f:
            f.seek(offset)
            log = f.read().decode("utf-8", "replace")
        found = re.search(r'msg="dispatch resumed" batches=(\d+) calls_in_progress=(\d+) '
                          r'in_doubt=(\d+)', log)
        self.assertIsNotNone(found, log)
        return int(found.group(2)), int(found.group(3))

    def test_accepted_calls_are_looked_up_at_once(self):
        # The built-in simulator, as in the issue: the kill takes the provider's calls with it,
        # and the default reconcile window (5 minutes) is in force.
        server = self.start_server("--sim-speed", "1")
        auth, agent = self.setup_workspace(server, max_concurrent_calls=3)
        numbers = long_calls(12)
        batch = self.upload(server, auth, agent,
                            csv_of([(n, f"Name{i + 1}") for i, n in enumerate(numbers)]))
        # Every slot is taken by a call the provider accepted.
        sim = self.sim_url(server, 0)
        self.assertTrue(poll(lambda: request(sim, "GET", "/sim/stats").body["accepted"] == 3,
                             timeout=10))
        self.wait_batch(server, auth, batch, timeout=10,
                        until=lambda a2: a2["progress"]["active"] == 3)
        time.sleep(1.0)  # the 201s are recorded (a commit takes a few ms)

        offset = self.kill_and_restart(server)
        # The three calls are looked up, unknown to the new simulator, and fail as unknown; the
        # three slots go to waiting contacts, well within the reconcile window.
        a2 = self.wait_batch(server, auth, batch, timeout=20, interval=0.2,
                             until=lambda a2: a2["progress"]["failed"] == 3
                             and a2["progress"]["active"] == 3)
        self.assertEqual(a2["progress"]["waiting"], 12 - 6, a2)
        self.assertEqual(self.resumed(server, offset), (3, 0))
        calls = self.calls(server, auth, batch, range(1, 13))
        for row in (1, 2, 3):
            self.assertEqual((calls[row]["status"], calls[row]["outcome"]), ("failed", "unknown"),
                             calls[row])
            self.assertIn("no record", calls[row]["error"], calls[row])
        self.assertEqual({row for row, c in calls.items() if c["status"] == "active"}, {4, 5, 6})
        # The new simulator's ledger: the contacts in progress at the kill were not dialled
        # again, and nobody was dialled twice.
        dials = request(self.sim_url(server, offset), "GET", f"/sim/dials?batch={batch}").body
        rows = [row for _, row, _ in dials["dials"]]
        self.assertEqual(sorted(rows), [4, 5, 6], dials)

    def test_calls_being_placed_hold_no_slot(self):
        fake = HoldingTwilio(hold=3)
        self.addCleanup(fake.close)
        port = free_port()
        server = self.start_server(
            "--provider", "twilio", "--twilio-api-base", fake.url,
            "--twilio-account-sid", SIM_ACCOUNT_SID, "--twilio-auth-token", SIM_AUTH_TOKEN,
            "--public-url", f"http://127.0.0.1:{port}", "--reconcile-ms", "8000", port=port)
        auth, agent = self.setup_workspace(server, max_concurrent_calls=3)
        numbers = long_calls(8)
        batch = self.upload(server, auth, agent,
                            csv_of([(n, f"Name{i + 1}") for i, n in enumerate(numbers)]))
        # Three create requests the provider never answers: the server dies while placing them.
        self.assertTrue(poll(lambda: len(fake.ledger()) == 3, timeout=10), fake.ledger())
        offset = self.kill_and_restart(server)
        fake.release()
        self.assertEqual(self.resumed(server, offset), (3, 3))

        # Waiting contacts are dialled while the three calls are still in doubt.
        self.assertTrue(poll(lambda: len(fake.ledger()) > 3, timeout=20), fake.ledger())
        for call in self.calls(server, auth, batch, (1, 2, 3)).values():
            self.assertEqual(call["status"], "active", call)
        # After --reconcile-ms without a report they fail as unknown, never dialled again.
        a2 = self.wait_batch(server, auth, batch, timeout=30, interval=0.2,
                             until=lambda a2: a2["progress"]["failed"] == 3)
        self.assertEqual(a2["progress"]["active"], 3, a2)
        calls = self.calls(server, auth, batch, (1, 2, 3))
        for call in calls.values():
            self.assertEqual((call["status"], call["outcome"]), ("failed", "unknown"), call)
            self.assertIn("not dialled again", call["error"], call)
        ledger = fake.ledger()
        self.assertEqual(len(ledger), len(set(ledger)), ledger)
        rows = [row for row, _ in ledger]
        self.assertEqual(sorted(rows), [1, 2, 3, 4, 5, 6], ledger)

    def test_cancelled_batch_calls_are_reconciled(self):
        server = self.start_server("--sim-speed", "1")
        auth, agent = self.setup_workspace(server, max_concurrent_calls=3)
        batch = self.upload(server, auth, agent,
                            csv_of([(n, "Name") for n in long_calls(6)]))
        sim = self.sim_url(server, 0)
        self.assertTrue(poll(lambda: request(sim, "GET", "/sim/stats").body["accepted"] == 3,
                             timeout=10))
        time.sleep(1.0)  # the 201s are recorded
        reply = request(server, "DELETE", f"{BATCHES}/{batch}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        a2 = self.batch(server, auth, batch)
        self.assertEqual((a2["status"], a2["progress"]["active"]), ("cancelled", 3), a2)

        offset = self.kill_and_restart(server)
        # The cancelled batch's calls are adopted and looked up like any others.
        a2 = self.wait_batch(server, auth, batch, timeout=20, interval=0.2,
                             until=lambda a2: a2["progress"]["active"] == 0)
        self.assertEqual((a2["status"], a2["progress"]["failed"], a2["progress"]["cancelled"]),
                         ("cancelled", 3, 3), a2)
        self.assertEqual(self.resumed(server, offset), (3, 0))
        for call in self.calls(server, auth, batch, (1, 2, 3)).values():
            self.assertEqual((call["status"], call["outcome"]), ("failed", "unknown"), call)
