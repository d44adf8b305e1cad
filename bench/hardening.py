#!/usr/bin/env python3
"""Measurements of people's refusals (docs/performance.md, "Hardening"); a script, not a timed test.

  python3 bench/hardening.py forgot     # forgot-password time: accounts vs unknown addresses
  python3 bench/hardening.py flood      # 200,000 sign-in attempts from rotating addresses: RSS, probe latency

Both start the release binary (cargo build --release first) on a throwaway database: PostgreSQL on
127.0.0.1:5432 by default (psql needed), BACKEND=sqlite for a temporary SQLite file. Standard library only.

forgot: seeds --users accounts, then sends --samples requests for existing and as many for unknown addresses
in a random order, one at a time on one keep-alive connection, each from its own client address (trusted
X-Forwarded-For from 127.0.0.1) and for its own email, so that no throttle refuses them; a pause after each
lets the background worker answer the ask before the next request is timed. Prints medians and p90s.

flood: records the server's RSS, sends --attempts wrong-password sign-ins from --threads clients, each from a
new address and for one of --names user names (most are refused by the user-name throttle after their ten
failures, as in a real spray), then records RSS again. Before and after, --probes sign-ins for a blocked user
name from fresh addresses are timed one at a time (refused by the throttle, so no password check hides its
cost): the time of a request must not grow with the number of keys.
"""
from __future__ import annotations

import argparse
import http.client as httpclient
import json
import os
import random
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ADMIN, PASSWORD, ROOT, Database, http, launch  # noqa: E402


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Client:
    """One keep-alive connection."""

    def __init__(self, port):
        self.conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path, body, headers=None):
        payload = json.dumps(body)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        start = time.perf_counter()
        self.conn.request("POST", path, payload, h)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, data, time.perf_counter() - start


def address(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def start(args, extra_env=None):
    db = Database(args.backend, args.pg)
    env = dict(os.environ, MB_DB_CONNECTION_URI=db.url, MB_JETTY_PORT=str(args.port), MB_JETTY_HOST="127.0.0.1",
               RUST_LOG="warn", **(extra_env or {}))
    base = f"http://127.0.0.1:{args.port}"
    proc, _ = launch(args.binary, env, base)
    token = http("GET", base + "/api/session/properties")[1]["setup-token"]
    st, body = http("POST", base + "/api/setup", {"token": token, "user": {"email": ADMIN, "password": PASSWORD},
                                                  "prefs": {"site_name": "Bench"}})
    assert st == 200, body
    return db, proc, base, body["id"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def forgot(args):
    db, proc, base, session = start(args)
    try:
        c = Client(args.port)
        for i in range(args.users):
            st, data, _ = c.post("/api/user", {"email": f"known{i:06d}@example.com"}, {"X-Metabase-Session": session})
            assert st == 200, data
        asks = [("known", f"known{i:06d}@example.com") for i in range(args.samples)]
        asks += [("unknown", f"nobody{i:06d}@example.com") for i in range(args.samples)]
        random.seed(7)
        random.shuffle(asks)
        times = {"known": [], "unknown": []}
        for n, (kind, email) in enumerate(asks):
            st, data, dt = c.post("/api/session/forgot_password", {"email": email},
                                  {"X-Forwarded-For": address(n + 1)})
            assert st == 204, (st, data)
            times[kind].append(dt * 1000)
            time.sleep(args.pause_ms / 1000)
        print(f"backend {args.backend}; {args.samples} requests each, in random order, {args.pause_ms} ms apart")
        for kind in ("known", "unknown"):
            t = times[kind]
            print(f"  {kind:<8} median {statistics.median(t):.3f} ms   p90 {pct(t, 90):.3f} ms   mean {statistics.mean(t):.3f} ms")
        mk, mu = statistics.median(times["known"]), statistics.median(times["unknown"])
        print(f"  medians differ by {100 * abs(mk - mu) / min(mk, mu):.1f} %")
        if args.backend == "postgres":
            queued = int(db.sql("SELECT count(*) FROM email_outbox").strip()) - args.users
            print(f"  reset emails queued by the background worker: {queued} (the seeding's invites not counted)")
    finally:
        proc.terminate()
        proc.wait()
        db.drop()


def flood(args):
    db, proc, base, session = start(args, {"MB_BCRYPT_COST": str(args.cost)})
    try:
        c = Client(args.port)
        st, data, _ = c.post("/api/user", {"email": "real@example.com", "password": PASSWORD},
                             {"X-Metabase-Session": session})
        assert st == 200, data
        counter = [1_000_000]

        # The probe: a sign-in for a blocked user name from a new address is refused by the throttle without a
        # password check, so its time is the throttle's own work (two keys locked, read, written).
        for _ in range(10):
            c.post("/api/session", {"username": "real@example.com", "password": "wrong-pw-1"})

        def probe(label):
            c = Client(args.port)  # a fresh connection: an idle keep-alive one may have been closed
            times = []
            for _ in range(args.probes):
                counter[0] += 1
                st, data, dt = c.post("/api/session", {"username": "real@example.com", "password": PASSWORD},
                                      {"X-Forwarded-For": address(counter[0])})
                assert st == 401 and b"Too many attempts" in data, (st, data)
                times.append(dt * 1000)
            print(f"  probe (throttled sign-in) {label}: median {statistics.median(times):.2f} ms, p90 {pct(times, 90):.2f} ms")
            return statistics.median(times)

        time.sleep(1)
        rss0 = rss_kib(proc.pid)
        print(f"backend {args.backend}; bcrypt cost {args.cost}; RSS before: {rss0 / 1024:.1f} MiB")
        before = probe("before")
        statuses = {}
        lock = threading.Lock()
        per = args.attempts // args.threads

        def spray(t):
            cl = Client(args.port)
            local = {}
            for k in range(per):
                i = t * per + k
                st, _, _ = cl.post("/api/session", {"username": f"spray{i % args.names}@example.com", "password": "wrong-pw-1"},
                                   {"X-Forwarded-For": address(i + 1)})
                local[st] = local.get(st, 0) + 1
            with lock:
                for k, v in local.items():
                    statuses[k] = statuses.get(k, 0) + v

        started = time.monotonic()
        threads = [threading.Thread(target=spray, args=(t,)) for t in range(args.threads)]
        for th in threads:
            th.start()
        peak = rss0
        while any(th.is_alive() for th in threads):
            peak = max(peak, rss_kib(proc.pid))
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        rss1 = rss_kib(proc.pid)
        print(f"  {per * args.threads} attempts in {elapsed:.0f} s ({per * args.threads / elapsed:.0f}/s): statuses {statuses}")
        print(f"  RSS after: {rss1 / 1024:.1f} MiB (peak during the flood {peak / 1024:.1f} MiB)")
        if args.backend == "postgres":
            rows = db.sql("SELECT count(*) FROM throttle").strip()
        else:
            import sqlite3
            con = sqlite3.connect(db.url[len("sqlite:"):])
            rows = con.execute("SELECT count(*) FROM throttle").fetchone()[0]
            con.close()
        print(f"  throttle keys stored: {rows}")
        # Let the database finish what the flood left (autovacuum, checkpoint) before timing again.
        time.sleep(args.settle)
        after = probe(f"after ({args.settle} s of quiet)")
        print(f"  probe median after / before: {after / before:.2f}")
        # Control: the same database with the flood's keys deleted. If the probe is as slow as just before,
        # the number of keys is not what slows it.
        if args.backend == "postgres":
            db.sql("DELETE FROM throttle WHERE key NOT LIKE 'real@%'")
            db.sql("VACUUM ANALYZE throttle")
        else:
            import sqlite3
            con = sqlite3.connect(db.url[len("sqlite:"):])
            con.execute("DELETE FROM throttle WHERE key NOT LIKE 'real@%'")
            con.commit()
            con.close()
        time.sleep(args.settle)
        control = probe("with the flood's keys deleted")
        print(f"  probe median with {rows} keys / with 2 keys: {after / control:.2f}")
    finally:
        proc.terminate()
        proc.wait()
        db.drop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["forgot", "flood"])
    ap.add_argument("--backend", default=os.environ.get("BACKEND", "postgres"), choices=["postgres", "sqlite"])
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "people"))
    ap.add_argument("--port", type=int, default=18092)
    ap.add_argument("--users", type=int, default=2000, help="forgot: accounts seeded")
    ap.add_argument("--samples", type=int, default=2000, help="forgot: requests per kind")
    ap.add_argument("--pause-ms", type=float, default=3.0, help="forgot: pause after each request")
    ap.add_argument("--attempts", type=int, default=200_000, help="flood: sign-in attempts")
    ap.add_argument("--threads", type=int, default=8, help="flood: concurrent clients")
    ap.add_argument("--names", type=int, default=100, help="flood: distinct user names sprayed")
    ap.add_argument("--probes", type=int, default=500, help="flood: timed sign-ins before and after")
    ap.add_argument("--cost", type=int, default=10, help="flood: bcrypt cost")
    ap.add_argument("--settle", type=int, default=20, help="flood: seconds of quiet before the second probe")
    args = ap.parse_args()
    forgot(args) if args.what == "forgot" else flood(args)


if __name__ == "__main__":
    main()
