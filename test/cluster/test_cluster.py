"""The fleet end to end: three batchcalld instances behind real nginx and HAProxy (Debian's, started
here on loopback ports with their own state directory), 30 workspaces placed across them, and one
carrier-sim as the provider, whose ledger counts every dial of the whole fleet. The instances give
the provider the balancer's URL, so every status callback also goes through a balancer.

The steps run in order on one fleet (each builds on the last); every campaign uploaded on the way
is checked at the simulator at the end: every contact dialled exactly once, or, for a call a
kill -9 left in doubt before it reached the provider, reported as failed with outcome unknown.
"""

import http.client
import json
import os
import threading
import time
import unittest

import fleet as fl
from fleet import h

CONTACTS = 30
WORKSPACES_PER_INSTANCE = 10
RETRY_CODES = {"unavailable", "workspace_moving", "draining"}


def contacts(n, seed):
    """n distinct US numbers whose last two digits (10-99) make the simulator answer as a person."""
    rows = []
    for i in range(n):
        last = 10 + (seed * 7 + i) % 90
        exchange = 200 + (seed * 131 + i) % 800  # a +1 exchange starts with 2-9
        rows.append((f"+1415{exchange:03d}{i % 100:02d}{last:02d}", f"c{i}"))
    return h.csv_of(rows)


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fleet = fl.Fleet(n=3, sim_speed=200, public="nginx").start()
        cls.addClassCleanup(cls.fleet.close)
        cls.ws = {}  # workspace id -> (auth, agent id)
        for name in cls.fleet.names:
            for _ in range(WORKSPACES_PER_INSTANCE):
                auth, agent = cls.fleet.create_workspace(name, calls_per_second=6,
                                                          max_concurrent_calls=20)
                cls.ws[auth[0]] = (auth, agent)
        cls.fleet.reload()
        cls.batches = []  # (workspace, batch id, total)
        cls.failed = False

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        outcome = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            type(self).failed = True
            print(self.fleet.logs())
        return outcome

    def need_fleet(self):
        """Campaigns need the workspace in the callback path (fleet support): without it a
        balancer can only hash the callbacks, and most would reach an instance that did not
        place the call."""
        if not self.fleet.fleet_flags:
            self.skipTest("this batchcalld has no --instance-name (fleet support)")

    # --- helpers ---

    def upload(self, target, workspace, n=CONTACTS, seed=0):
        auth, agent = self.ws[workspace]
        parts = [("agentId", agent), ("file", ("contacts.csv", contacts(n, seed)))]
        reply = h.post_multipart(target, h.BATCHES, parts, auth=auth)
        self.assertEqual(reply.status, 201, reply.body)
        self.batches.append((workspace, reply.body["batchId"], n))
        return reply.body["batchId"]

    def upload_wave(self, target, seed):
        return {ws: self.upload(target, ws, seed=seed) for ws in self.ws}

    def wait_complete(self, target, timeout=90):
        deadline = time.monotonic() + timeout
        for ws, batch, total in self.batches:
            auth = self.ws[ws][0]
            while True:
                reply = h.request(target, "GET", f"{h.BATCHES}/{batch}", auth=auth)
                if reply.status == 200 and reply.body["isComplete"]:
                    p = reply.body["progress"]
                    self.assertEqual(p["completed"] + p["failed"], total, reply.body)
                    break
                self.assertLess(time.monotonic(), deadline,
                                f"batch {batch} of {ws} not complete: {reply.status} {reply.body}")
                time.sleep(0.2)

    def assertJsonError(self, reply, status, codes):
        self.assertEqual(reply.status, status, reply.body)
        self.assertTrue(reply.headers.get("Content-Type", "").startswith("application/json"),
                        reply.headers)
        self.assertIsInstance(reply.body, dict, reply.body)
        self.assertIn(reply.body.get("error"), codes, reply.body)
        self.assertTrue(reply.body.get("message"), reply.body)

    def assertRoutedRight(self, reply, workspace):
        if self.fleet.fleet_flags:
            self.assertEqual(reply.headers.get("X-Instance"), self.fleet.owner(workspace),
                             f"{workspace}: {reply.status} {reply.body}")

    def owned_by(self, name):
        return [ws for ws in self.ws if self.fleet.owner(ws) == name]

    def check_load(self, records, windows, label):
        """Every request succeeded, except those of a workspace whose instance was down at the
        time (windows: [(instance, t_down, t_up)]), which may be 503 JSON with Retry-After.
        Returns {instance: seconds its workspaces answered something else than 200}."""
        self.assertTrue(records, f"{label}: no requests were made")
        unavailable = {}
        for start, end, ws, status, inst, retry, code in records:
            owner = self.fleet.owner(ws)
            if status == 200:
                if self.fleet.fleet_flags:
                    self.assertEqual(inst, owner, f"{label}: {ws} answered by {inst}")
                continue
            down = [w for w in windows if w[0] == owner and w[1] - 0.5 <= start <= w[2] + 0.5]
            self.assertTrue(down, f"{label}: {ws} on {owner} (up) got {status} {code} at "
                                  f"{start:.2f} (windows {windows})")
            self.assertEqual(status, 503, f"{label}: {ws} got {status} {code} from {inst}")
            self.assertIn(code, RETRY_CODES, f"{label}: {ws} got 503 {code}")
            self.assertTrue(retry and int(retry) >= 1, f"{label}: 503 without Retry-After")
            first, last = unavailable.get(owner, (start, end))
            unavailable[owner] = (min(first, start), max(last, end))
        return {k: round(v[1] - v[0], 2) for k, v in unavailable.items()}

    # --- the steps, in order ---

    def test_1_routing(self):
        """Every workspace reaches its instance through both balancers, by header (API) and by
        path (callbacks); errors of the balancer itself are JSON."""
        for balancer in (self.fleet.nginx, self.fleet.haproxy):
            for ws, (auth, agent) in self.ws.items():
                reply = h.request(balancer, "GET", f"/v1/api/agents/{agent}", auth=auth)
                self.assertEqual(reply.status, 200, f"{balancer.name} {ws}: {reply.body}")
                self.assertRoutedRight(reply, ws)
                if self.fleet.fleet_flags:
                    # A callback carries its workspace in the path only: unsigned, its instance
                    # refuses it, and says who it is.
                    reply = h.request(balancer, "POST",
                                      f"/v1/provider/ws/{ws}/twilio/status?b=batch_x&r=1&a=1",
                                      "CallStatus=completed",
                                      {"Content-Type": "application/x-www-form-urlencoded"})
                    self.assertIn(reply.status, (400, 403, 404), reply.body)
                    self.assertRoutedRight(reply, ws)
            # The balancer's own errors: JSON with a message, never an HTML page.
            reply = h.request(balancer, "POST", h.BATCHES, b"",
                              {"Content-Length": "40000000", **h.auth_headers(auth)})
            self.assertJsonError(reply, 413, {"payload_too_large"})

    def test_2_misdirected(self):
        """An instance asked about a workspace it does not hold says 421, and counts it."""
        if not self.fleet.fleet_flags:
            self.skipTest("this batchcalld has no --instance-name (fleet support)")
        ws = self.owned_by("inst-1")[0]
        auth, agent = self.ws[ws]
        wrong = self.fleet.instances["inst-2"]
        reply = h.request(wrong, "GET", f"/v1/api/agents/{agent}", auth=auth)
        self.assertJsonError(reply, 421, {"misdirected_request"})
        self.assertEqual(reply.body.get("workspace"), ws)
        metrics = h.scrape(wrong)
        self.assertGreaterEqual(metrics.value("batchcalld_misdirected_requests_total"), 1)
        # A workspace the map does not name goes to the consistent hash: the instance it lands
        # on says 421 (it holds no such workspace), the same one every time; a request without
        # a workspace (/healthz) is answered by some instance.
        unplaced = "ws_01J9Z8Y7X6W5V4T3S2R1Q0P9N8"
        for balancer in (self.fleet.nginx, self.fleet.haproxy):
            seen = set()
            for _ in range(3):
                reply = h.request(balancer, "GET", "/v1/api/agents",
                                  headers={"x-workspace-id": unplaced, "x-api-key": "bck_x"})
                self.assertJsonError(reply, 421, {"misdirected_request"})
                seen.add(reply.headers.get("X-Instance"))
            self.assertEqual(len(seen), 1, seen)
            self.assertIn(seen.pop(), self.fleet.names)
            reply = h.request(balancer, "GET", "/healthz")
            self.assertEqual(reply.status, 200, reply.body)
            self.assertIn(reply.body["instance"], self.fleet.names)

    def test_3_campaigns_and_events(self):
        """A campaign per workspace through nginx, its callbacks back through nginx; a live
        event stream through each balancer arrives unbuffered."""
        self.need_fleet()
        wave = self.upload_wave(self.fleet.nginx, seed=1)
        ws = next(iter(wave))
        for balancer in (self.fleet.nginx, self.fleet.haproxy):
            with h.EventStream(balancer, f"{h.BATCHES}/{wave[ws]}/events",
                               auth=self.ws[ws][0]) as stream:
                event = stream.next_event()
                self.assertIn(event.event, ("progress", "call", "done"), event)
        self.wait_complete(self.fleet.nginx)
        callbacks = 0
        with open(os.path.join(self.fleet.state, "access.log")) as f:
            for line in f:
                if "/v1/provider/ws/" in line or "/v1/provider/twilio/" in line:
                    callbacks += 1
        self.assertGreaterEqual(callbacks, len(wave) * CONTACTS,
                                "the simulator's callbacks did not come through nginx")

    def test_4_rolling_restart(self):
        """SIGTERM and start each instance in turn under load through nginx: only the restarting
        instance's workspaces see 503 (JSON, Retry-After), only meanwhile; no upload or control
        action that was answered is lost. (The instances keep their --public-url: the provider
        signs each callback for the URL it was given, so calls in flight would be refused by an
        instance that changed it.)"""
        self.need_fleet()
        wave = self.upload_wave(self.fleet.nginx, seed=2)
        load = fl.Load(self.fleet.nginx, [(self.ws[ws][0], b) for ws, b in wave.items()]).start()
        writer = Writer(self, self.fleet.nginx, wave).start()
        windows = []
        try:
            time.sleep(1.0)
            for name in self.fleet.names:
                server = self.fleet.instances[name]
                t_down = time.monotonic()
                server.kill()
                self.assertEqual(server.wait(), 0, server.logs())
                server.start()
                windows.append((name, t_down, time.monotonic()))
                time.sleep(1.0)
        finally:
            records = load.stop()
            writer.stop()
        unavailable = self.check_load(records, windows, "rolling restart")
        restart_s = {w[0]: round(w[2] - w[1], 2) for w in windows}
        print(f"\nrolling restart: {len(records)} requests; restart took {restart_s} s; "
              f"workspaces unavailable {unavailable} s")
        writer.check()
        self.wait_complete(self.fleet.nginx)

    def test_5_kill9(self):
        """kill -9 of one instance while its campaigns run: the others keep answering through
        both balancers, its workspaces get 503 JSON from both, and after its restart its
        campaigns finish without a call dialled twice."""
        self.need_fleet()
        wave = self.upload_wave(self.fleet.haproxy, seed=3)
        jobs = [(self.ws[ws][0], b) for ws, b in wave.items()]
        loads = [fl.Load(b, jobs, workers=3).start() for b in (self.fleet.nginx, self.fleet.haproxy)]
        victim = self.fleet.instances["inst-2"]
        try:
            time.sleep(1.5)
            t_down = time.monotonic()
            victim.kill(9)
            victim.wait()
            time.sleep(2.0)
            for balancer in (self.fleet.nginx, self.fleet.haproxy):
                ws = self.owned_by("inst-2")[0]
                reply = h.request(balancer, "GET", f"{h.BATCHES}/{wave[ws]}", auth=self.ws[ws][0])
                self.assertJsonError(reply, 503, {"unavailable"})
                self.assertTrue(int(reply.headers.get("Retry-After", "0")) >= 1, reply.headers)
            victim.start()
            windows = [("inst-2", t_down, time.monotonic())]
            time.sleep(1.0)
        finally:
            records = [r for load in loads for r in load.stop()]
        self.check_load(records, windows, "kill -9")
        before = [r[1] - r[0] for r in records if r[0] < t_down and r[3] == 200]
        during = [r[1] - r[0] for r in records
                  if t_down <= r[0] <= windows[0][2] and self.fleet.owner(r[2]) != "inst-2"]
        print(f"\nkill -9: others' latency p50 {fl.percentile(before, 50) * 1000:.1f} ms before, "
              f"{fl.percentile(during, 50) * 1000:.1f} ms while inst-2 was down "
              f"({len(during)} requests, all 200)")
        self.wait_complete(self.fleet.haproxy, timeout=120)

    def test_6_move(self):
        """deploy/move-workspace.sh moves a workspace with a campaign running, under load: the
        rest of the fleet does not notice, the workspace answers 503 with Retry-After at most,
        then lives on the target, which finishes the campaign."""
        script = os.path.join(fl.DEPLOY, "move-workspace.sh")
        if not self.fleet.fleet_flags or not os.path.exists(script):
            self.skipTest("this checkout has no fleet support (deploy/move-workspace.sh)")
        ws = self.owned_by("inst-1")[0]
        batch = self.upload(self.fleet.nginx, ws, n=90, seed=4)
        latest = {w: b for w, b, _ in self.batches}
        jobs = [(self.ws[w][0], latest[w]) for w in self.ws]
        load = fl.Load(self.fleet.nginx, jobs).start()
        try:
            time.sleep(1.0)
            t0 = time.monotonic()
            done = self.fleet.move(ws, "inst-3")
            t1 = time.monotonic()
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
            time.sleep(1.5)
        finally:
            records = load.stop()
        # Only the moved workspace may have seen 503s, and only during the move; others never.
        others = [r for r in records if r[2] != ws]
        self.check_load(others, [], "move (other workspaces)")
        for start, end, w, status, inst, retry, code in records:
            if w == ws and status != 200:
                self.assertEqual(status, 503, code)
                self.assertIn(code, RETRY_CODES)
                self.assertTrue(retry)
                self.assertTrue(t0 - 0.5 <= start <= t1 + 1.0, (start, t0, t1))
        print(f"\nmove: {ws} from inst-1 to inst-3 in {t1 - t0:.2f} s")
        reply = h.request(self.fleet.nginx, "GET", f"{h.BATCHES}/{batch}", auth=self.ws[ws][0])
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.headers.get("X-Instance"), "inst-3")
        reply = h.request(self.fleet.instances["inst-1"], "GET", f"{h.BATCHES}/{batch}",
                          auth=self.ws[ws][0])
        self.assertJsonError(reply, 421, {"misdirected_request"})
        self.wait_complete(self.fleet.nginx, timeout=120)

    def test_9_every_call_once(self):
        """Every contact of every campaign above reached the simulator exactly once (no busy or
        failing numbers were used, so no retries), or was reported failed with outcome unknown
        because a kill -9 left it in doubt before it left the instance."""
        self.need_fleet()
        if self.failed:
            self.skipTest("an earlier step failed")
        stats = self.fleet.sim.stats()
        self.assertEqual(stats["duplicates"], 0, stats)
        unknown = 0
        for ws, batch, total in self.batches:
            rows = {}
            for _ms, row, _seq in self.fleet.sim.dials(batch):
                rows[row] = rows.get(row, 0) + 1
            twice = {r: n for r, n in rows.items() if n > 1}
            self.assertFalse(twice, f"{batch}: rows dialled more than once: {twice}")
            missing = [r for r in range(1, total + 1) if r not in rows]
            for row in missing:
                reply = h.request(self.fleet.nginx, "GET", f"{h.BATCHES}/{batch}/calls/call_{row}",
                                  auth=self.ws[ws][0])
                self.assertEqual(reply.status, 200, reply.body)
                self.assertIn("unknown", json.dumps(reply.body),
                              f"{batch} row {row} never dialled, yet not reported: {reply.body}")
                unknown += 1
        print(f"\nledger: {len(self.batches)} batches, {stats['accepted']} calls accepted, "
              f"0 duplicates, {unknown} in doubt reported unknown")


class Writer:
    """Uploads and control actions through a balancer while instances restart: each answered one
    is remembered and checked afterwards (an answered upload exists with every contact, an
    answered pause is still in force after a restart until the answered resume)."""

    def __init__(self, test, target, wave):
        self.test, self.target, self.wave = test, target, wave
        self.stopping = threading.Event()
        self.uploads, self.errors, self.pauses = [], [], 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _retry(self, fn, limit=30.0):
        """fn() until it answers something else than a 503, for at most limit seconds."""
        deadline = time.monotonic() + limit
        while True:
            reply = fn()
            if reply.status != 503 or time.monotonic() > deadline:
                return reply
            time.sleep(0.1)

    def _run(self):
        names = list(self.wave)
        i = 0
        while not self.stopping.is_set():
            ws = names[i % len(names)]
            i += 1
            auth, agent = self.test.ws[ws]
            try:
                parts = [("agentId", agent), ("file", ("c.csv", contacts(3, 100 + i)))]
                reply = h.post_multipart(self.target, h.BATCHES, parts, auth=auth)
                if reply.status == 201:
                    self.uploads.append((ws, reply.body["batchId"], 3))
                elif reply.status != 503:
                    self.errors.append(f"upload {ws}: {reply.status} {reply.body}")
                batch = self.wave[ws]
                path = f"{h.BATCHES}/{batch}"
                reply = h.request(self.target, "POST", f"{path}/pause", auth=auth)
                if reply.status == 200:
                    self.pauses += 1
                    # Paused it stays, whatever restarts meanwhile, until resumed.
                    state = self._retry(lambda: h.request(self.target, "GET", path, auth=auth))
                    if state.status != 200 or state.body.get("paused") is not True:
                        self.errors.append(f"pause of {batch} answered 200, then {state.body}")
                    reply = self._retry(lambda: h.request(self.target, "POST", f"{path}/resume",
                                                          auth=auth))
                    if reply.status == 409:
                        # Its last calls were in flight when it was paused and have ended since:
                        # a batch with nothing left to dial completes, paused or not.
                        state = self._retry(lambda: h.request(self.target, "GET", path, auth=auth))
                        if state.status != 200 or state.body.get("status") != "completed":
                            self.errors.append(f"resume {batch}: 409 {reply.body}, then {state.body}")
                    elif reply.status != 200:
                        self.errors.append(f"resume {batch}: {reply.status} {reply.body}")
                elif reply.status not in (503, 409):
                    self.errors.append(f"pause {batch}: {reply.status} {reply.body}")
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(f"{ws}: {type(e).__name__} {e}")
            time.sleep(0.05)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=60)

    def check(self):
        self.test.assertFalse(self.errors, self.errors)
        self.test.assertTrue(self.uploads and self.pauses, "the writer got nothing answered")
        for ws, batch, n in self.uploads:
            reply = h.request(self.target, "GET", f"{h.BATCHES}/{batch}",
                              auth=self.test.ws[ws][0])
            self.test.assertEqual(reply.status, 200, f"answered upload {batch} lost: {reply.body}")
            self.test.assertEqual(reply.body["totalCalls"], n)
        self.test.batches.extend(self.uploads)
        print(f"\nwriter: {len(self.uploads)} uploads and {self.pauses} pause/resume pairs "
              f"answered, none lost")


if __name__ == "__main__":
    unittest.main()
