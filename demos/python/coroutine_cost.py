#!/usr/bin/env python3
"""RSS of 100k asyncio coroutines: created but never scheduled, then scheduled as tasks asleep.

Usage: python3 demos/python/coroutine_cost.py [N]
"""
import asyncio
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def sleeper() -> None:
    await asyncio.sleep(3600)


def main() -> None:
    before = rss_kb()
    coros = [sleeper() for _ in range(N)]
    created = rss_kb()
    print(f"{N} bare coroutines: {created - before} kB, {(created - before) * 1024 // N} B each")

    async def schedule() -> None:
        tasks = [asyncio.create_task(c) for c in coros]
        await asyncio.sleep(1)
        asleep = rss_kb()
        print(f"scheduled as tasks, asleep: +{asleep - created} kB, {(asleep - created) * 1024 // N} B each more, "
              f"{(asleep - before) * 1024 // N} B each in all")
        for t in tasks:
            t.cancel()

    asyncio.run(schedule())


if __name__ == "__main__":
    main()
