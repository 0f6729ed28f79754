#!/usr/bin/env python3
"""Deployment files, checked without a Docker daemon or systemd running (TAP on stdout).

- docker-compose.yml: `docker-compose config -q` accepts it (Debian's docker-compose 1.29), it
  refuses to start without PS_REDIS_PASSWORD, and the resolved configuration has redis (with a
  volume for /data and append-only persistence), collector and alerter, UDP 2055 and 4739
  published, a health check and a restart policy on every service, the image built from
  contrib/docker/Dockerfile.
- contrib/docker/Dockerfile: multi-stage from Debian 12, non-root USER, EXPOSE 2055/udp and
  4739/udp, HEALTHCHECK; every runtime package is a real Debian package (apt-cache, offline);
  the health check script parses (sh -n).
- contrib/systemd: `systemd-analyze verify` with ExecStart pointed at the built programs, no
  warnings; the hardening settings are there.
- contrib/grafana/portsurge.json parses, uses a Prometheus data source variable, has the panels
  issue 7 asks for, and every metric it queries is one the programs export.
A tool that is not installed (docker-compose, PyYAML, systemd-analyze, apt-cache) skips its
checks with a message.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.environ.get("PS_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))

# The metrics portsurge-collector and portsurge-alerter export (--metrics ADDR:PORT).
METRICS = {
    "portsurge_collector_packets_total": "counter",
    "portsurge_collector_records_total": "counter",
    "portsurge_collector_decode_errors_total": "counter",
    "portsurge_collector_unknown_template_records_total": "counter",
    "portsurge_collector_sequence_gaps_total": "counter",
    "portsurge_collector_socket_drops_total": "counter",
    "portsurge_collector_flush_seconds": "histogram",
    "portsurge_collector_redis_errors_total": "counter",
    "portsurge_collector_dropped_records_total": "counter",
    "portsurge_collector_rejected_packets_total": "counter",
    "portsurge_alerter_alerts_total": "counter",
    "portsurge_alerter_webhook_deliveries_total": "counter",
    "portsurge_alerter_outbox_length": "gauge",
    "portsurge_alerter_dead_letters_total": "counter",
    "portsurge_alerter_redis_errors_total": "counter",
    "portsurge_alerter_last_bucket_timestamp_seconds": "gauge",
}

count = 0
failed = 0


def result(ok, name, diagnostic=""):
    global count, failed
    count += 1
    print(("ok" if ok else "not ok") + f" {count} - {name}")
    if not ok:
        failed += 1
        for line in str(diagnostic).splitlines() or [""]:
            print(f"# {line}")
    sys.stdout.flush()


def skip(name, reason):
    global count
    count += 1
    print(f"ok {count} - {name} # SKIP {reason}")
    sys.stdout.flush()


def check(condition, name, diagnostic=""):
    result(bool(condition), name, diagnostic)


def path(*parts):
    return os.path.join(ROOT, *parts)


def run(argv, env=None, cwd=None):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, cwd=cwd, timeout=60)


# --- docker-compose.yml -------------------------------------------------------------------------

def compose_env(password=True):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PS_", "PORTSURGE_", "COMPOSE_", "DOCKER_"))}
    if password:
        env["PS_REDIS_PASSWORD"] = "deploy-test-password"
    return env


def restart_policy(service):
    if service.get("restart"):
        return service["restart"]
    return ((service.get("deploy") or {}).get("restart_policy") or {}).get("condition")


def published_udp(service):
    found = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("protocol") == "udp":
                found.add(int(port.get("target")))
        else:
            match = re.search(r"(\d+)/udp$", str(port))
            if match:
                found.add(int(match.group(1)))
    return found


def test_compose():
    compose_file = path("docker-compose.yml")
    check(os.path.isfile(compose_file), "docker-compose.yml exists")
    docker_compose = shutil.which("docker-compose")
    if not docker_compose:
        skip("docker-compose config", "docker-compose is not installed (apt-get install docker-compose)")
        return
    # Its own project directory, so no .env of the developer's changes what is checked.
    with tempfile.TemporaryDirectory() as workdir:
        base = [docker_compose, "--project-directory", ROOT, "-f", compose_file]
        proc = run(base + ["config", "-q"], env=compose_env(), cwd=workdir)
        check(proc.returncode == 0, "docker-compose config -q accepts docker-compose.yml",
              proc.stderr)
        proc_nopass = run(base + ["config", "-q"], env=compose_env(password=False), cwd=workdir)
        check(proc_nopass.returncode != 0 and "PS_REDIS_PASSWORD" in proc_nopass.stderr,
              "docker-compose refuses to run without PS_REDIS_PASSWORD", proc_nopass.stderr)
        resolved = run(base + ["config"], env=compose_env(), cwd=workdir)
    if resolved.returncode != 0:
        result(False, "docker-compose config prints the resolved configuration", resolved.stderr)
        return
    try:
        import yaml
    except ImportError:
        skip("resolved compose configuration", "python3-yaml is not installed")
        return
    config = yaml.safe_load(resolved.stdout)
    services = config.get("services") or {}
    for name in ("redis", "collector", "alerter"):
        check(name in services, f"service {name} exists", sorted(services))
    for name, service in services.items():
        health = service.get("healthcheck") or {}
        check(health.get("test") and not health.get("disable"), f"service {name} has a health check",
              health)
        check(restart_policy(service) in ("always", "unless-stopped", "on-failure"),
              f"service {name} has a restart policy", restart_policy(service))
    collector = services.get("collector") or {}
    udp = published_udp(collector)
    check({2055, 4739} <= udp, "collector publishes 2055/udp and 4739/udp", collector.get("ports"))
    for name in ("collector", "alerter"):
        service = services.get(name) or {}
        build = service.get("build") or {}
        check(str(build.get("dockerfile", "")).endswith("contrib/docker/Dockerfile"),
              f"{name} is built from contrib/docker/Dockerfile", build)
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) if "=" in item else (item, None)
                               for item in environment)
        check(environment.get("PS_REDIS_PASSWORD") == "deploy-test-password",
              f"{name} gets PS_REDIS_PASSWORD from the environment", sorted(environment))
        command = " ".join(str(part) for part in service.get("command") or [])
        check("--config" in command and "--redis" in command and "--metrics" in command,
              f"{name} runs with --config, --redis and --metrics", command)
        check(service.get("read_only") is True and "ALL" in (service.get("cap_drop") or []),
              f"{name} runs read-only without capabilities", service)
    redis = services.get("redis") or {}
    volumes = [str(volume) if not isinstance(volume, dict) else volume.get("target", "")
               for volume in redis.get("volumes") or []]
    check(any(":/data" in volume or volume == "/data" for volume in volumes),
          "redis keeps /data in a volume", volumes)
    redis_command = " ".join(str(part) for part in redis.get("command") or [])
    check("--appendonly yes" in redis_command and "requirepass" in redis_command,
          "redis persists (append-only file) and requires the password", redis_command)
    check("ports" not in redis, "redis is not published on the host", redis.get("ports"))


# --- contrib/docker -----------------------------------------------------------------------------

def dockerfile_stages(text):
    stages = []
    for line in text.splitlines():
        if re.match(r"^\s*FROM\s", line, re.I):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return ["\n".join(stage) for stage in stages]


def apt_packages(stage):
    joined = re.sub(r"\\\n", " ", stage)
    packages = []
    for match in re.finditer(r"apt-get install ([^&\n]*)", joined):
        packages += [word for word in match.group(1).split() if not word.startswith("-")]
    return packages


def test_dockerfile():
    dockerfile = path("contrib", "docker", "Dockerfile")
    if not os.path.isfile(dockerfile):
        result(False, "contrib/docker/Dockerfile exists")
        return
    text = open(dockerfile, encoding="utf-8").read()
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))
    stages = dockerfile_stages(text)
    check(len(stages) >= 2, "Dockerfile is multi-stage", len(stages))
    bases = [re.match(r"\s*FROM\s+(\S+)", stage, re.I).group(1) for stage in stages]
    bases = [re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), b) for b in bases]
    check(all(re.match(r"debian:(12|bookworm)", base) for base in bases),
          "every stage is Debian 12 (bookworm)", bases)
    runtime = stages[-1] if stages else ""
    check(re.search(r"^USER\s+(?!root\b|0\b)\S+", runtime, re.M), "runtime stage runs as a non-root USER")
    exposed = set(re.findall(r"(\d+/udp)", " ".join(re.findall(r"^EXPOSE\s+(.*)$", runtime, re.M))))
    check({"2055/udp", "4739/udp"} <= exposed, "EXPOSE 2055/udp 4739/udp", exposed)
    check(re.search(r"^HEALTHCHECK\s+.*CMD", runtime, re.M | re.S), "HEALTHCHECK is set")
    check(re.search(r"meson setup", stages[0]) and re.search(r"meson install", stages[0]),
          "the build stage runs meson setup and meson install")
    runtime_packages = apt_packages(runtime)
    check(not [p for p in runtime_packages if p.endswith("-dev") or p in ("build-essential", "meson")],
          "runtime stage installs no build tools or -dev packages", runtime_packages)
    apt_cache = shutil.which("apt-cache")
    if apt_cache:
        for stage_name, stage in (("build", stages[0]), ("runtime", runtime)):
            packages = apt_packages(stage)
            shown = run([apt_cache, "show", "--no-all-versions"] + packages).stdout
            known = set(re.findall(r"^Package: (\S+)$", shown, re.M))
            missing = [p for p in packages if p not in known]
            check(packages and not missing,
                  f"{stage_name} stage packages are Debian packages", f"unknown: {missing}")
    else:
        skip("Dockerfile packages are Debian packages", "apt-cache is not available")
    for script in ("healthcheck",):
        script_path = path("contrib", "docker", script)
        proc = run(["sh", "-n", script_path]) if os.path.isfile(script_path) else None
        check(proc is not None and proc.returncode == 0 and os.access(script_path, os.X_OK),
              f"contrib/docker/{script} is an executable shell script", proc and proc.stderr)
    dockerignore = path(".dockerignore")
    check(os.path.isfile(dockerignore) and re.search(r"^build", open(dockerignore).read(), re.M),
          ".dockerignore keeps build trees out of the context")


# --- contrib/systemd ----------------------------------------------------------------------------

def unit_settings(text):
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_systemd():
    units = {
        "portsurge-collector.service": os.environ.get("PS_COLLECTOR"),
        "portsurge-alerter.service": os.environ.get("PS_ALERTER"),
    }
    texts = {}
    for unit in units:
        unit_path = path("contrib", "systemd", unit)
        check(os.path.isfile(unit_path), f"contrib/systemd/{unit} exists")
        if os.path.isfile(unit_path):
            texts[unit] = open(unit_path, encoding="utf-8").read()
    for unit, text in texts.items():
        settings = unit_settings(text)
        last = {key: values[-1] for key, values in settings.items()}
        check(last.get("User") == "portsurge", f"{unit}: dedicated user portsurge", last.get("User"))
        check(last.get("NoNewPrivileges") == "yes", f"{unit}: NoNewPrivileges=yes")
        check(last.get("ProtectSystem") == "strict", f"{unit}: ProtectSystem=strict (read-only system)")
        check(last.get("AmbientCapabilities", "") == "", f"{unit}: no ambient capability by default")
        allowed = set(last.get("CapabilityBoundingSet", "<unset>").split())
        check(allowed <= {"CAP_NET_BIND_SERVICE"} and "CapabilityBoundingSet" in last,
              f"{unit}: at most CAP_NET_BIND_SERVICE may be granted", allowed)
        check("--config" in last.get("ExecStart", ""), f"{unit}: reads the config file")
    for name in ("portsurge.sysusers", "portsurge.tmpfiles"):
        check(os.path.isfile(path("contrib", "systemd", name)), f"contrib/systemd/{name} exists")
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        skip("systemd-analyze verify", "systemd-analyze is not installed")
        return
    with tempfile.TemporaryDirectory() as workdir:
        for unit, text in texts.items():
            program = units[unit]
            name = unit.replace(".service", "")
            # verify checks that ExecStart exists: point it at the built program
            if not (program and os.access(program, os.X_OK)):
                print(f"# {name} is not built: ExecStart checked with {shutil.which('true')}")
                program = shutil.which("true")
            text = text.replace(f"/usr/local/bin/{name}", program)
            open(os.path.join(workdir, unit), "w", encoding="utf-8").write(text)
        for unit in texts:
            proc = run([analyze, "verify", os.path.join(workdir, unit)],
                       env=dict(os.environ, SYSTEMD_LOG_COLOR="0"), cwd=workdir)
            # verify only warns about unknown keys or bad values (exit 0): any word about our
            # unit is a failure
            complaints = [line for line in (proc.stdout + proc.stderr).splitlines()
                          if unit in line or "portsurge" in line]
            check(proc.returncode == 0 and not complaints, f"systemd-analyze verify {unit}",
                  proc.stdout + proc.stderr)
        sysusers = shutil.which("systemd-sysusers")
        if sysusers:
            root = os.path.join(workdir, "root")
            os.makedirs(os.path.join(root, "etc"))
            proc = run([sysusers, "--dry-run", f"--root={root}",
                        path("contrib", "systemd", "portsurge.sysusers")])
            check(proc.returncode == 0 and "portsurge" in proc.stdout + proc.stderr,
                  "systemd-sysusers accepts portsurge.sysusers", proc.stdout + proc.stderr)


# --- contrib/grafana ----------------------------------------------------------------------------

def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])


def metric_names(expression):
    names = set()
    for name in re.findall(r"\b(portsurge_[a-z0-9_]+)", expression):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if METRICS.get(base) == "histogram":
            name = base
        names.add(name)
    return names


def test_grafana():
    dashboard_path = path("contrib", "grafana", "portsurge.json")
    try:
        dashboard = json.load(open(dashboard_path, encoding="utf-8"))
    except (OSError, ValueError) as error:
        result(False, "contrib/grafana/portsurge.json parses", error)
        return
    result(True, "contrib/grafana/portsurge.json parses")
    variables = (dashboard.get("templating") or {}).get("list") or []
    datasource = [v for v in variables if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    check(datasource, "a Prometheus data source variable")
    ds_ref = "${%s}" % datasource[0]["name"] if datasource else None
    panels = [p for p in walk_panels(dashboard.get("panels") or []) if p.get("type") != "row"]
    used = set()
    expressions = []
    for panel in panels:
        for target in panel.get("targets") or []:
            expressions.append(target.get("expr", ""))
        check((panel.get("datasource") or {}).get("uid") == ds_ref,
              f"panel '{panel.get('title')}' uses the data source variable", panel.get("datasource"))
    for variable in variables:
        query = variable.get("query")
        expressions.append(json.dumps(query) if isinstance(query, dict) else str(query or ""))
        expressions.append(str(variable.get("definition") or ""))
    for expression in expressions:
        used |= metric_names(expression)
    unknown = sorted(used - set(METRICS))
    check(not unknown, "every metric the dashboard queries is exported", f"unknown: {unknown}")
    check(set(METRICS) <= used, "the dashboard shows every exported metric",
          f"not shown: {sorted(set(METRICS) - used)}")
    titles = " | ".join(p.get("title", "") for p in panels).lower()
    for wanted in ("packets per exporter", "records per exporter", "decode errors",
                   "sequence gaps", "socket drops", "flush latency", "redis errors", "alerts",
                   "webhook failures", "outbox length"):
        check(wanted in titles, f"a panel for {wanted}", titles)
    flush = " ".join(e for e in expressions if "flush_seconds" in e)
    check("histogram_quantile(0.5," in flush and "histogram_quantile(0.99," in flush,
          "flush latency shows p50 and p99", flush)


# --- README.md: Point your routers at it ---------------------------------------------------

def test_routers():
    text = open(path("README.md"), encoding="utf-8").read()
    match = re.search(r"^## Point your routers at it\n(.*?)(?=^## )", text, re.M | re.S)
    check(match, "README.md has the section 'Point your routers at it'")
    section = match.group(1) if match else ""
    for vendor in ("IOS-XE", "IOS-XR", "Junos", "RouterOS", "softflowd", "pmacct", "pfSense", "OPNsense"):
        check(vendor in section, f"'Point your routers at it' covers {vendor}")


def main():
    test_compose()
    test_dockerfile()
    test_systemd()
    test_grafana()
    test_routers()
    print(f"1..{count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
