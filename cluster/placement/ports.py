"""Free host ports of one offer as sorted, disjoint, inclusive [begin, end] ranges."""

from __future__ import annotations

from collections.abc import Sequence

PortRanges = list[list[int]]


def ranges_normalize(ranges: Sequence[tuple[int, int]]) -> PortRanges:
    """Sorted and merged, so allocation never hands out the same port twice."""
    if len(ranges) == 1:
        return [list(ranges[0])]
    merged: PortRanges = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return merged


def ranges_size(ranges: PortRanges) -> int:
    return sum(end - begin + 1 for begin, end in ranges)


def ranges_contain(ranges: PortRanges, port: int) -> bool:
    for begin, end in ranges:
        if port < begin:
            return False
        if port <= end:
            return True
    return False


def ranges_take(ranges: PortRanges, wanted: tuple[int, ...]) -> tuple[int, ...]:
    """Remove the ports a task asks for (0 = any) and return them in the task's order.

    The caller has checked that every fixed port is free and that enough ports remain.
    Fixed ports go first so that a dynamic pick cannot take one the task names itself;
    dynamic ports come from the low end, which keeps the choice deterministic.
    """
    for port in wanted:
        if port:
            ranges_remove(ranges, port)
    dynamic = iter(_take_lowest(ranges, wanted.count(0)))
    return tuple(port or next(dynamic) for port in wanted)


def ranges_take_dynamic(ranges: PortRanges, each: int, count: int) -> list[tuple[int, ...]]:
    """Ports for `count` tasks that each want `each` ports, any ones: the lowest free."""
    if not each:
        return [()] * count
    begin, end = ranges[0]
    wanted = each * count
    if end - begin >= wanted:
        # The common case: the lowest range has room for all of them.
        ranges[0][0] = begin + wanted
        if each == 1:
            return [(port,) for port in range(begin, begin + wanted)]
        return [tuple(range(port, port + each)) for port in range(begin, begin + wanted, each)]
    taken = _take_lowest(ranges, wanted)
    if each == 1:
        return [(port,) for port in taken]
    return [tuple(taken[n : n + each]) for n in range(0, len(taken), each)]


def ranges_remove(ranges: PortRanges, port: int) -> None:
    """Take one port out; ValueError when it is not free."""
    for index, (begin, end) in enumerate(ranges):
        if begin <= port <= end:
            if begin == end:
                del ranges[index]
            elif port == begin:
                ranges[index][0] = port + 1
            elif port == end:
                ranges[index][1] = port - 1
            else:
                ranges[index][1] = port - 1
                ranges.insert(index + 1, [port + 1, end])
            return
    raise ValueError(f"port {port} is not free")


def _take_lowest(ranges: PortRanges, count: int) -> list[int]:
    taken: list[int] = []
    while len(taken) < count:
        begin, end = ranges[0]
        upto = min(end, begin + count - len(taken) - 1)
        taken.extend(range(begin, upto + 1))
        if upto == end:
            del ranges[0]
        else:
            ranges[0][0] = upto + 1
    return taken
