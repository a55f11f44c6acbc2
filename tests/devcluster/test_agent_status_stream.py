from __future__ import annotations

import asyncio
import base64
import itertools

from devcluster.agent.status_stream import RetryQueue, StatusStream, new_uuid


def _status(state: str) -> dict:
    return {"state": state, "uuid": new_uuid()}


def test_a_uuid_is_sixteen_random_bytes_in_base64() -> None:
    first, second = new_uuid(), new_uuid()
    assert len(first) == 24 and first.endswith("==")
    assert len(base64.b64decode(first)) == 16
    assert first != second


def test_it_sends_only_the_head_until_it_is_acknowledged() -> None:
    async def scenario() -> None:
        sent: list[dict] = []
        stream = StatusStream(sent.append, RetryQueue(60))
        starting, running, finished = (
            _status("TASK_STARTING"),
            _status("TASK_RUNNING"),
            _status("TASK_FINISHED"),
        )
        for status in (starting, running, finished):
            stream.push(status)
        assert sent == [starting]
        assert stream.acknowledge(running["uuid"]) is None
        assert sent == [starting]
        assert stream.acknowledge(starting["uuid"]) is starting
        assert sent == [starting, running]
        stream.acknowledge(running["uuid"])
        assert sent == [starting, running, finished]
        assert stream.acknowledge(finished["uuid"]) is finished
        assert stream.pending == 0
        stream.close()

    asyncio.run(scenario())


def test_it_resends_the_same_update_with_a_doubling_delay() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        sent: list[tuple[float, dict]] = []
        stream = StatusStream(lambda s: sent.append((loop.time(), s)), RetryQueue(0.05))
        head = _status("TASK_STARTING")
        stream.push(head)
        await asyncio.sleep(0.4)
        stream.close()
        assert len(sent) >= 3
        assert all(status is head for _, status in sent)
        gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(sent)]
        assert gaps[1] > gaps[0] * 1.5

    asyncio.run(scenario())


def test_an_acknowledgement_stops_the_resends() -> None:
    async def scenario() -> None:
        sent: list[dict] = []
        stream = StatusStream(sent.append, RetryQueue(0.05))
        head = _status("TASK_RUNNING")
        stream.push(head)
        stream.acknowledge(head["uuid"])
        await asyncio.sleep(0.2)
        assert sent == [head]

    asyncio.run(scenario())


def test_resend_sends_the_head_again_at_once() -> None:
    async def scenario() -> None:
        sent: list[dict] = []
        stream = StatusStream(sent.append, RetryQueue(60))
        head, later = _status("TASK_STARTING"), _status("TASK_RUNNING")
        stream.push(head)
        stream.push(later)
        stream.resend()
        assert sent == [head, head]
        stream.close()

    asyncio.run(scenario())


def test_a_failing_sink_does_not_lose_the_update() -> None:
    async def scenario() -> None:
        calls: list[dict] = []

        def flaky(status: dict) -> None:
            calls.append(status)
            if len(calls) == 1:
                raise RuntimeError("master busy")

        stream = StatusStream(flaky, RetryQueue(0.05))
        head = _status("TASK_STARTING")
        stream.push(head)
        await asyncio.sleep(0.12)
        stream.close()
        assert calls[0] is head and calls[1] is head

    asyncio.run(scenario())


def test_a_sink_that_acknowledges_at_once_moves_the_stream_along() -> None:
    async def scenario() -> None:
        sent: list[dict] = []
        holder: list[StatusStream] = []

        def acking(status: dict) -> None:
            sent.append(status)
            holder[0].acknowledge(status["uuid"])

        stream = StatusStream(acking, RetryQueue(0.05))
        holder.append(stream)
        first, second = _status("TASK_STARTING"), _status("TASK_RUNNING")
        stream.push(first)
        stream.push(second)
        await asyncio.sleep(0.15)
        assert sent == [first, second]
        assert stream.pending == 0

    asyncio.run(scenario())


def test_one_queue_resends_for_many_streams_in_deadline_order() -> None:
    async def scenario() -> None:
        sent: list[str] = []
        retries = RetryQueue(0.05)
        streams = [StatusStream(lambda s: sent.append(s["state"]), retries) for _ in range(3)]
        for index, stream in enumerate(streams):
            stream.push({"state": f"S{index}", "uuid": new_uuid()})
            await asyncio.sleep(0.01)
        streams[1].acknowledge(streams[1].head["uuid"])
        await asyncio.sleep(0.07)
        retries.close()
        assert sent == ["S0", "S1", "S2", "S0", "S2"]

    asyncio.run(scenario())
