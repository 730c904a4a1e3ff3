"""bench/cluster.sh's driver (see there). Python 3 standard library; the fleet on loopback comes
from test/cluster/fleet.py (nginx, HAProxy, carrier-sim, instances)."""

import os
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "cluster"))

import fleet as fl  # noqa: E402
from fleet import h  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WRK_TIME = os.environ.get("BENCH_WRK_TIME", "5s")
DIALS = int(os.environ.get("BENCH_DIALS", "6000"))
MOVE_CALLS = int(os.environ.get("BENCH_MOVE_CALLS", "100000"))


def wrk(target, path, auth):
    """Requests/s and p50/p99 latency (ms) of one wrk round; fails on any non-2xx."""
    host, port = h.address(target)
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{WRK_TIME}", "--latency", "-H", f"x-api-key: {auth[1]}",
         "-H", f"x-workspace-id: {auth[0]}", f"http://{host}:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"bench/cluster: wrk saw errors against {host}:{port}{path}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    return rps, ms("50"), ms("99")


def overhead(fleet, auth, agent, batch):
    print("\n## 1. reads through nginx against the instance directly "
          f"(wrk -t1 -c32 -d{WRK_TIME}, median of {ROUNDS} rounds, alternating)")
    direct = fleet.instances[fleet.owner(auth[0])]
    rows = []
    for label, path in (("GET agent", f"/v1/api/agents/{agent}"),
                        ("GET status", f"{h.BATCHES}/{batch}/status")):
        got = {"direct": [], "nginx": [], "haproxy": []}
        for _ in range(ROUNDS):
            for name, target in (("direct", direct), ("nginx", fleet.nginx),
                                 ("haproxy", fleet.haproxy)):
                got[name].append(wrk(target, path, auth))
        med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3))
               for k, v in got.items()}
        for name in ("direct", "nginx", "haproxy"):
            rps, p50, p99 = med[name]
            ratio = med["direct"][0] / rps
            rows.append(f"| {label} | {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {ratio:.2f} |")
    print("| read | path | req/s | p50 ms | p99 ms | direct req/s ÷ this |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


def dial_rate(n):
    """Dials per second of the whole fleet through nginx: one workspace per instance, each with
    a batch of DIALS/n contacts and no pacing limit, callbacks through nginx."""
    fleet = fl.Fleet(n=n, sim_speed=100000, flags=["--provider-cps", "0",
                                                   "--max-in-flight", "256"]).start()
    try:
        per = DIALS // n
        batches = []
        for name in fleet.names:
            auth, agent = fleet.create_workspace(name, calls_per_second=100000,
                                                 max_concurrent_calls=100000)
            batches.append((auth, agent))
        fleet.reload()
        ids = []
        for i, (auth, agent) in enumerate(batches):
            rows = [(f"+1415{200 + (i * 37 + r // 100) % 800:03d}{r % 100:02d}{10 + r % 90:02d}",
                     f"c{r}") for r in range(per)]
            parts = [("agentId", agent), ("file", ("c.csv", h.csv_of(rows)))]
            reply = h.post_multipart(fleet.nginx, h.BATCHES, parts, auth=auth)
            if reply.status != 201:
                raise SystemExit(f"bench/cluster: upload answered {reply.status} {reply.body}")
            ids.append(reply.body["batchId"])
        deadline = time.monotonic() + 300
        while True:
            stats = fleet.sim.stats()["batches"]
            if all(stats.get(b, {}).get("rows", 0) >= per for b in ids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"bench/cluster: dials incomplete after 300 s: {stats}")
            time.sleep(0.2)
        first = min(stats[b]["firstDialAt"] for b in ids)
        last = max(stats[b]["lastDialAt"] for b in ids)
        if fleet.sim.stats()["duplicates"]:
            raise SystemExit("bench/cluster: the simulator saw a call twice")
        return per * n / max((last - first) / 1000.0, 0.001)
    finally:
        fleet.close()


def move_time(fleet, auth, agent):
    script = os.path.join(fl.DEPLOY, "move-workspace.sh")
    if not fleet.fleet_flags or not os.path.exists(script):
        print("\n## 3. move: skipped (this checkout has no deploy/move-workspace.sh)")
        return
    rows = [(f"+1415{200 + r // 10000 % 800:03d}{r % 10000:04d}", f"c{r}")
            for r in range(MOVE_CALLS)]
    # Scheduled far ahead: the calls exist (waiting) and nothing dials them during the move.
    parts = [("agentId", agent), ("scheduledAt", "2099-01-01T00:00:00Z"),
             ("file", ("c.csv", h.csv_of(rows)))]
    reply = h.post_multipart(fleet.nginx, h.BATCHES, parts, auth=auth, timeout=300)
    if reply.status != 201:
        raise SystemExit(f"bench/cluster: upload answered {reply.status} {reply.body}")
    src = fleet.owner(auth[0])
    dst = next(n for n in fleet.names if n != src)
    t0 = time.monotonic()
    done = fleet.move(auth[0], dst)
    took = time.monotonic() - t0
    if done.returncode != 0:
        raise SystemExit(f"bench/cluster: move failed:\n{done.stdout}{done.stderr}")
    reply = h.request(fleet.nginx, "GET", f"{h.BATCHES}/{reply.body['batchId']}", auth=auth)
    assert reply.status == 200 and reply.body["totalCalls"] == MOVE_CALLS, reply.body
    print(f"\n## 3. move of a workspace with {MOVE_CALLS:,} calls ({src} -> {dst}, "
          f"deploy/move-workspace.sh): {took:.1f} s")


def rolling_restart(fleet, jobs):
    load = fl.Load(fleet.nginx, jobs, workers=4).start()
    windows = []
    try:
        time.sleep(1.0)
        for name in fleet.names:
            server = fleet.instances[name]
            t_down = time.monotonic()
            server.stop()
            server.start()
            windows.append((name, t_down, time.monotonic()))
            time.sleep(1.0)
    finally:
        records = load.stop()
    print("\n## 4. rolling restart under load through nginx (SIGTERM, wait for exit, start, "
          "ready; 1 s between instances)")
    print("| instance | stop to ready s | its workspaces answered non-200 for s | 503s | "
          "other workspaces non-200 |")
    print("|---|---|---|---|---|")
    for name, t_down, t_up in windows:
        mine = [r for r in records if fleet.owner(r[2]) == name and r[3] != 200]
        span = (max(r[1] for r in mine) - min(r[0] for r in mine)) if mine else 0.0
        others = [r for r in records if fleet.owner(r[2]) != name and r[3] != 200
                  and t_down <= r[0] <= t_up]
        print(f"| {name} | {t_up - t_down:.2f} | {span:.2f} | {len(mine)} | {len(others)} |")
    print(f"({len(records)} requests in all)")


def main():
    # SIGTERM (timeout, Ctrl-C from a wrapper) must still stop nginx, HAProxy and the instances.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{os.cpu_count()} CPUs")
    fleet = fl.Fleet(n=3, sim_speed=1000).start()
    try:
        ws = []
        for name in fleet.names:
            ws.append(fleet.create_workspace(name))
        fleet.reload()
        auth, agent = ws[0]
        parts = [("agentId", agent), ("scheduledAt", "2099-01-01T00:00:00Z"),
                 ("file", ("c.csv", h.csv_of([("+14155550123", "a")])))]
        batch = h.post_multipart(fleet.nginx, h.BATCHES, parts, auth=auth).body["batchId"]
        overhead(fleet, auth, agent, batch)

        print(f"\n## 2. dials per second through nginx ({DIALS:,} calls, no pacing limit, "
              "callbacks through nginx, one carrier-sim)")
        one = dial_rate(1)
        three = dial_rate(3)
        print("| instances | dials/s |\n|---|---|")
        print(f"| 1 | {one:,.0f} |\n| 3 | {three:,.0f} |")

        jobs = [(auth, batch)]
        for a, g in ws[1:]:
            parts = [("agentId", g), ("scheduledAt", "2099-01-01T00:00:00Z"),
                     ("file", ("c.csv", h.csv_of([("+14155550123", "a")])))]
            jobs.append((a, h.post_multipart(fleet.nginx, h.BATCHES, parts, auth=a).body["batchId"]))
        move_time(fleet, *ws[1])
        rolling_restart(fleet, jobs)
    finally:
        fleet.close()


if __name__ == "__main__":
    main()
