"""Running as a fleet (docs/fleet.md): two instances on loopback, each with its own data
directory, and one carrier simulator (`batchcalld carrier-sim`) that both dial through over the
Twilio dialect, so its single ledger counts every dial of a workspace wherever it was placed.

Covered: 421 for a workspace an instance does not hold (before authentication, counted in
/metrics), X-Instance and /healthz; callbacks with the workspace in their path (and the old form);
freeze (503 + Retry-After, nothing dialled); export -> import -> the same answers through the API;
a campaign moved half-way finishes on the target with no call dialled twice; drop removes every
key of the workspace and nothing else; damaged export files are refused without writing."""

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.parse

from harness import (BATCHES, DispatchTestCase, admin, admin_run, binary, mdb_entries, poll,
                     post_multipart, request, scrape, twilio_signature)
from test_dispatch import answered_numbers as answered, contacts, number

# Every table an export holds (store/records.c, records_ws_tables), as the export names them.
TABLES = ["keyhash2ws", "agent", "idem", "webhook", "ws2batch", "usage", "delivery", "batchmeta",
          "job", "jobstate", "statecount", "due", "finalseq", "transcript", "sid2job", "batch",
          "outbox", "ws"]
# Where LMDB names a table otherwise (store/store.c): the per-state index in its second layout.
LMDB_NAMES = {"jobstate": "jobstate.v2"}
# Webhook attempts far apart: the deliveries log does not change while a test compares it.
SLOW_WEBHOOKS = ["--webhook-allow-private", "--webhook-backoff-ms", "3600000",
                 "--webhook-backoff-max-ms", "3600000"]


def without_timestamp(body):
    """A2 and A3 carry the time of the answer ("timestamp"): not part of the workspace."""
    if isinstance(body, dict):
        return {k: without_timestamp(v) for k, v in body.items() if k != "timestamp"}
    return body


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def counts(data_dir):
    return {t: mdb_entries(data_dir, LMDB_NAMES.get(t, t)) for t in TABLES}


class FleetTestCase(DispatchTestCase):
    def instance(self, sim, name, *flags):
        return self.start_twilio_server(sim, "--instance-name", name, "--provider-cps", "0",
                                        "--busy-retry-ms", "300", *SLOW_WEBHOOKS, *flags)

    def export(self, server, ws, path):
        return admin(server.data_dir, "workspace", "export", "--workspace", ws, "--out", path)

    def status(self, server, ws):
        return admin(server.data_dir, "workspace", "status", "--workspace", ws)

    def quiet(self, server, ws):
        """Waits until the workspace has no call in progress and no upload, twice in a row a
        second apart (the server's watcher polls every 0.5 s)."""
        def idle():
            st = self.status(server, ws)
            return st["callsInProgress"] == 0 and st["uploadsInProgress"] == 0
        for _ in range(2):
            self.assertTrue(poll(idle, timeout=20), self.status(server, ws))
            time.sleep(1.0)
        self.assertTrue(idle(), self.status(server, ws))

    def tmpfile(self, name):
        d = tempfile.mkdtemp(prefix="batchcalld-fleet-")
        self.addCleanup(shutil.rmtree, d, True)
        return os.path.join(d, name)


class RoutingTest(FleetTestCase):
    def test_misdirected_requests_get_421_before_authentication(self):
        sim = self.start_carrier_sim()
        a = self.instance(sim, "inst-a")
        b = self.instance(sim, "inst-b")
        auth, _ = self.setup_workspace(a)
        ws = auth[0]
        reply = request(a, "GET", "/v1/api/agents", auth=auth)
        self.assertEqual((reply.status, reply.headers.get("X-Instance")), (200, "inst-a"))
        self.assertEqual(request(b, "GET", "/healthz").body, {"status": "ok", "instance": "inst-b"})
        before = scrape(b).value("batchcalld_misdirected_requests_total")
        # The right key, a wrong key, no key: the workspace is elsewhere, which is what matters.
        for headers in ({"x-api-key": auth[1]}, {"x-api-key": "bck_" + "0" * 48}, {}):
            reply = request(b, "GET", "/v1/api/agents", headers={"x-workspace-id": ws, **headers})
            self.assertError(reply, 421, "misdirected_request", workspace=ws, instance="inst-b")
            self.assertEqual(reply.headers.get("X-Instance"), "inst-b")
            self.assertIn("placement map", reply.body["message"])
        # A callback for the workspace, in the new form, also before its signature is checked.
        reply = request(b, "POST", f"/v1/provider/ws/{ws}/twilio/status?b=batch_x&r=1&a=1", "x=1",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertError(reply, 421, "misdirected_request", workspace=ws)
        # The old form names only a batch: 421 when the batch is not in this store.
        reply = request(b, "POST", "/v1/provider/twilio/status?b=batch_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
                        "&r=1&a=1", "x=1",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertError(reply, 421, "misdirected_request")
        after = scrape(b).value("batchcalld_misdirected_requests_total")
        self.assertEqual(after - before, 5)
        self.assertEqual(scrape(b).value("batchcalld_http_requests_total",
                                         route="/v1/api/agents", status="421"), 3)
        # Without the header nothing can be routed: the usual 401.
        self.assertError(request(b, "GET", "/v1/api/agents"), 401, "unauthorized")

    def test_callbacks_carry_the_workspace_and_the_old_form_still_works(self):
        token = "fleet-callback-token"
        # The in-process simulator at real time: calls stay active long enough to report on.
        a = self.start_server("--instance-name", "inst-a", "--sim-speed", "1",
                              "--twilio-auth-token", token)
        auth, agent = self.setup_workspace(a)
        other, _ = self.setup_workspace(a)
        ws = auth[0]
        batch = self.upload(a, auth, agent, contacts([number(150), number(151)]))
        poll(lambda: all(c["status"] == "active" and c["attempts"] == 1
                         for c in self.calls(a, auth, batch, [1, 2]).values()), timeout=10)
        form = {"Content-Type": "application/x-www-form-urlencoded"}

        def report(path, row, sign_path=None):
            params = [("AccountSid", "ACsimulator00000000000000000000000"),
                      ("CallSid", f"CA{row:032x}"), ("CallStatus", "completed"),
                      ("CallDuration", "7"), ("AnsweredBy", "human"), ("SequenceNumber", "90")]
            url = f"http://127.0.0.1:{a.port}{sign_path or path}"
            headers = {**form, "X-Twilio-Signature": twilio_signature(token, url, params)}
            return request(a, "POST", path, urllib.parse.urlencode(params), headers=headers)

        new = f"/v1/provider/ws/{ws}/twilio/status?b={batch}&r=1&a=1"
        # The workspace is part of what is signed: the same report moved to another
        # workspace's path is forged.
        moved = f"/v1/provider/ws/{other[0]}/twilio/status?b={batch}&r=1&a=1"
        self.assertError(report(moved, 1, sign_path=new), 403, "forbidden")
        self.assertEqual(report(new, 1).status, 204)
        old = f"/v1/provider/twilio/status?b={batch}&r=2&a=1"
        self.assertEqual(report(old, 2).status, 204)
        done = self.wait_batch(a, auth, batch, timeout=10)
        self.assertEqual((done["progress"]["completed"], done["billableCalls"]), (2, 2), done)
        for call in self.calls(a, auth, batch, [1, 2]).values():
            self.assertEqual(call["duration"], 7, call)


class MoveTest(FleetTestCase):
    def api_snapshot(self, server, auth, batches):
        """Everything of the workspace the API shows, as JSON (and the export CSVs)."""
        out = {}
        for path in ["/v1/api/agents", BATCHES, "/v1/api/usage", "/v1/api/webhook",
                     "/v1/api/webhook/deliveries?limit=100"]:
            out[path] = request(server, "GET", path, auth=auth)
        for b in batches:
            for suffix in ["", "/status", "/calls?limit=100", "/calls?status=failed",
                           "/calls/call_1", "/export"]:
                out[b + suffix] = request(server, "GET", f"{BATCHES}/{b}{suffix}", auth=auth)
        for path, reply in out.items():
            self.assertEqual(reply.status, 200, (path, reply.body))
        return {path: without_timestamp(reply.body) for path, reply in out.items()}

    def test_export_import_drop_round_trip(self):
        sim = self.start_carrier_sim(speed=1000)
        a = self.instance(sim, "inst-a")
        b = self.instance(sim, "inst-b")
        auth, agent = self.setup_workspace(a, prompt="Hi {first_name}")
        ws = auth[0]
        bystander, b_agent = self.setup_workspace(a)
        admin(a.data_dir, "webhook", "set", "--workspace", ws, "--url", "http://127.0.0.1:9/hook",
              "--webhook-allow-private")
        # Answered, busy, unreachable and voicemail numbers; an Idempotency-Key.
        nums = answered(6) + [number(200), number(302), number(404)]
        parts = [("agentId", agent), ("file", ("c.csv", contacts(nums)))]
        reply = post_multipart(a, BATCHES, parts, auth=auth, headers={"Idempotency-Key": "k-1"})
        self.assertEqual(reply.status, 201, reply.body)
        first = reply.body["batchId"]
        second = self.upload(a, auth, agent, contacts(answered(3, start=500)))
        other = self.upload(a, bystander, b_agent, contacts(answered(4, start=900)))
        for x, au in ((first, auth), (second, auth), (other, bystander)):
            self.wait_batch(a, au, x, timeout=60)
        # Webhook attempts to the dead URL are recorded: deliveries and outbox entries exist.
        poll(lambda: request(a, "GET", "/v1/api/webhook/deliveries", auth=auth)
             .body["pagination"]["total"] > 0, timeout=10)
        before = self.api_snapshot(a, auth, [first, second])

        a_before, b_before = counts(a.data_dir), counts(b.data_dir)
        path = self.tmpfile("ws.bcx")
        exported = self.export(a, ws, path)
        self.assertEqual((exported["workspaceId"], exported["file"], exported["frozen"]),
                         (ws, path, False))
        self.assertEqual(exported["bytes"], os.path.getsize(path))
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(exported["sha256"], hashlib.sha256(data[:-41]).hexdigest())
        tables = exported["tables"]
        for t in ["keyhash2ws", "agent", "idem", "webhook", "ws2batch", "usage", "delivery",
                  "batchmeta", "job", "jobstate", "statecount", "finalseq", "sid2job", "batch",
                  "outbox", "ws"]:
            self.assertGreater(tables[t], 0, (t, tables))
        self.assertEqual(tables["batch"], 2)
        self.assertEqual(tables["job"], len(nums) + 3)

        imported = admin(b.data_dir, "workspace", "import", "--in", path)
        self.assertEqual((imported["workspaceId"], imported["tables"], imported["sidConflicts"]),
                         (ws, tables, 0))
        self.assertEqual(counts(b.data_dir), {t: b_before[t] + tables[t] for t in TABLES})
        # The same key works on the target, which answers exactly what the source did.
        after = self.api_snapshot(b, auth, [first, second])
        for key in before:
            self.assertEqual(after[key], before[key], key)
        self.assertEqual(request(b, "GET", "/v1/api/agents", auth=auth).headers["X-Instance"],
                         "inst-b")
        # The idempotency key travelled: the same upload replays the same batch on the target.
        reply = post_multipart(b, BATCHES, parts, auth=auth, headers={"Idempotency-Key": "k-1"})
        self.assertEqual((reply.status, reply.body["batchId"]), (201, first), reply.body)
        self.assertEqual(reply.headers.get("Idempotent-Replayed"), "true")
        # Importing again is refused; nothing changes.
        done = admin_run(b.data_dir, "workspace", "import", "--in", path)
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("exists", done.stdout)
        self.assertEqual(counts(b.data_dir), {t: b_before[t] + tables[t] for t in TABLES})

        # Drop on the source: frozen first, then every key of the workspace, nothing else.
        done = admin_run(a.data_dir, "workspace", "drop", "--workspace", ws)
        self.assertEqual(done.returncode, 1)
        self.assertIn("freeze it first", done.stdout)
        admin(a.data_dir, "workspace", "freeze", "--workspace", ws)
        dropped = admin(a.data_dir, "workspace", "drop", "--workspace", ws)
        self.assertTrue(dropped["dropped"])
        a_after = counts(a.data_dir)
        # The source's outbox may have delivered or re-queued nothing meanwhile (slow webhooks).
        self.assertEqual(a_after, {t: a_before[t] - tables[t] for t in TABLES},
                         (a_before, tables, a_after))
        self.assertEqual(dropped["tables"], tables)
        self.assertError(request(a, "GET", "/v1/api/agents", auth=auth), 421,
                         "misdirected_request")
        self.assertEqual(self.batch(a, bystander, other)["progress"]["completed"], 4)

    def campaign(self, total, started):
        """Two instances and a campaign of total answered calls on the first, started calls
        ended already: (sim, a, b, auth, batch)."""
        sim = self.start_carrier_sim(speed=100)
        a = self.instance(sim, "inst-a")
        b = self.instance(sim, "inst-b")
        auth, agent = self.setup_workspace(a, calls_per_second=25, max_concurrent_calls=20)
        batch = self.upload(a, auth, agent, contacts(answered(total)))
        self.wait_batch(a, auth, batch, until=lambda x: x["progress"]["completed"] >= started,
                        timeout=30)
        return sim, a, b, auth, batch

    def test_campaign_moved_half_way_dials_every_call_once(self):
        total = 150
        sim, a, b, auth, batch = self.campaign(total, 20)
        ws = auth[0]

        frozen = admin(a.data_dir, "workspace", "freeze", "--workspace", ws)
        self.assertEqual((frozen["frozen"], frozen["changed"]), (True, True))
        reply = request(a, "GET", f"{BATCHES}/{batch}", auth=auth)
        self.assertError(reply, 503, "workspace_moving", retryAfter=5)
        self.assertEqual(reply.headers.get("Retry-After"), "5")
        self.quiet(a, ws)
        dialled_at_freeze = len(sim.dials(batch))
        self.assertLess(dialled_at_freeze, total, "the campaign ended before the move")

        path = self.tmpfile("move.bcx")
        self.export(a, ws, path)
        imported = admin(b.data_dir, "workspace", "import", "--in", path)
        self.assertTrue(imported["frozen"])
        # Held by the target now, still frozen: 503 there, and nothing is dialled anywhere.
        self.assertError(request(b, "GET", f"{BATCHES}/{batch}", auth=auth), 503,
                         "workspace_moving")
        time.sleep(1.0)
        self.assertEqual(len(sim.dials(batch)), dialled_at_freeze)

        admin(b.data_dir, "workspace", "thaw", "--workspace", ws)
        done = self.wait_batch(b, auth, batch, timeout=60)
        admin(a.data_dir, "workspace", "drop", "--workspace", ws)
        self.assertError(request(a, "GET", f"{BATCHES}/{batch}", auth=auth), 421,
                         "misdirected_request")

        dials = sim.dials(batch)
        rows = sorted(row for _, row, _ in dials)
        self.assertEqual(rows, list(range(1, total + 1)), "a call dialled twice or never")
        # (A request number above 1 is a provider-trouble retry whose first request never
        # reached the simulator, a timeout on a slow machine: still one dial.)
        self.assertEqual((done["status"], done["progress"]["completed"], done["billableCalls"],
                          done["attempts"]), ("completed", total, total, total), done)
        usage = request(b, "GET", "/v1/api/usage", auth=auth).body
        self.assertEqual(usage["billableCalls"], total, usage)
        # The target dialled the rest: its metrics count them, the source's the first part.
        self.assertEqual(scrape(b).value("batchcalld_dials_total"), total - dialled_at_freeze)

    def test_move_script_moves_a_running_campaign(self):
        """deploy/move-workspace.sh end to end, with a reload command that records its run."""
        total = 120
        sim, a, b, auth, batch = self.campaign(total, 10)
        ws = auth[0]
        the_map = self.tmpfile("placement.map")
        admin("/nonexistent", "placement", "set", "--map", the_map, "--workspace", ws,
              "--instance", "inst-a")
        reloaded = the_map + ".reloaded"
        script = os.path.join(os.path.dirname(__file__), "..", "..", "deploy",
                              "move-workspace.sh")
        env = dict(os.environ,
                   SRC_ADMIN=f"env BATCHCALLD_DATA_DIR={a.data_dir} {binary()} admin",
                   DST_ADMIN=f"env BATCHCALLD_DATA_DIR={b.data_dir} {binary()} admin",
                   MAP_ADMIN=f"{binary()} admin", MAP=the_map, MOVE_WAIT_S="60")
        done = subprocess.run(["sh", script, ws, "inst-b", f"cp {the_map} {reloaded}"], env=env,
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("6/6", done.stderr)
        self.assertIn(f"{ws} inst-b", read_text(reloaded), "reloaded before the map was set")
        finished = self.wait_batch(b, auth, batch, timeout=60)
        self.assertEqual((finished["progress"]["completed"], finished["billableCalls"]),
                         (total, total), finished)
        rows = sorted(row for _, row, _ in sim.dials(batch))
        self.assertEqual(rows, list(range(1, total + 1)), "a call dialled twice or never")
        self.assertError(request(a, "GET", f"{BATCHES}/{batch}", auth=auth), 421,
                         "misdirected_request")
        # Nothing of the workspace is left on the source.
        self.assertEqual(admin_run(a.data_dir, "workspace", "status", "--workspace", ws)
                         .returncode, 1)


def records(data):
    """Splits an export file into (header, [(table, key, value)], trailer)."""
    nl = data.index(b"\n") + 1
    pos, out = nl, []
    while data[pos:pos + 1] == b"R":
        n = data[pos + 1]
        table = data[pos + 2:pos + 2 + n]
        pos += 2 + n
        (kl,) = struct.unpack(">I", data[pos:pos + 4])
        key = data[pos + 4:pos + 4 + kl]
        pos += 4 + kl
        (vl,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((table, key, data[pos + 4:pos + 4 + vl]))
        pos += 4 + vl
    return data[:nl], out, data[pos:]


def encode(header, recs):
    body = header + b"".join(b"R" + bytes([len(t)]) + t + struct.pack(">I", len(k)) + k +
                             struct.pack(">I", len(v)) + v for t, k, v in recs)
    return body + b"E" + struct.pack(">Q", len(recs)) + hashlib.sha256(body).digest()


class DamagedFileTest(FleetTestCase):
    def test_damaged_exports_are_refused_and_write_nothing(self):
        sim = self.start_carrier_sim()
        a = self.instance(sim, "inst-a")
        b = self.instance(sim, "inst-b")
        auth, agent = self.setup_workspace(a)
        victim, _ = self.setup_workspace(b)
        batch = self.upload(a, auth, agent, contacts(answered(5)))
        self.wait_batch(a, auth, batch)
        path = self.tmpfile("good.bcx")
        self.export(a, auth[0], path)
        with open(path, "rb") as f:
            good = f.read()
        header, recs, _ = records(good)
        self.assertEqual(encode(header, recs), good, "the test's reader disagrees with the format")
        # A record of another workspace, correctly framed and hashed: an agent of the victim.
        foreign = [(t, victim[0].encode() + k[len(auth[0]):] if t == b"agent" else k, v)
                   for t, k, v in recs]
        cases = {
            "empty": b"",
            "header only": header,
            "cut in a record": good[:len(good) // 2],
            "cut in the trailer": good[:-10],
            "one byte flipped": good[:100] + bytes([good[100] ^ 1]) + good[101:],
            "trailing garbage": good + b"x",
            "another version": good.replace(b"BCWSX 1 ", b"BCWSX 9 ", 1),
            "not an export": b"phone_number\n+14155550100\n",
            "unknown table": encode(header, recs + [(b"nosuch", b"k", b"v")]),
            "foreign key": encode(header, foreign),
            "no workspace record": encode(header, [r for r in recs if r[0] != b"ws"]),
        }
        before = counts(b.data_dir)
        bad = self.tmpfile("bad.bcx")
        for label, data in cases.items():
            with open(bad, "wb") as f:
                f.write(data)
            done = admin_run(b.data_dir, "workspace", "import", "--in", bad)
            self.assertEqual(done.returncode, 1, (label, done.stdout))
            self.assertIn('"invalid_export"', done.stdout, label)
            self.assertIn(bad, done.stdout, label)
            self.assertEqual(counts(b.data_dir), before, label)
        self.assertError(request(b, "GET", "/v1/api/agents", auth=auth), 421,
                         "misdirected_request")
        # The good file imports.
        admin(b.data_dir, "workspace", "import", "--in", path)
        self.assertEqual(request(b, "GET", "/v1/api/agents", auth=auth).status, 200)

    def test_placement_map(self):
        path = self.tmpfile("placement.map")
        done = admin_run("/nonexistent", "placement", "show", "--map", path)
        self.assertEqual((done.returncode, done.stdout.count('"count":\t0')), (0, 1), done)
        admin("/nonexistent", "placement", "set", "--map", path, "--workspace", "ws_B",
              "--instance", "inst-b")
        out = admin("/nonexistent", "placement", "set", "--map", path, "--workspace", "ws_A",
                    "--instance", "inst-a")
        self.assertEqual(out, {"workspace": "ws_A", "instance": "inst-a", "previous": None})
        out = admin("/nonexistent", "placement", "set", "--map", path, "--workspace", "ws_B",
                    "--instance", "inst-c")
        self.assertEqual(out["previous"], "inst-b")
        lines = [l for l in read_text(path).splitlines() if not l.startswith("#")]
        self.assertEqual(lines, ["ws_A inst-a", "ws_B inst-c"])
        lines = [l for l in read_text(path + ".nginx").splitlines() if not l.startswith("#")]
        self.assertEqual(lines, ["ws_A inst-a;", "ws_B inst-c;"])
        shown = admin("/nonexistent", "placement", "show", "--map", path, "--workspace", "ws_B")
        self.assertEqual(shown, {"workspace": "ws_B", "instance": "inst-c"})
        admin("/nonexistent", "placement", "remove", "--map", path, "--workspace", "ws_A")
        done = admin_run("/nonexistent", "placement", "remove", "--map", path, "--workspace",
                         "ws_A")
        self.assertEqual(done.returncode, 1)
        for bad in (["--instance", "a b"], ["--instance", "x;y"], ["--instance", "x" * 65]):
            done = admin_run("/nonexistent", "placement", "set", "--map", path, "--workspace",
                             "ws_C", *bad)
            self.assertEqual(done.returncode, 2, bad)
        with open(path, "a") as f:
            f.write("ws_D inst-d extra\n")
        done = admin_run("/nonexistent", "placement", "set", "--map", path, "--workspace", "ws_E",
                         "--instance", "inst-e")
        self.assertEqual(done.returncode, 1)
        self.assertIn("line 3", done.stdout)
        self.assertNotIn("ws_E", read_text(path))
        self.assertEqual(sorted(os.listdir(os.path.dirname(path))),
                         ["placement.map", "placement.map.lock", "placement.map.nginx"])


if __name__ == "__main__":
    import unittest
    unittest.main()
