#!/usr/bin/env python3
"""people's own load benchmark (`make bench`): starts the release binary on a throwaway database, seeds
users, and runs Metabase's five hot scenarios with wrk, printing req/s, p50/p99 and the server's CPU time per
request for each. Scenario k is scenario a authenticated by an API key (`X-Api-Key`) instead of a session.

  python3 bench/bench.py                      # PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)
  BACKEND=sqlite python3 bench/bench.py       # a temporary SQLite file
  python3 bench/bench.py --users 1000000 --scenarios c   # cost growth of the list query
  python3 bench/bench.py --scenarios storm    # GET /api/user/current alone, then during 64 logins

Needs wrk (Debian package `wrk`) and, for PostgreSQL, psql. Standard library only. The shared harness
(../shared/bench/compare.py) measures the same scenarios beside a FastAPI peer; this script is the quick,
project-local loop, and the only one that can measure SQLite.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "Qz7-bench-Pw-9371"
ADMIN = "bench-admin@example.com"

LUA_DONE = r"""
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status, errors))
end
"""


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}, **({"Content-Type": "application/json"} if data else {})))
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Database:
    """A throwaway database on either back end."""

    def __init__(self, backend: str, pg: str):
        self.backend = backend
        self.pg = pg
        self.tmp = tempfile.mkdtemp(prefix="people-bench-")
        if backend == "postgres":
            self.name = f"people_bench_{os.getpid()}_{int(time.time())}"
            self.psql("postgres", f'CREATE DATABASE "{self.name}"')
            self.url = f"{pg}/{self.name}"
        else:
            self.url = f"sqlite:{os.path.join(self.tmp, 'people.db')}"

    def psql(self, db, sql):
        return subprocess.run(["psql", f"{self.pg}/{db}", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                              check=True, capture_output=True, text=True).stdout

    def sql(self, sql):
        if self.backend == "postgres":
            return self.psql(self.name, sql)
        import sqlite3
        con = sqlite3.connect(self.url[len("sqlite:"):], timeout=30)
        try:
            con.executescript(sql)
            con.commit()
        finally:
            con.close()

    def drop(self):
        if self.backend == "postgres":
            self.psql("postgres", f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)


def clone_users(db: Database, template_id: int, n: int):
    """n copies of the template user (same password hash and salt): 1 % with last name Zebra (a match count that
    grows with n) and 100 with first name Quokka whatever n is (a match count that does not), so that the cost
    growth of the list query can be measured both ways."""
    cols = ("password, password_salt, date_joined, last_login, is_superuser, is_active, is_qbnewb, "
            "is_datasetnewb, login_attributes, updated_at, sso_source, locale, settings, type")
    step = max(n // 100, 1)
    first = f"CASE WHEN g % {step} = 3 THEN 'Quokka' ELSE 'First' || {{pad}} END"
    if db.backend == "postgres":
        series = f"generate_series(1, {n}) AS s(g)"
        pad = "lpad(g::text, 7, '0')"
        db.sql(f"""
            INSERT INTO core_user (email, first_name, last_name, {cols})
            SELECT 'user' || {pad} || '@example.com', {first.format(pad=pad)},
                   CASE WHEN g % 100 = 7 THEN 'Zebra' ELSE 'Last' || {pad} END, {cols}
            FROM core_user t CROSS JOIN {series} WHERE t.id = {template_id};
            INSERT INTO permissions_group_membership (user_id, group_id)
            SELECT id, 1 FROM core_user WHERE email LIKE 'user%@example.com';""")
        # Settle before measuring: autovacuum and checkpoints after a bulk load would be measured too.
        db.psql(db.name, "VACUUM ANALYZE")
        db.psql(db.name, "CHECKPOINT")
    else:
        pad = "substr('0000000' || g, -7, 7)"
        db.sql(f"""
            WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n})
            INSERT INTO core_user (email, first_name, last_name, {cols})
            SELECT 'user' || {pad} || '@example.com', {first.format(pad=pad)},
                   CASE WHEN g % 100 = 7 THEN 'Zebra' ELSE 'Last' || {pad} END, {cols}
            FROM core_user t CROSS JOIN s WHERE t.id = {template_id};
            INSERT INTO permissions_group_membership (user_id, group_id)
            SELECT id, 1 FROM core_user WHERE email LIKE 'user%@example.com';
            ANALYZE;""")


def lua(method, path, headers, body=None, request_fn=None):
    lines = [f"wrk.method = {json.dumps(method)}", f"wrk.path = {json.dumps(path)}"]
    for k, v in headers.items():
        lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    if request_fn:
        lines.append(request_fn)
    lines.append(LUA_DONE)
    return "\n".join(lines)


def wrk(base, script, duration, connections, tmp):
    path = os.path.join(tmp, f"s{time.monotonic_ns()}.lua")
    with open(path, "w") as f:
        f.write(script)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-s", path, base],
                         capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    r = json.loads(line)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def launch(binary, env, base):
    """Starts people and waits for its first healthy answer; returns the process and the seconds it took."""
    started = time.monotonic()
    proc = subprocess.Popen([binary], env=env)
    while True:
        try:
            if http("GET", base + "/api/health")[0] == 200:
                return proc, time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > 30:
            proc.kill()
            raise SystemExit("people did not start")
        time.sleep(0.005)


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_idle(pid, timeout=30.0):
    """Waits until the server stops using CPU: requests abandoned by a warm-up are still being served."""
    start = time.monotonic()
    last = cpu_ticks(pid)
    while time.monotonic() - start < timeout:
        time.sleep(0.25)
        now = cpu_ticks(pid)
        if now - last <= 1:
            return
        last = now


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default=os.environ.get("BACKEND", "postgres"), choices=["postgres", "sqlite"])
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "people"))
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--bcrypt-duration", type=int, default=20)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--port", type=int, default=18091)
    ap.add_argument("--scenarios", default="a,k,b,c,d,e")
    ap.add_argument("--query", default="zebra", help="scenario c's search; a comma-separated list runs c once per query "
                    "(zebra matches 1 %% of the users, quokka 100 whatever --users is)")
    ap.add_argument("--c-connections", help="scenario c's connection counts, comma-separated (default: --connections); "
                    "1 measures the latency of one client alone")
    ap.add_argument("--json-out")
    ap.add_argument("--keep-db", action="store_true", help="leave the database behind (its name is printed)")
    args = ap.parse_args()

    db = Database(args.backend, args.pg)
    tmp = db.tmp
    env = dict(os.environ, MB_DB_CONNECTION_URI=db.url, MB_JETTY_PORT=str(args.port), MB_JETTY_HOST="127.0.0.1",
               RUST_LOG="warn")
    base = f"http://127.0.0.1:{args.port}"
    proc, ready_s = launch(args.binary, env, base)
    results = {}
    try:
        print(f"backend {args.backend}; first 200 from /api/health after {1000 * ready_s:.0f} ms")
        token = http("GET", base + "/api/session/properties")[1]["setup-token"]
        st, _ = http("POST", base + "/api/setup", {"token": token, "user": {"email": ADMIN, "password": PASSWORD,
                     "first_name": "Bench", "last_name": "Admin"}, "prefs": {"site_name": "bench"}})
        assert st == 200, st
        admin = http("POST", base + "/api/session", {"username": ADMIN, "password": PASSWORD})[1]["id"]
        h = {"X-Metabase-Session": admin}
        st, tpl = http("POST", base + "/api/user", {"email": "template@example.com", "first_name": "Tem",
                       "last_name": "Plate", "password": PASSWORD}, h)
        assert st == 200, (st, tpl)
        t0 = time.monotonic()
        clone_users(db, tpl["id"], args.users)
        print(f"seeded {args.users} users in {time.monotonic() - t0:.1f} s")
        st, key = http("POST", base + "/api/api-key", {"name": "bench", "group_id": 1}, h)
        assert st == 200, (st, key)
        kh = {"X-Api-Key": key["unmasked_key"]}
        ids = [str(tpl["id"] + 1 + (i * 7919) % args.users) for i in range(1000)]
        width = 7
        scen = {
            "a": ("GET /api/user/current", lua("GET", "/api/user/current", h)),
            "k": ("GET /api/user/current (X-Api-Key)", lua("GET", "/api/user/current", kh)),
            "b": ("GET /api/user/:id (admin)", lua("GET", "/api/user/", h, request_fn="local ids = {" + ",".join(ids) + "}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, '/api/user/' .. ids[(n % #ids) + 1])\nend")),
            "d": ("POST /api/session (bcrypt verify)", lua("POST", "/api/session", {"Content-Type": "application/json"},
                  request_fn="math.randomseed(os.time())\nrequest = function()\n  local i = math.random(1, %d)\n  return wrk.format(nil, nil, nil, string.format('{\"username\": \"user%%0%dd@example.com\", \"password\": \"%s\"}', i))\nend" % (args.users, width, PASSWORD))),
            "e": ("POST /api/user with a password", lua("POST", "/api/user", dict(h, **{"Content-Type": "application/json"}),
                  request_fn="local n = 0\nlocal tag = tostring(os.time())\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, nil, nil, string.format('{\"email\": \"new-%%s-%%d@example.com\", \"password\": \"%s\", \"first_name\": \"New\", \"last_name\": \"Person\"}', tag, n))\nend" % PASSWORD)),
        }
        c_conns = [int(c) for c in (args.c_connections or str(args.connections)).split(",")]
        for q in [q.strip() for q in args.query.split(",") if q.strip()]:
            for c in c_conns:
                key = f"c:{q}:{c}"
                scen[key] = (f"GET /api/user?query={q}&limit=50" + (f" ({c} conn)" if c != args.connections else ""),
                             lua("GET", f"/api/user?limit=50&offset=0&query={q}", h), c)
        wanted = []
        for s in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
            wanted += [k for k in scen if k.startswith("c:")] if s == "c" else [s]
        print(f"{'scenario':38} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>9} {'errors':>7} {'CPU µs/req':>10}")
        for key in wanted:
            if key == "storm":
                run_storm(base, scen, args, tmp, results, proc.pid)
                continue
            title, script, conns = (scen[key] + (args.connections,))[:3]
            duration = args.bcrypt_duration if key in ("d", "e") else args.duration
            wrk(base, script, 2, conns, tmp)  # warm-up
            wait_idle(proc.pid)
            ticks = cpu_ticks(proc.pid)
            r = wrk(base, script, duration, conns, tmp)
            # The server's CPU time (user + system, clock ticks of 10 ms) per request answered.
            r["cpu_us_per_req"] = (cpu_ticks(proc.pid) - ticks) * 10_000 / max(r["requests"], 1)
            results[key] = r
            print(f"{key[0]}) {title:35} {r['rps']:9.1f} {r['p50_us'] / 1000:8.2f} {r['p99_us'] / 1000:9.2f} {r['non2xx'] + r['socket_errors']:7d} {r['cpu_us_per_req']:8.1f}", flush=True)
        rss = int(open(f"/proc/{proc.pid}/status").read().split("VmRSS:")[1].split()[0]) / 1024
        print(f"RSS after the run: {rss:.1f} MiB")
        results["rss_mib_after"] = rss
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(results, f, indent=2)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if args.keep_db:
            print(f"kept database: {db.url}")
        else:
            db.drop()


def run_storm(base, scen, args, tmp, results, pid):
    """p99 of GET /api/user/current alone, then while 64 connections log in (bcrypt) at the same time."""
    title, reads = scen["a"]
    _, logins = scen["d"]
    wrk(base, reads, 2, 16, tmp)
    wait_idle(pid)
    idle = wrk(base, reads, args.duration, 16, tmp)
    storm = {}
    t = threading.Thread(target=lambda: storm.update(wrk(base, logins, args.duration + 4, 64, tmp)))
    probe = []
    stop = threading.Event()
    session = json.loads(reads.split("X-Metabase-Session\"] = ")[1].split("\n")[0])

    def prober():
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        while not stop.is_set():
            t0 = time.monotonic()
            conn.request("GET", "/api/user/current", headers={"X-Metabase-Session": session})
            conn.getresponse().read()
            probe.append((t0 - storm_start, time.monotonic() - t0))
            time.sleep(0.002)

    storm_start = time.monotonic()
    t.start()
    pt = threading.Thread(target=prober)
    pt.start()
    time.sleep(2)
    during = wrk(base, reads, args.duration, 16, tmp)
    t.join()
    stop.set()
    pt.join()
    worst = sorted(probe, key=lambda p: -p[1])[:5]
    print("  slowest probe requests (seconds after the storm began, ms): "
          + ", ".join(f"t={a:.2f}s {1000 * b:.0f}" for a, b in worst))
    results["storm"] = {"idle": idle, "during": during, "logins": storm}
    print(f"storm: /current alone {idle['rps']:.0f} req/s p99 {idle['p99_us'] / 1000:.2f} ms; during 64 logins "
          f"{during['rps']:.0f} req/s p99 {during['p99_us'] / 1000:.2f} ms (ratio {during['p99_us'] / max(idle['p99_us'], 1):.2f}); "
          f"logins {storm.get('rps', 0):.1f}/s p99 {storm.get('p99_us', 0) / 1000:.0f} ms")


if __name__ == "__main__":
    main()
