#!/usr/bin/env python3
"""asyncio counterpart of the `sleepers` demo: N coroutines asleep, each a Task.

Python has no console endpoint: watch it with `asyncmem top --pid PID` (RSS-only mode) and
compare its RSS per sleeping coroutine with tokio's (`sleepers --instrument none`).
"""
import argparse
import asyncio
import os
import signal


async def sleeper(nap: float, hold: int) -> None:
    buf = bytes(hold) if hold else None  # what survives the await, like sleepers -b
    await asyncio.sleep(nap)
    del buf


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-n", "--tasks", type=int, default=100_000)
    p.add_argument("-b", "--bytes", type=int, default=0, help="bytes each coroutine holds")
    p.add_argument("--sleep", type=float, default=3600.0)
    p.add_argument("--exit-after", type=float, default=None)
    args = p.parse_args()
    tasks = [asyncio.create_task(sleeper(args.sleep, args.bytes)) for _ in range(args.tasks)]
    print(f"pid={os.getpid()} console=none instrument=none tasks={len(tasks)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_after is not None:
        loop.call_later(args.exit_after, stop.set)
    await stop.wait()
    for t in tasks:
        t.cancel()


if __name__ == "__main__":
    asyncio.run(main())
