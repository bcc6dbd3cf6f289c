"""Serving metrics: what the scheduler records is what Prometheus scrapes."""
from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from avatarforge.server.serving_metrics import ServingMetrics


def samples(metrics: ServingMetrics) -> dict:
    out = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_a_batch_records_its_size_compute_time_queue_waits_and_items():
    m = ServingMetrics()
    m.observe_batch("avatars64", "onnxruntime", [("interactive", 0.002), ("bulk", 0.030), ("bulk", 0.040)], 0.120)
    m.observe_encode("png", 0.004)
    s = samples(m)
    mb = (("backend", "onnxruntime"), ("model", "avatars64"))
    assert s[("avatarforge_batch_size_count", mb)] == 1 and s[("avatarforge_batch_size_sum", mb)] == 3
    assert s[("avatarforge_compute_seconds_sum", mb)] == pytest.approx(0.120)
    bulk = tuple(sorted((*mb, ("priority", "bulk"))))
    assert s[("avatarforge_items_total", bulk)] == 2
    assert s[("avatarforge_queue_seconds_count", bulk)] == 2
    assert s[("avatarforge_queue_seconds_bucket", tuple(sorted((*bulk, ("le", "0.05")))))] == 2
    assert s[("avatarforge_encode_seconds_count", (("format", "png"),))] == 1


def test_errors_are_counted_by_stage_and_code_and_bad_priorities_refused():
    m = ServingMetrics()
    m.count_error("compute", "INTERNAL")
    m.count_error("compute", "INTERNAL")
    assert samples(m)[("avatarforge_errors_total", (("code", "INTERNAL"), ("stage", "compute")))] == 2
    with pytest.raises(ValueError):
        m.observe_batch("m", "torch", [("urgent", 0.1)], 0.1)


def test_two_instances_do_not_collide_and_serve_over_http():
    a, b = ServingMetrics(), ServingMetrics()  # same names, separate registries
    a.observe_encode("webp", 0.01)
    assert ("avatarforge_encode_seconds_count", (("format", "webp"),)) not in samples(b)
    server, thread = a.serve_http(0, addr="127.0.0.1")
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).read().decode()
        assert 'avatarforge_encode_seconds_count{format="webp"} 1.0' in body
    finally:
        server.shutdown()
