"""Webhooks (API.md B7) seen from a customer's receiver: the workspace target API (PUT / GET /
DELETE /v1/api/webhook and the admin CLI), signed events for a batch run on the in-process
simulator, delivery while the receiver is failing or gone, restarts, and the deliveries log.

The receiver is an http.server in a thread. It verifies every request's signature the way the
README tells customers to (X-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>),
records every request, and can answer 503 or stop listening for a while. Delivery is at least
once, so the tests de-duplicate by event id and check that every copy of an id is the same
event."""

import hashlib
import hmac
import http.server
import json
import threading
import time

from harness import (admin, admin_run, BATCHES, csv_of, DispatchTestCase, free_port, make_workspace,
                     poll, post_multipart, request, scrape, server_now_ms)

WEBHOOK = "/v1/api/webhook"
DELIVERIES = "/v1/api/webhook/deliveries"
# Short webhook retries and a fast simulator, so that a test takes seconds.
FAST = ["--sim-speed", "500", "--webhook-backoff-ms", "50", "--webhook-backoff-max-ms", "200"]
EVENT_TYPES = {"batch.started", "call.completed", "call.failed", "batch.completed",
               "batch.cancelled", "batch.held", "call.opted_out"}


def number(line):
    """A valid, fictional NANP number: +1 415 555 and a four-digit line."""
    return f"+1415555{line:04d}"


def mixed_numbers(count):
    """count distinct numbers: mostly answered by the simulator, every fifth one ending in 02, 03
    or 04 (unreachable, carrier blocked, voicemail), which end as failed calls without retries."""
    out = []
    for i in range(count):
        tail = (2, 3, 4)[(i // 5) % 3] if i % 5 == 4 else 10 + i % 90
        out.append(number(i * 100 + tail))
    return out


def contacts(numbers):
    return csv_of([(n, f"Name{i + 1}") for i, n in enumerate(numbers)])


class Receiver:
    """A customer's webhook endpoint. mode "up" answers 200, "error" answers 503; stop() closes the
    listening socket (connections are refused) and start() opens it again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/batchcalld"
        self.mode = "up"
        self.secret = None
        self.lock = threading.Lock()
        self.requests = []  # dicts: body, headers, status, at, signature_ok
        self.httpd = None
        self.thread = None

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = 200 if receiver.mode == "up" else 503
                receiver.record(self.path, dict(self.headers.items()), body, status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def signature_ok(self, headers, body):
        """The check a customer runs: t within five minutes, v1 = HMAC-SHA256(secret, t.body)."""
        if self.secret is None:
            return None
        fields = dict(p.split("=", 1) for p in headers.get("X-Signature", "").split(",") if "=" in p)
        try:
            t = int(fields["t"])
        except (KeyError, ValueError):
            return False
        expected = hmac.new(self.secret.encode(), f"{t}.".encode() + body,
                            hashlib.sha256).hexdigest()
        fresh = abs(server_now_ms() / 1000 - t) < 300
        return fresh and hmac.compare_digest(expected, fields.get("v1", ""))

    def record(self, path, headers, body, status):
        entry = {"path": path, "headers": headers, "body": body, "status": status,
                 "at": server_now_ms() / 1000, "signature_ok": self.signature_ok(headers, body)}
        with self.lock:
            self.requests.append(entry)

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def accepted(self):
        """Events answered 200, in arrival order, de-duplicated by id (first copy kept)."""
        seen, out = set(), []
        for r in self.snapshot():
            if r["status"] != 200:
                continue
            event = json.loads(r["body"])
            if event["id"] not in seen:
                seen.add(event["id"])
                out.append(event)
        return out


class WebhookTestCase(DispatchTestCase):

    def start_server(self, *args, allow_private=True, **kwargs):
        """Receivers listen on loopback, which webhooks reach only with --webhook-allow-private
        (servers started with start_class_server run without it)."""
        if allow_private:
            args = ("--webhook-allow-private",) + args
        return super().start_server(*args, **kwargs)

    def receiver(self):
        rx = Receiver().start()
        self.addCleanup(rx.stop)
        return rx

    def set_webhook(self, server, auth, url):
        reply = request(server, "PUT", WEBHOOK, {"url": url}, auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.body

    def wait_events(self, rx, until, timeout=30.0):
        """Polls the receiver until until(accepted events) holds; returns the events."""
        deadline = time.monotonic() + timeout
        while True:
            events = rx.accepted()
            if until(events):
                return events
            if time.monotonic() > deadline:
                self.fail(f"receiver did not get the expected events within {timeout}s: "
                          f"{[(e['type'], e['data'].get('jobId')) for e in events]}")
            time.sleep(0.05)

    def assertWellFormed(self, rx):
        """Every request the receiver got: signed correctly, the documented headers, the exact
        body shape, and every copy of an event id identical (so de-duplication is safe)."""
        bodies = {}
        for r in rx.snapshot():
            self.assertIs(r["signature_ok"], True, r["headers"])
            headers = {k.lower(): v for k, v in r["headers"].items()}
            self.assertEqual(headers.get("content-type"), "application/json")
            self.assertEqual(headers.get("user-agent"), "batchcalld")
            event = json.loads(r["body"])
            self.assertEqual(set(event), {"id", "type", "createdAt", "data"}, event)
            self.assertEqual(headers.get("x-webhook-id"), event["id"])
            self.assertTrue(event["id"].startswith("evt_"), event)
            self.assertIn(event["type"], EVENT_TYPES)
            self.assertIsInstance(event["createdAt"], int)
            bodies.setdefault(event["id"], r["body"])
            self.assertEqual(bodies[event["id"]], r["body"], "two different events share an id")

    def assertBatchEvents(self, events, batch_id, rows):
        """batch.started first, one call event per row, batch.completed last."""
        mine = [e for e in events if e["data"].get("batchId") == batch_id]
        types = [e["type"] for e in mine]
        self.assertEqual(types[0], "batch.started", types)
        self.assertEqual(types[-1], "batch.completed", types)
        self.assertEqual(types.count("batch.started"), 1)
        self.assertEqual(types.count("batch.completed"), 1)
        calls = [e for e in mine if e["type"] in ("call.completed", "call.failed")]
        self.assertEqual(sorted(e["data"]["jobId"] for e in calls),
                         sorted(f"call_{r}" for r in rows))
        for e in calls:
            expected = "completed" if e["type"] == "call.completed" else "failed"
            self.assertEqual(e["data"]["status"], expected, e)
        done = mine[-1]["data"]
        self.assertEqual(done["status"], "completed", done)
        self.assertEqual(done["completed"] + done["failed"], len(rows), done)
        return mine


class WebhookApiTest(WebhookTestCase):
    """PUT / GET / DELETE /v1/api/webhook and the deliveries list, on one shared server."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()
        cls.auth = make_workspace(cls.server)

    def test_put_get_rotate_delete(self):
        auth = make_workspace(self.server)
        self.assertError(request(self.server, "GET", WEBHOOK, auth=auth), 404, "not_found")
        put = self.set_webhook(self.server, auth, "https://example.com/hooks")
        self.assertEqual(set(put), {"url", "secret", "createdAt"})
        self.assertEqual(put["url"], "https://example.com/hooks")
        self.assertRegex(put["secret"], r"^whsec_[0-9a-f]{64}$")
        self.assertIsInstance(put["createdAt"], int)

        got = request(self.server, "GET", WEBHOOK, auth=auth)
        self.assertEqual(got.status, 200, got.body)
        self.assertJsonType(got.headers)
        self.assertEqual(got.body, {"url": "https://example.com/hooks",
                                    "createdAt": put["createdAt"],
                                    "secretHint": put["secret"][-4:]})

        again = self.set_webhook(self.server, auth, "http://example.org:8080/x?y=1")
        self.assertNotEqual(again["secret"], put["secret"], "PUT again must rotate the secret")
        got = request(self.server, "GET", WEBHOOK, auth=auth).body
        self.assertEqual(got["url"], "http://example.org:8080/x?y=1")
        self.assertEqual(got["secretHint"], again["secret"][-4:])

        deleted = request(self.server, "DELETE", WEBHOOK, auth=auth)
        self.assertIn(deleted.status, (200, 204), deleted.body)
        if deleted.status == 200:
            self.assertEqual(deleted.body, {"deleted": True})
        self.assertError(request(self.server, "GET", WEBHOOK, auth=auth), 404, "not_found")
        self.assertError(request(self.server, "DELETE", WEBHOOK, auth=auth), 404, "not_found")

    def test_put_validates_url(self):
        for body in ({"url": "ftp://example.com/x"}, {"url": "example.com/hook"},
                     {"url": "https://"}, {"url": "https://exa mple.com"}, {"url": 42},
                     {"url": ["https://example.com"]}, {},
                     {"url": "https://example.com/" + "a" * 2100}):
            with self.subTest(body=str(body)[:60]):
                reply = request(self.server, "PUT", WEBHOOK, body, auth=self.auth)
                self.assertError(reply, 400, "invalid_field", field="url")
        self.assertError(request(self.server, "PUT", WEBHOOK, "{not json", auth=self.auth,
                                 headers={"Content-Type": "application/json"}),
                         400, "invalid_json")
        self.assertError(request(self.server, "GET", WEBHOOK, auth=self.auth), 404, "not_found")

    def test_secret_only_for_batch_webhook_urls(self):
        """{"url": null}: no workspace-wide target, but a signing secret for batch webhookUrls."""
        auth = make_workspace(self.server)
        put = request(self.server, "PUT", WEBHOOK, {"url": None}, auth=auth)
        self.assertEqual(put.status, 200, put.body)
        self.assertIsNone(put.body["url"])
        self.assertRegex(put.body["secret"], r"^whsec_[0-9a-f]{64}$")
        got = request(self.server, "GET", WEBHOOK, auth=auth).body
        self.assertEqual(got, {"url": None, "createdAt": put.body["createdAt"],
                               "secretHint": put.body["secret"][-4:]})

    def test_needs_auth_and_is_per_workspace(self):
        self.assertError(request(self.server, "GET", WEBHOOK), 401, "unauthorized")
        self.assertError(request(self.server, "PUT", WEBHOOK, {"url": "https://a.example"}),
                         401, "unauthorized")
        a, b = make_workspace(self.server), make_workspace(self.server)
        self.set_webhook(self.server, a, "https://a.example/hook")
        self.assertError(request(self.server, "GET", WEBHOOK, auth=b), 404, "not_found")
        self.assertError(request(self.server, "DELETE", WEBHOOK, auth=b), 404, "not_found")
        self.assertEqual(request(self.server, "GET", WEBHOOK, auth=a).status, 200)

    def test_deliveries_empty_and_bad_parameters(self):
        auth = make_workspace(self.server)
        reply = request(self.server, "GET", DELIVERIES, auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.body["deliveries"], [])
        self.assertEqual(reply.body["pagination"]["total"], 0)
        for query in ("limit=0", "limit=101", "page=0", "page=x"):
            with self.subTest(query=query):
                reply = request(self.server, "GET", f"{DELIVERIES}?{query}", auth=auth)
                self.assertError(reply, 400, "invalid_parameter")

    def test_admin_set_and_delete(self):
        ws, key = make_workspace(self.server)
        out = admin(self.server.data_dir, "webhook", "set", "--workspace", ws, "--url",
                    "https://admin.example/hook")
        self.assertEqual(out["url"], "https://admin.example/hook")
        self.assertRegex(out["secret"], r"^whsec_[0-9a-f]{64}$")
        got = request(self.server, "GET", WEBHOOK, auth=(ws, key)).body
        self.assertEqual(got["secretHint"], out["secret"][-4:])
        bad = admin_run(self.server.data_dir, "webhook", "set", "--workspace", ws, "--url",
                        "not a url")
        self.assertEqual(bad.returncode, 2, bad.stderr)
        missing = admin_run(self.server.data_dir, "webhook", "set", "--workspace", "ws_nope",
                            "--url", "https://a.example")
        self.assertEqual(missing.returncode, 1, missing.stderr)
        out = admin(self.server.data_dir, "webhook", "delete", "--workspace", ws)
        self.assertEqual(out["deleted"], True)
        self.assertError(request(self.server, "GET", WEBHOOK, auth=(ws, key)), 404, "not_found")
        again = admin_run(self.server.data_dir, "webhook", "delete", "--workspace", ws)
        self.assertEqual(again.returncode, 1, again.stderr)

    # Targets that would let a workspace reach inside the server's network, each with the rule
    # its 400 must name. The server runs without --webhook-allow-private.
    REFUSED_TARGETS = [
        ("http://127.0.0.1:9/hook", "loopback"), ("http://127.1/hook", "loopback"),
        ("http://2130706433/", "loopback"), ("http://localhost:8080/", "loopback"),
        ("http://[::1]/", "loopback"), ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"), ("http://10.0.0.5/", "private"),
        ("http://172.16.3.4/", "private"), ("https://192.168.1.10:8443/h", "private"),
        ("http://100.64.0.1/", "private"), ("http://[fd00::1]/", "private"),
        ("http://[::ffff:10.1.1.1]/", "private"), ("http://224.0.0.251/", "multicast"),
        ("http://0.0.0.0:8080/", "unspecified"), ("http://[::]/", "unspecified"),
    ]

    def test_put_refuses_non_public_targets(self):
        auth = make_workspace(self.server)
        for url, rule in self.REFUSED_TARGETS:
            with self.subTest(url=url):
                reply = request(self.server, "PUT", WEBHOOK, {"url": url}, auth=auth)
                self.assertError(reply, 400, "invalid_field", field="url")
                self.assertIn(rule, reply.body["message"])
                self.assertIn("--webhook-allow-private", reply.body["message"])
        self.assertError(request(self.server, "GET", WEBHOOK, auth=auth), 404, "not_found")
        # A public address literal and a name are fine (names are checked again at connect).
        self.set_webhook(self.server, auth, "http://93.184.216.34/hook")
        self.set_webhook(self.server, auth, "https://hooks.example.com/a?b=c@d")

    def test_put_refuses_credentials_without_echoing_them(self):
        auth = make_workspace(self.server)
        for url in ("https://alice:s3cr3t-pw@hooks.example.com/h", "https://tok3n@example.com/"):
            with self.subTest(url=url):
                reply = request(self.server, "PUT", WEBHOOK, {"url": url}, auth=auth)
                self.assertError(reply, 400, "invalid_field", field="url")
                self.assertIn("user:password@", reply.body["message"])
                text = json.dumps(reply.body)
                self.assertNotIn("s3cr3t", text)
                self.assertNotIn("tok3n", text)
        self.assertError(request(self.server, "GET", WEBHOOK, auth=auth), 404, "not_found")

    def test_batch_webhook_url_follows_the_same_rule(self):
        auth, agent = self.setup_workspace(self.server)
        for url, rule in (("http://127.0.0.1:9/h", "loopback"), ("http://10.2.3.4/", "private"),
                          ("http://169.254.169.254/", "link-local"),
                          ("https://bob:pw-xyz@hooks.example.com/", "user:password@")):
            with self.subTest(url=url):
                parts = [("agentId", agent), ("webhookUrl", url),
                         ("file", ("c.csv", contacts([number(1)])))]
                reply = post_multipart(self.server, BATCHES, parts, auth=auth)
                self.assertError(reply, 400, "invalid_field", field="webhookUrl")
                self.assertIn(rule, reply.body["message"])
                self.assertNotIn("pw-xyz", json.dumps(reply.body))
        listed = request(self.server, "GET", BATCHES, auth=auth)
        self.assertEqual(listed.status, 200, listed.body)
        self.assertEqual(listed.body["pagination"]["total"], 0, listed.body)

    def test_admin_refuses_non_public_targets_unless_allowed(self):
        ws, _ = make_workspace(self.server)
        for url in ("http://127.0.0.1:9/h", "https://u:p@hooks.example.com/"):
            with self.subTest(url=url):
                bad = admin_run(self.server.data_dir, "webhook", "set", "--workspace", ws,
                                "--url", url)
                self.assertEqual(bad.returncode, 2, bad.stderr)
                self.assertNotIn("u:p@", bad.stdout + bad.stderr)
        out = admin(self.server.data_dir, "webhook", "set", "--workspace", ws, "--url",
                    "http://127.0.0.1:9/h", "--webhook-allow-private")
        self.assertEqual(out["url"], "http://127.0.0.1:9/h")


class WebhookDeliveryTest(WebhookTestCase):
    """Events of real batch runs on the in-process simulator."""

    def test_batch_run_delivers_every_event_signed(self):
        rx = self.receiver()
        server = self.start_server(*FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=1000,
                                           max_concurrent_calls=100)
        rx.secret = self.set_webhook(server, auth, rx.url)["secret"]
        numbers = mixed_numbers(60)
        batch = self.upload(server, auth, agent, contacts(numbers))
        self.wait_batch(server, auth, batch)
        events = self.wait_events(rx, lambda ev: any(e["type"] == "batch.completed" for e in ev))
        self.assertWellFormed(rx)
        mine = self.assertBatchEvents(events, batch, range(1, 61))
        # One target: events arrive in the order they happened.
        created = [e["createdAt"] for e in mine]
        self.assertEqual(created, sorted(created))
        failed = {e["data"]["jobId"] for e in mine if e["type"] == "call.failed"}
        self.assertEqual(failed, {f"call_{i + 1}" for i in range(60) if i % 5 == 4})
        call = next(e["data"] for e in mine if e["type"] == "call.completed")
        for field in ("batchId", "jobId", "status", "phone_number", "outcome", "duration"):
            self.assertIn(field, call)

        # Delivery results are committed in groups up to 10 ms after the answers: the receiver
        # can have every event before the log shows the last ones.
        def full_log():
            reply = request(server, "GET", f"{DELIVERIES}?limit=100", auth=auth)
            return reply if reply.body["pagination"]["total"] >= len(mine) else None
        self.assertTrue(poll(full_log, timeout=5), "the deliveries log never caught up")
        log = request(server, "GET", f"{DELIVERIES}?limit=100", auth=auth)
        self.assertEqual(log.status, 200, log.body)
        self.assertEqual(log.body["pagination"]["total"], len(mine))
        at = [d["at"] for d in log.body["deliveries"]]
        self.assertEqual(at, sorted(at, reverse=True), "deliveries must be newest first")
        for d in log.body["deliveries"]:
            self.assertEqual((d["status"], d["attempt"], d["url"]), (200, 1, rx.url), d)
            self.assertIn(d["type"], EVENT_TYPES)
            self.assertIsInstance(d["durationMs"], int)
        page2 = request(server, "GET", f"{DELIVERIES}?limit=5&page=2", auth=auth).body
        self.assertEqual(page2["deliveries"], log.body["deliveries"][5:10])
        self.assertEqual(page2["pagination"]["page"], 2)
        metrics = scrape(server)
        self.assertGreaterEqual(metrics.value("batchcalld_webhook_deliveries_total"), len(mine))

    def test_receiver_failing_then_gone_still_gets_everything(self):
        rx = self.receiver()
        rx.mode = "error"
        server = self.start_server(*FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=1000,
                                           max_concurrent_calls=100)
        rx.secret = self.set_webhook(server, auth, rx.url)["secret"]
        batch = self.upload(server, auth, agent, contacts(mixed_numbers(20)))
        self.wait_batch(server, auth, batch)
        # 503s for a while: the head event is retried with backoff, nothing is accepted.
        self.assertTrue(poll(lambda: sum(r["status"] == 503 for r in rx.snapshot()) >= 3,
                             timeout=10))
        self.assertEqual(rx.accepted(), [])
        # Then nobody listens at all, until the log shows an attempt that found nobody.
        rx.stop()

        def refused_attempt():
            log = request(server, "GET", f"{DELIVERIES}?limit=100", auth=auth).body["deliveries"]
            return any(d["status"] is None for d in log)
        self.assertTrue(poll(refused_attempt, timeout=20),
                        "no attempt recorded while the receiver was not listening")
        rx.mode = "up"
        rx.start()
        events = self.wait_events(rx, lambda ev: any(e["type"] == "batch.completed" for e in ev))
        self.assertWellFormed(rx)
        self.assertBatchEvents(events, batch, range(1, 21))

        log = request(server, "GET", f"{DELIVERIES}?limit=100", auth=auth).body["deliveries"]
        statuses = {d["status"] for d in log}
        self.assertIn(503, statuses)
        self.assertIn(200, statuses)
        refused = [d for d in log if d["status"] is None]
        self.assertTrue(refused, "no attempt recorded while the receiver was not listening")
        self.assertTrue(all(d["error"] for d in refused), refused)
        # Only the kind of failure: no address, port or system message of the network behind.
        kinds = {"could not connect", "the connection broke", "timeout"}
        self.assertTrue(all(d["error"] in kinds for d in refused), refused)
        retried = [d for d in log if d["status"] == 503]
        self.assertTrue(all(d["result"] == "retrying" and d["nextAttemptAt"] for d in retried))
        self.assertGreater(max(d["attempt"] for d in log), 2)
        metrics = scrape(server)
        self.assertGreaterEqual(metrics.value("batchcalld_webhook_failed_attempts_total"),
                                len(retried) + len(refused))

    def test_undelivered_events_survive_a_restart(self):
        rx = self.receiver()
        rx.mode = "error"
        server = self.start_server(*FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=1000,
                                           max_concurrent_calls=100)
        rx.secret = self.set_webhook(server, auth, rx.url)["secret"]
        batch = self.upload(server, auth, agent, contacts(mixed_numbers(10)))
        self.wait_batch(server, auth, batch)
        self.assertTrue(poll(lambda: len(rx.snapshot()) >= 2, timeout=10))
        server.restart()
        rx.mode = "up"
        events = self.wait_events(rx, lambda ev: any(e["type"] == "batch.completed" for e in ev))
        self.assertWellFormed(rx)
        self.assertBatchEvents(events, batch, range(1, 11))

    def test_cancel_sends_batch_cancelled(self):
        rx = self.receiver()
        server = self.start_server("--sim-speed", "1", "--webhook-backoff-ms", "50")
        auth, agent = self.setup_workspace(server, calls_per_second=1, max_concurrent_calls=1)
        rx.secret = self.set_webhook(server, auth, rx.url)["secret"]
        batch = self.upload(server, auth, agent, contacts(mixed_numbers(50)))
        self.wait_events(rx, lambda ev: any(e["type"] == "batch.started" for e in ev))
        reply = request(server, "DELETE", f"{BATCHES}/{batch}", auth=auth)
        self.assertEqual(reply.status, 200, reply.body)
        events = self.wait_events(rx, lambda ev: any(e["type"] == "batch.cancelled" for e in ev))
        self.assertWellFormed(rx)
        types = [e["type"] for e in events]
        self.assertEqual(types.count("batch.cancelled"), 1)
        self.assertLess(types.index("batch.started"), types.index("batch.cancelled"))
        cancelled = next(e for e in events if e["type"] == "batch.cancelled")["data"]
        self.assertEqual((cancelled["batchId"], cancelled["status"]), (batch, "cancelled"))
        self.assertNotIn("batch.completed", types)

    def test_batch_webhook_url_signed_with_workspace_secret(self):
        """A batch's own webhookUrl, with no workspace-wide URL: signed with the secret that
        PUT {"url": null} returned. Events of a batch without webhookUrl go nowhere."""
        rx = self.receiver()
        server = self.start_server(*FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=1000,
                                           max_concurrent_calls=100)
        put = request(server, "PUT", WEBHOOK, {"url": None}, auth=auth)
        self.assertEqual(put.status, 200, put.body)
        rx.secret = put.body["secret"]
        quiet = self.upload(server, auth, agent, contacts(mixed_numbers(5)))
        self.wait_batch(server, auth, quiet)
        batch = self.upload(server, auth, agent, contacts(mixed_numbers(10)), webhookUrl=rx.url)
        self.wait_batch(server, auth, batch)
        events = self.wait_events(rx, lambda ev: any(e["type"] == "batch.completed" for e in ev))
        self.assertWellFormed(rx)
        self.assertBatchEvents(events, batch, range(1, 11))
        self.assertEqual({e["data"]["batchId"] for e in events}, {batch})

    def test_workspace_and_batch_targets_both_get_events(self):
        """Two targets, one failing: the healthy one is not held up, and each gets every event."""
        ws_rx, batch_rx = self.receiver(), self.receiver()
        ws_rx.mode = "error"
        server = self.start_server(*FAST)
        auth, agent = self.setup_workspace(server, calls_per_second=1000,
                                           max_concurrent_calls=100)
        secret = self.set_webhook(server, auth, ws_rx.url)["secret"]
        ws_rx.secret = batch_rx.secret = secret
        batch = self.upload(server, auth, agent, contacts(mixed_numbers(10)),
                            webhookUrl=batch_rx.url)
        self.wait_batch(server, auth, batch)
        events = self.wait_events(batch_rx,
                                  lambda ev: any(e["type"] == "batch.completed" for e in ev))
        self.assertBatchEvents(events, batch, range(1, 11))
        self.assertEqual(ws_rx.accepted(), [])
        ws_rx.mode = "up"
        ws_events = self.wait_events(ws_rx,
                                     lambda ev: any(e["type"] == "batch.completed" for e in ev))
        self.assertEqual([e["id"] for e in ws_events], [e["id"] for e in events])
        self.assertWellFormed(ws_rx)
        self.assertWellFormed(batch_rx)

    def test_connect_time_check_refuses_non_public_addresses(self):
        """A target that passed the check when it was set (here set by the operator with
        --webhook-allow-private, as a name could be that later resolves to loopback) is checked
        again on the address delivery connects to: a server without the flag never reaches it,
        and the deliveries log says only that it could not connect."""
        rx = self.receiver()
        server = self.start_server(*FAST, allow_private=False)
        auth, agent = self.setup_workspace(server, calls_per_second=1000)
        admin(server.data_dir, "webhook", "set", "--workspace", auth[0], "--url", rx.url,
              "--webhook-allow-private")
        self.upload(server, auth, agent, contacts(mixed_numbers(3)))

        def failed_attempts():
            log = request(server, "GET", f"{DELIVERIES}?limit=100", auth=auth).body["deliveries"]
            return log if len(log) >= 3 else None
        log = poll(failed_attempts, timeout=20)
        self.assertTrue(log, "no delivery attempt recorded")
        for d in log:
            self.assertEqual((d["status"], d["error"]), (None, "could not connect"), d)
            self.assertIn(d["result"], ("retrying", "gave_up"), d)
        self.assertEqual(rx.snapshot(), [], "a webhook reached a loopback address")
        self.assertIn("address not allowed (loopback)", server.logs(2000))


class HeldEventTest(WebhookTestCase):
    def test_batch_held_when_every_remaining_call_waits_for_its_window(self):
        import calendar
        night = calendar.timegm((2027, 1, 13, 10, 0, 0)) * 1000  # 02:00 in Los Angeles
        offset = str(int(night - time.time() * 1000))
        server = self.start_server("--sim-speed", "1000",
                                   env={"BATCHCALLD_CLOCK_OFFSET_MS": offset})
        auth, agent = self.setup_workspace(server, compliance={})
        rx = self.receiver()
        rx.secret = self.set_webhook(server, auth, rx.url)["secret"]
        batch = self.upload(server, auth, agent,
                            csv_of([(f"+1415555{i:04d}", f"N{i}") for i in range(10, 13)]))
        events = self.wait_events(rx, lambda ev: any(e["type"] == "batch.held" for e in ev))
        held = [e for e in events if e["type"] == "batch.held"]
        self.assertEqual(len(held), 1, held)
        data = held[0]["data"]
        self.assertEqual(data["batchId"], batch)
        self.assertEqual(data["held"], 3)
        self.assertEqual(data["waiting"], 3)
        # 08:00 in Los Angeles.
        self.assertEqual(data["nextWindowOpensAt"], calendar.timegm((2027, 1, 13, 16, 0, 0)) * 1000)
        # Once only: nothing more while the calls stay held.
        time.sleep(1)
        self.assertEqual(sum(e["type"] == "batch.held" for e in rx.accepted()), 1)
        # (Signed with the shifted clock's time, so the receiver's freshness check is not used.)
        self.assertNotIn("batch.started", [e["type"] for e in rx.accepted()])
