#!/usr/bin/env python3
"""Loopback benchmark: portsurge-collector against nfcapd, same packets, same run.

For each format (v5, v9, IPFIX) and each collector, the collector is started pinned to one
CPU (taskset -c 1) and ps-blast to the other (taskset -c 0), and it measures:

  full blast  ps-blast sends as fast as it can; collector CPU time (utime+stime from
              /proc/PID/stat, after the socket has drained) per million records received.
  rate search the highest rate (records/s) with < 0.1% loss and no growing socket backlog
              (rx_queue of the port in /proc/net/udp, sampled every 100 ms): doubling from
              half the full-blast capacity, then bisection.

Records received: portsurge from --stats at exit, nfcapd from the "Ident: ... Flows: N" line
it prints at exit, ps-sink (the bare recvmmsg loop, shown for reference) from its JSON line.
Only figures of the same run compare; see README.md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(SOURCE_DIR))
VERSIONS = ["v5", "v9", "ipfix"]
LOSS_LIMIT = 0.001          # "less than 0.1% loss"
SAMPLE_INTERVAL = 0.1       # seconds between /proc/net/udp samples
DRAIN_TIMEOUT = 5.0         # seconds to wait for the socket to empty after sending
CONTENTION_LIMIT = 0.05    # other processes' share of the collector CPU that voids a failure
CONTENTION_RETRIES = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_busy_seconds(cpu):
    """Busy time of one CPU (all processes, interrupts included), in seconds."""
    with open("/proc/stat") as f:
        for line in f:
            fields = line.split()
            if fields[0] == f"cpu{cpu}":
                ticks = [int(x) for x in fields[1:]]
                return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK  # minus idle, iowait
    return 0.0


def udp_socket(port):
    """(rx_queue bytes, drops) of the socket bound to 127.0.0.1:port, or None."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == wanted:
                rx_queue = int(fields[4].split(":")[1], 16)
                return rx_queue, int(fields[12])
    return None


LIVE = []  # processes to end if the run is interrupted


def end_live_processes():
    for process in LIVE:
        if process.poll() is None:
            process.kill()
            process.wait()


class Collector:
    """One collector under test: how to start it and how to read what it received."""

    name = ""

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.process = None
        self.output = None

    def command(self, version, port):
        raise NotImplementedError

    def records(self, version, text):
        raise NotImplementedError

    def start(self, version, port):
        self.output = open(os.path.join(self.workdir, f"{self.name}.out"), "w+")
        cmd = ["taskset", "-c", str(self.args.collector_cpu)] + self.command(version, port)
        self.process = subprocess.Popen(cmd, stdout=self.output, stderr=subprocess.STDOUT,
                                        cwd=self.workdir)
        LIVE.append(self.process)
        deadline = time.monotonic() + 10
        while udp_socket(port) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.output.seek(0)
                raise RuntimeError(f"{self.name} did not start: {' '.join(cmd)}\n"
                                   + self.output.read())
            time.sleep(0.02)
        time.sleep(0.2)  # let it reach its receive loop

    def stop(self, version):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output.seek(0)
        text = self.output.read()
        self.output.close()
        return self.records(version, text)


class Portsurge(Collector):
    name = "portsurge"

    def command(self, version, port):
        return [self.args.collector, "--listen", f"127.0.0.1:{port}",
                "--rcvbuf", str(self.args.rcvbuf), "--stats", "--stats-interval", "86400"]

    def records(self, version, text):
        total = 0
        found = False
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            stats = json.loads(line)
            if version in stats:
                total += stats[version]["records"]
                found = True
        if not found:
            raise RuntimeError("portsurge printed no --stats for " + version + ":\n" + text)
        return total


class Nfcapd(Collector):
    name = "nfcapd"

    def command(self, version, port):
        flowdir = os.path.join(self.workdir, "nfcapd-flows")
        shutil.rmtree(flowdir, ignore_errors=True)
        os.makedirs(flowdir)
        return [self.args.nfcapd, "-b", "127.0.0.1", "-p", str(port), "-w", flowdir,
                "-t", "3600", "-B", str(self.args.rcvbuf)]

    def records(self, version, text):
        # one "Ident: 'none' Flows: N, ..." line per file rotation, the last one at exit
        counts = [int(m) for m in re.findall(r"Ident: .*? Flows: (\d+)", text)]
        if not counts:
            raise RuntimeError("nfcapd printed no Flows: line:\n" + text)
        return sum(counts)


class Sink(Collector):
    name = "recvmmsg"

    def command(self, version, port):
        return [self.args.sink, str(port), str(self.args.records), str(self.args.rcvbuf)]

    def records(self, version, text):
        for line in text.splitlines():
            if line.startswith("{"):
                return json.loads(line)["records"]
        raise RuntimeError("ps-sink printed nothing:\n" + text)


def backlog_growing(samples, buffer_bytes):
    """True when rx_queue rose over the step: last quarter well above the first."""
    if len(samples) < 4:
        return False
    quarter = max(1, len(samples) // 4)
    first = sum(samples[:quarter]) / quarter
    last = sum(samples[-quarter:]) / quarter
    return last - first > 0.10 * buffer_bytes and last > 0.05 * buffer_bytes


def run_step(args, collector, version, rate, seconds):
    """One collector start, one ps-blast run at rate (0: flat out), one stop."""
    port = args.port
    collector.start(version, port)
    pid = collector.process.pid
    cpu_before = cpu_seconds(pid)
    busy_before = cpu_busy_seconds(args.collector_cpu)
    wall_before = time.monotonic()
    sender = subprocess.Popen(
        ["taskset", "-c", str(args.sender_cpu), args.blast, "--port", str(port),
         "--version", version, "--rate", str(rate), "--duration", str(seconds),
         "--records", str(args.records)],
        stdout=subprocess.PIPE, text=True)
    LIVE.append(sender)
    samples = []
    while sender.poll() is None:
        state = udp_socket(port)
        if state is not None:
            samples.append(state[0])
        time.sleep(SAMPLE_INTERVAL)
    sent = json.loads(sender.stdout.read().strip().splitlines()[-1])
    backlog_at_end = samples[-1] if samples else 0
    drain_deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        state = udp_socket(port)
        if state is None or state[0] == 0 or time.monotonic() > drain_deadline:
            break
        time.sleep(0.02)
    time.sleep(0.1)
    cpu = cpu_seconds(pid) - cpu_before
    other = max(0.0, cpu_busy_seconds(args.collector_cpu) - busy_before - cpu)
    wall = time.monotonic() - wall_before
    drops = udp_socket(port)[1] if udp_socket(port) is not None else None
    received = collector.stop(version)
    buffer_bytes = 2 * args.rcvbuf  # the kernel accounts twice what was asked (socket(7))
    loss = 1 - received / sent["records"] if sent["records"] else 0.0
    step = {
        "collector": collector.name, "version": version, "target_rate": rate,
        "seconds": sent["seconds"], "sent": sent["records"], "sent_rate": sent["records_per_second"],
        "received": received, "loss": loss, "cpu_seconds": cpu, "wall_seconds": wall,
        "kernel_drops": drops, "other_cpu_seconds": other, "backlog_max": max(samples) if samples else 0,
        "backlog_at_end": backlog_at_end,
        "backlog_growing": backlog_growing(samples, buffer_bytes),
    }
    step["ok"] = loss < LOSS_LIMIT and not step["backlog_growing"]
    # something else ran on the collector's CPU: a failure may be theirs, not the collector's
    step["contended"] = other > CONTENTION_LIMIT * wall
    log(f"  {collector.name:9} {version:5} rate {fmt_rate(rate) if rate else 'max':>7}: "
        f"sent {sent['records']:>10} ({fmt_rate(sent['records_per_second'])}/s) "
        f"recv {received:>10} loss {100 * loss:6.3f}% cpu {cpu:5.2f}s "
        f"backlog max {step['backlog_max'] // 1024}K end {backlog_at_end // 1024}K"
        f"{' GROWING' if step['backlog_growing'] else ''} other {other:4.2f}s"
        f"{' CONTENDED' if step['contended'] else ''} -> {'ok' if step['ok'] else 'FAIL'}")
    return step


def run_search_step(args, collector, version, rate, steps):
    """A rate-search step, repeated when it failed while other processes used the CPU."""
    for attempt in range(CONTENTION_RETRIES + 1):
        step = run_step(args, collector, version, rate, args.step_seconds)
        step["attempt"] = attempt
        steps.append(step)
        if step["ok"] or not step["contended"]:
            break
        log("  (failed while contended: again)")
    return step


def rate_search(args, collector, version, blast):
    """Highest rate with < 0.1% loss and no growing backlog: doubling, then bisection.

    Starts at half of what the full-blast run says the collector can do per CPU-second (or
    per wall-second, if it was not saturated), so two or three doublings bracket it."""
    capacity = blast["received"] / max(blast["cpu_seconds"], 1e-3)
    rate = max(args.min_rate, round(capacity / 2, -3))
    good, bad, steps = 0, None, []
    sender_limit = None
    while bad is None and rate < 1e9:
        step = run_search_step(args, collector, version, rate, steps)
        if step["ok"]:
            good = max(good, step["sent_rate"])
            if step["sent_rate"] < 0.97 * rate:  # ps-blast could not go faster
                sender_limit = step["sent_rate"]
                break
            rate *= 2
        else:
            bad = rate
    for _ in range(args.bisections if bad is not None else 0):
        rate = round((good + bad) / 2, -3)
        if rate <= good or rate >= bad:
            break
        step = run_search_step(args, collector, version, rate, steps)
        if step["ok"]:
            good = rate
        else:
            bad = rate
    return {"loss_free_rate": good, "first_failing_rate": bad, "sender_limited": sender_limit,
            "steps": steps}


def fmt_rate(rate):
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.0f}k"
    return f"{rate:.0f}"


def log(message):
    print(message, file=sys.stderr, flush=True)


def describe_host(args):
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_DIR).stdout.strip()
        except OSError:
            return "?"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = run(["git", "rev-parse", "--short", "HEAD"])
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"])
    nfcapd_version = run([args.nfcapd, "-V"])
    return [
        f"date      {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"host      {platform.node()} {platform.release()}, {os.cpu_count()} CPUs: {model}",
        f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, before the run)",
        f"commit    {commit}{' + local changes' if dirty else ''}",
        f"nfcapd    {nfcapd_version}",
        f"setup     collector on CPU {args.collector_cpu}, ps-blast on CPU {args.sender_cpu}; "
        f"{args.records} records/packet; rcvbuf {args.rcvbuf} (both); "
        f"blast {args.blast_seconds}s, steps {args.step_seconds}s, {args.bisections} bisections",
    ]


def report(args, header, results):
    lines = header + [""]
    lines.append("Full blast: collector CPU per million records received; loss-free rate: "
                 "highest rate with < 0.1% loss and no growing backlog.")
    lines.append("")
    lines.append(f"{'format':6} {'collector':10} {'sent/s':>8} {'loss%':>7} {'cpu%':>5} "
                 f"{'cpu_s/Mrec':>10} {'rec/cpu_s':>10} {'loss-free rec/s':>16}")
    for version in args.versions:
        row = {}
        for name in args.collectors:
            result = results.get((name, version))
            if result is None:
                continue
            blast = result["blast"]
            per_million = blast["cpu_seconds"] / max(blast["received"], 1) * 1e6
            per_cpu_s = blast["received"] / max(blast["cpu_seconds"], 1e-3)
            search = result.get("search")
            if search is None:
                free = "-"
            elif search["sender_limited"]:
                free = f">={fmt_rate(search['loss_free_rate'])}"
            else:
                free = fmt_rate(search["loss_free_rate"])
            row[name] = (per_million, search["loss_free_rate"] if search else None)
            lines.append(f"{version:6} {name:10} {fmt_rate(blast['sent_rate']):>8} "
                         f"{100 * blast['loss']:7.3f} "
                         f"{100 * blast['cpu_seconds'] / blast['wall_seconds']:5.0f} "
                         f"{per_million:10.3f} {fmt_rate(per_cpu_s):>10} {free:>16}")
        if "portsurge" in row and "nfcapd" in row:
            ps, nf = row["portsurge"], row["nfcapd"]
            rate_ratio = (f"{ps[1] / nf[1]:.2f}x" if ps[1] and nf[1] else "-")
            lines.append(f"{version:6} {'ratio':10} {'':>8} {'':>7} {'':>5} "
                         f"{ps[0] / nf[0]:9.2f}x {nf[0] / ps[0]:9.2f}x {rate_ratio:>16}"
                         "   (portsurge / nfcapd; cpu_s/Mrec: lower is better)")
    steps = [s for r in results.values()
             for s in [r["blast"]] + (r["search"]["steps"] if "search" in r else [])]
    contended = sum(1 for s in steps if s["contended"])
    lines.append(f"{len(steps)} steps; {contended} had other processes using more than "
                 f"{100 * CONTENTION_LIMIT:.0f}% of CPU {args.collector_cpu} (failures then "
                 f"retried up to {CONTENTION_RETRIES} times)")
    lines.append("")
    return "\n".join(lines)


def parse_args():
    build = os.path.join(REPO_DIR, "build-bench")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=build, help="meson build directory (%(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="shorter steps, fewer bisections: about 2 minutes")
    parser.add_argument("--versions", default=",".join(VERSIONS), help="v5,v9,ipfix")
    parser.add_argument("--collectors", default="portsurge,nfcapd,recvmmsg",
                        help="portsurge,nfcapd,recvmmsg (recvmmsg: full blast only)")
    parser.add_argument("--no-search", action="store_true", help="full blast only")
    parser.add_argument("--port", type=int, default=29995)
    parser.add_argument("--rcvbuf", type=int, default=4 << 20,
                        help="receive buffer for every collector (%(default)s; nfcapd is capped "
                        "by net.core.rmem_max)")
    parser.add_argument("--records", type=int, default=30, help="records per packet")
    parser.add_argument("--blast-seconds", type=float)
    parser.add_argument("--step-seconds", type=float)
    parser.add_argument("--bisections", type=int)
    parser.add_argument("--min-rate", type=float, default=100000)
    parser.add_argument("--collector-cpu", type=int, default=1)
    parser.add_argument("--sender-cpu", type=int, default=0)
    parser.add_argument("--nfcapd", default=shutil.which("nfcapd") or "/usr/bin/nfcapd")
    parser.add_argument("--out", default="ps-bench-results.txt",
                        help="table written here, raw steps beside it as .json (%(default)s)")
    args = parser.parse_args()
    quick = args.quick
    args.blast_seconds = args.blast_seconds or (2.0 if quick else 5.0)
    args.step_seconds = args.step_seconds or (2.0 if quick else 4.0)
    args.bisections = args.bisections if args.bisections is not None else (2 if quick else 4)
    args.versions = [v for v in args.versions.split(",") if v]
    args.collectors = [c for c in args.collectors.split(",") if c]
    args.collector = os.path.join(args.build_dir, "collector", "portsurge-collector")
    args.blast = os.path.join(args.build_dir, "tests", "bench", "ps-blast")
    args.sink = os.path.join(args.build_dir, "tests", "bench", "ps-sink")
    for path in (args.collector, args.blast, args.sink):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} missing: meson setup build-bench && ninja -C build-bench")
    return args


def run_all(args, classes, results):
    """Every format: full blast for each collector, then the rate searches."""
    with tempfile.TemporaryDirectory(prefix="ps-bench-") as workdir:
        for version in args.versions:
            for name in args.collectors:
                collector = classes[name](args, workdir)
                log(f"{name} {version}: full blast")
                blast = run_step(args, collector, version, 0, args.blast_seconds)
                for _ in range(CONTENTION_RETRIES):
                    if not blast["contended"]:
                        break
                    log("  (contended: again)")
                    blast = run_step(args, collector, version, 0, args.blast_seconds)
                results[(name, version)] = {"blast": blast}
            for name in args.collectors:
                if args.no_search or name == "recvmmsg":
                    continue
                collector = classes[name](args, workdir)
                log(f"{name} {version}: rate search")
                results[(name, version)]["search"] = rate_search(
                    args, collector, version, results[(name, version)]["blast"])


def main():
    args = parse_args()
    os.sched_setaffinity(0, {args.sender_cpu})  # keep our sampling off the collector's CPU
    header = describe_host(args)
    classes = {"portsurge": Portsurge, "nfcapd": Nfcapd, "recvmmsg": Sink}
    results = {}
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(1))
    try:
        run_all(args, classes, results)
    finally:
        end_live_processes()
    text = report(args, header, results)
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"header": header,
                   "results": [{"collector": c, "version": v, **r}
                               for (c, v), r in results.items()]}, f, indent=1)
    log(f"written to {args.out}")


if __name__ == "__main__":
    main()
