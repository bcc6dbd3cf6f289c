"""The editing RPCs as an editor client uses them, against the real loopback server: sliders over
an EditSession (latest wins, commit, errors that keep the session open), RenderPreview,
Interpolate, Mix, Mutate, and `avatarforge edit`. The tiny bundle has only SeFa directions."""
from __future__ import annotations

import io
import time

import grpc
import numpy as np
import pytest
from PIL import Image

from avatarforge import cli
from avatarforge.client import AvatarForgeClient, EditRejected
from avatarforge.server.dna import dna_checksum
from avatarforge.v1 import avatarforge_pb2 as pb

INVALID = grpc.StatusCode.INVALID_ARGUMENT.value[0]


def pixels(image: pb.FaceImage) -> np.ndarray:  # int16 [H, W, 3], so differences do not wrap
    return np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB")).astype(np.int16)


def w_plus(dna: pb.CharacterDna) -> np.ndarray:  # float32 [num_ws, w_dim]
    return np.frombuffer(dna.w_plus, "<f4").reshape(dna.num_ws, dna.w_dim)


@pytest.fixture(scope="module")
def faces(client):
    """DNA of seeds 1, 2 and 3 on the tiny model."""
    return [r.dna for r in client.generate(seeds=[1, 2, 3]).results]


@pytest.fixture(scope="module")
def ranges(client):
    return {d.name: (d.strength_min, d.strength_max) for d in client.get_model().directions}


def test_get_model_lists_directions_with_metadata(client):
    dirs = {d.name: d for d in client.get_model().directions}
    assert sorted(dirs) == [f"sefa/{i}" for i in range(10)]
    d = dirs["sefa/0"]
    assert d.kind == "sefa" and (d.layer_start, d.layer_end) == (0, 8) and "SeFa" in d.description
    assert d.strength_min < 0 < d.default_strength < d.strength_max
    assert not d.HasField("success") and not d.HasField("unchanged")  # measured for supervised ones only


def test_latest_wins_renders_far_fewer_states_than_sent(client, faces):
    with client.edit_session(faces[0], size=128) as session:  # 4x upscale: each preview takes a while
        for i in range(100):  # as fast as the client can send
            session.update({"sefa/0": (i - 50) / 20})
        events = session.close()
    previews = [e.preview for e in events if e.WhichOneof("event") == "preview"]
    assert [e.WhichOneof("event") for e in events] == ["preview"] * len(previews)
    assert len(previews) < 50, f"{len(previews)} renders for 100 states: latest wins is not skipping"
    assert previews[-1].seq == 100  # the last state is always rendered
    assert [p.seq for p in previews] == sorted(p.seq for p in previews)
    assert len(previews) + sum(p.skipped for p in previews) == 100  # every state rendered or skipped
    assert all(p.timing.compute_us > 0 and p.timing.encode_us > 0 for p in previews)


def test_edit_commit_and_generate_render_the_same_face(client, faces):
    with client.edit_session(faces[0]) as session:
        assert session.started.session_id and session.started.image.width == 32
        seq = session.update({"sefa/0": 1.5, "sefa/3": -1.0}, psi=0.9)
        preview = session.wait_preview(seq)
        dna = session.commit()
    assert dna.checksum == dna_checksum(dna) and dna.seed == 1  # provenance kept
    assert [(e.direction, round(e.strength, 4)) for e in dna.edits] == [("sefa/0", 1.5), ("sefa/3", -1.0), ("truncate", 0.9)]
    assert not np.array_equal(w_plus(dna), w_plus(faces[0]))
    again = client.generate(dnas=[dna]).results[0]
    assert np.abs(pixels(again.image) - pixels(preview.image)).max() <= 1


def test_commit_without_edits_returns_the_start_dna(client, faces):
    with client.edit_session(faces[1]) as session:
        assert session.commit(0) == faces[1]


def test_render_preview_matches_the_session_preview(client, faces):
    state = dict(edits={"sefa/1": 2.0}, mix=pb.MixSpec(other=faces[1], layer_start=6, layer_end=8, weight=0.5))
    with client.edit_session(faces[0], size=64) as session:
        preview = session.wait_preview(session.update(**state))
        committed = session.commit()
    reply = client.render_preview(faces[0], state["edits"], mix=state["mix"], size=64)
    assert reply.image.width == 64
    assert np.abs(pixels(reply.image) - pixels(preview.image)).max() <= 1
    assert reply.dna.w_plus == committed.w_plus


def test_mix_in_a_session_copies_exactly_the_requested_layers(client, faces):
    start, other = faces[0], faces[1]
    with client.edit_session(start) as session:
        session.update(mix=pb.MixSpec(other=other, layer_start=2, layer_end=5))
        dna = session.commit()
    got, a, b = w_plus(dna), w_plus(start), w_plus(other)
    assert np.array_equal(got[2:5], b[2:5])
    assert np.array_equal(got[:2], a[:2]) and np.array_equal(got[5:], a[5:])
    assert dna.edits[-1].direction.endswith("/2-5")


def test_mix_rpc_style_and_blend(client, faces):
    a, b, c = faces
    style = client.mix([pb.MixParent(dna=a), pb.MixParent(dna=b, layer_start=0, layer_end=3),
                        pb.MixParent(dna=c, layer_start=6, layer_end=8)], style=True).results[0]
    got = w_plus(style.dna)
    assert np.array_equal(got[0:3], w_plus(b)[0:3]) and np.array_equal(got[3:6], w_plus(a)[3:6])
    assert np.array_equal(got[6:8], w_plus(c)[6:8])
    assert style.image.width == 32
    blend = client.mix([pb.MixParent(dna=a, weight=1), pb.MixParent(dna=b, weight=3)]).results[0]
    np.testing.assert_allclose(w_plus(blend.dna), 0.25 * w_plus(a) + 0.75 * w_plus(b), atol=1e-6)
    with pytest.raises(grpc.RpcError) as err:
        client.mix([pb.MixParent(dna=a), pb.MixParent(dna=b, layer_start=0, layer_end=4),
                    pb.MixParent(dna=c, layer_start=3, layer_end=6)], style=True)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "overlap" in err.value.details()


def test_mutate_is_deterministic_per_seed(client, faces):
    first = client.mutate(faces[0], count=3, strength=0.3, seed=10).results
    again = client.mutate(faces[0], count=3, strength=0.3, seed=10).results
    other = client.mutate(faces[0], count=1, strength=0.3, seed=11).results
    assert [r.dna.w_plus for r in first] == [r.dna.w_plus for r in again]
    assert [r.image.data for r in first] == [r.image.data for r in again]
    assert len({r.dna.w_plus for r in first}) == 3  # three different children
    assert other[0].dna.w_plus == first[1].dna.w_plus  # child i of seed s is mutation seed s + i
    assert first[0].dna.edits[-1].direction == "mutate/10" and first[0].dna.seed == 1


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolation_endpoints_are_the_inputs(client, faces, spherical):
    a, mid, b = faces
    frames = list(client.interpolate(a, b, 5, via=[mid], spherical=spherical))
    assert [f.index for f in frames] == [0, 1, 2, 3, 4] and [f.t for f in frames] == [0, 0.25, 0.5, 0.75, 1]
    assert frames[0].dna == a and frames[-1].dna == b
    assert frames[2].dna.w_plus == mid.w_plus  # the via face is on the path exactly
    plain = client.generate(dnas=[a, b]).results
    assert np.abs(pixels(frames[0].image) - pixels(plain[0].image)).max() <= 1
    assert np.abs(pixels(frames[-1].image) - pixels(plain[1].image)).max() <= 1
    assert frames[1].dna.w_plus not in (a.w_plus, mid.w_plus)


def _tampered(dna: pb.CharacterDna) -> pb.CharacterDna:
    bad = pb.CharacterDna()
    bad.CopyFrom(dna)
    bad.w_plus = bytes([dna.w_plus[0] ^ 1]) + dna.w_plus[1:]
    return bad


def test_bad_states_are_error_events_and_the_session_goes_on(client, faces, ranges):
    lo, hi = ranges["sefa/0"]
    other_model_dna = client.generate(seeds=[1], model="other").results[0].dna
    bad_states = [
        (dict(edits={"smile": 1.0}), ["unknown direction 'smile'", "sefa/0", "sefa/9"]),
        (dict(edits={"sefa/0": hi + 1}), ["outside its range", "sefa/0"]),
        (dict(edits={"sefa/0": lo - 1}), ["outside its range"]),
        (dict(mix=pb.MixSpec(other=other_model_dna)), ["mix.other", "exact model"]),
        (dict(mix=pb.MixSpec(other=_tampered(faces[1]))), ["mix.other", "checksum"]),
        (dict(mix=pb.MixSpec(other=faces[1], layer_start=5, layer_end=3)), ["layer range [5, 3)", "malformed"]),
        (dict(mix=pb.MixSpec(other=faces[1], layer_start=0, layer_end=9)), ["layer range [0, 9)"]),
        (dict(mix=pb.MixSpec(other=faces[1], weight=1.5)), ["mix.weight"]),
        (dict(psi=3.0), ["truncation_psi"]),
        (dict(output=pb.OutputSpec(size=48)), ["output.size = 48"]),
    ]
    with client.edit_session(faces[0]) as session:
        good = session.update({"sefa/0": 1.0})
        assert session.wait_preview(good).seq == good
        for state, words in bad_states:
            session.update(**state)
            event = session.next_event()
            assert event.WhichOneof("event") == "error", state
            assert event.error.code == INVALID
            for w in words:
                assert w in event.error.message, (w, event.error.message)
        session.update({"sefa/0": 2.0}, seq=good)  # not after the last accepted seq
        assert "not after the last accepted seq" in session.next_event().error.message
        # Still open: a good state renders, and commit takes the last *accepted* state.
        seq = session.update({"sefa/2": 1.0})
        assert session.wait_preview(seq).seq == seq
        with pytest.raises(EditRejected, match="not the latest accepted state"):
            session.commit(seq - 1)
        assert [e.direction for e in session.commit().edits] == ["sefa/2"]


def test_session_start_must_be_valid(client, faces):
    call = client.stub.EditSession(iter([
        pb.EditRequest(state=pb.EditState(seq=1)),
        pb.EditRequest(start=pb.EditStart(dna=_tampered(faces[0]))),
        pb.EditRequest(start=pb.EditStart(dna=faces[0])),
        pb.EditRequest(state=pb.EditState(seq=1, edits=[pb.DirectionEdit(direction="sefa/0", strength=1)])),
    ]), timeout=30)
    kinds = [(e.WhichOneof("event"), e.error.message) for e in call]
    assert kinds[0][0] == "error" and "before a valid start" in kinds[0][1]
    assert kinds[1][0] == "error" and "checksum" in kinds[1][1]
    assert [k for k, _ in kinds[2:]] == ["started", "preview"]


@pytest.mark.parametrize("rpc, request_, words", [
    ("RenderPreview", lambda f: pb.RenderPreviewRequest(dna=f[0], edits=[pb.DirectionEdit(direction="nope", strength=1)]), ["unknown direction 'nope'", "sefa/0"]),
    ("RenderPreview", lambda f: pb.RenderPreviewRequest(), ["dna is empty"]),
    ("Mutate", lambda f: pb.MutateRequest(dna=f[0], count=2, strength=5), ["strength = 5"]),
    ("Mutate", lambda f: pb.MutateRequest(dna=f[0], count=0, strength=0.2), ["count = 0"]),
    ("Mix", lambda f: pb.MixRequest(parents=[pb.MixParent(dna=f[0])]), ["two or more"]),
    ("Mix", lambda f: pb.MixRequest(parents=[pb.MixParent(dna=f[0]), pb.MixParent(dna=f[1])], mode=pb.MIX_MODE_STYLE), ["names no layers"]),
    ("Interpolate", lambda f: pb.InterpolateRequest(source=f[0], target=f[1], frames=1), ["at least 2 frames"]),
    ("Interpolate", lambda f: pb.InterpolateRequest(source=f[0], frames=3), ["target is empty"]),
])
def test_unary_editing_rules(client, faces, rpc, request_, words):
    with pytest.raises(grpc.RpcError) as err:
        reply = getattr(client.stub, rpc)(request_(faces), timeout=30)
        if rpc == "Interpolate":
            list(reply)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for w in words:
        assert w in err.value.details(), (w, err.value.details())


def test_edit_command_writes_previews_strip_and_dna(server, tmp_path, capsys):
    out = tmp_path / "edit"
    args = ["edit", "--server", server.address, "--seed", "5", "--direction", "sefa/0",
            "--strengths", "-2,-1,0,1,2", "--out", str(out), "--size", "64"]
    assert cli.main(args) == 0
    shots = [out / f"sefa-0_{s}.png" for s in ("-2", "-1", "+0", "+1", "+2")]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in shots]
    assert all(im.shape == (64, 64, 3) for im in images)
    assert not np.array_equal(images[0], images[-1])
    strip = np.asarray(Image.open(out / "strip.png").convert("RGB"))
    assert strip.shape == (64, 5 * 64, 3) and np.array_equal(strip[:, 64:128], images[1])
    dna = pb.CharacterDna.FromString((out / "edited.dna").read_bytes())
    assert dna.seed == 5 and [(e.direction, e.strength) for e in dna.edits] == [("sefa/0", 2.0)]
    assert "5 previews" in capsys.readouterr().out
    assert cli.main([*args[:6], "nope", *args[7:]]) == 2
    assert "unknown direction 'nope'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def supervised_server(tiny_bundle, tmp_path_factory):
    """A copy of the tiny bundle with one supervised direction, `smile` on layers 0-3, served alone."""
    import shutil

    import torch

    from avatarforge.client import AvatarForgeClient
    from avatarforge.models.bundle import load_bundle
    from avatarforge.models.directions import Direction, save_directions
    from avatarforge.server.app import start_server
    from avatarforge.server.config import ServerConfig
    from conftest import TEST_CONFIG, _LoopThread

    path = tmp_path_factory.mktemp("supervised") / "tiny"
    shutil.copytree(tiny_bundle, path)
    vector = torch.linspace(-1, 1, load_bundle(path).config.w_dim)
    smile = Direction(name="smile", vector=vector / vector.norm(), layers=range(0, 4), kind="supervised",
                      description="adds a smile", strength_range=(-2.0, 2.0), default_strength=1.0,
                      success=0.8, unchanged=0.9)
    save_directions(path, [smile], [], {"generator_sha256": load_bundle(path).generator_sha256})
    lt = _LoopThread()
    running = lt.run(start_server(ServerConfig(address="127.0.0.1:0", model=str(path), **TEST_CONFIG)))
    with AvatarForgeClient(f"127.0.0.1:{running.port}", timeout=60) as c:
        yield c
    lt.run(running.stop(1.0))
    lt.close()


def test_supervised_direction_metadata_range_and_layers(supervised_server):
    af = supervised_server
    info = {d.name: d for d in af.get_model().directions}
    smile = info["smile"]
    assert (smile.kind, smile.layer_start, smile.layer_end, smile.description) == ("supervised", 0, 4, "adds a smile")
    assert (smile.strength_min, smile.strength_max, smile.default_strength) == (-2, 2, 1)
    assert smile.success == pytest.approx(0.8) and smile.unchanged == pytest.approx(0.9)
    assert "sefa/0" in info
    start = af.generate(seeds=[4]).results[0].dna
    with af.edit_session(start) as session:
        session.update({"smile": 2.5})
        with pytest.raises(EditRejected, match=r"outside its range \[-2, 2\]"):
            session.wait_preview(1)
        session.wait_preview(session.update({"smile": 1.5}))
        dna = session.commit()
    got, before = w_plus(dna), w_plus(start)
    assert np.array_equal(got[4:], before[4:]) and not np.array_equal(got[:4], before[:4])  # only its layers move


def test_slow_reader_gets_bounded_previews_and_every_state_counted(server, faces):
    """A client that sends slider states but does not read (a frame hitch, a phone on a bad
    network): every state is rendered, yet the server keeps at most one undelivered preview, so
    on reading the client finds a handful of previews, the newest last, and skips counting the
    rest. The channel's receive window is fixed at 64 KiB (no BDP growth, as on a slow link)
    and previews are raw RGBA at 4x (64 KiB each), so the transport itself holds only a few."""
    states = 60
    channel = grpc.insecure_channel(server.address, options=[("grpc.http2.bdp_probe", 0),
                                                              ("grpc.http2.lookahead_bytes", 65536)])
    with AvatarForgeClient(server.address, channel=channel) as slow, \
            slow.edit_session(faces[0], format="raw", size=128) as session:
        for i in range(states):
            session.update({"sefa/0": (i - 30) / 20})
            time.sleep(0.03)  # time for each state to render: nothing skipped at the input side
        commit_seq = session.seq
        session._requests.put(pb.EditRequest(commit=pb.EditCommit(seq=commit_seq)))
        events = session.close()
    kinds = [e.WhichOneof("event") for e in events]
    previews = [e.preview for e in events if e.HasField("preview")]
    assert kinds.count("committed") == 1 and "error" not in kinds  # the commit is never dropped
    assert previews[-1].seq == states  # the newest state is always delivered
    assert len(previews) + sum(p.skipped for p in previews) == states  # every state counted
    assert len(previews) <= 12, f"{len(previews)} previews delivered for {states} states: stale previews queued up"


def test_errors_are_never_dropped_for_a_client_that_does_not_read(server, faces):
    """200 bad states sent without reading: the server stops reading once MAX_UNSENT_EVENTS
    errors wait (gRPC flow control pushes back on the sender), and every error still arrives."""
    channel = grpc.insecure_channel(server.address, options=[("grpc.http2.bdp_probe", 0)])
    with AvatarForgeClient(server.address, channel=channel) as slow, slow.edit_session(faces[0]) as session:
        for _ in range(200):
            session.update({"no-such-direction": 1.0})
        events = session.close()
    assert [e.WhichOneof("event") for e in events] == ["error"] * 200
    assert all("unknown direction" in e.error.message for e in events)


def test_outbox_holds_one_preview_and_bounds_other_events():
    import asyncio

    from avatarforge.server.edit_session import _Outbox

    async def scenario():
        box = _Outbox(limit=2)
        for seq in (1, 2, 3):
            box.put_preview(pb.EditPreview(seq=seq, skipped=1))
        box.put(pb.EditEvent(error=pb.ItemError(message="a")))
        room = asyncio.ensure_future(box.room())
        await asyncio.sleep(0)
        assert room.done()  # one error and one preview: below the limit of 2 other events
        box.put(pb.EditEvent(committed=pb.EditCommitted(seq=3)))
        room = asyncio.ensure_future(box.room())
        await asyncio.sleep(0.01)
        assert not room.done()  # two other events unsent: the reader must wait
        sent = [await box.get()]  # the preview: other events still fill the outbox
        await asyncio.sleep(0.01)
        assert not room.done()
        sent.append(await box.get())  # an error: now there is room
        await asyncio.sleep(0)
        assert room.done()
        box.close()
        return sent + [e async for e in _drain(box)]

    async def _drain(box):
        while (e := await box.get()) is not None:
            yield e

    events = asyncio.run(scenario())
    assert [e.WhichOneof("event") for e in events] == ["preview", "error", "committed"]
    # Three renders, each after one skipped state: six states. One preview is delivered, so
    # it counts the other five: its own skip, the two replaced previews and their skips.
    assert events[0].preview.seq == 3 and events[0].preview.skipped == 5


def test_session_errors_name_the_rejected_state_and_field(client, faces, ranges):
    lo, hi = ranges["sefa/0"]
    with client.edit_session(faces[0]) as session:
        session.update({"sefa/0": 0.5 * hi})
        bad = session.update({"sefa/1": 0.0, "sefa/0": hi * 10})
        events = session.close()
    errors = [e.error for e in events if e.HasField("error")]
    assert len(errors) == 1
    assert (errors[0].seq, errors[0].field, errors[0].code) == (bad, "edits[1].strength", INVALID)
