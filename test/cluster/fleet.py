"""A batchcalld fleet on loopback for the cluster tests and bench/cluster.sh: one carrier-sim (the
provider, whose ledger counts every dial of the whole fleet and survives instance restarts), N
instances each with its own data directory, and real nginx and HAProxy in front, configured by
deploy/fleetconf.py with their own state directory (never the system services).

Python 3 standard library only; the process helpers come from test/integration/harness.py.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "test", "integration"))

import harness as h  # noqa: E402

DEPLOY = os.path.join(REPO, "deploy")


def need(tool):
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if not path:
        raise RuntimeError(f"{tool} is not installed: run bash deps/install.sh --test (as root)")
    return path


def binary_has(flag):
    """Whether this batchcalld's serve accepts flag (the fleet flags came later)."""
    out = subprocess.run([h.binary(), "--help"], capture_output=True, text=True)
    return flag in out.stdout + out.stderr


def port_open(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Balancer:
    """nginx or HAProxy in the foreground, as a child process of the test."""

    name = "?"

    def __init__(self, fleet, port):
        self.fleet = fleet
        self.port = port
        self.host = "127.0.0.1"
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None
        self.log_path = os.path.join(fleet.state, f"{self.name}.out")

    def __iter__(self):
        """(host, port), so the harness's request helpers take a balancer as their target."""
        return iter((self.host, self.port))

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.logs()}")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self, max_lines=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            lines = []
        return f"----- {self.name} -----\n" + "\n".join(lines[-max_lines:]) + "\n"


class Nginx(Balancer):
    name = "nginx"

    def command(self):
        return [need("nginx"), "-p", self.fleet.state, "-c", self.fleet.nginx_conf,
                "-g", "daemon off;"]

    def reload_command(self):
        return [need("nginx"), "-p", self.fleet.state, "-c", self.fleet.nginx_conf, "-s", "reload"]

    def reload(self):
        subprocess.run(self.reload_command(), check=True, capture_output=True)


class HAProxy(Balancer):
    name = "haproxy"

    def command(self):
        # -W: master-worker, so SIGUSR2 to the master reloads (the new map) without a restart.
        return [need("haproxy"), "-W", "-db", "-f", self.fleet.haproxy_cfg]

    def reload_command(self):
        return ["kill", "-USR2", str(self.proc.pid)]

    def reload(self):
        self.proc.send_signal(signal.SIGUSR2)


class Fleet:
    """The carrier-sim, `n` instances named inst-1..inst-n, nginx and HAProxy.

    public: which balancer the instances give the provider as --public-url ("nginx" or
    "haproxy"), so the simulator's callbacks go through it."""

    def __init__(self, n=3, sim_speed=200, public="nginx", flags=()):
        self.dir = tempfile.mkdtemp(prefix="batchcalld-cluster-")
        self.state = os.path.join(self.dir, "balancer")
        self.map = os.path.join(self.dir, "placement.map")
        self.nginx_conf = os.path.join(self.state, "nginx.conf")
        self.haproxy_cfg = os.path.join(self.state, "haproxy.cfg")
        self.fleet_flags = binary_has("--instance-name")
        self.sim = h.CarrierSim(speed=sim_speed)
        self.names = [f"inst-{i + 1}" for i in range(n)]
        self.ports = {name: h.free_port() for name in self.names}
        self.nginx = Nginx(self, h.free_port())
        self.haproxy = HAProxy(self, h.free_port())
        self.public = public
        self.extra_flags = list(flags)
        self.instances = {name: self._server(name) for name in self.names}
        self.placement = {}

    def _server(self, name):
        server = h.Server(*self.instance_flags(name), data_dir=os.path.join(self.dir, name),
                          keep_data=False, port=self.ports[name])
        return server

    def instance_flags(self, name):
        balancer = self.nginx if self.public == "nginx" else self.haproxy
        flags = ["--provider", "twilio", "--twilio-api-base", self.sim.url,
                 "--twilio-account-sid", self.sim.account_sid,
                 "--twilio-auth-token", self.sim.auth_token,
                 # Callbacks come back through the balancer, routed by the workspace in their path.
                 "--public-url", balancer.url,
                 # Behind a balancer every client has the balancer's address.
                 "--max-connections-per-ip", "0",
                 "--busy-retry-ms", "100", "--provider-backoff-ms", "20",
                 "--provider-backoff-max-ms", "200", "--reconcile-ms", "3000",
                 "--shutdown-timeout-ms", "5000", "--log-level", "warn"]
        if self.fleet_flags:
            flags += ["--instance-name", name]
        return flags + self.extra_flags

    def start(self):
        self.sim.start()
        for server in self.instances.values():
            server.start()
        cmd = [sys.executable, os.path.join(DEPLOY, "fleetconf.py"), "--state", self.state,
               "--listen", f"127.0.0.1:{self.nginx.port}",
               "--haproxy-listen", f"127.0.0.1:{self.haproxy.port}",
               "--map", self.map, "--workers", "1"]
        for name in self.names:
            cmd += ["--instance", f"{name}=127.0.0.1:{self.ports[name]}"]
        subprocess.run(cmd, check=True, capture_output=True)
        self.nginx.start()
        self.haproxy.start()
        return self

    def close(self):
        for b in (self.nginx, self.haproxy):
            b.stop()
        errors = []
        for server in self.instances.values():
            try:
                server.close(check=True)
            except Exception as e:  # noqa: BLE001 -- report every instance, not the first
                errors.append(str(e))
        self.sim.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if errors:
            raise AssertionError("\n".join(errors))

    def logs(self):
        parts = [s.logs(80) for s in self.instances.values()]
        parts += [self.sim.logs(40), self.nginx.logs(), self.haproxy.logs()]
        return "".join(parts)

    # --- workspaces and the placement map ---

    def create_workspace(self, instance, **limits):
        """A workspace on one instance (admin CLI on its data directory) with an agent, placed
        there in the map. Returns (auth, agent_id)."""
        limits.setdefault("requests_per_minute", 1000000)
        auth = h.make_workspace(self.instances[instance].data_dir, **limits)
        reply = h.request(self.instances[instance], "POST", "/v1/api/agents",
                          {"name": "Fleet", "prompt": "Hello {first_name}",
                           "fromNumber": "+14155552671"}, auth=auth)
        if reply.status != 201:
            raise AssertionError(f"agent on {instance}: {reply.status} {reply.body}")
        self.place(auth[0], instance)
        return auth, reply.body["id"]

    def place(self, workspace, instance):
        """Maps workspace to instance (the map files only; reload() makes the balancers read it)."""
        if self.fleet_flags:
            h.admin(self.dir, "placement", "set", "--map", self.map, "--workspace", workspace,
                    "--instance", instance)
            self.placement[workspace] = instance
            return
        # Before `admin placement` existed: the same two forms, written whole and renamed.
        self.placement[workspace] = instance
        entries = sorted(self.placement.items())
        for path, end in ((self.map, ""), (self.map + ".nginx", ";")):
            with open(path + ".tmp", "w") as f:
                f.write("".join(f"{ws} {inst}{end}\n" for ws, inst in entries))
            os.replace(path + ".tmp", path)

    def reload(self):
        self.nginx.reload()
        self.haproxy.reload()
        # Both reload asynchronously: new workers take over within a moment.
        time.sleep(0.5)

    def reload_command(self):
        """One shell command that reloads both balancers (for deploy/move-workspace.sh)."""
        return " && ".join(" ".join(c) for c in (self.nginx.reload_command(),
                                                   self.haproxy.reload_command()))

    def move(self, workspace, target, timeout=600):
        """deploy/move-workspace.sh from the workspace's instance to target; on success the
        placement follows. Returns the CompletedProcess."""
        bc = h.binary()
        source = self.instances[self.placement[workspace]].data_dir
        env = h.clean_env({"SRC_ADMIN": f"env BATCHCALLD_DATA_DIR={source} {bc} admin",
                           "DST_ADMIN": f"env BATCHCALLD_DATA_DIR="
                                        f"{self.instances[target].data_dir} {bc} admin",
                           "MAP": self.map, "MAP_ADMIN": f"{bc} admin",
                           "MOVE_DIR": os.path.join(self.dir, "move")})
        os.makedirs(env["MOVE_DIR"], exist_ok=True)
        done = subprocess.run(["sh", os.path.join(DEPLOY, "move-workspace.sh"), workspace, target,
                               self.reload_command()], capture_output=True, text=True,
                              timeout=timeout, env=env)
        if done.returncode == 0:
            self.placement[workspace] = target
        return done

    def owner(self, workspace):
        return self.placement[workspace]


class Load:
    """Continuous client load through a balancer, in threads, until stop(): each worker loops
    over its workspaces with GET status of one of their batches. Every request is recorded as
    (start, end, workspace, status, x_instance, retry_after, error_code)."""

    def __init__(self, target, jobs, workers=6):
        self.target = target
        self.jobs = jobs  # [(auth, batch_id)]
        self.workers = workers
        self.records = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []

    def _run(self, index):
        mine = self.jobs[index::self.workers]
        conns = {}
        while not self.stopping.is_set():
            for auth, batch in mine:
                if self.stopping.is_set():
                    break
                rec = self.one(conns, auth, batch)
                with self.lock:
                    self.records.append(rec)
        for conn in conns.values():
            conn.close()

    def one(self, conns, auth, batch):
        """GET status once. Like any HTTP client, a request that finds its kept-alive connection
        closed by the other side (a race every balancer has) is sent again once on a new one."""
        start = time.monotonic()
        for attempt in (1, 2):
            status, inst, retry, code = 0, None, None, None
            conn = conns.get(auth[0])
            reused = conn is not None
            try:
                if conn is None:
                    conn = conns[auth[0]] = http.client.HTTPConnection(*h.address(self.target),
                                                                       timeout=10)
                conn.request("GET", f"{h.BATCHES}/{batch}/status", headers=h.auth_headers(auth))
                resp = conn.getresponse()
                data = resp.read()
                status, inst = resp.status, resp.getheader("X-Instance")
                retry = resp.getheader("Retry-After")
                if status != 200:
                    try:
                        code = json.loads(data).get("error")
                    except ValueError:
                        code = "not-json"
                if resp.will_close:
                    conn.close()
                    conns.pop(auth[0], None)
                break
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conns.pop(auth[0], None)
                code = f"exception {type(e).__name__} via {getattr(self.target, 'name', '?')}"
                if not reused or attempt == 2:
                    break
        return (start, time.monotonic(), auth[0], status, inst, retry, code)

    def start(self):
        for i in range(self.workers):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=20)
        return self.records


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]
