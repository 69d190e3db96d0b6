#!/usr/bin/env python3
"""An openqq fleet worker in Python (nats-py): the same behaviour as the Rust
one in workers/rust, to show the bus is language-neutral.

Every worker binds the same durable pull consumer, so JetStream shares the
reports among them; a report not acked within ack_wait goes to another
worker. A report that takes an answer carries the subject to send it to
(header Openqq-Answer) and its id (Openqq-Report). The worker sends
{"report": id, ...the post_api answer...} there as a request, and acks only
once the gateway replied: an answer is never lost, and the gateway carries
out at most one answer per report.

    python worker.py --url nats://127.0.0.1:4222 --stream OPENQQ --consumer workers

Needs nats-py (scripts/toolchains.sh nats puts it in .venv-bots).
"""

import argparse
import asyncio
import json
import signal
import sys

import nats
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError


def echo_v1(report):
    """The benchmarks' post_api receiver's decision: reply v1:<content>."""
    return {"reply": "v1:" + str(report.get("content", ""))}


async def bind(js, stream, consumer, filter_subject, ack_wait):
    """The shared durable consumer, created by the first worker."""
    while True:
        try:
            await js.stream_info(stream)
            break
        except Exception:  # the gateways create the stream; wait for it
            await asyncio.sleep(0.2)
    try:
        await js.consumer_info(stream, consumer)
    except NotFoundError:
        config = ConsumerConfig(
            durable_name=consumer,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_ack_pending=20000,
            filter_subject=filter_subject or None,
        )
        try:
            await js.add_consumer(stream, config)
        except Exception:
            pass  # another worker made it meanwhile
    return await js.pull_subscribe_bind(durable=consumer, stream=stream)


async def handle(nc, msg, decide):
    headers = msg.headers or {}
    subject, report = headers.get("Openqq-Answer"), headers.get("Openqq-Report")
    if not subject or not report:
        await msg.ack()  # an event or a send report: no answer
        return False
    try:
        body = json.loads(msg.data)
    except ValueError:
        body = {}
    answer = decide(body)
    if not isinstance(answer, dict):
        answer = {}
    answer["report"] = report
    try:
        await nc.request(subject, json.dumps(answer).encode(), timeout=5)
    except Exception:
        # No reply: the gateway is down or restarting. Not acked, so the
        # report comes again.
        await msg.nak(delay=0.5)
        return False
    await msg.ack()  # only now: a worker that dies before this leaves it to another
    return True


async def run(url, stream, consumer, filter_subject, ack_wait, batch, count, decide=echo_v1):
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    sub = await bind(js, stream, consumer, filter_subject, ack_wait)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    answered = 0
    while not stop.is_set() and (count is None or answered < count):
        try:
            msgs = await sub.fetch(batch, timeout=1)
        except nats.errors.TimeoutError:
            continue
        except Exception as e:  # NATS restarting: bind again
            print(f"worker: pulling failed ({e}); binding again", file=sys.stderr)
            await asyncio.sleep(0.2)
            sub = await bind(js, stream, consumer, filter_subject, ack_wait)
            continue
        done = await asyncio.gather(*(handle(nc, m, decide) for m in msgs))
        answered += sum(1 for d in done if d)
    print(f"worker: answered {answered}", flush=True)
    await nc.drain()


def main():
    p = argparse.ArgumentParser(description="An openqq fleet worker (NATS JetStream)")
    p.add_argument("--url", default="nats://127.0.0.1:4222")
    p.add_argument("--stream", default="OPENQQ")
    p.add_argument("--consumer", default="workers")
    p.add_argument("--filter", default=None, help="only these subjects, e.g. openqq.*.message.>")
    p.add_argument("--ack-wait", type=float, default=30.0, help="seconds before another worker gets an unacked report")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--count", type=int, default=None, help="exit after answering this many reports (tests)")
    a = p.parse_args()
    asyncio.run(run(a.url, a.stream, a.consumer, a.filter, a.ack_wait, a.batch, a.count))


if __name__ == "__main__":
    main()
