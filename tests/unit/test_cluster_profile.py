"""The cluster profile's shape as rendered: three KRaft brokers replicating every topic 3 times (2 in sync),
two Connect workers in one group, two Elasticsearch data nodes and a master-only tiebreaker, replicas on the
views, and ports that never meet the single-node stack's other ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from farmacy.connect import load_specs
from farmacy.settings import Profile, Settings
from stack.layout import Layout
from stack.render import connect_properties, elasticsearch_nodes, elasticsearch_yml, kafka_properties
from stack.versions import load_versions

LAYOUT = Layout(Path("/x"), load_versions())


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/unit/conftest.py


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_single_is_the_default_and_keeps_one_node_of_everything() -> None:
    s = _settings()
    assert s.profile is Profile.SINGLE
    assert (s.kafka_brokers, s.connect_workers, s.elasticsearch_nodes, s.view_replicas) == (1, 1, 1, 0)
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.stack_dir.name == ".stack"
    broker = _properties(kafka_properties(s, LAYOUT, 0))
    assert broker["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert broker["default.replication.factor"] == broker["offsets.topic.replication.factor"] == "1"
    assert yaml.safe_load(elasticsearch_yml(s, *_first(s)))["discovery.type"] == "single-node"


def _first(s: Settings) -> tuple[Any, Any]:
    nodes = elasticsearch_nodes(s, LAYOUT)
    return nodes[0], nodes


def test_cluster_runs_three_brokers_that_replicate_every_topic_three_times_two_in_sync() -> None:
    s = _settings(profile="cluster")
    assert s.stack_dir.name == ".stack-cluster"  # a one-broker stack's data cannot become a three-broker cluster
    assert s.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    brokers = [_properties(kafka_properties(s, LAYOUT, i)) for i in range(3)]
    assert [b["node.id"] for b in brokers] == ["1", "2", "3"]
    assert {b["controller.quorum.voters"] for b in brokers} == {"1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293"}
    assert len({b["log.dirs"] for b in brokers}) == 3
    for b in brokers:
        assert b["default.replication.factor"] == b["offsets.topic.replication.factor"] == "3"
        assert b["min.insync.replicas"] == b["transaction.state.log.min.isr"] == "2"
    (connector,) = load_specs(s)
    assert connector.config["topic.creation.default.replication.factor"] == "3"


def test_cluster_runs_two_connect_workers_in_one_group_with_replicated_internal_topics() -> None:
    s = _settings(profile="cluster")
    workers = [_properties(connect_properties(s, Path("/plugins"), i)) for i in range(2)]
    assert [w["listeners"] for w in workers] == ["http://127.0.0.1:8083", "http://127.0.0.1:8183"]
    assert workers[0]["group.id"] == workers[1]["group.id"]
    assert {w["offset.storage.replication.factor"] for w in workers} == {"3"}
    assert s.connect_urls == ["http://127.0.0.1:8083", "http://127.0.0.1:8183"]


def test_cluster_runs_two_elasticsearch_data_nodes_and_a_master_only_tiebreaker() -> None:
    s = _settings(profile="cluster")
    nodes = elasticsearch_nodes(s, LAYOUT)
    ymls = [yaml.safe_load(elasticsearch_yml(s, n, nodes)) for n in nodes]
    assert [y["http.port"] for y in ymls] == [9200, 9201, 9202]
    assert [y.get("node.roles") for y in ymls] == [None, None, ["master"]]
    assert all(y["discovery.seed_hosts"] == ["127.0.0.1:9300", "127.0.0.1:9301", "127.0.0.1:9302"] for y in ymls)
    assert all(len(y["cluster.initial_master_nodes"]) == 3 for y in ymls)
    assert len({y["path.data"] for y in ymls}) == 3
    assert [y["node.name"] for y in ymls] == ["farmacy-es-1", "farmacy-es-2", "farmacy-es-tiebreaker"]
    assert s.view_replicas == 1
    assert s.elasticsearch_urls == ["http://127.0.0.1:9200", "http://127.0.0.1:9201"]


def test_cluster_ports_meet_no_other_port_of_the_stack() -> None:
    s = _settings(profile="cluster")
    engine_ports = [s.kafka_port + 100 * i for i in range(3)] + [s.kafka_controller_port + 100 * i for i in range(3)]
    engine_ports += [8083, 8183, 9200, 9201, 9202, 9300, 9301, 9302]
    ours = [s.pg_port, s.command_port, s.query_port, s.ops_port, s.watchdog_port, s.reconciler_port]
    ours += [s.prometheus_port, s.alertmanager_port]
    ours += [s.sink_port(v, i) for v in s.views for i in range(s.topic_partitions)]
    everything = engine_ports + ours
    assert len(everything) == len(set(everything))


def test_more_brokers_in_sync_than_replicas_is_refused() -> None:
    with pytest.raises(ValueError, match="kafka_min_insync_replicas"):
        _settings(kafka_brokers=1, kafka_min_insync_replicas=2)
