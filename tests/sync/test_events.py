from __future__ import annotations

from dynsync_tui.sync.events import Progress, Rate, Throttle


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_throttle_passes_about_ten_a_second_and_every_phase_change():
    clock, got = Clock(), []
    th = Throttle(got.append, interval=0.1, clock=clock)
    for i in range(100):  # 100 events over one second
        clock.t = i * 0.01
        th(Progress("sending", done=i))
    assert 9 <= len(got) <= 11
    th(Progress("waiting", done=100))  # a phase change always goes through
    th(Progress("waiting", done=101))  # too soon
    th(Progress("waiting", done=102), force=True)  # the final one always goes through
    assert [e.done for e in got[-2:]] == [100, 102]


def test_rate_gives_throughput_and_eta():
    clock = Clock()
    rate = Rate(clock)
    rate.restart(10)
    clock.t = 2.0
    p = rate.apply(Progress("sending", done=110, total=310))
    assert p.throughput == 50.0 and p.eta_s == 4.0
    assert "110/310" in p.line()
