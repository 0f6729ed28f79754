#!/usr/bin/env python3
"""Loopback benchmark: portsurge-collector against nfcapd, same packets, same run.

For each format (v5, v9, IPFIX) and each collector, the collector is started pinned to one
CPU (taskset -c 1) and ps-blast to the other (taskset -c 0), and it measures:

  full blast  ps-blast sends as fast as it can; collector CPU time (utime+stime from
              /proc/PID/stat, after the socket has drained) per million records received.
  rate search the highest rate (records/s) with < 0.1% loss and no growing socket backlog
              (rx_queue of the port in /proc/net/udp, sampled every 100 ms; for portsurge
              also the level of its socket thread's ring, from its metrics): doubling from
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
import urllib.request

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


def thread_cpu_seconds(pid):
    """{thread name: utime + stime seconds} of every thread of pid (names made unique)."""
    threads = {}
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return threads
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        key = name if name not in threads else f"{name}/{tid}"
        threads[key] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return threads


def peak_rss_kib(pid):
    """VmHWM (peak resident set) of pid in KiB, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


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
WRITEBACK_SETTLED_KIB = 65536  # dirty + writeback pages below which the next step may start
WRITEBACK_TIMEOUT = 120


def pending_writeback_kib():
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    return int(fields["Dirty"].split()[0]) + int(fields["Writeback"].split()[0])


def settle_writeback():
    """Waits for the kernel to finish writing what a step left (nfcapd writes gigabytes a
    minute at full blast): its flusher threads run on every CPU, the collector's too, and a
    step that started meanwhile lost datagrams to them (a ps+redis step right after an nfcapd
    full blast failed at 37% CPU)."""
    deadline = time.monotonic() + WRITEBACK_TIMEOUT
    while pending_writeback_kib() > WRITEBACK_SETTLED_KIB and time.monotonic() < deadline:
        time.sleep(0.2)


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
        settle_writeback()
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
        """SIGTERM, then reap it with wait4: its CPU time up to exit (all threads, including
        what it does on the way out, such as portsurge's last flush to Redis) and its peak RSS
        land in self.exit_cpu_seconds and self.peak_rss_kib."""
        pid = self.process.pid
        self.peak_rss_kib = peak_rss_kib(pid)
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        self.exit_cpu_seconds = cpu_seconds(pid)
        try:
            while True:
                done, status, usage = os.wait4(pid, os.WNOHANG)
                if done == pid:
                    break
                self.peak_rss_kib = peak_rss_kib(pid) or self.peak_rss_kib
                if time.monotonic() > deadline:
                    self.process.kill()
                    done, status, usage = os.wait4(pid, 0)
                    break
                time.sleep(0.01)
            self.process.returncode = os.waitstatus_to_exitcode(status)
            self.exit_cpu_seconds = usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            # already reaped (Popen.poll() while starting): it died; keep the /proc reading
            self.process.wait()
        self.output.seek(0)
        text = self.output.read()
        self.output.close()
        return self.records(version, text)


RING_BYTES = 64 << 20  # portsurge-collector's default receive_queue


class Portsurge(Collector):
    """portsurge-collector reads its sockets on a thread of its own into a ring (receive_queue,
    64 MiB): a collector that falls behind fills the ring before the kernel's buffer, so the
    ring's level (the metric portsurge_collector_receive_queue_bytes, refreshed every second)
    is sampled as a second backlog."""
    name = "portsurge"

    def command(self, version, port):
        return [self.args.collector, "--listen", f"127.0.0.1:{port}",
                "--rcvbuf", str(self.args.rcvbuf), "--stats", "--stats-interval", "86400",
                "--metrics", "127.0.0.1:0"]

    def start(self, version, port):
        super().start(version, port)
        self.metrics_port = None
        deadline = time.monotonic() + 10
        while self.metrics_port is None and time.monotonic() < deadline:
            self.output.seek(0)
            found = re.search(r"port (\d+), at /metrics", self.output.read())
            if found:
                self.metrics_port = int(found.group(1))
            else:
                time.sleep(0.02)
        if self.metrics_port is None:
            raise RuntimeError(f"{self.name}: no metrics port in its log")

    def queued_bytes(self):
        """Bytes waiting in the collector's ring at its last metrics refresh."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as reply:
            text = reply.read().decode()
        found = re.search(r"^portsurge_collector_receive_queue_bytes (\d+)", text, re.M)
        if found is None:
            raise RuntimeError(f"{self.name}: no receive_queue_bytes in its metrics (an old build?)")
        return int(found.group(1))

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


class Redis:
    """Just enough RESP2 over a unix socket for the checks: one command, one reply."""

    def __init__(self, path):
        import socket
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()
        self.sock.close()

    def command(self, *words):
        out = [b"*%d\r\n" % len(words)]
        for word in words:
            data = word if isinstance(word, bytes) else str(word).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))
        return self.reply()

    def reply(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            if int(rest) < 0:
                return None
            data = self.file.read(int(rest) + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))] if int(rest) >= 0 else None
        raise RuntimeError(f"redis: unexpected reply {line!r}")

    def info(self, section="everything"):
        values = {}
        for line in self.command("INFO", section).splitlines():
            if ":" in line and not line.startswith("#"):
                key, value = line.split(":", 1)
                values[key] = value
        return values


class RedisServer:
    """A private redis-server on a unix socket in the work directory, pinned to the sender's
    CPU so the collector's CPU only runs the collector; nothing saved, nothing on TCP. It runs
    at --redis-nice (0). Above 0 the sender goes first: at high rates, when redis-server took
    their CPU for a flush (~0.9 s of work), ps-blast fell up to 370 ms behind and caught up in a
    burst no router sends; but flat out the sender then starves redis-server, the collector's
    flushes back up (peak RSS 450 MiB) and its exit drain times out (README.md)."""

    def __init__(self, args, workdir):
        self.path = os.path.join(workdir, "r.sock")
        cmd = ["nice", "-n", str(args.redis_nice),
               "taskset", "-c", str(args.sender_cpu), args.redis_server, "--port", "0",
               "--unixsocket", self.path, "--unixsocketperm", "700", "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--dir", workdir]
        self.output = open(os.path.join(workdir, "redis.out"), "w+")
        self.process = subprocess.Popen(cmd, stdout=self.output, stderr=subprocess.STDOUT)
        LIVE.append(self.process)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client = Redis(self.path)
                self.client.command("PING")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.output.seek(0)
                    raise RuntimeError("redis-server did not start:\n" + self.output.read())
                time.sleep(0.05)

    def cpu_seconds(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.output.close()


def redis_buckets(client, prefix="ps:"):
    """Every minute bucket in Redis after a run: flows per series, and for the bucket the
    series with flows, the distinct port numbers among them and the distinct sources (PFCOUNT
    of the union of its per-series source sketches). Hour buckets (ps:b:3600:) are left out:
    they roll the same flows up again."""
    pattern = re.compile(re.escape(prefix) + r"b:60:(\d+)$")
    sources = {}
    starts = []
    cursor = "0"
    while True:
        cursor, keys = client.command("SCAN", cursor, "MATCH", prefix + "b:60:*", "COUNT", 10000)
        for key in keys:
            match = pattern.match(key)
            if match:
                starts.append(int(match.group(1)))
            elif ":src:" in key:
                sources.setdefault(int(key.split(":")[3]), []).append(key)
        if cursor == "0":
            break
    buckets = []
    for start in sorted(starts):
        fields = client.command("HGETALL", f"{prefix}b:60:{start}")
        flows = {}
        for name, value in zip(fields[0::2], fields[1::2]):
            if name.endswith(":flows"):
                flows[name[:-len(":flows")]] = int(value)
        ports = {series.split("/", 1)[1] for series in flows if "/" in series and "@" not in series}
        keys = sources.get(start, [])
        distinct = client.command("PFCOUNT", *keys) if keys else 0
        buckets.append({"start": start, "flows": sum(flows.values()),
                        "series": sum(1 for v in flows.values() if v > 0),
                        "ports": len(ports), "other_flows": flows.get("other", 0),
                        "sources": distinct})
    return buckets


class PortsurgeRedis(Portsurge):
    """portsurge-collector aggregating into the private Redis: per-flow aggregation on the
    receive thread, a flush every --flush-interval on its flush thread, and at SIGTERM every
    open bucket closed and written. Redis is emptied and its counters reset before each start,
    so after the stop everything in it and in INFO commandstats is this run's."""

    name = "ps+redis"

    def __init__(self, args, workdir):
        super().__init__(args, workdir)
        self.redis = args.redis

    def command(self, version, port):
        return super().command(version, port) + [
            "--redis", self.redis.path, "--flush-interval", str(self.args.flush_interval),
            "--collector-id", "bench"]

    def start(self, version, port):
        self.redis.client.command("FLUSHALL")
        self.redis.client.command("CONFIG", "RESETSTAT")
        self.redis_cpu_before = self.redis.cpu_seconds()
        super().start(version, port)

    def stop(self, version):
        received = super().stop(version)
        client = self.redis.client
        redis_cpu = self.redis.cpu_seconds() - self.redis_cpu_before
        calls = {}
        for key, value in client.info("commandstats").items():
            if key.startswith("cmdstat_"):
                calls[key[len("cmdstat_"):]] = int(value.split(",")[0].split("=")[1])
        calls.pop("info", None)
        memory = client.info("memory")
        buckets = redis_buckets(client)
        flushes = calls.get("exec", 0)
        commands = sum(calls.values())
        stored = sum(b["flows"] for b in buckets)
        self.redis_figures = {
            "flushes": flushes, "commands": commands,
            "commands_per_flush": commands / flushes if flushes else None,
            "commands_by_name": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
            "redis_cpu_seconds": redis_cpu,
            "redis_cpu_ms_per_flush": 1000 * redis_cpu / flushes if flushes else None,
            "redis_used_memory": int(memory.get("used_memory", 0)),
            "buckets": buckets, "stored_flows": stored, "decoded": received,
            "total_ok": stored == received,
        }
        return received


class Nfcapd(Collector):
    name = "nfcapd"

    def command(self, version, port):
        flowdir = os.path.join(self.workdir, "nfcapd-flows")
        shutil.rmtree(flowdir, ignore_errors=True)
        os.makedirs(flowdir)
        return [self.args.nfcapd, "-b", "127.0.0.1", "-p", str(port), "-w", flowdir,
                "-t", "3600", "-B", str(self.args.rcvbuf)]

    def stop(self, version):
        received = super().stop(version)
        # deleted before the kernel writes it all back: its dirty pages are simply dropped
        shutil.rmtree(os.path.join(self.workdir, "nfcapd-flows"), ignore_errors=True)
        return received

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


def blast_command(args, version, rate, seconds):
    return (["taskset", "-c", str(args.sender_cpu), args.blast, "--port", str(args.port),
             "--version", version, "--rate", str(rate), "--duration", str(seconds),
             "--records", str(args.records), "--pool", str(args.pool)]
            + (["--live-times"] if args.live_times else []))


def warm_up(args, version, rate, seconds):
    """ps-blast at the step's rate before the measured part: a fresh collector's first second
    (every pair new, tables growing from empty) is not its steady state. Returns the socket's
    drop counter after it, and the records it sent."""
    sender = subprocess.Popen(blast_command(args, version, rate, seconds), stdout=subprocess.PIPE,
                              text=True)
    LIVE.append(sender)
    sent = json.loads(sender.communicate()[0].strip().splitlines()[-1])
    state = udp_socket(args.port)
    return (state[1] if state is not None else 0), sent["records"]


def run_step(args, collector, version, rate, seconds, warmup=0.0):
    """One collector start, one ps-blast run at rate (0: flat out), one stop. With warmup,
    ps-blast first runs that long at the same rate, and the loss of the measured part is
    the socket's drop counter over it (datagrams x records per datagram): the collector's
    own count covers both parts."""
    port = args.port
    collector.start(version, port)
    pid = collector.process.pid
    drops_before, warm_sent = warm_up(args, version, rate, warmup) if warmup > 0 else (0, 0)
    cpu_before = cpu_seconds(pid)
    threads_before = thread_cpu_seconds(pid)
    busy_before = cpu_busy_seconds(args.collector_cpu)
    wall_before = time.monotonic()
    sender = subprocess.Popen(blast_command(args, version, rate, seconds),
                              stdout=subprocess.PIPE, text=True)
    LIVE.append(sender)
    samples = []
    ring = getattr(collector, "queued_bytes", None)
    ring_samples = []
    while sender.poll() is None:
        state = udp_socket(port)
        if state is not None:
            samples.append(state[0])
        if ring is not None:
            ring_samples.append(ring())
        time.sleep(SAMPLE_INTERVAL)
    sent = json.loads(sender.stdout.read().strip().splitlines()[-1])
    backlog_at_end = samples[-1] if samples else 0
    ring_at_end = ring_samples[-1] if ring_samples else 0
    drain_deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        state = udp_socket(port)
        if (state is None or state[0] == 0) and (ring is None or ring() == 0):
            break
        if time.monotonic() > drain_deadline:
            break
        time.sleep(0.02)
    time.sleep(0.1)
    cpu = cpu_seconds(pid) - cpu_before
    threads_after = thread_cpu_seconds(pid)
    threads = {name: round(threads_after[name] - threads_before.get(name, 0.0), 3)
               for name in threads_after}
    other = max(0.0, cpu_busy_seconds(args.collector_cpu) - busy_before - cpu)
    wall = time.monotonic() - wall_before
    drops = udp_socket(port)[1] if udp_socket(port) is not None else None
    received = collector.stop(version)
    exit_cpu = collector.exit_cpu_seconds - cpu_before
    buffer_bytes = 2 * args.rcvbuf  # the kernel accounts twice what was asked (socket(7))
    if warmup > 0:
        loss = ((drops or 0) - drops_before) * args.records / sent["records"] if sent["records"] else 0.0
    else:
        loss = 1 - received / sent["records"] if sent["records"] else 0.0
    step = {
        "collector": collector.name, "version": version, "target_rate": rate,
        "seconds": sent["seconds"], "sent": sent["records"], "sent_rate": sent["records_per_second"],
        "received": received, "loss": loss, "cpu_seconds": cpu, "wall_seconds": wall,
        "cpu_to_exit_seconds": exit_cpu, "thread_cpu_seconds": threads,
        "peak_rss_kib": collector.peak_rss_kib, "sender_cpu_seconds": sent["sender_cpu_seconds"],
        "kernel_drops": drops, "other_cpu_seconds": other, "backlog_max": max(samples) if samples else 0,
        "backlog_at_end": backlog_at_end,
        "backlog_growing": backlog_growing(samples, buffer_bytes)
        or backlog_growing(ring_samples, RING_BYTES),
        "ring_max": max(ring_samples) if ring_samples else None, "ring_at_end": ring_at_end,
        "warmup_seconds": warmup, "warmup_sent": warm_sent, "warmup_drops": drops_before,
        # what arrived after the warm-up, the part the CPU figures cover
        "measured_received": received - (warm_sent - drops_before * args.records),
        "sender_max_behind_ms": sent.get("max_behind_ms"),
        "sender_batches_behind_1ms": sent.get("batches_behind_1ms"),
    }
    if hasattr(collector, "redis_figures"):
        step["redis"] = collector.redis_figures
        del collector.redis_figures
    step["ok"] = loss < LOSS_LIMIT and not step["backlog_growing"]
    # something else ran on the collector's CPU: a failure may be theirs, not the collector's
    step["contended"] = other > CONTENTION_LIMIT * wall
    ring_text = (f" ring max {step['ring_max'] // 1024}K end {ring_at_end // 1024}K"
                 if ring_samples else "")
    log(f"  {collector.name:9} {version:5} rate {fmt_rate(rate) if rate else 'max':>7}: "
        f"sent {sent['records']:>10} ({fmt_rate(sent['records_per_second'])}/s) "
        f"recv {received:>10}{f' (+{warm_sent} warm-up, {drops_before} dgrams dropped)' if warmup else ''} "
        f"loss {100 * loss:6.3f}% cpu {cpu:5.2f}s "
        f"backlog max {step['backlog_max'] // 1024}K end {backlog_at_end // 1024}K"
        f"{ring_text}"
        f"{' GROWING' if step['backlog_growing'] else ''} other {other:4.2f}s"
        f" sender late max {step['sender_max_behind_ms'] or 0:.1f}ms"
        f"{' CONTENDED' if step['contended'] else ''} -> {'ok' if step['ok'] else 'FAIL'}")
    if "redis" in step:
        r = step["redis"]
        log(f"            redis: {r['flushes']} flushes, {r['commands']} commands, "
            f"{r['redis_cpu_seconds']:.2f}s redis CPU; flows in minute buckets {r['stored_flows']}"
            f" vs decoded {received}: {'equal' if r['total_ok'] else 'DIFFERENT'}; "
            f"cpu to exit {exit_cpu:.2f}s, peak RSS {(collector.peak_rss_kib or 0) // 1024} MiB")
    return step


def step_seconds(args, collector):
    """Rate-search step length: a --redis collector flushes every --flush-interval seconds
    after it starts, so its steps last long enough for one flush to fall inside the sending."""
    if isinstance(collector, PortsurgeRedis):
        return max(args.step_seconds, args.flush_interval + 1.0)
    return args.step_seconds


def run_search_step(args, collector, version, rate, steps):
    """A rate-search step, repeated when it failed while other processes used the CPU."""
    for attempt in range(CONTENTION_RETRIES + 1):
        step = run_step(args, collector, version, rate, step_seconds(args, collector),
                        args.warmup_seconds)
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
    redis_version = run([args.redis_server, "--version"])
    return [
        f"date      {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"host      {platform.node()} {platform.release()}, {os.cpu_count()} CPUs: {model}",
        f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, before the run)",
        f"commit    {commit}{' + local changes' if dirty else ''}",
        f"nfcapd    {nfcapd_version}",
        f"redis     {redis_version} (private, unix socket, pinned to CPU {args.sender_cpu}, nice {args.redis_nice})",
        f"setup     collector on CPU {args.collector_cpu}, ps-blast on CPU {args.sender_cpu}; "
        f"{args.records} records/packet, pool {args.pool} packets"
        f"{', live record times' if args.live_times else ''}; rcvbuf {args.rcvbuf} (all); "
        f"blast {args.blast_seconds}s, steps {args.step_seconds}s"
        f"{f' after {args.warmup_seconds}s of warm-up' if args.warmup_seconds else ''}, "
        f"{args.bisections} bisections",
    ]


TARGETS = {  # issue 2: portsurge with aggregation against nfcapd writing its files
    "per_cpu": {"v5": 2.5, "v9": 1.5, "ipfix": 1.5},
    "loss_free": 1.5,
    "keep": 0.80,  # issue 3: end to end keeps this share of the decode-only rate
}


def per_cpu_second(step):
    """Records per CPU-second of a step, CPU counted up to the collector's exit (and from the
    end of the warm-up, if any: so are the records)."""
    return step["measured_received"] / max(step["cpu_to_exit_seconds"], 1e-3)


def verdict(value, target):
    return "ok" if value >= target else "MISS"


def report_comparison(args, results, lines):
    lines.append("Full blast: collector CPU (all threads, from just before the sender starts to "
                 "the collector's exit, its last flush included) per million records received;")
    lines.append("loss-free rate: highest rate with < 0.1% loss and no growing backlog. "
                 "portsurge = decode only, ps+redis = with --redis (aggregation + flush).")
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
            per_million = blast["cpu_to_exit_seconds"] / max(blast["received"], 1) * 1e6
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
                         f"{100 * blast['cpu_to_exit_seconds'] / blast['wall_seconds']:5.0f} "
                         f"{per_million:10.3f} {fmt_rate(per_cpu_second(blast)):>10} {free:>16}")
        for name, label, targets in (("ps+redis", "ratio+agg", True),
                                     ("portsurge", "ratio dec", False)):
            if name not in row or "nfcapd" not in row:
                continue
            ps, nf = row[name], row["nfcapd"]
            cpu_ratio = nf[0] / ps[0]
            rate_ratio = ps[1] / nf[1] if ps[1] and nf[1] else None
            note = f"   ({name} / nfcapd"
            if targets:
                note += (f"; targets rec/cpu_s >= {TARGETS['per_cpu'][version]}x: "
                         f"{verdict(cpu_ratio, TARGETS['per_cpu'][version])}, loss-free >= "
                         f"{TARGETS['loss_free']}x: "
                         f"{verdict(rate_ratio, TARGETS['loss_free']) if rate_ratio else '-'}")
            lines.append(f"{version:6} {label:10} {'':>8} {'':>7} {'':>5} "
                         f"{ps[0] / nf[0]:9.2f}x {cpu_ratio:9.2f}x "
                         f"{(f'{rate_ratio:.2f}x' if rate_ratio else '-'):>16}{note})")
    lines.append("")


def loss_free_step(search):
    """The step of the rate search that set the loss-free rate, or None."""
    passed = [s for s in search["steps"] if s["ok"] and s["target_rate"] == search["loss_free_rate"]]
    return passed[-1] if passed else None


def report_loss_free_cost(args, results, lines):
    """CPU per record at each collector's loss-free rate: tells whether the full blast's
    overload changes the comparison (it would if a collector got dearer per record under it).
    redis-server's CPU (on the sender's CPU, counted from the collector's start, warm-up
    included) is shown apart: the comparison above counts the collector only."""
    rows = []
    for version in args.versions:
        cost = {}
        for name in args.collectors:
            result = results.get((name, version))
            step = loss_free_step(result["search"]) if result and result.get("search") else None
            if step is None:
                continue
            per_million = cost[name] = 1e6 / per_cpu_second(step)
            redis = step.get("redis")
            with_redis = (f"{per_million + redis['redis_cpu_seconds'] / max(step['received'], 1) * 1e6:.3f}"
                          if redis else "-")
            rows.append(f"{version:6} {name:10} {fmt_rate(step['target_rate']):>8} "
                        f"{per_million:10.3f} {with_redis:>13}")
        if "ps+redis" in cost and "nfcapd" in cost:
            rows.append(f"{version:6} {'ratio+agg':10} {'':>8} {cost['nfcapd'] / cost['ps+redis']:9.2f}x"
                        f"   (nfcapd / ps+redis, collector CPU)")
    if not rows:
        return
    lines.append("CPU per record at the loss-free rate (the step that set it; collector CPU as above, "
                 "and with redis-server's added):")
    lines.append(f"{'format':6} {'collector':10} {'rate':>8} {'cpu_s/Mrec':>10} {'+redis-server':>13}")
    lines.extend(rows)
    lines.append("")


def bucket_summary(buckets):
    """'series/ports/sources' of the fullest minute bucket."""
    if not buckets:
        return "-"
    b = max(buckets, key=lambda x: x["flows"])
    return f"{b['series']}/{b['ports']}/{b['sources'] // 1000}k"


def report_end_to_end(args, results, lines):
    if not any(("ps+redis", v) in results and ("portsurge", v) in results
               for v in args.versions):
        return
    lines.append("End to end into Redis against decode only (same format, same packets, same "
                 f"run; target: keep >= {100 * TARGETS['keep']:.0f}%). Redis figures of the "
                 "ps+redis full-blast step:")
    lines.append("flushes (EXEC), commands per flush (INFO commandstats), redis-server CPU per "
                 "flush, collector peak RSS (VmHWM), the fullest minute bucket's")
    lines.append("series/ports/distinct sources, and whether the flows in Redis's minute "
                 "buckets equal the records decoded.")
    lines.append("")
    lines.append(f"{'format':6} {'decode rec/cpu_s':>16} {'e2e rec/cpu_s':>13} {'keep':>5} "
                 f"{'loss-free dec/e2e':>17} {'flushes':>7} {'cmd/flush':>9} {'redis ms/fl':>11} "
                 f"{'peak RSS':>8} {'bucket ser/port/src':>19} {'Redis total':>11}")
    for version in args.versions:
        decode = results.get(("portsurge", version))
        e2e = results.get(("ps+redis", version))
        if decode is None or e2e is None:
            continue
        d, e = per_cpu_second(decode["blast"]), per_cpu_second(e2e["blast"])
        keep = e / d
        free = "-"
        if "search" in decode and "search" in e2e:
            free = (f"{fmt_rate(decode['search']['loss_free_rate'])}/"
                    f"{fmt_rate(e2e['search']['loss_free_rate'])}")
        r = e2e["blast"]["redis"]
        per_flush = f"{r['commands_per_flush']:.0f}" if r["commands_per_flush"] else "-"
        ms = f"{r['redis_cpu_ms_per_flush']:.0f}" if r["redis_cpu_ms_per_flush"] else "-"
        rss = e2e["blast"]["peak_rss_kib"]
        lines.append(f"{version:6} {fmt_rate(d):>16} {fmt_rate(e):>13} {100 * keep:4.0f}% "
                     f"{free:>17} {r['flushes']:>7} {per_flush:>9} {ms:>11} "
                     f"{(f'{rss // 1024}M' if rss else '-'):>8} "
                     f"{bucket_summary(r['buckets']):>19} "
                     f"{('equal' if r['total_ok'] else 'DIFFERENT'):>11}"
                     f"   {verdict(keep, TARGETS['keep'])}")
    checked = [s for (name, _), r in results.items() if name == "ps+redis"
               for s in [r["blast"]] + (r["search"]["steps"] if "search" in r else [])]
    equal = sum(1 for s in checked if s["redis"]["total_ok"])
    lines.append(f"Redis total (sum of <series>:flows over ps:b:60:* = records decoded): "
                 f"{equal} of {len(checked)} ps+redis steps equal")
    lines.append("")


def report_soak(args, soaks, lines):
    if not soaks:
        return
    lines.append(f"Sustained: ps+redis at a fixed rate for {args.soak_seconds:.0f} s "
                 f"(flush every {args.flush_interval} s), record times moving with the clock. "
                 "CPU to exit; receive/flush = the two threads'")
    lines.append("share of the collector CPU while sending. Per minute bucket: records, "
                 "series, distinct port numbers, distinct sources (PFCOUNT of the union).")
    lines.append("")
    for version, step in soaks.items():
        r = step["redis"]
        threads = step["thread_cpu_seconds"]
        flush_cpu = sum(v for k, v in threads.items() if k.startswith("ps-flush"))
        total = max(sum(threads.values()), 1e-3)
        lines.append(
            f"{version}: {fmt_rate(step['sent_rate'])}/s for {step['seconds']:.0f} s, loss "
            f"{100 * step['loss']:.3f}%{' GROWING backlog' if step['backlog_growing'] else ''}; "
            f"{fmt_rate(per_cpu_second(step))} rec/cpu_s "
            f"({step['cpu_to_exit_seconds']:.2f} CPU-s, {100 * step['cpu_to_exit_seconds'] / step['wall_seconds']:.0f}% "
            f"of a CPU; receive {100 * (1 - flush_cpu / total):.0f}% / flush "
            f"{100 * flush_cpu / total:.0f}%)")
        lines.append(
            f"       {r['flushes']} flushes, {r['commands_per_flush'] or 0:.0f} commands per flush, "
            f"redis-server {r['redis_cpu_ms_per_flush'] or 0:.0f} ms CPU per flush, "
            f"Redis memory after {r['redis_used_memory'] / 2**20:.0f} MiB; "
            f"collector peak RSS {(step['peak_rss_kib'] or 0) / 1024:.0f} MiB")
        top = ", ".join(f"{k} {v}" for k, v in list(r["commands_by_name"].items())[:6])
        lines.append(f"       commands: {top}")
        for b in r["buckets"]:
            stamp = datetime.datetime.fromtimestamp(b["start"]).strftime("%H:%M")
            other = f", other {b['other_flows']}" if b["other_flows"] else ""
            lines.append(f"       bucket {stamp}: {b['flows']:>10} records, {b['series']:>6} "
                         f"series, {b['ports']:>6} ports, {b['sources']:>7} sources{other}")
        lines.append(f"       Redis total {r['stored_flows']} = decoded {r['decoded']}: "
                     f"{'equal' if r['total_ok'] else 'DIFFERENT'}")
    lines.append("")


def report(args, header, results, soaks):
    lines = header + [""]
    report_comparison(args, results, lines)
    report_loss_free_cost(args, results, lines)
    report_end_to_end(args, results, lines)
    report_soak(args, soaks, lines)
    steps = [s for r in results.values()
             for s in [r["blast"]] + (r["search"]["steps"] if "search" in r else [])]
    steps += list(soaks.values())
    contended = sum(1 for s in steps if s["contended"])
    lines.append(f"{len(steps)} steps; {contended} had other processes using more than "
                 f"{100 * CONTENTION_LIMIT:.0f}% of CPU {args.collector_cpu} (failures then "
                 f"retried up to {CONTENTION_RETRIES} times)")
    lines.append("")
    return "\n".join(lines)


def parse_args():
    build = os.path.join(REPO_DIR, "build-bench2")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=build, help="meson build directory (%(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="shorter steps, fewer bisections: about 2 minutes")
    parser.add_argument("--versions", default=",".join(VERSIONS), help="v5,v9,ipfix")
    parser.add_argument("--collectors", default="portsurge,ps+redis,nfcapd,recvmmsg",
                        help="portsurge (decode only), ps+redis (with --redis), nfcapd, "
                        "recvmmsg (full blast only)")
    parser.add_argument("--no-search", action="store_true", help="full blast only")
    parser.add_argument("--search-collectors",
                        help="comma-separated: the collectors whose loss-free rate is searched "
                             "(default: all of --collectors)")
    parser.add_argument("--port", type=int, default=29995)
    parser.add_argument("--rcvbuf", type=int, default=4 << 20,
                        help="receive buffer for every collector (%(default)s; nfcapd is capped "
                        "by net.core.rmem_max)")
    parser.add_argument("--records", type=int, default=30, help="records per packet")
    parser.add_argument("--pool", type=int, default=16384,
                        help="distinct packets ps-blast cycles through (%(default)s: 491,520 "
                        "records, ~99,300 of the 100,000 sources)")
    parser.add_argument("--no-live-times", dest="live_times", action="store_false",
                        help="record times fixed when ps-blast starts, not moving with the clock")
    parser.add_argument("--flush-interval", type=int, default=5,
                        help="ps+redis --flush-interval (%(default)s)")
    parser.add_argument("--soak-versions", default="v9",
                        help="formats for the sustained ps+redis run ('' for none; %(default)s)")
    parser.add_argument("--soak-seconds", type=float,
                        help="length of the sustained run (65; --quick: 15)")
    parser.add_argument("--soak-rate", type=float,
                        help="records/s of the sustained run (default: half the ps+redis "
                        "loss-free rate, or a quarter of its full-blast rec/cpu_s)")
    parser.add_argument("--redis-nice", type=int, default=0,
                        help="nice value of the private redis-server (10: the sender goes first)")
    parser.add_argument("--redis-server", default=shutil.which("redis-server")
                        or "/usr/bin/redis-server")
    parser.add_argument("--blast-seconds", type=float)
    parser.add_argument("--step-seconds", type=float)
    parser.add_argument("--bisections", type=int)
    parser.add_argument("--warmup-seconds", type=float, default=0.0,
                        help="rate-search and soak steps: send this long at the step's rate first and "
                        "count the loss of the rest only, from the socket's drop counter "
                        "(default 0: the whole step, from the collector's own count)")
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
    args.soak_seconds = args.soak_seconds or (15.0 if quick else 65.0)
    args.soak_versions = [v for v in args.soak_versions.split(",") if v]
    args.versions = [v for v in args.versions.split(",") if v]
    args.collectors = [c for c in args.collectors.split(",") if c]
    args.search_collectors = ([c for c in args.search_collectors.split(",") if c]
                              if args.search_collectors is not None else args.collectors)
    args.collector = os.path.join(args.build_dir, "collector", "portsurge-collector")
    args.blast = os.path.join(args.build_dir, "tests", "bench", "ps-blast")
    args.sink = os.path.join(args.build_dir, "tests", "bench", "ps-sink")
    for path in (args.collector, args.blast, args.sink):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} missing: meson setup build-bench2 -Dbuildtype=release && "
                         "ninja -C build-bench2")
    return args


def soak_rate(args, results, version):
    if args.soak_rate:
        return args.soak_rate
    result = results.get(("ps+redis", version))
    if result and "search" in result and result["search"]["loss_free_rate"]:
        return round(result["search"]["loss_free_rate"] / 2, -3)
    if result:
        return round(per_cpu_second(result["blast"]) / 4, -3)
    return 300000


def run_all(args, classes, results, soaks):
    """Every format: full blast for each collector, then the rate searches; then the
    sustained ps+redis runs."""
    with tempfile.TemporaryDirectory(prefix="ps-bench-") as workdir:
        args.redis = None
        if "ps+redis" in args.collectors or args.soak_versions:
            args.redis = RedisServer(args, workdir)
        try:
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
                    if args.no_search or name == "recvmmsg" or name not in args.search_collectors:
                        continue
                    collector = classes[name](args, workdir)
                    log(f"{name} {version}: rate search")
                    results[(name, version)]["search"] = rate_search(
                        args, collector, version, results[(name, version)]["blast"])
            for version in args.soak_versions:
                rate = soak_rate(args, results, version)
                log(f"ps+redis {version}: sustained {fmt_rate(rate)}/s for {args.soak_seconds} s")
                soaks[version] = run_step(args, PortsurgeRedis(args, workdir), version, rate,
                                          args.soak_seconds, args.warmup_seconds)
        finally:
            if args.redis is not None:
                args.redis.stop()


def main():
    args = parse_args()
    # made now, not after the run: a run is minutes long and its results are only written here
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    os.sched_setaffinity(0, {args.sender_cpu})  # keep our sampling off the collector's CPU
    header = describe_host(args)
    classes = {"portsurge": Portsurge, "ps+redis": PortsurgeRedis, "nfcapd": Nfcapd,
               "recvmmsg": Sink}
    results, soaks = {}, {}
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(1))
    try:
        run_all(args, classes, results, soaks)
    finally:
        end_live_processes()
    text = report(args, header, results, soaks)
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"header": header,
                   "results": [{"collector": c, "version": v, **r}
                               for (c, v), r in results.items()],
                   "sustained": soaks}, f, indent=1)
    log(f"written to {args.out}")


if __name__ == "__main__":
    main()
