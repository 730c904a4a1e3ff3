"""poller.py PORT PATH KEY WS STOP OUT: the status probe of the benchmarks. One keep-alive
connection asks for PATH in a loop, 1 ms apart, until the file STOP exists. Each line of OUT is
"start_unix_ns latency_ms"; OUT.ready appears after the first answer. Any answer but 200 stops it
with an error."""
import http.client
import os
import sys
import time

port, path, key, ws, stop, out = sys.argv[1:7]
headers = {"x-api-key": key, "x-workspace-id": ws}
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
with open(out, "w") as f:
    ready = False
    while not os.path.exists(stop):
        start = time.time_ns()
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        if resp.status != 200:
            sys.exit("poller: GET %s answered %d: %s" % (path, resp.status, body[:200]))
        print(start, "%.4f" % ms, file=f)
        if not ready:
            open(out + ".ready", "w").close()
            ready = True
        time.sleep(0.001)
