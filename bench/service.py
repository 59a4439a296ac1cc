"""Benchmark of the token service (`azure-oidc-token serve`) against the loopback emulator (stdlib only).

Starts the emulator (`serve` example) and the release binary's `serve`, then:
- one cold request: its latency, and the requests it cost at the emulator (counted by
  `GET /_emulator/stats`: it must be exactly one GitHub and one Entra request, the exchange's two
  round trips);
- N cached requests (default 10,000) on one keep-alive loopback connection: p50 / p99 / max latency,
  as this Python client sees it (its own overhead included), and no further exchange;
- the service's RSS (VmRSS from /proc) before and after the N requests, and its peak (VmHWM);
- SIGTERM: the time until it exits.
Prints a Markdown table; exits 1 if a check fails.

Usage: python3 bench/service.py --serve EMULATOR_SERVE --action AZURE_OIDC_TOKEN [--requests N]
"""

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from harness import Emulator  # noqa: E402


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} for {pid}")


def env_pairs(text: str) -> dict[str, str]:
    """The runner's file-command format: NAME<<DELIM / value / DELIM."""
    lines, pairs, i = text.split("\n"), {}, 0
    while i < len(lines):
        if "<<" in lines[i]:
            name, delim = lines[i].split("<<", 1)
            pairs[name] = lines[i + 1]
            assert lines[i + 2] == delim
            i += 3
        else:
            i += 1
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", required=True)
    parser.add_argument("--action", required=True)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()

    emulator = Emulator(args.serve)
    failures: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as work:
            env_file = Path(work) / "env"
            env_file.write_text("")
            e = emulator.env
            env = {
                "PATH": os.environ.get("PATH", ""),
                "SSL_CERT_FILE": emulator.ca,
                "ACTIONS_ID_TOKEN_REQUEST_URL": e["ACTIONS_ID_TOKEN_REQUEST_URL"],
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": e["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
                "AZURE_CLIENT_ID": e["AZURE_CLIENT_ID"],
                "AZURE_TENANT_ID": e["AZURE_TENANT_ID"],
                "AZURE_AUTHORITY_HOST": e["AZURE_AUTHORITY_HOST"],
            }
            service = subprocess.Popen(
                [args.action, "serve", "--env-file", str(env_file)],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=open(Path(work) / "log", "w"),
            )
            deadline = time.monotonic() + 60
            while "IDENTITY_HEADER" not in (pairs := env_pairs(env_file.read_text())):
                if time.monotonic() > deadline or service.poll() is not None:
                    raise SystemExit("serve did not start: " + (Path(work) / "log").read_text())
                time.sleep(0.01)
            endpoint, header = pairs["IDENTITY_ENDPOINT"], pairs["IDENTITY_HEADER"]
            host_port = endpoint.removeprefix("http://").split("/", 1)[0]
            host, port = host_port.rsplit(":", 1)
            target = "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F"
            connection = http.client.HTTPConnection(host, int(port), timeout=60)

            def get() -> float:
                start = time.perf_counter()
                connection.request("GET", target, headers={"X-IDENTITY-HEADER": header})
                response = connection.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - start
                if response.status != 200 or b"access_token" not in body:
                    raise SystemExit(f"HTTP {response.status}")
                return elapsed

            rss_start = rss_kib(service.pid, "VmRSS")
            before = emulator.stats()
            cold = get()
            after_cold = emulator.stats()
            cost = {hop: after_cold[hop]["requests"] - before[hop]["requests"] for hop in before}
            if cost.get("github") != 1 or cost.get("entra") != 1 or sum(cost.values()) != 2:
                failures.append(f"the cold request cost {cost}, not one GitHub and one Entra request")
            rss_before = rss_kib(service.pid, "VmRSS")
            times = [get() for _ in range(args.requests)]
            after = emulator.stats()
            if after["entra"]["requests"] != after_cold["entra"]["requests"]:
                failures.append("a cached request caused an exchange")
            rss_after = rss_kib(service.pid, "VmRSS")
            peak = rss_kib(service.pid, "VmHWM")
            connection.close()
            stop_start = time.perf_counter()
            service.send_signal(signal.SIGTERM)
            code = service.wait(timeout=30)
            stop = time.perf_counter() - stop_start
            if code != 0:
                failures.append(f"serve exited {code} on SIGTERM")
            if peak > 8 * 1024:
                failures.append(f"peak RSS {peak} KiB is over 8 MiB")

            ms = sorted(t * 1000 for t in times)
            q = statistics.quantiles(ms, n=100, method="inclusive")
            print("| token service (loopback, release build) | figure |")
            print("| --- | --- |")
            print(f"| cold request (one exchange) | {cold * 1000:.2f} ms; cost at the emulator: {cost['github']} GitHub + {cost['entra']} Entra request |")
            print(f"| cached requests ({args.requests:,}, one keep-alive connection, Python http.client) | p50 {q[49]:.3f} ms, p99 {q[98]:.3f} ms, max {ms[-1]:.3f} ms |")
            print(f"| RSS | {rss_start / 1024:.1f} MiB at start, {rss_before / 1024:.1f} MiB after the cold request, {rss_after / 1024:.1f} MiB after {args.requests:,} cached; peak {peak / 1024:.1f} MiB |")
            print(f"| SIGTERM to exit | {stop * 1000:.1f} ms (exit {code}) |")
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"| load average (1, 5, 15 min) on {os.cpu_count()} cores | {load} |")
    finally:
        emulator.stop()
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
