"""The shared Redis layer: how a Redis is named, checked and closed, before any network."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis, RedisCluster, Sentinel

from opsgenie_envelope._redis import RedisState, parse_url, redacted
from opsgenie_envelope.ratelimit import RateLimit
from opsgenie_envelope.request_status import RedisRequestStore, RequestTracker

pytestmark = pytest.mark.anyio


def test_cluster_url_lists_its_nodes_and_credentials() -> None:
    """``redis+cluster://user:pw@h:p,h:p`` gives every node, the user and the password."""
    address = parse_url("redis+cluster://ops:s%40cret@10.0.0.1:7000,10.0.0.2:7001")
    assert address.topology == "cluster"
    assert address.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert address.credentials() == {"username": "ops", "password": "s@cret"}


def test_sentinel_url_names_its_service() -> None:
    """``redis+sentinel://h:p,h/service``: the sentinels (26379 by default) and the service."""
    address = parse_url("redis+sentinel://10.0.0.1:26380,10.0.0.2/mymaster")
    assert (address.topology, address.service) == ("sentinel", "mymaster")
    assert address.nodes == (("10.0.0.1", 26380), ("10.0.0.2", 26379))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379",
        "redis+sentinel://127.0.0.1:26379",
        "redis+sentinel://127.0.0.1:26379/a/b",
        "redis+cluster://127.0.0.1:7000/2",
        "redis+cluster://127.0.0.1:x",
        "redis+cluster://127.0.0.1:7000?ssl=true",
        "redis://",
    ],
)
def test_unusable_url_is_a_value_error_naming_the_option(url: str) -> None:
    """Each malformed URL raises ``ValueError`` naming the option, never echoing a password."""
    with pytest.raises(ValueError, match=r"^store"):
        parse_url(url, "store")


def test_a_non_url_is_a_type_error() -> None:
    """A URL that is not a str raises ``TypeError``."""
    with pytest.raises(TypeError, match="url must be a Redis URL"):
        parse_url(6379)


def test_redacted_drops_credentials_and_query() -> None:
    """Logs and messages show hosts only: no user, password or query."""
    assert redacted("redis+cluster://u:p@h1:7000,h2:7001") == "redis+cluster://h1:7000,h2:7001"
    assert redacted("rediss://:pw@cache:6380/1?ssl_cert_reqs=none") == "rediss://cache:6380/1"


async def test_topology_of_a_given_client_is_recognised() -> None:
    """A given client is used as it is: plain, Sentinel-managed (WAIT 1) or cluster (no WAIT)."""
    plain = RedisState(Redis())
    sentinel = Sentinel([("127.0.0.1", 1)])  # type: ignore[no-untyped-call]
    managed = RedisState(sentinel.master_for("mymaster"))
    cluster = RedisState(RedisCluster("127.0.0.1", 1))
    assert (plain.topology, plain.replicas) == ("standalone", 0)
    assert (managed.topology, managed.service, managed.replicas) == ("sentinel", "mymaster", 1)
    assert (cluster.topology, cluster.replicas) == ("cluster", 0)
    await plain.client.aclose()
    await managed.client.aclose()
    await cluster.client.aclose()


def test_waiting_for_replicas_on_a_cluster_is_refused() -> None:
    """``replicas`` on a cluster raises ``ValueError`` naming it: no WAIT there."""
    with pytest.raises(ValueError, match=r"^replicas"):
        RedisRequestStore("redis+cluster://127.0.0.1:7000", replicas=1)


def test_a_wrong_client_type_is_a_type_error() -> None:
    """A client that is not redis-py's asyncio client raises ``TypeError`` naming ``client``."""
    with pytest.raises(TypeError, match=r"^client must be a redis\.asyncio\.Redis"):
        RedisRequestStore(client="redis://127.0.0.1:6379")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["redis+sentinel://127.0.0.1:26379/mymaster", "redis+cluster://127.0.0.1:7000"]
)
async def test_tracker_and_limit_take_every_url_form(url: str) -> None:
    """``RequestTracker`` and ``RateLimit`` accept Sentinel and Cluster URLs alike."""
    tracker = RequestTracker(url)
    limit = RateLimit("1/second", storage=url)
    assert isinstance(tracker.store, RedisRequestStore)
    await tracker.aclose()
    await limit.aclose()


async def test_limit_refuses_a_cluster_client_naming_the_url_form() -> None:
    """``limits`` cannot count on a given ``RedisCluster``: ``TypeError`` naming the URL form."""
    client = RedisCluster("127.0.0.1", 1)
    with pytest.raises(TypeError, match=r"redis\+cluster://"):
        RateLimit("1/second", storage=client)  # type: ignore[arg-type]
    await client.aclose()
