"""The quota and admission logic alone, on a fake clock: what is refused, and the retry delay."""
from __future__ import annotations

import math

import pytest

from avatarforge.server.api_keys import ApiKey, KeyStore, hash_key
from avatarforge.server.call_guard import ANY_KEY, OPEN, RPC_RULES, CallGuard
from avatarforge.server.errors import PermissionDenied, Throttled, Unauthenticated
from avatarforge.server.rate_limits import (OVERLOAD_BOUND_SHARE, OVERLOAD_WINDOW_S, Admission, KeyQuota,
                                           TokenBucket)
from avatarforge.v1 import avatarforge_pb2 as pb


def key(name="k", scopes=("generate",), **quota) -> ApiKey:
    return ApiKey(name, hash_key(name + "-secret"), scopes, **quota)


def test_bucket_refuses_with_the_time_until_enough_tokens():
    b = TokenBucket(rate=4, capacity=4, now=0.0)
    assert [b.try_take(1, 0.0) for _ in range(4)] == [0, 0, 0, 0]
    assert b.try_take(1, 0.0) == pytest.approx(0.25)  # one token every 1/4 s
    assert b.try_take(2, 0.1) == pytest.approx(0.4)  # 0.4 tokens by then; 1.6 more at 4/s
    assert b.try_take(2, 0.5) == 0  # exactly what was promised
    assert b.try_take(5, 100.0) == math.inf  # more than the bucket ever holds
    assert b.try_take(4, 100.0) == 0  # refills to capacity, never past it
    assert b.try_take(1, 100.0) == pytest.approx(0.25)


def test_paced_takes_go_into_debt_and_say_how_long_to_wait():
    b = TokenBucket(rate=10, capacity=10, now=0.0)
    assert b.take_paced(10, 0.0) == 0
    assert b.take_paced(5, 0.0) == pytest.approx(0.5)
    assert b.try_take(1, 0.2) == pytest.approx(0.4)  # the debt delays the next call too


def test_key_quota_order_and_messages():
    q = KeyQuota(key("studio", requests_per_s=2, images_per_s=8, max_concurrent=2), now=0.0)
    q.admit(images=4, now=0.0)
    q.admit(images=4, now=0.0)
    with pytest.raises(Throttled) as err:
        q.admit(images=1, now=0.0)
    assert "'studio' already has 2 calls in flight" in str(err.value) and err.value.retry_after_s > 0
    q.release(), q.release()
    with pytest.raises(Throttled) as err:
        q.admit(images=0, now=0.1)
    assert "over its 2 requests/s: retry in 0.400 s" in str(err.value)  # 0.2 tokens by then, 0.8 to go
    assert err.value.retry_after_s == pytest.approx(0.4)
    with pytest.raises(Throttled) as err:  # a request token is there; 4 of the 6 images are
        q.admit(images=6, now=0.5)
    assert "over its 8 images/s: these 6 images can start in 0.250 s" in str(err.value)
    assert err.value.retry_after_s == pytest.approx(0.25)
    q.admit(images=0, now=0.5)  # the refused call gave its request token back
    with pytest.raises(Throttled) as err:
        q.admit(images=9, now=50.0)
    assert err.value.retry_after_s is None and "split the call, or use GenerateBatch" in str(err.value)
    assert q.in_flight == 1


def test_unlimited_key_and_admission_limit():
    q = KeyQuota(key(), now=0.0)
    for _ in range(1000):
        q.admit(images=1000, now=0.0)
    assert q.pace(1000, 0.0) == 0
    a = Admission(2)
    a.enter(), a.enter()
    with pytest.raises(Throttled) as err:
        a.enter()
    assert "limit of 2 calls in flight (--max-inflight)" in str(err.value) and err.value.retry_after_s > 0
    a.leave()
    a.enter()
    Admission(0).enter()  # 0 = no limit


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def guard(max_inflight=0, **quota):
    store = KeyStore([key("gen", ("generate",), **quota), key("ed", ("edit",)), key("root", ("admin",))])
    return CallGuard(store, max_inflight=max_inflight, clock=(clock := FakeClock())), clock


AF = "/avatarforge.v1.AvatarForge/"


def test_authenticate_by_rule():
    g, _ = guard()
    bearer = lambda name: f"Bearer {name}-secret"
    assert g.authenticate(AF + "Generate", bearer("gen")).key.name == "gen"
    assert g.authenticate(AF + "GetModel", bearer("ed")).key.name == "ed"  # any key reads model info
    assert g.authenticate(AF + "Mix", bearer("root")).key.name == "root"  # admin has every scope
    assert g.authenticate("/grpc.health.v1.Health/Check", None).key is None  # health is open
    for auth in (None, "", "Bearer", "Basic gen-secret", "Bearer nope"):
        with pytest.raises(Unauthenticated) as err:
            g.authenticate(AF + "Generate", auth)
        assert "send 'authorization: Bearer <key>'; keys are made with `avatarforge keys add`" in str(err.value)
    with pytest.raises(PermissionDenied) as err:
        g.authenticate(AF + "Mix", bearer("gen"))
    assert "key 'gen' lacks the 'edit' scope" in str(err.value)
    with pytest.raises(PermissionDenied):  # a method nobody classified needs admin
        g.authenticate("/some.Other/Method", bearer("gen"))
    assert g.authenticate("/some.Other/Method", bearer("root")).key.name == "root"


def test_every_rpc_of_the_contract_has_a_rule():
    methods = {f"{AF}{m.name}" for m in pb.DESCRIPTOR.services_by_name["AvatarForge"].methods}
    assert methods <= set(RPC_RULES)
    assert {RPC_RULES[m] for m in methods} <= {ANY_KEY, OPEN, "generate", "edit", "encode"}


def test_tickets_hold_slots_until_released_and_health_is_never_throttled():
    g, clock = guard(max_inflight=1)
    caller = g.authenticate(AF + "Generate", "Bearer gen-secret")
    t = g.admit(caller, images=1)
    with pytest.raises(Throttled):
        g.admit(caller)
    health = g.authenticate("/grpc.health.v1.Health/Check", None)
    g.admit(health).release()  # a busy server still answers its load balancer
    t.release(), t.release()  # twice is harmless
    g.admit(caller).release()
    assert g.admission.in_flight == 0


def test_keys_off_leaves_only_admission():
    g = CallGuard(None, max_inflight=1)
    caller = g.authenticate(AF + "Mix", None)
    assert caller.key is None
    g.admit(caller)
    with pytest.raises(Throttled):
        g.admit(caller)


def test_render_bound_refuses_with_the_time_until_the_queue_is_back_under_it():
    a = Admission(0)
    a.enter(0.1, 0.1, now=0.0)  # at the bound: admitted
    with pytest.raises(Throttled) as err:
        a.enter(0.25, 0.1, now=10.0)
    assert "would take 250 ms to render this, past its bound of 100 ms for interactive work (--max-render-wait-ms)" \
        in str(err.value)
    assert err.value.retry_after_s == pytest.approx(0.15)
    with pytest.raises(Throttled) as err:
        a.enter(0.1001, 0.1, now=20.0)  # just over: never sooner than half the bound, or all refused come back at once
    assert err.value.retry_after_s == pytest.approx(0.05)
    with pytest.raises(Throttled) as err:
        a.enter(0.0101, 0.01, now=30.0)  # and never sooner than a few ms
    assert err.value.retry_after_s == pytest.approx(0.01)
    assert a.in_flight == 1  # refusals count nothing
    Admission(0).enter(3600.0, 0.0)  # no bound: any queue is joined


def test_an_overloaded_queue_is_held_to_a_share_of_its_bound_for_a_while():
    a = Admission(0)
    a.enter(0.09, 0.1, "m", now=0.0)  # under the bound, no overload seen: admitted
    with pytest.raises(Throttled):
        a.enter(0.2, 0.1, "m", now=1.0)  # over the full bound: refused, and the queue counts as overloaded
    with pytest.raises(Throttled) as err:
        a.enter(0.09, 0.1, "m", now=1.5)
    held = 0.1 * OVERLOAD_BOUND_SHARE
    assert 0.09 > held  # the call above is over the tighter bound
    assert (f"past its bound of {held * 1e3:.0f} ms for interactive work ({OVERLOAD_BOUND_SHARE:.0%} of 100 ms while "
            "it is overloaded)") in str(err.value)
    assert err.value.retry_after_s == pytest.approx(max(0.09 - held, held / 2))  # at least half the bound held to
    a.enter(held - 0.005, 0.1, "m", now=1.6)  # under the tighter bound: admitted
    a.enter(0.09, 0.1, "other", now=1.6)  # another model's queue keeps its own bound
    # Refusals by the tighter bound do not keep the window open: it closes OVERLOAD_WINDOW_S
    # after the last call over the full bound.
    with pytest.raises(Throttled):
        a.enter(0.09, 0.1, "m", now=1.0 + OVERLOAD_WINDOW_S - 0.01)
    a.enter(0.09, 0.1, "m", now=1.0 + OVERLOAD_WINDOW_S)
    assert a.in_flight == 4


def test_only_calls_that_render_are_held_to_their_model_queue():
    g = CallGuard(None)
    asked = []
    g.render_wait = lambda model, rows: asked.append((model, rows)) or ({"busy": 0.5}.get(model, 0.0), 0.1)
    render = g.authenticate(AF + "RenderPreview", None)
    g.admit(render, images=1, model="idle").release()
    with pytest.raises(Throttled):
        g.admit(render, images=1, model="busy")
    g.admit(g.authenticate(AF + "Generate", None), images=3, model="idle").release()
    g.admit(g.authenticate(AF + "GenerateBatch", None), images=0, model="busy").release()  # a stream is paced, not refused
    g.admit(g.authenticate(AF + "GetModel", None)).release()
    assert asked == [("idle", 1), ("busy", 1), ("idle", 3)] and g.admission.in_flight == 0
