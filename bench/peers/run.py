#!/usr/bin/python3
"""make bench-peers: dynox against boto3 and the AWS SDK for JavaScript v3.

Runs, in one go and on this machine, the same work with each client against
dynalite (a real DynamoDB implementation, itself limited to about one core)
and against bench/sink.c (answers at once, or after 5 ms), then a capacity
test against the sink in capacity mode, and writes bench/RESULTS.md.

Every client runs as a child process with a handshake around the measured
part ("ready" -> go -> "done"): the CPU time of that process alone (user +
system, all its threads, from /proc/PID/stat) is read at both points, so set-
up, interpreter start-up and the servers' CPU are never counted. Items/s is
items over the wall time between the two points.

Servers are started here and stopped by PID, on success, failure or signal.
Only loopback addresses are used.
"""
import argparse
import datetime
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.path.join(ROOT, "bench", "peers")
CLK = os.sysconf("SC_CLK_TCK")
SERVERS = []  # Popen objects, stopped at exit


def log(msg):
    print("bench-peers: " + msg, file=sys.stderr, flush=True)


def stop_servers():
    while SERVERS:
        p = SERVERS.pop()
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def on_signal(sig, frame):
    stop_servers()
    sys.exit(128 + sig)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s before listening" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not start listening on port %d" % (what, port))


def start_sink(build, delay_ms=0, wcu=0, extra=()):
    cmd = [os.path.join(build, "bench", "sink"), "--port", "0", "--delay-ms", str(delay_ms)]
    if wcu:
        cmd += ["--wcu", str(wcu)]
    cmd += list(extra)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    SERVERS.append(p)
    line = p.stdout.readline()
    m = re.match(r"port (\d+)", line or "")
    if not m:
        raise RuntimeError("sink did not say its port: %r" % line)
    port = int(m.group(1))
    wait_port(port, p, "sink")
    return p, port


def stop(p):
    if p in SERVERS:
        SERVERS.remove(p)
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_dynalite():
    cli = os.path.join(ROOT, "tests", "node_modules", "dynalite", "cli.js")
    if not os.path.exists(cli):
        raise RuntimeError("dynalite is not installed (make deps installs it)")
    port = free_port()
    p = subprocess.Popen(["node", cli, "--host", "127.0.0.1", "--port", str(port),
                          "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SERVERS.append(p)
    wait_port(port, p, "dynalite")
    return p, port


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime, stime


def client_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y", AWS_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", NODE_NO_WARNINGS="1")
    return env


def run_client(cmd, cwd=ROOT, timeout=1800):
    """Runs one client with the handshake; returns its figures."""
    p = subprocess.Popen(cmd, cwd=cwd, env=client_env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {"cmd": " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)}
    try:
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("expected 'ready', got %r; stderr: %s" % (line, p.stderr.read()[-2000:]))
        cpu0 = proc_cpu(p.pid)
        t0 = time.monotonic()
        p.stdin.write("go\n")
        p.stdin.flush()
        line = p.stdout.readline()
        t1 = time.monotonic()
        cpu1 = proc_cpu(p.pid)
        if line.strip() != "done":
            raise RuntimeError("expected 'done', got %r; stderr: %s" % (line, p.stderr.read()[-2000:]))
        p.stdin.write("ok\n")
        p.stdin.flush()
        rest, err = p.communicate(timeout=timeout)
    except Exception:
        p.kill()
        p.wait()
        raise
    result = None
    for l in rest.splitlines():
        if l.startswith("result "):
            result = json.loads(l[7:])
    out.update(seconds=t1 - t0, cpu=cpu1 - cpu0, proc_cpu=cpu1 - cpu0, rc=p.returncode,
               result=result, stderr=err[-1000:])
    # dynox's runs are short: its own getrusage over the same interval has microseconds
    # where /proc has 10 ms ticks. The same kernel accounting; /proc's figure is kept.
    pts = (result or {}).get("points")
    if pts:
        out["cpu"] = pts[0]["cpu_s"]
    return out


def dynox_cmd(build, endpoint, table, op, items, workers, inflight, extra=()):
    return [os.path.join(build, "bench", "dynox_peer"), "--endpoint", endpoint, "--table", table,
            "--op", op, "--items", str(items), "--workers", str(workers), "--in-flight",
            str(inflight), "--handshake", "-q"] + list(extra)


def boto3_cmd(endpoint, table, op, items, threads, extra=()):
    return ["/usr/bin/python3", os.path.join(PEERS, "peer_boto3.py"), "--endpoint", endpoint,
            "--table", table, "--op", op, "--items", str(items), "--threads", str(threads),
            "--handshake"] + list(extra)


def js_cmd(endpoint, table, op, items, concurrency, extra=()):
    return ["node", os.path.join(PEERS, "peer_js.mjs"), "--endpoint", endpoint, "--table", table,
            "--op", op, "--items", str(items), "--concurrency", str(concurrency),
            "--handshake"] + list(extra)


def http_json(url, method="GET"):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


# ---------------------------------------------------------------- the runs

WORK = [("put", 100000), ("update_by_key", 50000), ("delete_by_key", 50000)]


def client_cmds(build, endpoint, op, items, remote_limited):
    """The three clients, configured as their users would for this op."""
    # Through the sink the latency to hide is 5 ms, so updates (one item per request) keep more
    # in flight; dynalite serves about one core's worth whatever the depth.
    if op == "update_by_key":
        dx_inflight = 32 if remote_limited else 128
        return [("dynox", dynox_cmd(build, endpoint, "bench_dynox", op, items, 2, dx_inflight)),
                ("boto3", boto3_cmd(endpoint, "bench_boto3", op, items, 8)),
                ("js", js_cmd(endpoint, "bench_js", op, items, 64))]
    return [("dynox", dynox_cmd(build, endpoint, "bench_dynox", op, items, 2, 32)),
            ("boto3", boto3_cmd(endpoint, "bench_boto3", op, items, 1)),
            ("js", js_cmd(endpoint, "bench_js", op, items, 32))]


def throughput_runs(build, scale):
    rows = []
    endpoints = []
    dl, dport = start_dynalite()
    endpoints.append(("dynalite", "http://127.0.0.1:%d" % dport, dl, True))
    for delay in (0, 5):
        s, port = start_sink(build, delay_ms=delay)
        endpoints.append(("sink %d ms" % delay, "http://127.0.0.1:%d" % port, s, False))
    try:
        for name, url, _, limited in endpoints:
            for op, n in WORK:
                n = max(1000, int(n * scale))
                for client, cmd in client_cmds(build, url, op, n, limited):
                    if not wanted(client):
                        continue
                    log("%s: %s %d items with %s" % (name, op, n, client))
                    r = run_client(cmd)
                    r.update(endpoint=name, op=op, client=client, items=n)
                    if r["rc"] != 0:
                        log("  %s exited %s: %s" % (client, r["rc"], r["stderr"]))
                    log("  %.2f s, %.0f items/s, CPU %.3f s (/proc %.2f s) = %.2f ms per 1k items" %
                        (r["seconds"], n / r["seconds"], r["cpu"], r["proc_cpu"], ms_per_1k(r)))
                    rows.append(r)
    finally:
        for _, _, p, _ in endpoints:
            stop(p)
    return rows


CLIENTS = ()


def wanted(name):
    return not CLIENTS or name.split()[0].rstrip(",") in CLIENTS


def capacity_runs(build, scale):
    n = max(500, int(6000 * scale))
    wcu = 500
    configs = [
        ("dynox", dynox_cmd(build, None, "cap_dynox", "put", n, 8, 4,
                            ["--item-bytes", "900", "--keep"])),
        ("dynox, capacity not read", dynox_cmd(build, None, "cap_dynox", "put", n, 8, 4,
                                               ["--item-bytes", "900", "--keep",
                                                "--no-capacity-hint"])),
    ]
    for mode in ("legacy", "standard", "adaptive"):
        configs.append(("boto3 %s" % mode, boto3_cmd(None, "cap_boto3", "put", n, 8,
                                                      ["--item-bytes", "900", "--keep",
                                                       "--retry-mode", mode])))
    rows = []
    for name, cmd in configs:
        if not wanted(name):
            continue
        s, port = start_sink(build, wcu=wcu)
        url = "http://127.0.0.1:%d" % port
        cmd[cmd.index("--endpoint") + 1] = url
        try:
            log("capacity %d WCU: %d items of ~900 bytes with %s" % (wcu, n, name))
            r = run_client(cmd)
            st = http_json(url + "/__stats")
            if "dynox" in name:  # the bench's own calls (DescribeTable, CreateTable) are set-up
                pass
        finally:
            stop(s)
        minimum = -(-n // 25)
        reqs = st["by_op"].get("BatchWriteItem", 0)
        r.update(name=name, items=n, wcu=wcu, utilisation=st["utilisation"], requests=reqs,
                 minimum=minimum, throttled=st["throttled"], partial=st["partial"],
                 rows=st["rows"], stats=st)
        log("  utilisation %.1f%%, %d requests (%.2fx minimum), %d throttled (%.1f%%), %d partial,"
            " %d rows, %.1f s" % (100 * st["utilisation"], reqs, reqs / minimum, st["throttled"],
                                  100.0 * st["throttled"] / max(1, reqs), st["partial"],
                                  st["rows"], r["seconds"]))
        rows.append(r)
    return rows


# ---------------------------------------------------------------- report

def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    def cmd_out(c):
        try:
            return subprocess.run(c, capture_output=True, text=True, timeout=20).stdout.strip()
        except Exception:  # noqa: BLE001
            return "unknown"
    dl_ver = "unknown"
    try:
        with open(os.path.join(ROOT, "tests", "node_modules", "dynalite", "package.json")) as f:
            dl_ver = json.load(f)["version"]
    except OSError:
        pass
    js_ver = "unknown"
    try:
        with open(os.path.join(PEERS, "node_modules", "@aws-sdk", "client-dynamodb", "package.json")) as f:
            js_ver = json.load(f)["version"]
    except OSError:
        pass
    boto = cmd_out(["/usr/bin/python3", "-c",
                    "import boto3, botocore; print(boto3.__version__, botocore.__version__)"]).split()
    dynox_ver = "unknown"
    try:
        with open(os.path.join(ROOT, "lib", "include", "dynox", "dynox.h")) as f:
            m = re.search(r'DYNOX_VERSION\s+"([^"]+)"', f.read())
            dynox_ver = m.group(1) if m else dynox_ver
    except OSError:
        pass
    # "abc1234", or "abc1234-dirty" when tracked files differ from that commit.
    rev = cmd_out(["git", "-C", ROOT, "describe", "--always", "--dirty", "--abbrev=7"])
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "dynox": "%s (git %s)" % (dynox_ver, rev),
        "dynalite": dl_ver, "boto3": boto[0] if boto else "unknown",
        "botocore": boto[1] if len(boto) > 1 else "unknown", "js": js_ver,
        "node": cmd_out(["node", "--version"]),
        "python": cmd_out(["/usr/bin/python3", "--version"]).replace("Python ", ""),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def failed(r):
    """True when a client did not do all of its work: a row that must not count."""
    res = r.get("result") or {}
    pts = res.get("points") or [{}]
    return r["rc"] != 0 or bool(res.get("errors")) or bool(pts[0].get("failed"))


def ms_per_1k(r):
    return max(r["cpu"], 1e-6) * 1e6 / r["items"]  # CPU-ms per 1,000 items


def write_results(path, info, rows, cap, scale, notes):
    out = []
    w = out.append
    w("# dynox against boto3 and the AWS SDK for JavaScript")
    w("")
    w("Written by `make bench-peers` (bench/peers/run.py); do not edit by hand: the notes at the")
    w("end come from bench/peers/NOTES.md.")
    w("")
    w("| machine | |\n|---|---|")
    w("| CPUs (nproc) | %s |" % info["nproc"])
    w("| CPU | %s |" % info["cpu"])
    w("| kernel | %s |" % info["kernel"])
    w("| date | %s |" % info["date"])
    w("| dynox | %s |" % info["dynox"])
    w("| dynalite | %s |" % info["dynalite"])
    w("| boto3 / botocore | %s / %s (Debian python3-boto3) |" % (info["boto3"], info["botocore"]))
    w("| AWS SDK for JavaScript | @aws-sdk/client-dynamodb + lib-dynamodb %s |" % info["js"])
    w("| node | %s |" % info["node"])
    w("| python | %s |" % info["python"])
    w("")
    if scale != 1:
        w("**Scaled run: work multiplied by %g (not the published figures).**\n" % scale)
    w("## Throughput and client CPU")
    w("")
    w("Work: %s puts (BatchWriteItem, ~150-byte items of 10 attributes), %s update_by_key" %
      tuple(format(max(1000, int(n * scale)), ",") for _, n in WORK[:2]))
    w("(UpdateItem SET of 9 attributes), %s delete_by_key (BatchWriteItem deletes). Client CPU is" %
      format(max(1000, int(WORK[2][1] * scale)), ","))
    w("user + system time of the client process alone during the measured part (servers not")
    w("counted). Clients: dynox `dynox bench` engine, 2 workers x 32 in flight (x 128 for updates")
    w("through the sink); boto3 one `Table.batch_writer()` for puts and deletes, 8 threads of")
    w("`update_item`; JS SDK v3 document client with 32 concurrent promises (64 for updates).")
    w("")
    w("CPU is read from /proc/PID/stat at the handshake (10 ms ticks); for dynox, whose runs are")
    w("short, from getrusage(RUSAGE_SELF) inside the process over the same interval (microseconds;")
    w("the /proc figure is in brackets).")
    w("")
    w("| endpoint | operation | client | seconds | items/s | client CPU s | CPU ms per 1k items |")
    w("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        cpu = "%.3f (%.2f)" % (r["cpu"], r["proc_cpu"]) if r["client"] == "dynox" else "%.2f" % r["cpu"]
        w("| %s | %s | %s | %.2f | %s | %s | %.2f |" % (
            r["endpoint"], r["op"], r["client"] + (" **FAILED**" if failed(r) else ""), r["seconds"],
            format(int(r["items"] / r["seconds"]), ","), cpu, ms_per_1k(r)))
    w("")
    bad = [r for r in rows if failed(r)]
    for r in bad:
        res = r.get("result") or {}
        errs, lines = res.get("errors") or [], r["stderr"].strip().splitlines()
        why = errs[0] if errs else (lines[-1] if lines else "no message")
        w("**FAILED**: %s, %s, %s (exit %s): %s; its figures are not counted below." % (
            r["endpoint"], r["op"], r["client"], r["rc"], why[:200]))
        w("")
    w("### Ratios (same run)")
    w("")
    w("CPU ratio = peer's CPU per item / dynox's (higher is better for dynox); speed ratio =")
    w("dynox's items/s / peer's. Against dynalite only CPU counts: dynalite itself is the limit.")
    w("")
    w("| endpoint | operation | CPU vs boto3 | CPU vs JS | speed vs boto3 | speed vs JS |")
    w("|---|---|---:|---:|---:|---:|")
    ratios = []
    by = {(r["endpoint"], r["op"], r["client"]): r for r in rows}
    for ep in sorted({r["endpoint"] for r in rows}, key=lambda e: [r["endpoint"] for r in rows].index(e)):
        for op, _ in WORK:
            d, b, j = by.get((ep, op, "dynox")), by.get((ep, op, "boto3")), by.get((ep, op, "js"))
            if not (d and b and j):
                continue
            if failed(d) or failed(b) or failed(j):
                w("| %s | %s | failed | failed | failed | failed |" % (ep, op))
                ratios.append((ep, op, None, None, None, None, d))
                continue
            cb, cj = ms_per_1k(b) / ms_per_1k(d), ms_per_1k(j) / ms_per_1k(d)
            sb = (d["items"] / d["seconds"]) / (b["items"] / b["seconds"])
            sj = (d["items"] / d["seconds"]) / (j["items"] / j["seconds"])
            ratios.append((ep, op, cb, cj, sb, sj, d))
            w("| %s | %s | %.1fx | %.1fx | %s | %s |" % (
                ep, op, cb, cj, "-" if ep == "dynalite" else "%.1fx" % sb,
                "-" if ep == "dynalite" else "%.1fx" % sj))
    w("")
    w("### Aims")
    w("")
    w("| aim | measured | |")
    w("|---|---|---|")
    for ep, op, cb, cj, sb, sj, d in ratios:
        if cb is None:
            w("| %s, %s: CPU per item vs boto3 and JS | a client failed | NOT MEASURED |" % (ep, op))
            continue
        w("| %s, %s: CPU per item >= 20x less than boto3 | %.1fx | %s |" % (ep, op, cb, "met" if cb >= 20 else "MISSED"))
        w("| %s, %s: CPU per item >= 10x less than JS | %.1fx | %s |" % (ep, op, cj, "met" if cj >= 10 else "MISSED"))
    for ep, op, cb, cj, sb, sj, d in ratios:
        if ep == "sink 5 ms" and op in ("update_by_key", "put"):
            aim = 20000 if op == "update_by_key" else 100000
            ips = d["items"] / d["seconds"]
            if failed(d):
                w("| sink 5 ms, %s >= %s items/s on 2 cores | dynox failed | NOT MEASURED |" % (
                    op, format(aim, ",")))
                continue
            w("| sink 5 ms, %s >= %s items/s on 2 cores | %s | %s |" % (
                op, format(aim, ","), format(int(ips), ","), "met" if ips >= aim else "MISSED"))
    w("")
    w("## Capacity efficiency")
    w("")
    if cap:
        c0 = cap[0]
        w("The sink in capacity mode: a token bucket of %d write units/s with a burst of 1 s (500" % c0["wcu"])
        w("units, starting full), items charged by DynamoDB's size rules; a BatchWriteItem writes")
        w("what the bucket pays for and returns the rest as UnprocessedItems, nothing at all is a 400")
        w("ProvisionedThroughputExceededException. Load: %s items of ~900 bytes (1 WCU each) with 8" %
          format(c0["items"], ","))
        w("workers (dynox: 8 workers x 4 in flight; boto3: 8 threads with a batch_writer each).")
        w("Utilisation after the burst = (units written - burst) / (capacity x time from the first")
        w("to the last write). Minimum requests = ceil(items / 25) = %d. Throttled = requests answered" % c0["minimum"])
        w("with the 400 error; partial = requests that came back with UnprocessedItems. \"dynox\" reads")
        w("the table's provisioned capacity with DescribeTable and starts its limiter there;")
        w("\"capacity not read\" must find it through throttles alone.")
        w("")
        w("| client | utilisation | requests | per minimum | throttled | partial | rows after | seconds |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in cap:
            w("| %s | %.1f%% | %d | %.2fx | %d (%.1f%%) | %d | %s / %s | %.1f |" % (
                r["name"], 100 * r["utilisation"], r["requests"], r["requests"] / r["minimum"],
                r["throttled"], 100.0 * r["throttled"] / max(1, r["requests"]), r["partial"],
                format(r["rows"], ","), format(r["items"], ","), r["seconds"]))
        w("")
        for r in cap:
            errs = (r.get("result") or {}).get("errors") or []
            if errs or r["rc"] != 0:
                w("%s: the client reported failures (exit %s)%s" % (
                    r["name"], r["rc"], ": " + errs[0][:200] if errs else ""))
                w("")
        w("Aim for dynox: >= 97% utilisation, <= 1.5x the minimum requests, <= 1% throttled, every row.")
        w("")
        for r in cap:
            if not r["name"].startswith("dynox"):
                continue
            ok = (r["utilisation"] >= 0.97 and r["requests"] <= 1.5 * r["minimum"] and
                  r["throttled"] <= 0.01 * max(1, r["requests"]) and r["rows"] == r["items"] and
                  r["rc"] == 0)
            w("- %s: %s" % (r["name"], "met" if ok else "MISSED"))
        w("")
    if notes:
        w(notes.rstrip())
        w("")
    with open(path, "w") as f:
        f.write("\n".join(out))
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the work (quick trials)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    ap.add_argument("--only", choices=["throughput", "capacity"], default=None)
    ap.add_argument("--clients", default="", help="comma list: run only these (dynox,boto3,js)")
    a = ap.parse_args()
    build = a.build if os.path.isabs(a.build) else os.path.join(ROOT, a.build)
    for prog in ("sink", "dynox_peer"):
        if not os.access(os.path.join(build, "bench", prog), os.X_OK):
            log("%s/bench/%s is missing: run `make bench-peers`" % (build, prog))
            return 2
    global CLIENTS
    CLIENTS = tuple(c for c in a.clients.split(",") if c)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        info = machine_info()
        rows = throughput_runs(build, a.scale) if a.only != "capacity" else []
        cap = capacity_runs(build, a.scale) if a.only != "throughput" else []
    finally:
        stop_servers()
    notes = ""
    npath = os.path.join(PEERS, "NOTES.md")
    if os.path.exists(npath):
        with open(npath) as f:
            notes = f.read()
    ratios = write_results(a.out, info, rows, cap, a.scale, notes)
    print("\nRatios, dynox vs each peer (same run; CPU: peer CPU per item / dynox's):")
    for ep, op, cb, cj, sb, sj, _ in ratios:
        if cb is None:
            print("  %-10s %-14s a client failed: not measured" % (ep, op))
            continue
        speed = "" if ep == "dynalite" else ", speed %.1fx boto3, %.1fx JS" % (sb, sj)
        print("  %-10s %-14s CPU %5.1fx less than boto3, %5.1fx less than JS%s" % (ep, op, cb, cj, speed))
    for r in cap:
        print("  capacity   %-26s utilisation %5.1f%%, %.2fx minimum requests, %.1f%% throttled, %d/%d rows" % (
            r["name"], 100 * r["utilisation"], r["requests"] / r["minimum"],
            100.0 * r["throttled"] / max(1, r["requests"]), r["rows"], r["items"]))
    print("Wrote %s" % os.path.relpath(a.out, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
