"""wait_batch.py PORT PATH KEY WS TIMEOUT OUT: polls a batch's status (PATH) every 50 ms until it
is complete, then writes the last answer to OUT as JSON with "seenAt" (unix ms) added. Exits
with an error on a non-200 answer or after TIMEOUT seconds."""
import http.client
import json
import sys
import time

port, path, key, ws, timeout, out = sys.argv[1:7]
headers = {"x-api-key": key, "x-workspace-id": ws}
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
deadline = time.monotonic() + float(timeout)
while True:
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        sys.exit("wait_batch: GET %s answered %d: %s" % (path, resp.status, body[:200]))
    a2 = json.loads(body)
    if a2["isComplete"]:
        a2["seenAt"] = time.time_ns() // 1000000
        with open(out, "w") as f:
            json.dump(a2, f)
        break
    if time.monotonic() > deadline:
        sys.exit("wait_batch: batch not complete after %s s: %s" % (timeout, body[:500]))
    time.sleep(0.05)
