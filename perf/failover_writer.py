#!/usr/bin/env python3
"""The writer of perf/failover.sh (redis-py).

    failover_writer.py MASTER_PORT MASTER_PID ACK PREKILL_MS DEADLINE_S SENTINEL_PORT...

For PREKILL_MS: INCR counter, then WAIT ACK 1000; an INCR is acknowledged when WAIT reached ACK
replicas. Then SIGKILL to MASTER_PID, and the clock starts: every 5 ms, ask the next sentinel for
mymaster's address and try an INCR there (200 ms timeouts). The first INCR that succeeds stops the
clock. Prints "<ms> ok|LOST acked=.. writes=.. new_master=.. first_incr=..": LOST when the counter
the new master held (first_incr - 1) is below the last acknowledged value. Prints "TIMEOUT ..."
and exits 2 when no write succeeded within DEADLINE_S.
"""
import os
import signal
import sys
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# redis-py (6+) retries a refused connection 3 times with exponential backoff by default: seconds
# of its own that would hide the failover time. Every attempt here is one try.
ONE_TRY = Retry(NoBackoff(), 0)

mport, mpid, ack, prekill_ms, deadline_s = (int(a) for a in sys.argv[1:6])
sports = [int(a) for a in sys.argv[6:]]
m = redis.Redis(port=mport, socket_timeout=5, decode_responses=True)
acked = writes = 0
end = time.monotonic() + prekill_ms / 1000
while time.monotonic() < end:
    v = m.incr("counter")
    writes += 1
    if m.execute_command("WAIT", ack, 1000) >= ack:
        acked = v
os.kill(mpid, signal.SIGKILL)
t0 = time.monotonic()
i = 0
while True:
    if time.monotonic() - t0 > deadline_s:
        print(f"TIMEOUT acked={acked} writes={writes}")
        sys.exit(2)
    s = redis.Redis(port=sports[i % len(sports)], socket_timeout=0.2, socket_connect_timeout=0.2,
                    decode_responses=True, retry=ONE_TRY)
    i += 1
    c = None
    try:
        host, port = s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        c = redis.Redis(host=host, port=int(port), socket_timeout=0.2, socket_connect_timeout=0.2,
                        retry=ONE_TRY)
        v = c.incr("counter")
        ms = (time.monotonic() - t0) * 1000
        break
    except (redis.exceptions.RedisError, OSError, TypeError, ValueError):
        time.sleep(0.005)
    finally:
        s.close()
        if c is not None:
            c.close()
status = "ok" if v - 1 >= acked else "LOST"
print(f"{ms:.0f} {status} acked={acked} writes={writes} new_master={port} first_incr={v}")
