from __future__ import annotations

from media_workers.feedback import EstimateAggregator, KeyframeThrottle, TokenBucket, upstream_estimate


def test_keyframe_requests_are_throttled_per_interval() -> None:
    throttle = KeyframeThrottle(interval=0.5)
    results = [throttle.allow(t) for t in (0.0, 0.1, 0.49, 0.5, 0.6, 1.2)]
    assert results == [True, False, False, True, False, True]
    assert (throttle.forwarded, throttle.suppressed) == (3, 3)


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.1)
    assert not bucket.take(0.1)


def test_the_estimate_is_the_minimum_of_fresh_reports() -> None:
    agg = EstimateAggregator(max_age=2.0)
    agg.report("a", 500_000, 0.0)
    agg.report("b", 300_000, 1.0)
    assert agg.minimum(1.5) == 300_000
    assert agg.minimum(2.5) == 300_000  # "a" is stale now
    agg.forget("b")
    assert agg.minimum(2.5) is None


def test_the_upstream_estimate_is_bounded() -> None:
    assert upstream_estimate(None, None, 100, 1000) == 1000
    assert upstream_estimate(800, 400, 100, 1000) == 400
    assert upstream_estimate(50, None, 100, 1000) == 100
    assert upstream_estimate(None, 5000, 100, 1000) == 1000
