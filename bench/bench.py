#!/usr/bin/env python3
"""people's own load benchmark (`make bench`): starts the release binary on a throwaway database, seeds
users, and runs Metabase's five hot scenarios with wrk, printing req/s, p50/p99 and the server's CPU time per
request for each. Scenario k is scenario a authenticated by an API key (`X-Api-Key`) instead of a session.

  python3 bench/bench.py                      # PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)
  BACKEND=sqlite python3 bench/bench.py       # a temporary SQLite file
  python3 bench/bench.py --users 1000000 --scenarios c   # cost growth of the list query
  python3 bench/bench.py --scenarios storm    # GET /api/user/current alone, then during 64 logins
  python3 bench/bench.py --scenarios scim     # an identity provider's SCIM reconciliation of every user (look-up by
                                              # userName, then PATCH) beside the same work through /api/user
  python3 bench/bench.py --scenarios d,ldap   # LDAP sign-ins against a throwaway OpenLDAP (people-ldap's example
                                              # `slapd`), then sign-ins while the directory hangs or refuses,
                                              # beside scenario d (local bcrypt sign-ins) of the same run

Needs wrk (Debian package `wrk`) and, for PostgreSQL, psql; `ldap` also needs OpenLDAP's slapd and ldapmodify
(Debian packages slapd, ldap-utils) and builds people-ldap's example with cargo. Standard library only. The shared harness
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
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "Qz7-bench-Pw-9371"
ADMIN = "bench-admin@example.com"

LUA_DONE = r"""
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  local extra = done_extra and done_extra() or ""
  io.write(string.format('{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non2xx": %d, "socket_errors": %d%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status, errors, extra))
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

    def rows(self, sql):
        """The rows of a query, as tuples of strings."""
        if self.backend == "postgres":
            out = subprocess.run(["psql", f"{self.pg}/{self.name}", "-v", "ON_ERROR_STOP=1", "-qAt", "-F", "\t", "-c", sql],
                                 check=True, capture_output=True, text=True).stdout
            return [tuple(line.split("\t")) for line in out.splitlines() if line]
        import sqlite3
        con = sqlite3.connect(self.url[len("sqlite:"):], timeout=30)
        try:
            return [tuple("" if v is None else str(v) for v in row) for row in con.execute(sql)]
        finally:
            con.close()

    def backend_pids(self):
        """PostgreSQL's backends serving the bench database (the server's pool), to account their CPU time."""
        if self.backend != "postgres":
            return []
        return [int(p) for (p,) in self.rows(
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.name}' AND pid <> pg_backend_pid()")]

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


SCIM = "/api/ee/scim/v2"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

LUA_SYNC = r"""
-- A reconciliation: for each user, a look-up by e-mail, then an update of the id that look-up answered.
-- Thread t (0-based, one connection each) takes users t+1, t+1+T, t+1+2T, … in turn, so a user's look-up and
-- update go one after the other on one connection, as an identity provider's worker sends them. In a full
-- run each thread stops after its last user and leaves a marker, and the script's own clock times the whole
-- (from the first thread's first request to the last thread's last answer).
local ffi = require("ffi")
pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } bench_ts; int clock_gettime(int, bench_ts *);")
local function now_us()
  local t = ffi.new("bench_ts")
  ffi.C.clock_gettime(1, t)
  return tonumber(t.tv_sec) * 1e6 + tonumber(t.tv_nsec) / 1e3
end
local N = #lookups
local threads = {}
setup = function(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
local tag = tostring(os.time())
k, pending, expect, t0, t1, n, users, misses, extra = nil, nil, nil, nil, nil, 0, 0, 0, 0
init = function(args) k = tid + 1 end
local function advance()
  users = users + 1
  k = k + T
  if k > N then
    if FULL then
      t1 = now_us()
      local f = io.open(MARKERS .. "/done-" .. tid, "w")
      if f then
        f:write("done")
        f:close()
      end
      wrk.thread:stop()
    else
      k = tid + 1
    end
  end
end
request = function()
  if t0 == nil then t0 = now_us() end
  if t1 ~= nil then extra = extra + 1 end
  local i = k > N and N or k
  if MODE == "update" or pending then
    local id = pending or ids[i]
    pending = nil
    expect = "update"
    n = n + 1
    return update(id, string.format("Sync%s-%d-%d", tag, tid, n))
  end
  expect = "lookup"
  return wrk.format("GET", lookups[i], get_headers)
end
response = function(status, headers, body)
  if expect == "lookup" then
    local id = status == 200 and body:match(ID_PATTERN)
    if not id then
      misses = misses + 1
      advance()
    elseif MODE == "pair" then
      pending = id
    else
      advance()
    end
  else
    advance()
  end
end
done_extra = function()
  local first, last, first_end, u, m, x = nil, 0, nil, 0, 0, 0
  for _, t in ipairs(threads) do
    local a, b = t:get("t0"), t:get("t1")
    if a and (first == nil or a < first) then first = a end
    if b and b > last then last = b end
    if b and (first_end == nil or b < first_end) then first_end = b end
    u, m, x = u + t:get("users"), m + t:get("misses"), x + t:get("extra")
  end
  local s = string.format(', "users": %d, "misses": %d, "extra_requests": %d', u, m, x)
  if FULL and first and first_end then
    s = s .. string.format(', "wall_us": %.0f, "first_thread_done_us": %.0f', last - first, first_end - first)
  end
  return s
end
"""


def sync_lua(kind, mode, users, auth, threads, full=False, markers=""):
    """The wrk script of a reconciliation (mode "pair": look-up then update, per user), or of its look-ups or
    updates alone ("lookup", "update"), over `users` (id, e-mail, SCIM id) in order. kind "scim": the look-up is
    SCIM's `filter=userName eq "…"` and the update a PatchOp replacing name.familyName; "api": the look-up is
    `GET /api/user?query=<e-mail>` and the update `PUT /api/user/:id` of last_name; "api-id": the look-up is
    `GET /api/user/:id` (the client already knows the id)."""
    from urllib.parse import quote
    if kind == "scim":
        lookups = [f"{SCIM}/Users?filter=" + quote(f'userName eq "{email}"', safe="") for _, email, _ in users]
        ids = [sid for _, _, sid in users]
        pattern = '"id":"([^"]+)"'
        update = ('function(id, v)\n  return wrk.format("PATCH", "%s/Users/" .. id, update_headers, string.format(%s, v))\nend'
                  % (SCIM, json.dumps('{"schemas":["%s"],"Operations":[{"op":"replace","path":"name.familyName","value":"%%s"}]}'
                                      % PATCH_OP)))
        content_type = "application/scim+json"
    else:
        if kind == "api":
            lookups = ["/api/user?query=" + quote(email, safe="") for _, email, _ in users]
        else:
            lookups = [f"/api/user/{uid}" for uid, _, _ in users]
        ids = [uid for uid, _, _ in users]
        pattern = '"id":(%d+)'
        update = ('function(id, v)\n  return wrk.format("PUT", "/api/user/" .. id, update_headers, string.format(%s, v))\nend'
                  % json.dumps('{"last_name":"%s"}'))
        content_type = "application/json"
    lines = [
        "lookups = {" + ",".join(json.dumps(p) for p in lookups) + "}",
        "ids = {" + ",".join(json.dumps(str(i)) for i in ids) + "}",
        f"T = {threads}",
        f"FULL = {'true' if full else 'false'}",
        f"MODE = {json.dumps(mode)}",
        f"MARKERS = {json.dumps(markers)}",
        f"ID_PATTERN = {json.dumps(pattern)}",
        "get_headers = {" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in auth.items()) + "}",
        "update_headers = {" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in
                                         dict(auth, **{"Content-Type": content_type}).items()) + "}",
        f"update = {update}",
        LUA_SYNC,
        LUA_DONE,
    ]
    return "\n".join(lines)


def wrk(base, script, duration, connections, tmp, threads=1, markers=None, on_end=None):
    """Runs wrk. With `markers` (a directory), the run is a fixed amount of work: it ends when every one of the
    `threads` threads has written its marker there (or after `duration`), and `on_end` is called then, before
    wrk is interrupted to print its summary (whose duration is then the sleep wrk was cut short in: use the
    script's own clock, `wall_us`)."""
    path = os.path.join(tmp, f"s{time.monotonic_ns()}.lua")
    with open(path, "w") as f:
        f.write(script)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "-s", path, base]
    if markers is not None:
        shutil.rmtree(markers, ignore_errors=True)
        os.makedirs(markers)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if markers is not None:
        # Until every thread is done or wrk has exited (a zombie, left for wait4 below).
        while len(os.listdir(markers)) < threads and open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)
        if on_end:
            on_end()
        os.kill(proc.pid, signal.SIGINT)  # wrk still waits for its duration (or, having ended, is a zombie)
    out = proc.stdout.read()
    # wrk's own CPU time, for the share of the machine other processes took (see main).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    r = json.loads(line)
    r["wrk_ticks"] = round((usage.ru_utime + usage.ru_stime) * 100)
    r["rps"] = r["requests"] / ((r.get("wall_us") or r["duration_us"]) / 1e6)
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


def machine_ticks():
    """The machine's CPU time in user, nice and system (all cores), and all of it including idle, in ticks."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return f[0] + f[1] + f[2], sum(f[:8])


def sum_ticks(pids):
    total = 0
    for pid in pids:
        try:
            total += cpu_ticks(pid)
        except OSError:
            pass
    return total


# `--scenarios scim`: the reconciliation of an identity provider, through SCIM and through /api/user, then
# each half alone, beside GET /api/user/:id; all at --sync-connections, one connection per wrk thread.
SYNC = ["scim-sync", "api-sync", "api-id-sync", "b16", "scim-get", "api-query", "scim-patch", "api-put"]


def sync_scenarios(base, db, h, args, tmp):
    """Turns SCIM on, makes its token (which gives the seeded users their SCIM ids) and returns the scenarios
    of SYNC over the seeded users, in a fixed shuffled order."""
    import random
    st, body = http("PUT", base + "/api/setting/scim-enabled", {"value": True}, h)
    assert st in (200, 204), (st, body)
    st, token = http("POST", base + "/api/ee/scim/api_key", None, h)
    assert st == 200, (st, token)
    sh = {"Authorization": f"Bearer {token['unmasked_key']}"}
    # Making the token gave the seeded rows their entity_id, after clone_users' ANALYZE. Statistics that still
    # say entity_id is NULL almost everywhere make PostgreSQL read every user through idx_core_user_entity_id
    # for a userName filter instead of its indexes (docs/performance.md, "SCIM reconciliation"); a server with
    # autovacuum on would re-analyze after such a back-fill, the CI server here has it off. On SQLite, which
    # people never analyzes, "none" removes the statistics clone_users made (and changes the schema, so that
    # the server's connections reload them).
    if args.scim_stats == "fresh":
        db.sql("ANALYZE core_user")
    elif args.scim_stats == "none":
        assert db.backend == "sqlite", "--scim-stats none is for SQLite"
        db.sql("DELETE FROM sqlite_stat1; CREATE TABLE bench_reload (x); DROP TABLE bench_reload;")
    users = db.rows("SELECT id, email, entity_id FROM core_user WHERE email LIKE 'user%@example.com' ORDER BY id")
    assert len(users) == args.users and all(len(u[2]) == 21 for u in users), (len(users), users[:1])
    random.Random(7919).shuffle(users)
    st, page = http("GET", base + SCIM + "/Users?filter=" + urllib.parse.quote(f'userName eq "{users[0][1]}"'), None, sh)
    assert st == 200 and page["totalResults"] == 1 and page["Resources"][0]["id"] == users[0][2], (st, page)
    t = args.sync_connections
    markers = os.path.join(tmp, "markers")
    print(f"SCIM on, token made; statistics {args.scim_stats}; {len(users)} users, {t} connections (one per wrk thread)")

    def sc(title, kind, mode, auth, full=False):
        return (title, sync_lua(kind, mode, users, auth, t, full, markers), t, {"threads": t, "full": full})

    return {
        "scim-sync": sc("SCIM filter userName → PATCH", "scim", "pair", sh, True),
        "api-sync": sc("/api/user?query=<email> → PUT", "api", "pair", h, True),
        "api-id-sync": sc("GET /api/user/:id → PUT", "api-id", "pair", h, True),
        "b16": sc("GET /api/user/:id", "api-id", "lookup", h),
        "scim-get": sc("SCIM GET filter userName eq", "scim", "lookup", sh),
        "api-query": sc("GET /api/user?query=<email>", "api", "lookup", h),
        "scim-patch": sc("SCIM PATCH name.familyName", "scim", "update", sh),
        "api-put": sc("PUT /api/user/:id last_name", "api", "update", h),
    }


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
    ap.add_argument("--sync-connections", type=int, default=16, help="connections (one per wrk thread) of --scenarios scim")
    ap.add_argument("--sync-timeout", type=int, default=900, help="the longest a full reconciliation may take, seconds")
    ap.add_argument("--scim-stats", default="fresh", choices=["fresh", "stale", "none"],
                    help="--scenarios scim: ANALYZE after the token's back-fill of entity_id (fresh), not (stale: the "
                    "statistics of the seeding), or on SQLite without any statistics (none)")
    ap.add_argument("--ldap-timeout", type=int, default=2, help="--scenarios ldap: MB_LDAP_TIMEOUT_SECONDS of the "
                    "runs against a directory that never answers or refuses connections")
    ap.add_argument("--ldap-down-duration", type=int, default=20, help="--scenarios ldap: seconds of each run with the "
                    "directory down")
    ap.add_argument("--slapd-binary", default=os.path.join(ROOT, "target", "release", "examples", "slapd"),
                    help="people-ldap's example `slapd` (built with cargo when missing)")
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
        print(f"backend {args.backend}; first 200 from /api/health after {1000 * ready_s:.0f} ms; "
              f"load average {' '.join(f'{l:.2f}' for l in os.getloadavg())}")
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
            wanted += [k for k in scen if k.startswith("c:")] if s == "c" else SYNC if s == "scim" else [s]
        if any(k in SYNC for k in wanted):
            scen.update(sync_scenarios(base, db, h, args, tmp))
        pg = "PG µs/req" if args.backend == "postgres" else ""
        print(f"{'scenario':38} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>9} {'errors':>7} {'CPU µs/req':>10} {pg:>10} {'others %':>8}")
        for key in wanted:
            if key == "storm":
                run_storm(base, scen, args, tmp, results, proc.pid)
                continue
            if key == "ldap":
                run_ldap(db, args, tmp, results)
                continue
            title, script, conns, opts = (scen[key] + (args.connections, {})[len(scen[key]) - 2:])[:4]
            threads, full = opts.get("threads", 1), opts.get("full", False)
            duration = args.bcrypt_duration if key in ("d", "e") else args.duration
            wrk(base, script, 2, conns, tmp, threads)  # warm-up
            wait_idle(proc.pid)
            backends = db.backend_pids()
            before = {"ticks": cpu_ticks(proc.pid), "pg": sum_ticks(backends), "machine": machine_ticks()}

            def counters():
                return {"ticks": cpu_ticks(proc.pid), "pg": sum_ticks(backends), "machine": machine_ticks()}

            after = {}
            if full:
                # A fixed amount of work (every user once); the CPU is counted until the last thread is done.
                r = wrk(base, script, args.sync_timeout, conns, tmp, threads, markers=os.path.join(tmp, "markers"),
                        on_end=lambda: after.update(counters()))
            else:
                r = wrk(base, script, duration, conns, tmp, threads)
                after = counters()
            # The server's CPU time (user + system, clock ticks of 10 ms) per request answered; PostgreSQL's is
            # that of the backends connected to the bench database.
            server_ticks, pg_ticks = after["ticks"] - before["ticks"], after["pg"] - before["pg"]
            r["cpu_us_per_req"] = server_ticks * 10_000 / max(r["requests"], 1)
            pg_col = ""
            if backends:
                r["pg_cpu_us_per_req"] = pg_ticks * 10_000 / max(r["requests"], 1)
                pg_col = f"{r['pg_cpu_us_per_req']:8.1f}"
            # The share of the machine that other processes took meanwhile (anything but people, its PostgreSQL
            # backends and wrk, outside interrupts; the host is shared): how much to trust the run.
            busy, total = [b - a for a, b in zip(before["machine"], after["machine"])]
            r["other_share"] = max(busy - server_ticks - pg_ticks - r["wrk_ticks"], 0) / max(total, 1)
            results[key] = r
            label = f"{key.split(':')[0]}) {title}"
            print(f"{label:38} {r['rps']:9.1f} {r['p50_us'] / 1000:8.2f} {r['p99_us'] / 1000:9.2f} {r['non2xx'] + r['socket_errors']:7d} {r['cpu_us_per_req']:8.1f} {pg_col:>10} {100 * r['other_share']:8.1f}", flush=True)
            if full:
                print(f"   {r['users']} users in {r['wall_us'] / 1e6:.2f} s = {r['users'] / (r['wall_us'] / 1e6):.1f} users/s "
                      f"(first thread done at {r['first_thread_done_us'] / 1e6:.2f} s); {r['requests']} requests, "
                      f"{r['misses']} look-ups without the user, {r['extra_requests']} requests after a thread's end", flush=True)
        rss = int(open(f"/proc/{proc.pid}/status").read().split("VmRSS:")[1].split()[0]) / 1024
        print(f"RSS after the run: {rss:.1f} MiB; load average {' '.join(f'{l:.2f}' for l in os.getloadavg())}")
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


# `--scenarios ldap`: sign-ins against Metabase's test directory (people-ldap's `testing::Slapd`, run as the
# example program `slapd`), then with the directory down. Each run has a people process of its own (on
# --port + 1, the same database), since the MB_LDAP_* variables are read at start-up and override the
# stored settings; the main process of the other scenarios stays idle meanwhile.
LDAP_USERS = [("jsmith1", "strongpassword"), ("sbrown20", "1234"), ("jmiller", "janepassword"),
              ("rasta", "blueberries"), ("lucky", "notalmonds")]
LDAP_BASE = "dc=metabase,dc=com"
LDAP_ADMIN = "cn=Directory Manager,dc=metabase,dc=com"


def sign_in_lua(logins):
    """POST /api/session cycling over `logins` ((username, password) pairs), one after the other."""
    table = "{" + ", ".join("{%s, %s}" % (json.dumps(u), json.dumps(p)) for u, p in logins) + "}"
    fn = ("local logins = %s\nlocal n = 0\nrequest = function()\n  n = n + 1\n  local l = logins[(n %% #logins) + 1]\n"
          "  return wrk.format(nil, nil, nil, string.format('{\"username\": \"%%s\", \"password\": \"%%s\"}', l[1], l[2]))\nend"
          % table)
    # Answers counted by status (200, 401, anything else), as the expected one differs between runs.
    fn += r"""
local threads = {}
setup = function(thread) table.insert(threads, thread) end
s200, s401, sother = 0, 0, 0
response = function(status, headers, body)
  if status == 200 then s200 = s200 + 1 elseif status == 401 then s401 = s401 + 1 else sother = sother + 1 end
end
done_extra = function()
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a, b, c = a + t:get("s200"), b + t:get("s401"), c + t:get("sother") end
  return string.format(', "s200": %d, "s401": %d, "sother": %d', a, b, c)
end"""
    return lua("POST", "/api/session", {"Content-Type": "application/json"}, request_fn=fn)


class Slapd:
    """people-ldap's example `slapd`: Metabase's test directory on a free port, until its stdin closes."""

    def __init__(self, binary):
        if not os.path.exists(binary):
            subprocess.run(["cargo", "build", "--release", "-p", "people-ldap", "--features", "testing",
                            "--example", "slapd"], cwd=ROOT, check=True)
        self.proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lines = dict(self.proc.stdout.readline().split() for _ in range(2))
        self.port, self.pid = int(lines["PORT"]), int(lines["PID"])

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Silent:
    """A TCP listener that accepts every connection and never answers (a hung directory). It reads and
    discards what it is sent and counts connections accepted and closed by the other side."""

    def __init__(self):
        import selectors
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.accepted = self.closed = 0
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        import selectors
        while not self.stopping.is_set():
            for key, _ in self.sel.select(0.2):
                if key.fileobj is self.sock:
                    try:
                        conn, _ = self.sock.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    self.sel.register(conn, selectors.EVENT_READ)
                    self.accepted += 1
                    continue
                try:
                    data = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.sel.unregister(key.fileobj)
                    key.fileobj.close()
                    self.closed += 1

    def stop(self):
        self.stopping.set()
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


def closed_port():
    """A local port nothing listens on (connection refused)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tcp_states(port):
    """The local TCP sockets to or from `port`, counted by state (ss)."""
    out = subprocess.run(["ss", "-Htan", f"( dport = :{port} or sport = :{port} )"], capture_output=True,
                         text=True).stdout
    states = {}
    for line in out.splitlines():
        if line.strip():
            state = line.split()[0]
            states[state] = states.get(state, 0) + 1
    return states


def run_ldap(db, args, tmp, results):
    port = args.port + 1
    base = f"http://127.0.0.1:{port}"
    slapd = Slapd(args.slapd_binary)
    print(f"ldap: slapd (Metabase's test directory) on 127.0.0.1:{slapd.port}, pid {slapd.pid}; people on :{port}")
    local = [(f"user{i:07d}@example.com", PASSWORD) for i in range(1, min(args.users, 1000) + 1, 7)]
    directory_env = {"MB_LDAP_ENABLED": "true", "MB_LDAP_HOST": "127.0.0.1", "MB_LDAP_BIND_DN": LDAP_ADMIN,
                     "MB_LDAP_PASSWORD": "password", "MB_LDAP_USER_BASE": LDAP_BASE, "MB_LDAP_GROUP_SYNC": "false"}

    metrics_port = args.port + 2
    timed = {"http": "people_http_request_duration_seconds", "ldap": "people_ldap_request_duration_seconds",
             "hash_wait": "people_password_hash_wait_seconds", "hash": "people_password_hash_duration_seconds"}

    def scrape():
        """The sums and counts of the histograms in `timed` (all label sets together), from /metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name = line.split("{")[0].split(" ")[0]
            for k, metric in timed.items():
                for part in ("sum", "count"):
                    if name == f"{metric}_{part}":
                        out[(k, part)] = out.get((k, part), 0.0) + float(line.rsplit(" ", 1)[1])
        return out

    def start(extra):
        # Prometheus metrics on (a listener of their own): where a sign-in's time goes, from the histograms.
        env = dict(os.environ, MB_DB_CONNECTION_URI=db.url, MB_JETTY_PORT=str(port), MB_JETTY_HOST="127.0.0.1",
                   RUST_LOG="warn", MB_PROMETHEUS_SERVER_PORT=str(metrics_port), **directory_env)
        env.update(extra)
        # Every fallback is logged (a warning per sign-in while the directory is down): to a file, counted.
        log = open(os.path.join(tmp, f"people-ldap-{time.monotonic_ns()}.log"), "w+")
        started = time.monotonic()
        proc = subprocess.Popen([args.binary], env=env, stderr=log)
        while True:
            try:
                if http("GET", base + "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - started > 30:
                proc.kill()
                raise SystemExit("people (ldap) did not start")
            time.sleep(0.005)
        return proc, log

    def stop(proc, log):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.seek(0)
        lines = log.read().splitlines()
        log.close()
        return lines

    def pg_counts():
        """Transactions committed and rows written in the bench database so far (pg_stat_database; PostgreSQL
        publishes a backend's counts within a second of its last transaction)."""
        if db.backend != "postgres":
            return None
        row = db.rows(f"SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database "
                      f"WHERE datname = '{db.name}'")[0]
        return [int(v) for v in row]

    def measure(key, title, proc, script, duration, expect=200, watch_port=None, settle=0):
        wrk(base, script, 2, args.connections, tmp)  # warm-up (and the first sign-in of each directory person)
        time.sleep(settle)  # sign-ins the warm-up left waiting on the directory's timeout
        wait_idle(proc.pid)
        if watch_port:
            time.sleep(1)
        backends = db.backend_pids()
        pids = {"people": [proc.pid], "slapd": [slapd.pid], "pg": backends}
        tw_before = tcp_states(watch_port).get("TIME-WAIT", 0) if watch_port else 0
        time.sleep(1)
        pg_before = pg_counts()

        def counters():
            return dict({k: sum_ticks(v) for k, v in pids.items()}, machine=machine_ticks())

        before = counters()
        m_before = scrape()
        sample = {}
        if watch_port:
            # The connections between people and the directory in the middle of the run.
            threading.Timer(duration / 2, lambda: sample.update(tcp_states(watch_port))).start()
        r = wrk(base, script, duration, args.connections, tmp)
        after = counters()
        m_after = scrape()
        # Mean time per call over the run (requests wrk abandoned at its end included).
        r["mean_ms"] = {k: 1000 * (m_after.get((k, "sum"), 0) - m_before.get((k, "sum"), 0))
                        / max(m_after.get((k, "count"), 0) - m_before.get((k, "count"), 0), 1) for k in timed}
        r["calls"] = {k: int(m_after.get((k, "count"), 0) - m_before.get((k, "count"), 0)) for k in timed}
        n = max(r["requests"], 1)
        for k in ("people", "slapd", "pg"):
            r[f"{k}_cpu_us_per_req"] = (after[k] - before[k]) * 10_000 / n
        busy, total = [b - a for a, b in zip(before["machine"], after["machine"])]
        own = sum(after[k] - before[k] for k in ("people", "slapd", "pg")) + r["wrk_ticks"]
        r["other_share"] = max(busy - own, 0) / max(total, 1)
        r["machine_busy_share"] = busy / max(total, 1)
        if pg_before:
            time.sleep(1.5)
            r["pg_per_req"] = dict(zip(["commits", "inserted", "updated", "deleted"],
                                       [(b - a) / n for a, b in zip(pg_before, pg_counts())]))
        if watch_port:
            r["tcp_mid_run"] = sample
            r["time_wait_new"] = tcp_states(watch_port).get("TIME-WAIT", 0) - tw_before
        results[key] = r
        # Answers other than the expected status, and socket errors.
        errors = r["requests"] - r[f"s{expect}"] + r["socket_errors"]
        print(f"{key + ') ' + title:44} {r['rps']:8.1f} {r['p50_us'] / 1000:8.2f} {r['p99_us'] / 1000:8.2f} "
              f"{errors:7d} {r['people_cpu_us_per_req']:8.1f} {r['slapd_cpu_us_per_req']:8.1f} "
              f"{r['pg_cpu_us_per_req']:8.1f} {100 * r['other_share']:6.1f}", flush=True)
        print(f"   answers: {r['s200']} × 200, {r['s401']} × 401, {r['sother']} other; socket errors "
              f"{r['socket_errors']}; machine busy {100 * r['machine_busy_share']:.0f} %"
              + (f"; PostgreSQL per sign-in: {r['pg_per_req']['commits']:.2f} commits, "
                 f"{r['pg_per_req']['inserted']:.2f} rows inserted, {r['pg_per_req']['updated']:.2f} updated, "
                 f"{r['pg_per_req']['deleted']:.2f} deleted" if r.get("pg_per_req") else ""), flush=True)
        print("   mean per call (people's histograms): " + ", ".join(
            f"{k} {r['mean_ms'][k]:.1f} ms ×{r['calls'][k]}" for k in timed), flush=True)
        if watch_port:
            print(f"   sockets on the directory's port mid-run (both ends of each connection): {sample}; new TIME-WAIT after the run: "
                  f"{r['time_wait_new']} ({r['time_wait_new'] / n:.2f} per sign-in)", flush=True)
        return r

    def status_of(login, password):
        st, body = http("POST", base + "/api/session", {"username": login, "password": password})
        return st

    try:
        print(f"{'scenario':44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'people':>8} {'slapd':>8} "
              f"{'PG':>8} {'others':>6}   (CPU µs per request; others: % of the machine)")
        # 1. The directory up: every sign-in a search as the service account, a bind as the user, and the
        # person's row brought up to date with a new session in one transaction.
        for key, title, extra in [
            ("ldap", "LDAP sign-in (5 directory users)", {"MB_LDAP_PORT": str(slapd.port)}),
            ("ldap-nothrottle", "LDAP sign-in [throttle off]", {"MB_LDAP_PORT": str(slapd.port),
                                                                 "MB_DISABLE_SESSION_THROTTLE": "true"}),
            ("ldap-groups", "LDAP sign-in, group sync on", {"MB_LDAP_PORT": str(slapd.port),
                                                             "MB_LDAP_GROUP_SYNC": "true",
                                                             "MB_LDAP_GROUP_BASE": LDAP_BASE}),
        ]:
            proc, log = start(extra)
            assert status_of(*LDAP_USERS[0]) == 200
            measure(key, title, proc, sign_in_lua(LDAP_USERS), args.duration, watch_port=slapd.port)
            lines = stop(proc, log)
            print(f"   people's log: {len(lines)} lines" + (f", first: {lines[0][:200]}" if lines else ""))
        people = db.rows("SELECT email, sso_source, password IS NULL FROM core_user WHERE email LIKE '%@metabase.com' "
                         "ORDER BY email")
        print(f"   directory people in core_user: {people}")
        results["ldap_people"] = people

        # 2. The directory down: a listener that accepts and never answers (bounded by ldap-timeout-seconds),
        # then a closed port (connection refused). A local person falls back to their password (bcrypt); a
        # directory-only login is refused (401, after a dummy bcrypt). The latter's run turns the sign-in
        # throttle off: its failures would otherwise be refused by the throttle without asking the directory.
        silent = Silent()
        timeout = str(args.ldap_timeout)
        try:
            for where, ldap_port, extra in [("hung", silent.port, {"MB_LDAP_TIMEOUT_SECONDS": timeout}),
                                            ("refused", closed_port(), {"MB_LDAP_TIMEOUT_SECONDS": timeout})]:
                for who, logins, throttle_off in [("local", local, False), ("local", local, True),
                                                  ("ldap-only", LDAP_USERS, True)]:
                    env = dict(extra, MB_LDAP_PORT=str(ldap_port))
                    if throttle_off:
                        env["MB_DISABLE_SESSION_THROTTLE"] = "true"
                    proc, log = start(env)
                    accepted0, closed0 = silent.accepted, silent.closed
                    expect = 200 if who == "local" else 401
                    got = status_of(*logins[0])
                    assert got == expect, (where, who, got)
                    title = (f"directory {where} ({timeout} s timeout): {who}"
                             + (" [throttle off]" if throttle_off else ""))
                    key = f"ldap-{where}-{who}" + ("-nothrottle" if throttle_off and who == "local" else "")
                    r = measure(key, title, proc, sign_in_lua(logins), args.ldap_down_duration, expect=expect,
                                settle=args.ldap_timeout + 1)
                    r["expected_status"] = expect
                    if where == "hung":
                        time.sleep(0.5)
                        r["listener_accepted"] = silent.accepted - accepted0
                        r["listener_closed_by_people"] = silent.closed - closed0
                        print(f"   the silent listener: {r['listener_accepted']} connections accepted, "
                              f"{r['listener_closed_by_people']} closed by people, "
                              f"{r['listener_accepted'] - r['listener_closed_by_people']} still open", flush=True)
                    lines = stop(proc, log)
                    warned = sum("will fall back to local authentication" in l for l in lines)
                    print(f"   people's log: {len(lines)} lines, {warned} fallback warnings"
                          + (f"; e.g. {next((l for l in lines if 'fall back' in l), '')[:240]}" if warned else ""),
                          flush=True)
                    if where == "hung":
                        time.sleep(0.5)
                        print(f"   after people stopped: {silent.accepted - silent.closed} connections still open "
                              f"at the listener", flush=True)
        finally:
            silent.stop()
    finally:
        slapd.stop()


if __name__ == "__main__":
    main()
