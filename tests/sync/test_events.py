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


def test_poll_policy_learns_a_first_check_just_past_the_import_time():
    from dynsync_tui.sync.imports import PollPolicy

    p = PollPolicy(first=2.0)
    takes, polls = 0.3, 0
    for _ in range(200):
        t, n = p.first, 1
        while t < takes:  # not finished yet: checked again later
            t, n = t * p.grow, n + 1
        polls += n
        p.learn(n == 1, p.first)
    assert polls / 200 <= 1.08  # nearly every import seen finished at its first check
    assert p.first < 0.6  # and not waited for much longer than it takes


def test_poll_policy_never_drops_below_a_wait_that_was_too_short():
    from dynsync_tui.sync.imports import PollPolicy

    p = PollPolicy(first=1.0)
    p.learn(False, 0.4)  # 0.4 s was too short
    for _ in range(500):
        p.learn(True, p.first)
    assert p.first >= 0.4 * p.margin
