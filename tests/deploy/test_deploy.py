#!/usr/bin/python3
"""tests/deploy/test_deploy.py - checks the deployment files against issue 6 (items 4-6, 8).

No Docker engine and no cluster are needed: the Dockerfiles are parsed instruction by instruction,
the Compose file and the Kubernetes manifests with PyYAML, .dockerignore with a matcher following
Docker's rules. `docker-compose -f docker/compose.yaml config -q` runs too when docker-compose is
installed (otherwise that one check prints "skipped: docker-compose not installed").

Run by CTest as `/usr/bin/python3 tests/deploy/test_deploy.py` with MOAT_SOURCE_DIR set to the
repository root; exits 1 and prints every failed check, or 0.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import yaml

ROOT = os.environ.get("MOAT_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UID = 65532
DIGEST_RE = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
RUNTIME_PACKAGES = ["libmicrohttpd12", "libgnutls30", "libssl3", "libsodium23", "libinih1",
                    "libseccomp2", "ca-certificates"]
# pkg-config module (as in CMakeLists.txt) -> the Debian 12 package with its headers.
DEV_PACKAGES = {"libmicrohttpd": "libmicrohttpd-dev", "gnutls": "libgnutls28-dev",
                "openssl": "libssl-dev", "libsodium": "libsodium-dev", "inih": "libinih-dev",
                "libseccomp": "libseccomp-dev"}
OCI_LABELS = ["title", "description", "version", "revision", "created", "source"]
# Keys the deployment files use before their sections reach conf/moat.conf (issues 4 and 5). Once a
# section is in conf/moat.conf, its keys are checked against the file instead.
PENDING_KEYS = {"admin": {"listen": "issue 4"}}
SHUTDOWN_TARGET_RE = re.compile(r"^(child|none|pidfile:/\S+|process:[^\s/]+)$")


class Report:
    """Collects check results; each failure is printed with its area and what was found."""

    def __init__(self):
        self.total = 0
        self.failed = []
        self.notes = []

    def check(self, area, what, ok, found=None):
        """Records one check: ok is truthy when it passed; found describes what was there."""
        self.total += 1
        if not ok:
            msg = "FAIL [%s] %s" % (area, what)
            if found is not None:
                msg += " (found: %s)" % (found,)
            self.failed.append(msg)
            print(msg)
        return bool(ok)

    def note(self, text):
        """A remark that is not a failure (placeholders, pending keys, skipped checks)."""
        if text not in self.notes:
            self.notes.append(text)
            print("note: " + text)


R = Report()


def path(*parts):
    return os.path.join(ROOT, *parts)


def read(rel):
    with open(path(rel), encoding="utf-8") as f:
        return f.read()


# ---- conf/moat.conf: the known configuration keys --------------------------------------------

def conf_keys():
    """{section: set(keys)} from conf/moat.conf."""
    keys = {}
    section = None
    for line in read("conf/moat.conf").splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")) or line[0] in " \t":
            continue
        m = re.match(r"^\[([a-z0-9_]+)\]\s*$", line)
        if m:
            section = m.group(1)
            keys.setdefault(section, set())
            continue
        m = re.match(r"^([a-z0-9_]+)\s*=", line)
        if m and section:
            keys[section].add(m.group(1))
    return keys


CONF = conf_keys()


def check_env_names(area, names):
    """Every MOAT_<SECTION>_<KEY> must name a key of conf/moat.conf (or one a pending issue adds)."""
    for name in names:
        if not name.startswith("MOAT_") or name == "MOAT_CONFIG":
            continue
        rest = name[5:].lower()
        section, _, key = rest.partition("_")
        if section in CONF:
            R.check(area, "%s names a key of conf/moat.conf ([%s] %s)" % (name, section, key),
                    key in CONF[section], "section [%s] has %s" % (section, sorted(CONF[section])))
        elif section in PENDING_KEYS and key in PENDING_KEYS[section]:
            R.note("%s: [%s] %s is not in conf/moat.conf yet (%s); moat ignores the variable "
                   "until then" % (area, section, key, PENDING_KEYS[section][key]))
        else:
            R.check(area, "%s names a known section and key" % name, False,
                    "sections %s" % sorted(CONF))


# ---- Dockerfiles ------------------------------------------------------------------------------

def dockerfile_parse(rel):
    """Returns (global ARG defaults, [stage]) where a stage is {from, name, instr: [(KW, args)]}."""
    lines = []
    cur = ""
    for raw in read(rel).splitlines():
        if raw.lstrip().startswith("#"):
            continue  # comments (and parser directives) also vanish inside continuations
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
            continue
        cur += raw
        if cur.strip():
            lines.append(cur.strip())
        cur = ""
    if cur.strip():
        lines.append(cur.strip())
    global_args = {}
    stages = []
    for line in lines:
        kw, _, args = line.partition(" ")
        kw = kw.upper()
        args = args.strip()
        if kw == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"from": words[0], "name": name, "instr": []})
        elif not stages:
            if kw == "ARG":
                k, _, v = args.partition("=")
                global_args[k] = v.strip('"')
        else:
            stages[-1]["instr"].append((kw, args))
    return global_args, stages


def subst(text, args):
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), ""), text)


def exec_form(args):
    """The JSON (exec form) array of an instruction, or None for shell form."""
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def instrs(stage, kw):
    return [a for k, a in stage["instr"] if k == kw]


def labels(stage):
    out = {}
    for args in instrs(stage, "LABEL"):
        for word in shlex.split(args):
            k, _, v = word.partition("=")
            out[k] = v
    return out


def stage_args(stage):
    out = {}
    for args in instrs(stage, "ARG"):
        k, _, v = args.partition("=")
        out[k] = v.strip('"')
    return out


def healthcheck_cmd(stage):
    """The exec-form command of the stage's last HEALTHCHECK, or its raw text."""
    hc = instrs(stage, "HEALTHCHECK")
    if not hc:
        return None
    m = re.search(r"\bCMD\s+(.*)$", hc[-1])
    if not m:
        return hc[-1]
    return exec_form(m.group(1)) or m.group(1)


def apt_installs(stage):
    """Package names installed with apt-get install in the stage's RUN instructions."""
    pkgs = set()
    for run in instrs(stage, "RUN"):
        for cmd in re.split(r"&&|;|\|\|", run):
            words = cmd.split()
            if "apt-get" in words and "install" in words:
                pkgs.update(w for w in words[words.index("install") + 1:] if not w.startswith("-"))
    return pkgs


def check_from_pins(area, global_args, stages):
    names = set()
    for st in stages:
        base = subst(st["from"], global_args)
        if base in names:
            pass  # a previous stage
        elif R.check(area, "FROM %s is pinned by digest (image@sha256:<64 hex>)" % st["from"],
                     DIGEST_RE.match(base), base):
            if base.endswith(PLACEHOLDER_DIGEST):
                R.note("%s: %s has a placeholder digest: run docker/pin-digests.sh before building"
                       % (area, base.split("@")[0]))
        if st["name"]:
            names.add(st["name"])


def check_copy_sources(area, stages, context, ignore):
    """COPY sources from the build context exist and are not excluded by .dockerignore."""
    for st in stages:
        for args in instrs(st, "COPY"):
            words = args.split()
            if any(w.startswith("--from") for w in words):
                continue
            words = [w for w in words if not w.startswith("--")]
            for src in words[:-1]:
                full = os.path.join(context, src)
                R.check(area, "COPY source %s exists" % src, os.path.exists(full))
                for f in files_under(full):
                    rel = os.path.relpath(f, context)
                    R.check(area, "COPY source file %s is not excluded by .dockerignore" % rel,
                            ignore is None or not ignore(rel))


def files_under(p):
    if os.path.isfile(p):
        return [p]
    out = []
    for d, dirs, files in os.walk(p):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        out += [os.path.join(d, f) for f in files]
    return out


def cmake_modules():
    """pkg-config modules the top-level CMakeLists.txt requires."""
    return re.findall(r"pkg_check_modules\(\s*\w+\s+REQUIRED\s+IMPORTED_TARGET\s+([A-Za-z0-9_+-]+)",
                      read("CMakeLists.txt"))


def test_dockerfile():
    area = "docker/Dockerfile"
    global_args, stages = dockerfile_parse(area)
    if not R.check(area, "is multi-stage (2 or more FROM)", len(stages) >= 2, len(stages)):
        return
    check_from_pins(area, global_args, stages)
    build, final = stages[0], stages[-1]
    stage_names = {s["name"] for s in stages if s["name"]}

    # build stage
    R.check(area, "build stage is Debian 12", re.search(r"(^|/)debian:12@", subst(
        build["from"], global_args)), build["from"])
    runs = " ".join(instrs(build, "RUN"))
    R.check(area, "build stage builds with cmake", "cmake --build" in runs)
    R.check(area, "build stage configures with -DMOAT_TESTS=OFF", "-DMOAT_TESTS=OFF" in runs)
    R.check(area, "no stage runs the test suite (ctest)",
            not any("ctest" in r for s in stages for r in instrs(s, "RUN")))
    dev = apt_installs(build)
    for mod in cmake_modules():
        want = DEV_PACKAGES.get(mod)
        if R.check(area, "a -dev package is known for pkg-config module %s (CMakeLists.txt); "
                   "add it to DEV_PACKAGES and the build stage" % mod, want):
            R.check(area, "build stage installs %s" % want, want in dev, sorted(dev))

    # runtime libraries
    libstages = [s for s in stages[1:] if set(RUNTIME_PACKAGES) <= apt_installs(s)]
    R.check(area, "a non-build stage installs exactly the runtime packages %s" % RUNTIME_PACKAGES,
            libstages, [sorted(apt_installs(s)) for s in stages[1:]])
    for s in libstages:
        R.check(area, "the runtime-library stage installs no -dev package",
                not any(p.endswith("-dev") for p in apt_installs(s)), sorted(apt_installs(s)))

    # runtime stage
    base = subst(final["from"], global_args)
    R.check(area, "runtime stage is gcr.io/distroless/cc-debian12 (no shell, no package manager)",
            base.startswith("gcr.io/distroless/cc-debian12"), base)
    R.check(area, "runtime stage has no RUN (there is no shell to run it)",
            not instrs(final, "RUN"), instrs(final, "RUN"))
    users = instrs(final, "USER")
    R.check(area, "runtime stage ends as USER %d:%d" % (UID, UID),
            users and users[-1] == "%d:%d" % (UID, UID), users)
    hc = healthcheck_cmd(final)
    R.check(area, 'HEALTHCHECK CMD ["/usr/local/bin/moat", "healthcheck"] (exec form)',
            hc == ["/usr/local/bin/moat", "healthcheck"], hc)
    exposed = set()
    for s in stages:
        for e in instrs(s, "EXPOSE"):
            exposed.update(p.split("/")[0] for p in e.split())
    R.check(area, "EXPOSE exactly 8443 and 8080", exposed == {"8443", "8080"}, sorted(exposed))
    ep = instrs(final, "ENTRYPOINT")
    R.check(area, 'ENTRYPOINT ["/usr/local/bin/moat"] (exec form)',
            ep and exec_form(ep[-1]) == ["/usr/local/bin/moat"], ep)
    for cmd in instrs(final, "CMD"):
        R.check(area, "CMD is in exec form (no shell)", exec_form(cmd) is not None, cmd)
    lab = labels(final)
    for name in OCI_LABELS:
        R.check(area, "label org.opencontainers.image.%s" % name,
                "org.opencontainers.image." + name in lab, sorted(lab))
    version = re.search(r"project\(moat VERSION ([0-9.]+)", read("CMakeLists.txt"))
    vlabel = subst(lab.get("org.opencontainers.image.version", ""), stage_args(final))
    R.check(area, "version label defaults to the CMake project version",
            version and vlabel == version.group(1), vlabel)
    for s in stages:
        for args in instrs(s, "COPY"):
            m = re.search(r"--from=(\S+)", args)
            if m:
                R.check(area, "COPY --from=%s names an earlier stage" % m.group(1),
                        m.group(1) in stage_names, sorted(stage_names))
    R.check(area, "runtime stage copies the collected root filesystem from an earlier stage",
            any("--from=" in a for a in instrs(final, "COPY")))
    envs = {}
    for s in stages:
        for args in instrs(s, "ENV"):
            for word in shlex.split(args):
                k, _, v = word.partition("=")
                envs[k] = v
    check_env_names(area, [k for k in envs if k.startswith("MOAT_")])
    for s in stages:
        for kw in ("ENV", "ARG"):
            for args in instrs(s, kw):
                R.check(area, "no secret-looking %s (%s)" % (kw, args.split("=")[0]),
                        not re.search(r"(TOKEN|PASSWORD|SECRET|PRIVATE)", args.split("=")[0], re.I))
    check_copy_sources(area, stages, ROOT, dockerignore_matcher())
    R.check(area, "docker/collect-runtime-libs.sh is executable",
            os.access(path("docker/collect-runtime-libs.sh"), os.X_OK))
    R.check(area, "docker/pin-digests.sh (pins the base images) is executable",
            os.access(path("docker/pin-digests.sh"), os.X_OK))


def test_demo_dockerfile():
    area = "docker/demo/Dockerfile"
    global_args, stages = dockerfile_parse(area)
    if not R.check(area, "has a FROM", stages):
        return
    check_from_pins(area, global_args, stages)
    final = stages[-1]
    users = instrs(final, "USER")
    R.check(area, "runs as USER %d:%d (the same uid as moat: signalling without CAP_KILL)"
            % (UID, UID), users and users[-1] == "%d:%d" % (UID, UID), users)
    cmd = []
    for kw in ("ENTRYPOINT", "CMD"):
        for args in instrs(final, kw):
            form = exec_form(args)
            R.check(area, "%s is in exec form" % kw, form is not None, args)
            cmd += form or []
    R.check(area, "runs gunicorn with app:app", "gunicorn" in cmd and "app:app" in cmd, cmd)
    R.check(area, "gunicorn's worker tmp dir is /tmp (read-only root)",
            "--worker-tmp-dir" in cmd and cmd[cmd.index("--worker-tmp-dir") + 1] == "/tmp", cmd)
    R.check(area, "has a HEALTHCHECK in exec form", isinstance(healthcheck_cmd(final), list),
            healthcheck_cmd(final))
    exposed = {p for e in instrs(final, "EXPOSE") for p in e.split()}
    R.check(area, "EXPOSE 8000 only", exposed == {"8000"}, sorted(exposed))
    check_copy_sources(area, stages, path("docker/demo"), None)


# ---- .dockerignore ----------------------------------------------------------------------------

def dockerignore_matcher():
    """A predicate rel_path -> excluded, with Docker's rules: Go filepath.Match per pattern plus
    `**`, `!` exceptions, the last matching pattern wins, a match on a parent directory counts."""
    if not os.path.exists(path(".dockerignore")):
        return None
    rules = []
    for line in read(".dockerignore").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = os.path.normpath(line[1:] if neg else line).lstrip("/")
        rx = ""
        i = 0
        while i < len(pat):
            if pat.startswith("**/", i):
                rx += "(?:.*/)?"
                i += 3
            elif pat.startswith("**", i):
                rx += ".*"
                i += 2
            elif pat[i] == "*":
                rx += "[^/]*"
                i += 1
            elif pat[i] == "?":
                rx += "[^/]"
                i += 1
            else:
                rx += re.escape(pat[i])
                i += 1
        rules.append((neg, re.compile("^" + rx + "$")))

    def excluded(rel):
        parts = rel.split("/")
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        result = False
        for neg, rx in rules:
            if any(rx.match(c) for c in candidates):
                result = not neg
        return result
    return excluded


def test_dockerignore():
    area = ".dockerignore"
    ignore = dockerignore_matcher()
    if not R.check(area, "exists at the repository root", ignore):
        return
    table = [  # (path relative to the build context, excluded?)
        (".git/HEAD", True), ("build/CMakeCache.txt", True), ("build-asan/moat", True),
        ("build-integ/tests/x", True), ("tests/integration/harness.c", True),
        ("tests/bench/out/result.json", True), ("docker/secrets/tls.key", True),
        ("docker/secrets/moat_shutdown_token", True), ("conf/server.pem", True),
        ("some/dir/privkey.key", True), ("fullchain.crt", True), ("src/__pycache__/x.pyc", True),
        ("CMakeLists.txt", False), ("conf/moat.conf", False), ("src/main.c", False),
        ("src/token.c", False), ("include/moat/token.h", False),
        ("docker/collect-runtime-libs.sh", False),
    ]
    for rel, want in table:
        R.check(area, "%s is %s" % (rel, "excluded" if want else "kept"), ignore(rel) == want)


# ---- docker/compose.yaml ----------------------------------------------------------------------

def env_dict(env):
    if isinstance(env, dict):
        return {k: ("" if v is None else str(v)) for k, v in env.items()}
    out = {}
    for item in env or []:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


def port_container(spec):
    """Container port of a Compose port entry (short "H:C", "IP:H:C", "C" or long syntax)."""
    if isinstance(spec, dict):
        return str(spec.get("target"))
    return str(spec).split("/")[0].rsplit(":", 1)[-1]


def test_compose():
    area = "docker/compose.yaml"
    doc = yaml.safe_load(read(area))
    services = doc.get("services") or {}
    networks = doc.get("networks") or {}
    secrets = doc.get("secrets") or {}
    if not R.check(area, "services are exactly app and moat", set(services) == {"app", "moat"},
                   sorted(services)):
        return
    app, moat = services["app"], services["moat"]
    internal = {n for n, v in networks.items() if isinstance(v, dict) and v.get("internal") is True}
    R.check(area, "an internal network exists (internal: true)", internal, networks)

    for name, svc in services.items():
        where = "%s service %s" % (area, name)
        table = [
            ("read_only: true", svc.get("read_only") is True, svc.get("read_only")),
            ("a tmpfs on /tmp", any(str(t).split(":")[0] == "/tmp" for t in
                                    ([svc.get("tmpfs")] if isinstance(svc.get("tmpfs"), str)
                                     else svc.get("tmpfs") or [])), svc.get("tmpfs")),
            ("cap_drop: [ALL]", svc.get("cap_drop") == ["ALL"], svc.get("cap_drop")),
            ("no cap_add", not svc.get("cap_add"), svc.get("cap_add")),
            ("not privileged", not svc.get("privileged"), svc.get("privileged")),
            ("security_opt has no-new-privileges:true",
             "no-new-privileges:true" in (svc.get("security_opt") or []), svc.get("security_opt")),
            ("memory limit (mem_limit)", svc.get("mem_limit"), None),
            ("cpu limit (cpus)", svc.get("cpus"), None),
            ("pids limit (pids_limit > 0)", (svc.get("pids_limit") or 0) > 0, svc.get("pids_limit")),
            ("user %d:%d" % (UID, UID), str(svc.get("user")) == "%d:%d" % (UID, UID),
             svc.get("user")),
            ("a healthcheck", (svc.get("healthcheck") or {}).get("test") not in (None, [], ["NONE"])
             and not (svc.get("healthcheck") or {}).get("disable"), svc.get("healthcheck")),
            ("not on the host network or PID namespace",
             svc.get("network_mode") != "host" and svc.get("pid") != "host", None),
            ("image has a version tag", ":" in str(svc.get("image", "")) and
             not str(svc.get("image")).endswith(":latest"), svc.get("image")),
        ]
        for what, ok, found in table:
            R.check(where, what, ok, found)

    # moat may lock its memory out of swap (sandbox.lock_memory = auto)
    memlock = ((moat.get("ulimits") or {}).get("memlock"))
    R.check(area, "moat's memlock ulimit is unlimited (-1)",
            memlock == -1 or (isinstance(memlock, dict) and memlock.get("soft") == -1
                              and memlock.get("hard") == -1), memlock)

    # app: internal only, built from docker/demo
    R.check(area, "app publishes no port", not app.get("ports"), app.get("ports"))
    app_nets = set(app.get("networks") or ["default"])
    R.check(area, "app is only on internal networks", app_nets and app_nets <= internal,
            sorted(app_nets))
    ctx = os.path.normpath(os.path.join(path("docker"), (app.get("build") or {}).get("context", "")))
    R.check(area, "app is built from docker/demo/Dockerfile",
            ctx == path("docker", "demo") and (app.get("build") or {}).get("dockerfile") ==
            "Dockerfile", app.get("build"))

    # moat: the only published service
    ports = {port_container(p) for p in moat.get("ports") or []}
    R.check(area, "moat publishes 8443 and 8080 only (admin 9901 unpublished)",
            ports == {"8443", "8080"}, sorted(ports))
    R.check(area, "moat exposes no extra port", not moat.get("expose"), moat.get("expose"))
    moat_nets = set(moat.get("networks") or [])
    R.check(area, "moat is on the app's internal network and a published one",
            moat_nets & internal and moat_nets - internal, sorted(moat_nets))
    mctx = os.path.normpath(os.path.join(path("docker"), (moat.get("build") or {}).get("context", "")))
    R.check(area, "moat is built from docker/Dockerfile with the repository as context",
            mctx == os.path.normpath(ROOT) and (moat.get("build") or {}).get("dockerfile") ==
            "docker/Dockerfile", moat.get("build"))
    # The app joins moat's PID namespace, not the reverse: the namespace's first process is its
    # init, and its exit kills the rest; gunicorn stopped by the emergency shutdown must not take
    # moat (and its lockdown) with it.
    R.check(area, 'the app has pid: "service:moat" (moat signals gunicorn; moat is the init)',
            app.get("pid") == "service:moat", app.get("pid"))
    R.check(area, "moat does not join another PID namespace", not moat.get("pid"),
            moat.get("pid"))
    R.check(area, "the app starts after moat (it joins moat's PID namespace)",
            "moat" in (app.get("depends_on") or {}), app.get("depends_on"))
    R.check(area, "moat does not wait for the app (no dependency cycle)",
            "app" not in (moat.get("depends_on") or {}), moat.get("depends_on"))
    R.check(area, "an app stopped by the emergency shutdown stays stopped (restart: on-failure)",
            app.get("restart") in ("on-failure", "no"), app.get("restart"))
    R.check(area, "moat's healthcheck is `moat healthcheck`",
            (moat.get("healthcheck") or {}).get("test") ==
            ["CMD", "/usr/local/bin/moat", "healthcheck"], moat.get("healthcheck"))

    # secrets
    mounted = {}
    for s in moat.get("secrets") or []:
        src = s if isinstance(s, str) else s.get("source")
        tgt = s if isinstance(s, str) else s.get("target", src)
        mounted[src] = tgt
        R.check(area, "secret %s is defined from a file under docker/secrets/" % src,
                str((secrets.get(src) or {}).get("file", "")).startswith("./secrets/"),
                secrets.get(src))
        R.check(area, "secret %s target is a plain name under /run/secrets" % src,
                "/" not in tgt, tgt)
    env = env_dict(moat.get("environment"))

    def secret_path(fragment):
        for src, tgt in mounted.items():
            if fragment in src:
                return "/run/secrets/" + tgt
        return None
    table = [
        ("MOAT_UPSTREAM_URL", lambda v: v == "http://app:8000"),
        ("MOAT_TLS_CERT_FILE", lambda v: v and v == secret_path("cert")),
        ("MOAT_TLS_KEY_FILE", lambda v: v and v == secret_path("key")),
        ("MOAT_SHUTDOWN_TOKEN_FILE", lambda v: v and v == secret_path("token")),
        ("MOAT_ADMIN_LISTEN", lambda v: v.rsplit(":", 1)[0] in ("127.0.0.1", "[::1]")),
        ("MOAT_SHUTDOWN_TARGET", lambda v: SHUTDOWN_TARGET_RE.match(v)),
    ]
    for name, ok in table:
        R.check(area, "moat environment %s is right" % name, name in env and ok(env[name]),
                "%s; secrets %s" % (env.get(name), mounted))
    R.check(area, "three secrets mounted: TLS cert, TLS key, shutdown token",
            all(secret_path(f) for f in ("cert", "key", "token")), mounted)
    R.check(area, "no secret value in the environment (MOAT_SHUTDOWN_TOKEN unset)",
            "MOAT_SHUTDOWN_TOKEN" not in env)
    R.check(area, "MOAT_SHUTDOWN_TARGET process:NAME names the app's process (gunicorn)",
            env.get("MOAT_SHUTDOWN_TARGET", "") in ("process:gunicorn",) or
            not env.get("MOAT_SHUTDOWN_TARGET", "").startswith("process:"))
    check_env_names(area, env)

    R.check(area, "docker/secrets/README explains how to create the secret files",
            os.path.exists(path("docker/secrets/README")))
    if shutil.which("git") and os.path.isdir(path(".git")):
        res = subprocess.run(["git", "-C", ROOT, "ls-files", "docker/secrets"],
                             capture_output=True, text=True, check=False)
        tracked = set(res.stdout.split()) - {"docker/secrets/README", "docker/secrets/.gitignore"}
        R.check(area, "no secret file is tracked by git under docker/secrets", not tracked,
                sorted(tracked))

    # docker-compose's own validation
    exe = shutil.which("docker-compose")
    if exe is None:
        print("skipped: docker-compose not installed")
        return
    res = subprocess.run([exe, "-f", path("docker/compose.yaml"), "config", "-q"],
                         capture_output=True, text=True, timeout=90, cwd=ROOT, check=False)
    R.check(area, "docker-compose -f docker/compose.yaml config -q exits 0",
            res.returncode == 0, "rc %d: %s" % (res.returncode, (res.stderr or res.stdout).strip()))


# ---- docker/k8s/ ------------------------------------------------------------------------------

CONTAINER_SECURITY = [  # (description, getter, expected)
    ("runAsNonRoot: true", lambda c: c.get("runAsNonRoot"), True),
    ("runAsUser: %d" % UID, lambda c: c.get("runAsUser"), UID),
    ("runAsGroup: %d" % UID, lambda c: c.get("runAsGroup"), UID),
    ("readOnlyRootFilesystem: true", lambda c: c.get("readOnlyRootFilesystem"), True),
    ("allowPrivilegeEscalation: false", lambda c: c.get("allowPrivilegeEscalation"), False),
    ("capabilities.drop: [ALL]", lambda c: (c.get("capabilities") or {}).get("drop"), ["ALL"]),
    ("no capabilities added", lambda c: (c.get("capabilities") or {}).get("add"), None),
    ("not privileged", lambda c: bool(c.get("privileged")), False),
    ("seccompProfile RuntimeDefault", lambda c: (c.get("seccompProfile") or {}).get("type"),
     "RuntimeDefault"),
]
POD_SECURITY = [
    ("runAsNonRoot: true", lambda c: c.get("runAsNonRoot"), True),
    ("runAsUser: %d" % UID, lambda c: c.get("runAsUser"), UID),
    ("runAsGroup: %d" % UID, lambda c: c.get("runAsGroup"), UID),
    ("seccompProfile RuntimeDefault", lambda c: (c.get("seccompProfile") or {}).get("type"),
     "RuntimeDefault"),
]


def k8s_docs():
    docs = []
    kdir = path("docker/k8s")
    for name in sorted(os.listdir(kdir)):
        if name.endswith((".yaml", ".yml")):
            with open(os.path.join(kdir, name), encoding="utf-8") as f:
                for d in yaml.safe_load_all(f):
                    if d:
                        docs.append((name, d))
    return docs


def resolve_port(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def test_k8s():
    area = "docker/k8s"
    docs = k8s_docs()
    by_kind = {}
    for name, d in docs:
        by_kind.setdefault(d.get("kind"), []).append((name, d))
    for kind in ("Deployment", "Service", "NetworkPolicy"):
        R.check(area, "exactly one %s" % kind, len(by_kind.get(kind, [])) == 1,
                len(by_kind.get(kind, [])))
    if len(by_kind.get("Deployment", [])) != 1:
        return
    kust = by_kind.get("Kustomization", [])
    if kust:
        res = kust[0][1].get("resources") or []
        files = {n for n, d in docs if d.get("kind") != "Kustomization"}
        R.check(area, "kustomization.yaml lists every manifest", set(res) == files,
                "%s vs %s" % (sorted(res), sorted(files)))

    dep = by_kind["Deployment"][0][1]
    tmpl = dep["spec"]["template"]
    pod = tmpl["spec"]
    pod_labels = tmpl["metadata"].get("labels") or {}
    where = area + " Deployment"
    R.check(where, "selector matches the pod labels",
            (dep["spec"].get("selector") or {}).get("matchLabels", {}).items() <= pod_labels.items())
    R.check(where, "shareProcessNamespace: true", pod.get("shareProcessNamespace") is True)
    R.check(where, "automountServiceAccountToken: false",
            pod.get("automountServiceAccountToken") is False)
    for what, get, want in POD_SECURITY:
        R.check(where, "pod securityContext " + what, get(pod.get("securityContext") or {}) == want,
                get(pod.get("securityContext") or {}))
    ann = tmpl["metadata"].get("annotations") or {}
    for k, v in (("prometheus.io/scrape", "true"), ("prometheus.io/port", "9901"),
                 ("prometheus.io/path", "/metrics")):
        R.check(where, 'annotation %s: "%s" (a string)' % (k, v), ann.get(k) == v, ann.get(k))

    inits = {c["name"]: c for c in pod.get("initContainers") or []}
    mains = {c["name"]: c for c in pod.get("containers") or []}
    moat = inits.get("moat") or mains.get("moat")
    R.check(where, "moat is a native sidecar (initContainers entry with restartPolicy: Always)",
            inits.get("moat") and inits["moat"].get("restartPolicy") == "Always",
            (inits.get("moat") or {}).get("restartPolicy", sorted(inits)))
    if not R.check(where, "has a container named moat", moat):
        return
    R.check(where, "the app container exists", "app" in mains, sorted(mains))
    for name, c in list(inits.items()) + list(mains.items()):
        cw = "%s container %s" % (where, name)
        for what, get, want in CONTAINER_SECURITY:
            R.check(cw, "securityContext " + what, get(c.get("securityContext") or {}) == want,
                    get(c.get("securityContext") or {}))
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                R.check(cw, "resources.%s.%s set" % (kind, r), (res.get(kind) or {}).get(r))
        img = str(c.get("image", ""))
        R.check(cw, "image has a version tag or digest",
                ("@sha256:" in img or ":" in img.rsplit("/", 1)[-1]) and not img.endswith(":latest"),
                img)
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
        vols = {v["name"]: v for v in pod.get("volumes") or []}
        tmp = mounts.get("/tmp")
        R.check(cw, "/tmp is an emptyDir with medium: Memory",
                tmp and (vols.get(tmp["name"], {}).get("emptyDir") or {}).get("medium") == "Memory",
                tmp)

    # moat: ports, probes, environment, secrets
    mw = where + " container moat"
    for pname, num in (("https", 8443), ("http", 8080), ("admin", 9901)):
        R.check(mw, "port %s is %d" % (pname, num), resolve_port(moat, pname) == num)
    for probe, p in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                     ("readinessProbe", "/readyz")):
        get = (moat.get(probe) or {}).get("httpGet") or {}
        R.check(mw, "%s is GET %s on the admin port 9901" % (probe, p),
                get.get("path") == p and resolve_port(moat, get.get("port")) == 9901, get)
    env = {e["name"]: e.get("value") for e in moat.get("env") or []}
    R.check(mw, "MOAT_ADMIN_LISTEN binds all interfaces on 9901 (probes come to the pod IP)",
            env.get("MOAT_ADMIN_LISTEN") in ("0.0.0.0:9901", "*:9901", "[::]:9901"),
            env.get("MOAT_ADMIN_LISTEN"))
    R.check(mw, "MOAT_UPSTREAM_URL is the app on loopback",
            str(env.get("MOAT_UPSTREAM_URL", "")).startswith("http://127.0.0.1:"),
            env.get("MOAT_UPSTREAM_URL"))
    R.check(mw, "MOAT_SHUTDOWN_TARGET is valid",
            SHUTDOWN_TARGET_RE.match(str(env.get("MOAT_SHUTDOWN_TARGET", ""))),
            env.get("MOAT_SHUTDOWN_TARGET"))
    R.check(mw, "no secret value in the environment (MOAT_SHUTDOWN_TOKEN unset)",
            "MOAT_SHUTDOWN_TOKEN" not in env)
    check_env_names(mw, env)
    vols = {v["name"]: v for v in pod.get("volumes") or []}

    def secret_file(var):
        """(secret volume source, item key) holding env var's file, or None."""
        value = str(env.get(var, ""))
        for m in moat.get("volumeMounts") or []:
            if value.startswith(m["mountPath"].rstrip("/") + "/"):
                sec = vols.get(m["name"], {}).get("secret")
                if not sec:
                    return None
                R.check(mw, "%s's volume is mounted as a directory (no subPath: rotation)" % var,
                        "subPath" not in m and m.get("readOnly") is True, m)
                rel = value[len(m["mountPath"].rstrip("/")) + 1:]
                items = {i["path"]: i["key"] for i in sec.get("items") or []}
                return sec, items.get(rel, rel)
        return None
    cert, key, token = (secret_file(v) for v in
                        ("MOAT_TLS_CERT_FILE", "MOAT_TLS_KEY_FILE", "MOAT_SHUTDOWN_TOKEN_FILE"))
    R.check(mw, "TLS cert and key come from one Secret with the kubernetes.io/tls keys "
            "tls.crt and tls.key", cert and key and cert[0].get("secretName") ==
            key[0].get("secretName") and (cert[1], key[1]) == ("tls.crt", "tls.key"),
            (cert, key))
    R.check(mw, "the shutdown token comes from a Secret volume", token, token)
    if cert:
        R.check(area, "README.md creates the TLS Secret as type kubernetes.io/tls "
                "(kubectl create secret tls %s)" % cert[0].get("secretName"),
                "kubectl create secret tls " + cert[0].get("secretName", "?")
                in read("docker/k8s/README.md"))

    # the app: loopback only
    app = mains.get("app") or {}
    R.check(where + " container app", "binds 127.0.0.1 (only moat reaches it)",
            any("127.0.0.1:" in str(a) for a in (app.get("args") or []) + (app.get("command") or [])),
            app.get("args"))
    R.check(where + " container app", "declares no containerPort", not app.get("ports"))

    # Service
    svc = by_kind["Service"][0][1] if len(by_kind.get("Service", [])) == 1 else None
    if svc:
        sw = area + " Service"
        R.check(sw, "selects the pod", svc["spec"].get("selector") and
                svc["spec"]["selector"].items() <= pod_labels.items(), svc["spec"].get("selector"))
        ports = {p.get("port"): resolve_port(moat, p.get("targetPort", p.get("port")))
                 for p in svc["spec"].get("ports") or []}
        R.check(sw, "ports 8443 -> moat 8443 and 8080 -> moat 8080, nothing else",
                ports == {8443: 8443, 8080: 8080}, ports)

    # NetworkPolicy
    np = by_kind["NetworkPolicy"][0][1] if len(by_kind.get("NetworkPolicy", [])) == 1 else None
    if np:
        nw = area + " NetworkPolicy"
        spec = np["spec"]
        R.check(nw, "selects the pod", (spec.get("podSelector") or {}).get("matchLabels") and
                spec["podSelector"]["matchLabels"].items() <= pod_labels.items())
        R.check(nw, "policyTypes includes Ingress", "Ingress" in (spec.get("policyTypes") or []))
        open_ports = set()
        admin_from = []
        for rule in spec.get("ingress") or []:
            ports = {p.get("port") for p in rule.get("ports") or []}
            R.check(nw, "every ingress rule names its ports", ports, rule)
            R.check(nw, "ingress only to 8443, 8080, 9901 (never the app's port)",
                    ports <= {8443, 8080, 9901, "https", "http", "admin"}, sorted(map(str, ports)))
            if not rule.get("from"):
                open_ports |= ports
            elif 9901 in ports or "admin" in ports:
                admin_from.append(rule["from"])
        R.check(nw, "8443 and 8080 open to anyone, 9901 not", open_ports == {8443, 8080},
                sorted(map(str, open_ports)))
        R.check(nw, "9901 only from the monitoring namespace", admin_from and all(
            f == [{"namespaceSelector": {"matchLabels":
                                         {"kubernetes.io/metadata.name": "monitoring"}}}]
            for f in admin_from), admin_from)


# ---- README -----------------------------------------------------------------------------------

def test_readme():
    area = "README.md"
    text = read("README.md")
    heads = re.findall(r"^## (.+)$", text, re.M)
    if not R.check(area, 'has a "## Deploying" section', "Deploying" in heads, heads):
        return
    body = text.split("## Deploying", 1)[1].split("\n## ", 1)[0]
    for needle in ("docker/compose.yaml", "docker/k8s", "--dev", "docker/demo/run.sh",
                   "MOAT_ADMIN_LISTEN", "MOAT_UPSTREAM_URL", "MOAT_TLS_CERT_FILE",
                   "--state-dir", "pin-digests"):
        R.check(area, "Deploying mentions %s" % needle, needle in body)


def main():
    for test in (test_dockerfile, test_demo_dockerfile, test_dockerignore, test_compose, test_k8s,
                 test_readme):
        try:
            test()
        except Exception as exc:  # a missing file or a malformed document is a failure, not a crash
            R.check(test.__name__, "ran without error", False, "%s: %s" % (type(exc).__name__, exc))
    print("%d checks, %d failed" % (R.total, len(R.failed)))
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
