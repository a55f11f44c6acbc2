from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.recordio import RecordIODecoder, RecordIOError, encode, encode_all

TRANSCRIPTS = Path(__file__).parent.parent / "mesos-transcripts"
records_strategy = st.lists(st.binary(max_size=300), max_size=12)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _decode_chunks(chunks: list[bytes]) -> list[bytes]:
    decoder = RecordIODecoder()
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    assert decoder.at_boundary
    return out


@given(records=records_strategy, cuts=st.lists(st.integers(min_value=0), max_size=40))
def test_any_chunking_of_an_encoded_stream_decodes_to_the_same_records(
    records: list[bytes], cuts: list[int]
) -> None:
    assert _decode_chunks(_split(encode_all(records), cuts)) == records


@given(records=records_strategy)
def test_feeding_one_byte_at_a_time_gives_the_same_records(records: list[bytes]) -> None:
    data = encode_all(records)
    assert _decode_chunks([data[i : i + 1] for i in range(len(data))]) == records


@given(text=st.text(max_size=50))
def test_lengths_count_bytes_not_characters(text: str) -> None:
    payload = json.dumps({"message": text}, ensure_ascii=False).encode("utf-8")
    assert encode(payload).startswith(b"%d\n" % len(payload))
    assert _decode_chunks([encode(payload)]) == [payload]


def test_it_decodes_the_exact_bytes_a_real_master_sent() -> None:
    raw = json.loads((TRANSCRIPTS / "01-subscribe.json").read_text())["raw_first_records"]
    stream = "".join(raw).encode("utf-8")
    records = _decode_chunks([stream[:7], stream[7:500], stream[500:]])
    assert [json.loads(r)["type"] for r in records] == [
        "SUBSCRIBED",
        "HEARTBEAT",
        "OFFERS",
        "HEARTBEAT",
    ]
    assert records[1] == b'{"type":"HEARTBEAT"}'


def test_a_partial_record_is_held_until_the_rest_arrives() -> None:
    decoder = RecordIODecoder()
    assert decoder.feed(b'20\n{"type":') == []
    assert not decoder.at_boundary
    assert decoder.feed(b'"HEARTBEAT"}5\nhel') == [b'{"type":"HEARTBEAT"}']
    assert decoder.feed(b"lo") == [b"hello"]
    assert decoder.at_boundary


@pytest.mark.parametrize("garbage", [b"<html>", b"abc\n", b"-5\n", b"1 2\n", b"\n"])
def test_a_non_numeric_header_is_a_clear_error(garbage: bytes) -> None:
    decoder = RecordIODecoder()
    with pytest.raises(RecordIOError, match="header"):
        decoder.feed(garbage)


def test_the_decoder_stays_broken_after_an_error() -> None:
    decoder = RecordIODecoder()
    with pytest.raises(RecordIOError):
        decoder.feed(b"x\n")
    with pytest.raises(RecordIOError):
        decoder.feed(b"2\nok")


def test_an_overlong_header_is_rejected_before_it_ends() -> None:
    with pytest.raises(RecordIOError, match="too long"):
        RecordIODecoder().feed(b"1" * 21)


def test_a_record_larger_than_the_limit_is_rejected() -> None:
    with pytest.raises(RecordIOError, match="exceeds"):
        RecordIODecoder(max_record_bytes=10).feed(b"11\n")
