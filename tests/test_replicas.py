"""Two `avatarforge serve` replicas on loopback behind one client address: unary calls take turns
(gRPC's round_robin), while a stream, a GenerateBatch or an EditSession, stays whole on the
replica it opened on. Which replica rendered what is read from each server's own Prometheus
counter, avatarforge_items_total (the text its /metrics serves)."""
from __future__ import annotations

import argparse

import pytest
from prometheus_client.parser import text_string_to_metric_families

from avatarforge import cli
from avatarforge.client import AvatarForgeClient
from avatarforge.commands.connection import server_address
from avatarforge.replicas import channel_target

STREAM_LIMIT = 8  # max_stream_items: `generate` of 32 seeds sends four streams


@pytest.fixture(scope="module")
def replicas(start_own_server):
    return [start_own_server(max_stream_items=STREAM_LIMIT) for _ in range(2)]


@pytest.fixture
def both(replicas):
    with AvatarForgeClient(",".join(r.address for r in replicas), timeout=30) as c:
        c.wait_until_serving()
        yield c


def rendered(replica, priority: str) -> float:
    """Images this replica has rendered at `priority` ("interactive": Generate, previews; "bulk": GenerateBatch)."""
    text = replica.running.registry.metrics.exposition().decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "avatarforge_items_total" and s.labels["priority"] == priority)


class Served:
    """Images each replica rendered at one priority between entering and `counts()`."""

    def __init__(self, replicas, priority: str):
        self.replicas, self.priority = replicas, priority
        self.before = [rendered(r, priority) for r in replicas]

    def counts(self) -> list[int]:
        return [int(rendered(r, self.priority) - b) for r, b in zip(self.replicas, self.before)]


def test_unary_calls_take_turns_across_the_replicas(replicas, both):
    served = Served(replicas, "interactive")
    for seed in range(20):
        assert both.generate(seeds=[seed]).results[0].dna.seed == seed
    counts = served.counts()
    assert sum(counts) == 20 and min(counts) > 0, counts


def test_a_generate_batch_stream_goes_whole_to_one_replica(replicas, both):
    landed = []
    for count in (3, 7):  # back to back: round_robin gives the second stream the other replica
        served = Served(replicas, "bulk")
        items = list(both.generate_batch(range(100, 100 + count)).items())
        assert [i.seed for i in items] == list(range(100, 100 + count))
        counts = served.counts()
        assert sorted(counts) == [0, count], counts
        landed.append(counts.index(count))
    assert sorted(landed) == [0, 1]


def test_an_edit_session_stays_on_one_replica_for_its_life(replicas, both):
    dna = both.generate(seeds=[7]).results[0].dna
    served = Served(replicas, "interactive")
    # Two sessions open at once (round_robin puts them on different replicas), their states
    # interleaved: 3 previews on one, 5 on the other, each after its start face. A preview that
    # left its session's replica would have no session there and shift the counts.
    with both.edit_session(dna) as short, both.edit_session(dna) as long:
        for step in range(5):
            for session, states in ((short, 3), (long, 5)):
                if step < states:
                    preview = session.wait_preview(session.update({"sefa/0": 0.5 * (step + 1)}))
                    assert preview.image.data
        assert short.commit() != long.commit()  # different last states, each committed where it lives
    assert sorted(served.counts()) == [1 + 3, 1 + 5], served.counts()


def test_generate_command_spreads_its_streams_and_writes_what_one_replica_writes(replicas, tmp_path):
    served = Served(replicas, "bulk")
    both_out, one_out = tmp_path / "both", tmp_path / "one"
    addresses = ",".join(r.address for r in replicas)
    assert cli.main(["generate", "--server", addresses, "--seeds", "0-31", "--out", str(both_out),
                     "--no-progress"]) == 0
    counts = served.counts()
    assert sum(counts) == 32 and min(counts) > 0, counts
    assert cli.main(["generate", "--server", replicas[0].address, "--seeds", "0-31", "--out", str(one_out),
                     "--no-progress"]) == 0
    names = sorted(p.name for p in one_out.iterdir() if p.name != "contact_sheet.png")
    assert len(names) == 64
    assert [n for n in names if (both_out / n).read_bytes() != (one_out / n).read_bytes()] == []


def test_addresses_become_grpc_targets_or_are_refused_with_the_reason():
    assert channel_target("avatars.lan:50051") == "avatars.lan:50051"
    assert channel_target("127.0.0.1:5001, 127.0.0.1:5002") == "ipv4:127.0.0.1:5001,127.0.0.1:5002"
    assert channel_target("[fd00::5]:1,[fd00::6]:1") == "ipv6:[fd00::5]:1,[fd00::6]:1"
    assert channel_target("dns:///avatars.lan:50051") == "dns:///avatars.lan:50051"
    with pytest.raises(argparse.ArgumentTypeError, match="one DNS name that resolves to every replica"):
        server_address("a.lan:50051,b.lan:50051")
    with pytest.raises(argparse.ArgumentTypeError, match="mixes IPv4 and IPv6"):
        server_address("10.0.0.5:50051,[fd00::6]:50051")


def test_a_list_of_replicas_over_tls_is_refused_with_the_way_that_works(replicas, tmp_path):
    # gRPC checks every replica's certificate against one channel name, which a list lacks.
    addresses = ",".join(r.address for r in replicas)
    with pytest.raises(SystemExit, match=r"dns:///NAME:PORT"):
        cli.main(["generate", "--server", addresses, "--tls", "--seeds", "0", "--out", str(tmp_path), "--no-progress"])
