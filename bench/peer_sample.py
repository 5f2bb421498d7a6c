#!/usr/bin/env python3
"""Helper of bench/peer.sh: sample processes over one window, and print the comparison table.

    peer_sample.py sample --window 60 --interval 1 [--meta K=V ...] asyncmem=PID console=PID target=PID
    peer_sample.py table [--goal-n 100000] RUN.json ...

`sample`: for each LABEL=PID, CPU = (utime+stime) from /proc/PID/stat at the end minus at the
start, as a percentage of one core over the window's wall time (monotonic clock); RSS = VmRSS from
/proc/PID/status at the start, every interval and at the end (max and end value); runq_wait_pct =
time the process's threads were runnable but waiting for a CPU (/proc/PID/task/*/schedstat, summed
over threads), a sign of contention on a shared machine. Prints one JSON object. Exits 1 if a process vanished during the window.

`table`: reads those JSON objects (labels asyncmem, console, target) and prints a Markdown table
with the ratios asyncmem / tokio-console, then the verdict on the issue's goal at --goal-n tasks
(CPU ratio <= 1/20 and RSS ratio <= 1/10). Exits 0 if the goal is met, 3 if it is missed, 2 if no
run has --goal-n tasks.
"""

import argparse
import json
import os
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
CPU_GOAL = 1 / 20
RSS_GOAL = 1 / 10


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = s[s.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(fields[11]) + int(fields[12])


def runq_wait_ns(pid):
    """Nanoseconds the process's threads spent runnable but waiting for a CPU (schedstat)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def sample(a):
    procs = []
    for p in a.procs:
        label, pid = p.split("=", 1)
        procs.append((label, int(pid)))
    try:
        t0 = time.monotonic()
        start = {label: cpu_ticks(pid) for label, pid in procs}
        wait0 = {label: runq_wait_ns(pid) for label, pid in procs}
        rss = {label: [rss_kib(pid)] for label, pid in procs}
        deadline = t0 + a.window
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            time.sleep(min(a.interval, deadline - now))
            for label, pid in procs:
                rss[label].append(rss_kib(pid))
        end = {label: cpu_ticks(pid) for label, pid in procs}
        wait1 = {label: runq_wait_ns(pid) for label, pid in procs}
        t1 = time.monotonic()
        for label, pid in procs:
            rss[label].append(rss_kib(pid))
    except (FileNotFoundError, ProcessLookupError) as e:
        print(f"peer_sample: a process vanished during the window: {e}", file=sys.stderr)
        return 1
    wall = t1 - t0
    out = {
        "window_s": round(wall, 3),
        "clk_tck": CLK_TCK,
        "rss_samples": len(rss[procs[0][0]]),
    }
    for m in a.meta:
        k, v = m.split("=", 1)
        try:
            v = int(v)
        except ValueError:
            pass
        out[k] = v
    for label, pid in procs:
        ticks = end[label] - start[label]
        out[label] = {
            "pid": pid,
            "cpu_s": ticks / CLK_TCK,
            "cpu_pct": 100.0 * ticks / CLK_TCK / wall,
            # Time runnable but not running (all threads), % of the window: CPU contention.
            "runq_wait_pct": 100.0 * (wait1[label] - wait0[label]) / 1e9 / wall,
            "rss_start_kib": rss[label][0],
            "rss_max_kib": max(rss[label]),
            "rss_end_kib": rss[label][-1],
        }
    json.dump(out, sys.stdout)
    print()
    return 0


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def ratio(a, b):
    if b == 0:
        return "n/a"
    r = a / b
    if r <= 0:
        return "0"
    return f"{r:.3f} (1/{1 / r:.0f})" if r < 1 else f"{r:.2f}"


def table(a):
    runs = []
    for path in a.runs:
        with open(path) as f:
            runs.append(json.load(f))
    runs.sort(key=lambda r: r["n"])
    print(
        "| tasks | window | CPU asyncmem | CPU tokio-console | CPU ratio "
        "| RSS max asyncmem | RSS max tokio-console | RSS max ratio "
        "| RSS end asyncmem | RSS end tokio-console | RSS end ratio "
        "| target RSS | target CPU | all tasks listed after |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        am, tc, tg = r["asyncmem"], r["console"], r["target"]
        print(
            f"| {r['n']:,} | {r['window_s']:.0f} s "
            f"| {am['cpu_pct']:.2f} % | {tc['cpu_pct']:.2f} % | {ratio(am['cpu_pct'], tc['cpu_pct'])} "
            f"| {mib(am['rss_max_kib'])} | {mib(tc['rss_max_kib'])} | {ratio(am['rss_max_kib'], tc['rss_max_kib'])} "
            f"| {mib(am['rss_end_kib'])} | {mib(tc['rss_end_kib'])} | {ratio(am['rss_end_kib'], tc['rss_end_kib'])} "
            f"| {mib(tg['rss_end_kib'])} | {tg['cpu_pct']:.1f} % | {r.get('absorb_s', '?')} s |"
        )
    print()
    print("| tasks | run-queue wait asyncmem | run-queue wait tokio-console | run-queue wait target |")
    print("|---:|---:|---:|---:|")
    for r in runs:
        w = [r[k].get("runq_wait_pct") for k in ("asyncmem", "console", "target")]
        cells = " | ".join("?" if v is None else f"{v:.1f} %" for v in w)
        print(f"| {r['n']:,} | {cells} |")
    print()
    print(
        "CPU: (utime+stime) over the window, % of one core. RSS: VmRSS sampled every second "
        "(max) and at the end of the window. Ratios: asyncmem / tokio-console. "
        "'all tasks listed after': seconds from the target's start until both watchers' "
        "screens listed all N+5 tasks. "
        "Run-queue wait: time the process's threads were runnable but had no CPU "
        "(/proc/PID/task/*/schedstat), % of the window: how much the shared machine held it back."
    )
    goal = [r for r in runs if r["n"] == a.goal_n]
    if not goal:
        print(f"\ngoal (issue 3): no run at {a.goal_n:,} tasks, not judged")
        return 2
    r = goal[-1]
    cpu_r = r["asyncmem"]["cpu_pct"] / max(r["console"]["cpu_pct"], 1e-9)
    rss_r = r["asyncmem"]["rss_max_kib"] / r["console"]["rss_max_kib"]
    cpu_ok = cpu_r <= CPU_GOAL
    rss_ok = rss_r <= RSS_GOAL
    print(
        f"\ngoal (issue 3) at {a.goal_n:,} tasks: CPU ratio {cpu_r:.3f} (goal <= {CPU_GOAL:.3f}): "
        f"{'met' if cpu_ok else 'MISSED'}; RSS max ratio {rss_r:.3f} (goal <= {RSS_GOAL:.3f}): "
        f"{'met' if rss_ok else 'MISSED'}"
    )
    return 0 if cpu_ok and rss_ok else 3


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--window", type=float, default=60.0)
    s.add_argument("--interval", type=float, default=1.0)
    s.add_argument("--meta", action="append", default=[], help="K=V copied into the output")
    s.add_argument("procs", nargs="+", help="LABEL=PID")
    t = sub.add_parser("table")
    t.add_argument("--goal-n", type=int, default=100_000)
    t.add_argument("runs", nargs="+")
    a = ap.parse_args()
    return sample(a) if a.cmd == "sample" else table(a)


if __name__ == "__main__":
    sys.exit(main())
