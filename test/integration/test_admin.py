"""The admin CLI: workspaces and API keys, on its own and while a server uses the same data."""

import json
import shutil
import tempfile

from harness import ServerTestCase, admin, admin_run, request


def limits_of(obj):
    """The contract prints limits beside the ids without saying whether they are top-level
    fields or a nested "limits" object; accept either spelling."""
    return obj["limits"] if isinstance(obj.get("limits"), dict) else obj


class AdminCliTest(ServerTestCase):
    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="batchcalld-admin-")
        self.addCleanup(shutil.rmtree, self.data_dir, True)

    def create(self, name, *flags):
        return admin(self.data_dir, "workspace", "create", "--name", name, *flags)

    def workspaces(self):
        listed = admin(self.data_dir, "workspace", "list")
        self.assertIsInstance(listed.get("workspaces"), list, listed)
        return {w["workspaceId"]: w for w in listed["workspaces"]}

    def keys(self, workspace_id):
        done = admin_run(self.data_dir, "key", "list", "--workspace", workspace_id)
        self.assertEqual(done.returncode, 0, done.stderr)
        listed = json.loads(done.stdout)
        self.assertIsInstance(listed.get("keys"), list, listed)
        return done.stdout, listed["keys"]

    def assertFails(self, args, code=None):
        done = admin_run(self.data_dir, *args)
        if code is None:
            self.assertNotEqual(done.returncode, 0, f"admin {args} succeeded: {done.stdout}")
        else:
            self.assertEqual(done.returncode, code, f"admin {args}: {done.stdout}{done.stderr}")
        self.assertTrue(done.stderr.strip(), f"admin {args} failed without a message")

    def test_workspace_create_prints_ids_and_default_limits(self):
        out = self.create("Acme")
        self.assertTrue(out["workspaceId"].startswith("ws_"), out)
        self.assertTrue(out["apiKey"].startswith("bck_"), out)
        self.assertTrue(out["keyId"].startswith("key_"), out)
        self.assertEqual(out["name"], "Acme")
        limits = limits_of(out)
        self.assertEqual(limits["requestsPerMinute"], 600)
        self.assertEqual(limits["maxRecords"], 1000000)
        self.assertGreater(limits["callsPerSecond"], 0)
        self.assertGreater(limits["maxConcurrentCalls"], 0)
        other = self.create("Acme")
        self.assertNotEqual(other["workspaceId"], out["workspaceId"])
        self.assertNotEqual(other["apiKey"], out["apiKey"])
        self.assertNotEqual(other["keyId"], out["keyId"])

    def test_workspace_create_with_limits(self):
        out = self.create("Limited", "--calls-per-second", "2.5", "--max-concurrent-calls", "7",
                          "--requests-per-minute", "90", "--max-records", "5000")
        expected = {"callsPerSecond": 2.5, "maxConcurrentCalls": 7, "requestsPerMinute": 90,
                    "maxRecords": 5000}
        limits = limits_of(out)
        self.assertEqual({name: limits.get(name) for name in expected}, expected)

    def test_workspace_list_shows_every_workspace_without_secrets(self):
        one = self.create("one")
        two = self.create("two", "--requests-per-minute", "42")
        done = admin_run(self.data_dir, "workspace", "list")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn(one["apiKey"], done.stdout)
        self.assertNotIn(two["apiKey"], done.stdout)
        listed = self.workspaces()
        self.assertEqual(set(listed), {one["workspaceId"], two["workspaceId"]})
        self.assertEqual(listed[one["workspaceId"]]["name"], "one")
        self.assertEqual(limits_of(listed[two["workspaceId"]])["requestsPerMinute"], 42)

    def test_workspace_update_changes_only_the_given_limits(self):
        ws = self.create("upd", "--requests-per-minute", "10", "--max-records", "100")
        wid = ws["workspaceId"]
        admin(self.data_dir, "workspace", "update", "--workspace", wid,
              "--requests-per-minute", "20")
        limits = limits_of(self.workspaces()[wid])
        self.assertEqual((limits["requestsPerMinute"], limits["maxRecords"]), (20, 100))
        admin(self.data_dir, "workspace", "update", "--workspace", wid, "--calls-per-second", "3")
        limits = limits_of(self.workspaces()[wid])
        self.assertEqual((limits["callsPerSecond"], limits["requestsPerMinute"],
                          limits["maxRecords"]), (3, 20, 100))
        self.assertEqual(self.workspaces()[wid]["name"], "upd")

    def test_key_create_list_revoke(self):
        ws = self.create("keys")
        wid = ws["workspaceId"]
        key = admin(self.data_dir, "key", "create", "--workspace", wid, "--label", "ci")
        self.assertEqual(key["workspaceId"], wid)
        self.assertEqual(key["label"], "ci")
        self.assertTrue(key["keyId"].startswith("key_"), key)
        self.assertTrue(key["apiKey"].startswith("bck_"), key)
        self.assertNotEqual(key["apiKey"], ws["apiKey"])

        raw, keys = self.keys(wid)
        self.assertNotIn(ws["apiKey"], raw)
        self.assertNotIn(key["apiKey"], raw)
        by_id = {k["keyId"]: k for k in keys}
        self.assertEqual(set(by_id), {ws["keyId"], key["keyId"]})
        self.assertEqual(by_id[key["keyId"]]["label"], "ci")
        for entry in keys:
            self.assertNotIn("apiKey", entry)
            self.assertIsInstance(entry["createdAt"], int)
            self.assertGreater(entry["createdAt"], 1_600_000_000_000, "createdAt not in ms")

        revoked = admin(self.data_dir, "key", "revoke", "--key-id", key["keyId"])
        self.assertEqual(revoked, {"keyId": key["keyId"], "revoked": True})
        _, keys = self.keys(wid)
        still = [k for k in keys if k["keyId"] == key["keyId"] and not k.get("revoked")]
        self.assertEqual(still, [], "a revoked key is listed as active")

    def test_keys_of_other_workspaces_are_not_listed(self):
        a = self.create("a")
        b = self.create("b")
        _, keys = self.keys(a["workspaceId"])
        self.assertEqual([k["keyId"] for k in keys], [a["keyId"]])
        _, keys = self.keys(b["workspaceId"])
        self.assertEqual([k["keyId"] for k in keys], [b["keyId"]])

    def test_errors_exit_non_zero_with_a_message(self):
        ws = self.create("errors")
        self.assertFails(["workspace", "create"])
        self.assertFails(["workspace", "create", "--name", "x", "--requests-per-minute", "abc"])
        self.assertFails(["workspace", "create", "--name", "x", "--requests-per-minute", "-5"])
        self.assertFails(["workspace", "create", "--name", "x", "--max-records", "0"])
        self.assertFails(["workspace", "create", "--name", "x", "--no-such-flag", "1"])
        self.assertFails(["workspace", "update", "--workspace", "ws_doesnotexist",
                          "--requests-per-minute", "5"], code=1)
        self.assertFails(["workspace", "update", "--workspace", ws["workspaceId"],
                          "--requests-per-minute", "nope"])
        self.assertFails(["key", "create", "--workspace", "ws_doesnotexist"], code=1)
        self.assertFails(["key", "list", "--workspace", "ws_doesnotexist"], code=1)
        self.assertFails(["key", "revoke", "--key-id", "key_doesnotexist"], code=1)
        self.assertFails(["frobnicate"])
        self.assertEqual(list(self.workspaces()), [ws["workspaceId"]],
                         "a failed create left a workspace behind")


class AdminWhileServingTest(ServerTestCase):
    """Admin commands run in another process against the live server's data dir."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def create(self, *flags):
        return admin(self.server.data_dir, "workspace", "create", "--name", "live", *flags)

    def get(self, workspace_id, api_key):
        return request(self.server, "GET", "/v1/api/agents", auth=(workspace_id, api_key))

    def test_new_workspace_key_works_at_once(self):
        ws = self.create()
        self.assertEqual(self.get(ws["workspaceId"], ws["apiKey"]).status, 200)
        self.assertIn(ws["workspaceId"], {w["workspaceId"] for w in
                                          admin(self.server.data_dir, "workspace", "list")
                                          ["workspaces"]})

    def test_new_key_works_and_revoked_key_fails_at_once(self):
        ws = self.create()
        wid = ws["workspaceId"]
        self.assertEqual(self.get(wid, ws["apiKey"]).status, 200)
        extra = admin(self.server.data_dir, "key", "create", "--workspace", wid, "--label", "x")
        self.assertEqual(self.get(wid, extra["apiKey"]).status, 200)
        admin(self.server.data_dir, "key", "revoke", "--key-id", ws["keyId"])
        self.assertError(self.get(wid, ws["apiKey"]), 401, "unauthorized")
        self.assertEqual(self.get(wid, extra["apiKey"]).status, 200)
        admin(self.server.data_dir, "key", "revoke", "--key-id", extra["keyId"])
        self.assertError(self.get(wid, extra["apiKey"]), 401, "unauthorized")

    def test_limit_update_takes_effect_at_once(self):
        ws = self.create("--requests-per-minute", "50")
        reply = self.get(ws["workspaceId"], ws["apiKey"])
        self.assertEqual(reply.headers.get("RateLimit-Limit"), "50")
        admin(self.server.data_dir, "workspace", "update", "--workspace", ws["workspaceId"],
              "--requests-per-minute", "7")
        reply = self.get(ws["workspaceId"], ws["apiKey"])
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers.get("RateLimit-Limit"), "7")
