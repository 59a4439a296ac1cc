#!/usr/bin/env python3
"""Interleaved benchmark of the token exchange against the loopback emulator (stdlib only).

Starts the emulator (`serve` example), then runs every contender in rounds, A B C D, B C D A, ...
(the order rotates each round so that no tool always follows the same neighbour): first warm-up
rounds (checked, not timed), then timed rounds (wall time of the process, from spawn to exit), then
peak-RSS rounds under `/usr/bin/time -v` (kept apart so that the wrapper never adds to a timing).

Every run is checked against the emulator's counters (`GET /_emulator/stats`): exit status 0,
exactly one Entra token request answered 200, at least one GitHub ID-token request answered 200,
no request that was not answered 200, and, for tools that write step outputs, an `access-token` in
GITHUB_OUTPUT. Any failed check fails the whole benchmark (exit status 1). A contender that is not
installed is reported as such in the table instead.

Prints a Markdown table: median and interquartile range of the wall time, ratio to the baseline
client, peak RSS, the requests each run made, and how many runs passed the check; then the budgets
of docs/performance.md (the budgets) against the measured figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOPS = ("github", "tenant_discovery", "entra", "discovery")
HOP_LABELS = {"github": "GitHub", "tenant_discovery": "tenant discovery", "entra": "Entra", "discovery": "issuer discovery"}
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MIB = 1024 * 1024


@dataclass
class Tool:
    key: str
    label: str
    argv: list[str]
    env: dict[str, str]
    writes_outputs: bool
    unavailable: str | None = None
    times_ms: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    wait4_rss_kib: list[int] = field(default_factory=list)
    runs: int = 0
    passed: int = 0
    patterns: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class Emulator:
    """The `serve` example as a child process; stops when its stdin closes."""

    def __init__(self, serve: str) -> None:
        self.process = subprocess.Popen([serve], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.env: dict[str, str] = {}
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("# serving"):
                break
            match = re.fullmatch(r"export (\w+)='(.*)'\n", line)
            if match:
                self.env[match.group(1)] = match.group(2)
        if "AZURE_OIDC_EMULATOR_STATS_URL" not in self.env:
            raise SystemExit(f"the emulator did not start (got {self.env!r})")
        self.ca = self.env["SSL_CERT_FILE"]
        self.tls = ssl.create_default_context(cafile=self.ca)

    def stats(self) -> dict[str, dict[str, int]]:
        with urllib.request.urlopen(self.env["AZURE_OIDC_EMULATOR_STATS_URL"], context=self.tls, timeout=10) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def run_once(tool: Tool, emulator: Emulator, work: Path, rss: bool) -> float:
    """Runs `tool` once, checks it against the emulator's counters; returns wall milliseconds."""
    files = {name: work / f"{tool.key}.{name}" for name in ("output", "env", "summary", "log", "time")}
    for path in files.values():
        path.write_bytes(b"")
    env = dict(tool.env)
    env["GITHUB_OUTPUT"] = str(files["output"])
    env["GITHUB_ENV"] = str(files["env"])
    env["GITHUB_STEP_SUMMARY"] = str(files["summary"])
    argv = ["/usr/bin/time", "-v", "-o", str(files["time"]), *tool.argv] if rss else tool.argv
    before = emulator.stats()
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(files["log"]), os.O_WRONLY | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    start = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    elapsed_ms = (time.perf_counter_ns() - start) / 1e6
    after = emulator.stats()

    tool.runs += 1
    problems = []
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        problems.append(f"exit status {code}")
    delta = {hop: {k: after[hop][k] - before[hop][k] for k in ("requests", "ok")} for hop in HOPS}
    if delta["entra"]["ok"] != 1 or delta["entra"]["requests"] != 1:
        problems.append(f"Entra answered {delta['entra']['ok']} of {delta['entra']['requests']} token requests with 200 (want 1 of 1)")
    if delta["github"]["ok"] < 1:
        problems.append("no GitHub ID token was issued")
    for hop in HOPS:
        if delta[hop]["requests"] != delta[hop]["ok"]:
            problems.append(f"{delta[hop]['requests'] - delta[hop]['ok']} {HOP_LABELS[hop]} request(s) not answered 200")
    if tool.writes_outputs and "access-token" not in files["output"].read_text(errors="replace"):
        problems.append("no access-token in GITHUB_OUTPUT")
    if rss:
        text = files["time"].read_text(errors="replace")
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        if found:
            tool.rss_kib.append(int(found.group(1)))
        else:
            problems.append("/usr/bin/time -v reported no peak RSS")
    else:
        tool.wait4_rss_kib.append(usage.ru_maxrss)
    pattern = " + ".join(f"{delta[h]['requests']} {HOP_LABELS[h]}" for h in HOPS if delta[h]["requests"])
    tool.patterns[pattern] = tool.patterns.get(pattern, 0) + 1
    if problems:
        log = files["log"].read_text(errors="replace").strip().splitlines()[-5:]
        # The log may hold tokens (a failing tool may print them): show only lines that cannot.
        safe = [line for line in log if "eyJ" not in line][-3:]
        tool.failures.append("; ".join(problems) + (f" | log: {' / '.join(safe)}" if safe else ""))
    else:
        tool.passed += 1
    return elapsed_ms


def rounds(tools: list[Tool], count: int):
    """Yields `count` rounds of every tool, the starting tool rotating each round."""
    for r in range(count):
        offset = r % len(tools)
        yield tools[offset:] + tools[:offset]


def main() -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", required=True, help="the emulator's serve example binary")
    parser.add_argument("--action", required=True, help="the release binary of azure-oidc-token")
    parser.add_argument("--baseline", required=True, help="the baseline client binary")
    parser.add_argument("--node", default="node", help="node executable")
    parser.add_argument("--python", default=str(here / ".venv" / "bin" / "python"), help="python with azure-identity")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up rounds (checked, not timed)")
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds")
    parser.add_argument("--rss-rounds", type=int, default=5, help="rounds under /usr/bin/time -v")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=BINARY",
                        help="another build of the action to run like the action (for comparing build choices)")
    parser.add_argument("--skip", default="", help="comma-separated tools to leave out: curl,node,python")
    parser.add_argument("--fact", action="append", default=[], metavar="NAME=VALUE", help="an extra line for the sizes table")
    parser.add_argument("--json", help="also write the raw figures here")
    args = parser.parse_args()
    # Tools run with their own working directories: make paths absolute (without following the
    # venv's python symlink, which would leave the venv).
    for name in ("serve", "action", "baseline", "python"):
        setattr(args, name, os.path.abspath(getattr(args, name)))

    emulator = Emulator(args.serve)
    work = Path(tempfile.mkdtemp(prefix="azure-oidc-bench-"))
    try:
        # Every tool trusts what a runner trusts plus the emulator's CA: the system bundle is read and
        # parsed on each run, as it is in a real job.
        bundle = work / "ca-bundle.pem"
        system = SYSTEM_BUNDLE.read_text() if SYSTEM_BUNDLE.exists() else ""
        bundle.write_text(system + "\n" + Path(emulator.ca).read_text())
        e = emulator.env
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
        request = {k: e[k] for k in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")}
        azure = {k: e[k] for k in ("AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID")}
        # What the runner passes to the action: every input, defaults included (action.yml).
        inputs = {
            "INPUT_CLIENT-ID": e["AZURE_CLIENT_ID"],
            "INPUT_TENANT-ID": e["AZURE_TENANT_ID"],
            "INPUT_AUTHORITY-HOST": e["AZURE_AUTHORITY_HOST"],
            "INPUT_ENVIRONMENT": "AzureCloud",
            "INPUT_TIMEOUT-SECONDS": "60",
            "INPUT_SUMMARY": "true",
            "INPUT_EXPORT-SDK-ENV": "false",
            "GITHUB_ACTIONS": "true",
        }
        tools = [
            Tool("baseline", "baseline: the two requests only (Rust, same HTTP stack)", [args.baseline],
                 {**base, **request, **azure, "SSL_CERT_FILE": str(bundle)}, writes_outputs=False),
            Tool("action", "azure-oidc-token (release binary, action mode)", [args.action],
                 {**base, **request, **inputs, "SSL_CERT_FILE": str(bundle)}, writes_outputs=True),
            Tool("curl", r"curl \| jq \| curl (bash run: step)",
                 ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(here / "curl-jq.sh")],
                 {**base, **request, **azure, "CURL_CA_BUNDLE": str(bundle)}, writes_outputs=True),
            Tool("node", "Node: @actions/core + @azure/identity ClientAssertionCredential",
                 [args.node, str(here / "node" / "exchange.mjs")],
                 {**base, **request, **azure, "NODE_EXTRA_CA_CERTS": emulator.ca}, writes_outputs=True),
            Tool("python", "Python: azure-identity ClientAssertionCredential",
                 [args.python, str(here / "python" / "exchange.py")],
                 {**base, **request, **azure, "REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle)},
                 writes_outputs=True),
        ]
        for i, variant in enumerate(args.variant):
            label, binary = variant.split("=", 1)
            tools.append(Tool(f"variant{i}", label, [os.path.abspath(binary)],
                              {**base, **request, **inputs, "SSL_CERT_FILE": str(bundle)}, writes_outputs=True))
        tools[3].unavailable = availability(tools[3], [args.node, "-e", "import('@azure/identity').then(() => import('@actions/core'))"], here / "node")
        tools[4].unavailable = availability(tools[4], [args.python, "-c", "import azure.identity, requests"], here)
        skip = {k for k in args.skip.split(",") if k}
        tools = [t for t in tools if t.key not in skip or t.key in ("baseline", "action")]
        active = [t for t in tools if t.unavailable is None]

        load_before = os.getloadavg()
        started = time.time()
        for order in rounds(active, args.warmup):
            for tool in order:
                run_once(tool, emulator, work, rss=False)
        for order in rounds(active, args.rounds):
            for tool in order:
                tool.times_ms.append(run_once(tool, emulator, work, rss=False))
        for order in rounds(active, args.rss_rounds):
            for tool in order:
                run_once(tool, emulator, work, rss=True)
        seconds = time.time() - started
        load_after = os.getloadavg()
    finally:
        emulator.stop()

    report(tools, args, load_before, load_after, seconds)
    if args.json:
        Path(args.json).write_text(json.dumps({
            t.key: {"label": t.label, "unavailable": t.unavailable, "times_ms": t.times_ms, "rss_kib": t.rss_kib,
                    "wait4_rss_kib": t.wait4_rss_kib, "runs": t.runs, "passed": t.passed, "patterns": t.patterns,
                    "failures": t.failures} for t in tools}, indent=1))
    failed = [t for t in tools if t.unavailable is None and (t.failures or t.passed != t.runs)]
    for tool in failed:
        print(f"\nFAILED: {tool.label}: {tool.runs - tool.passed} of {tool.runs} runs did not complete the exchange:")
        for failure in tool.failures[:5]:
            print(f"  - {failure}")
    for path in sorted(work.iterdir()):
        path.unlink()
    work.rmdir()
    return 1 if failed else 0


def availability(tool: Tool, probe: list[str], cwd: Path) -> str | None:
    """None if the tool can run here, else why not."""
    try:
        result = subprocess.run(probe, cwd=cwd, env=tool.env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"not installed ({error.__class__.__name__}: {error})"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        return f"not installed ({shlex.join(probe[:1])}: {last[:120]})"
    return None


def cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|")


def report(tools: list[Tool], args, load_before, load_after, seconds: float) -> None:
    by_key = {t.key: t for t in tools}
    floor = median(by_key["baseline"].times_ms)
    action = median(by_key["action"].times_ms)
    print(f"\n{args.rounds} timed rounds after {args.warmup} warm-up rounds, tools interleaved (rotating order); "
          f"peak RSS from {args.rss_rounds} more rounds under /usr/bin/time -v; {seconds:.0f} s in all; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after.\n")
    print("| tool | median ms | p25–p75 ms | × baseline | peak RSS MiB | requests per run | runs OK |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for t in tools:
        if t.unavailable:
            print(f"| {t.label} | n/a | | | | {t.unavailable} | |")
            continue
        m = median(t.times_ms)
        lo, hi = quartiles(t.times_ms)
        rss = max(t.rss_kib) / 1024 if t.rss_kib else float("nan")
        patterns = "; ".join(p if len(t.patterns) == 1 else f"{p} ({n}×)" for p, n in t.patterns.items())
        print(f"| {t.label} | {m:.1f} | {lo:.1f}–{hi:.1f} | {m / floor:.2f} | {rss:.1f} | {patterns} | {t.passed}/{t.runs} |")

    facts = [f.split("=", 1) for f in args.fact]
    if facts:
        print("\n| figure | value |\n| --- | --- |")
        for name, value in facts:
            print(f"| {cell(name)} | {cell(value)} |")

    print("\nBudgets (docs/performance.md):")
    checks = [(f"action ≤ 1.3× baseline: {action / floor:.2f}×", action / floor <= 1.3)]
    for key, factor in (("curl", 5), ("node", 30)):
        t = by_key.get(key)
        if t is not None and t.unavailable is None:
            ratio = median(t.times_ms) / action
            checks.append((f"{key} ≥ {factor}× slower than the action: {ratio:.1f}×", ratio >= factor))
    rss = max(by_key["action"].rss_kib, default=0) / 1024
    checks.append((f"action peak RSS ≤ 8 MiB: {rss:.1f} MiB", 0 < rss <= 8))
    size = os.path.getsize(args.action) / MIB
    checks.append((f"release binary ≤ 6 MiB: {size:.2f} MiB", size <= 6))
    for text, ok in checks:
        print(f"  {'met   ' if ok else 'MISSED'}  {text}")


if __name__ == "__main__":
    sys.exit(main())
