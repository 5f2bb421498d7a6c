#!/usr/bin/env python3
"""asyncio counterpart of the `sleepers` demo: N coroutines asleep, each a Task.

Python has no console endpoint: watch it with `asyncmem top --demo py-sleepers` (or `--pid PID`,
RSS-only mode) and compare its RSS per sleeping coroutine with tokio's (`sleepers --instrument
none`). `--bare` keeps N coroutine objects that are never scheduled instead.

Lines on stdout, for a watcher: `pid=P console=none instrument=none` at start-up, before any
coroutine exists; with `--handshake`, `ready` and then a wait for a line on stdin; once the
coroutines exist (and, as tasks, have reached their sleep), `spawned tasks=N`.
"""
import argparse
import asyncio
import os
import signal
import sys


async def sleeper(nap: float, hold: int) -> None:
    buf = bytes(hold) if hold else None  # what survives the await, like sleepers -b
    await asyncio.sleep(nap)
    del buf


def say(line: str) -> None:
    try:
        print(line, flush=True)
    except BrokenPipeError:  # a reader that went away is no reason to stop
        pass


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-n", "--tasks", type=int, default=100_000)
    p.add_argument("-b", "--bytes", type=int, default=0, help="bytes each coroutine holds")
    p.add_argument("--sleep", type=float, default=3600.0)
    p.add_argument("--exit-after", type=float, default=None)
    p.add_argument("--bare", action="store_true",
                   help="coroutine objects that are never scheduled, not tasks")
    p.add_argument("--handshake", action="store_true",
                   help="print `ready` and wait for a line on stdin before creating the coroutines")
    args = p.parse_args()
    say(f"pid={os.getpid()} console=none instrument=none")
    if args.handshake:
        say("ready")
        sys.stdin.readline()
    coros, tasks = [], []
    if args.bare:
        coros = [sleeper(args.sleep, args.bytes) for _ in range(args.tasks)]
    else:
        tasks = [asyncio.create_task(sleeper(args.sleep, args.bytes)) for _ in range(args.tasks)]
        # One turn of the loop runs every task's first step: each is then asleep on its timer.
        await asyncio.sleep(0)
    say(f"spawned tasks={args.tasks}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_after is not None:
        loop.call_later(args.exit_after, stop.set)
    await stop.wait()
    for t in tasks:
        t.cancel()
    for c in coros:
        c.close()


if __name__ == "__main__":
    asyncio.run(main())
