"""The fictional world: networks, and the customers who live in it. Fixed by the world seed.

Networks carry real ASNs and organisation names with one of their public prefixes, so the
day's traffic looks like the Internet: residential ISPs and mobile carriers, hosting providers
that appear in public hosting lists, Google's crawler range, and one corporate network.
Populations are drawn member by member from per-attribute streams, so user #17 is the same
person on every day and at every scale.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from gatewarden.generator import catalog
from gatewarden.generator.rand import ipv4_text, stream, strings


@dataclass(frozen=True)
class Network:
    asn: int
    org: str
    country: str
    kind: str  # residential | mobile | hosting | search | corporate
    v4: str
    v6: str | None = None


NETWORKS: tuple[Network, ...] = (
    Network(7922, "COMCAST-7922", "US", "residential", "73.0.0.0/8", "2601::/20"),
    Network(7018, "ATT-INTERNET4", "US", "residential", "99.0.0.0/11"),
    Network(20115, "CHARTER-20115", "US", "residential", "66.190.0.0/15"),
    Network(21928, "T-MOBILE-AS21928", "US", "mobile", "172.32.0.0/11"),
    Network(812, "ROGERS-COMMUNICATIONS", "CA", "residential", "99.224.0.0/11"),
    Network(2856, "BT-UK-AS", "GB", "residential", "86.128.0.0/10"),
    Network(3320, "DTAG Deutsche Telekom AG", "DE", "residential", "79.192.0.0/10", "2003::/19"),
    Network(3209, "VODANET Vodafone GmbH", "DE", "mobile", "188.96.0.0/12"),
    Network(3215, "Orange S.A.", "FR", "residential", "90.0.0.0/9"),
    Network(3352, "TELEFONICA_DE_ESPANA", "ES", "residential", "83.32.0.0/11"),
    Network(1136, "KPN B.V.", "NL", "residential", "77.160.0.0/12"),
    Network(4713, "OCN NTT Communications", "JP", "residential", "153.128.0.0/10"),
    Network(55836, "RELIANCEJIO-IN Reliance Jio Infocomm", "IN", "mobile", "49.32.0.0/11", "2405:200::/29"),
    Network(45609, "BHARTI-MOBILITY-AS-AP", "IN", "mobile", "106.192.0.0/11"),
    Network(26599, "TELEFONICA BRASIL S.A", "BR", "residential", "177.32.0.0/12"),
    Network(16509, "AMAZON-02", "US", "hosting", "3.80.0.0/12", "2600:1f00::/24"),
    Network(396982, "GOOGLE-CLOUD-PLATFORM", "US", "hosting", "34.64.0.0/10"),
    Network(8075, "MICROSOFT-CORP-MSN-AS-BLOCK", "US", "hosting", "20.32.0.0/11"),
    Network(14061, "DIGITALOCEAN-ASN", "US", "hosting", "167.99.0.0/16", "2604:a880::/32"),
    Network(16276, "OVH SAS", "FR", "hosting", "51.68.0.0/16"),
    Network(24940, "Hetzner Online GmbH", "DE", "hosting", "95.216.0.0/15", "2a01:4f9::/32"),
    Network(63949, "Akamai Connected Cloud", "US", "hosting", "172.104.0.0/15"),
    Network(20473, "AS-CHOOPA Vultr", "US", "hosting", "45.76.0.0/15"),
    Network(15169, "GOOGLE", "US", "search", "66.249.64.0/19"),
    Network(64501, "INITECH-CORP", "US", "corporate", "155.201.32.0/22"),
)
ASN_INDEX = {n.asn: i for i, n in enumerate(NETWORKS)}
COUNTRIES = ("US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "ES", "NL")
COUNTRY_WEIGHTS = (0.34, 0.12, 0.09, 0.07, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03)
CLOUDS = tuple(ASN_INDEX[a] for a in (16509, 396982, 8075, 14061, 16276, 24940, 63949, 20473))
CLOUD_WEIGHTS = (0.38, 0.18, 0.12, 0.1, 0.07, 0.08, 0.04, 0.03)
_V4 = [ipaddress.ip_network(n.v4) for n in NETWORKS]
_V4_START = np.array([int(net.network_address) for net in _V4], dtype=np.int64)
_V4_SIZE = np.array([net.num_addresses for net in _V4], dtype=np.int64)


def networks_of(country: str, kinds: tuple[str, ...] = ("residential", "mobile")) -> list[int]:
    return [i for i, n in enumerate(NETWORKS) if n.country == country and n.kind in kinds]


def addresses(rng: np.random.Generator, net_idx: np.ndarray) -> np.ndarray:
    """One random host address (as an integer) inside each given network's IPv4 prefix."""
    net_idx = np.asarray(net_idx, dtype=np.int64)
    return _V4_START[net_idx] + 1 + (rng.integers(0, 2**62, size=len(net_idx)) % (_V4_SIZE[net_idx] - 2))


def residential_networks(rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
    out = np.empty(len(countries), dtype=np.int64)
    for country in COUNTRIES:
        mask = countries == country
        out[mask] = rng.choice(networks_of(country), size=int(mask.sum()))
    return out


def ip_texts(rng: np.random.Generator, net_idx: np.ndarray, v6_share: float = 0.0) -> np.ndarray:
    """Address strings; networks with an IPv6 prefix give `v6_share` of their hosts an IPv6 address."""
    text = ipv4_text(addresses(rng, net_idx)).to_numpy().astype(object)
    has_v6 = np.array([n.v6 is not None for n in NETWORKS])[net_idx]
    v6 = np.flatnonzero(has_v6 & (rng.random(len(net_idx)) < v6_share))
    # Python over the few IPv6 hosts only: ipaddress gives the canonical compressed text.
    host_bits = rng.integers(1, 2**63, size=len(v6))
    subnets = rng.integers(0, 2**20, size=len(v6))
    for i, host, subnet in zip(v6, host_bits, subnets, strict=True):
        net = ipaddress.ip_network(NETWORKS[net_idx[i]].v6)
        text[i] = str(net.network_address + (int(subnet) % 2 ** (64 - net.prefixlen) << 64) + int(host))
    return text


def network_columns(net_idx: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "asn": np.array([n.asn for n in NETWORKS])[net_idx],
        "as_org": np.array([n.org for n in NETWORKS], dtype=object)[net_idx],
        "country": np.array([n.country for n in NETWORKS], dtype=object)[net_idx],
    }


def asn_table() -> pl.DataFrame:
    """The world's ranges in iptoasn.com TSV form: start, end, asn, country, description."""
    rows = []
    for n in NETWORKS:
        for prefix in (n.v4, n.v6):
            if prefix:
                net = ipaddress.ip_network(prefix)
                rows.append((net.version, int(net.network_address), str(net.network_address), str(net.broadcast_address),
                             n.asn, n.country, n.org))
    rows.sort()
    return pl.DataFrame([r[2:] for r in rows], schema=["start", "end", "asn", "country", "description"], orient="row")


class World:
    """Populations drawn from the world seed. `size_*` arguments only ever extend a population."""

    def __init__(self, seed: int, scale: float):
        self.seed = seed
        self.scale = scale

    def _rng(self, *name: str) -> np.random.Generator:
        return stream(self.seed, "world", *name)

    def people(self, group: str, n: int, profiles: tuple[catalog.Profile, ...], weights: tuple[float, ...],
               id_prefix: str = "usr_", countries: np.ndarray | None = None) -> pl.DataFrame:
        """n people of a group: id, country, home network and address, client stack, language, activity."""
        country = countries if countries is not None else np.asarray(
            self._rng(group, "country").choice(COUNTRIES, size=n, p=COUNTRY_WEIGHTS), dtype=object)
        net = residential_networks(self._rng(group, "network"), country)
        device = self._rng(group, "device").choice(len(profiles), size=n, p=np.asarray(weights) / np.sum(weights))
        return pl.DataFrame({
            "user_id": strings(self._rng(group, "id"), n, 16, id_prefix),
            "country": country,
            "net": net,
            "ip": ip_texts(self._rng(group, "ip"), net, v6_share=0.35),
            "device": device,
            "lang": np.array([catalog.LANGUAGES[c] for c in country], dtype=object),
            "tz": np.array([catalog.TZ_HOURS[c] for c in country]),
            # Heavy-tailed: some people come every day, most now and then.
            "activity": self._rng(group, "activity").pareto(1.5, size=n) + 0.2,
        })

    @cached_property
    def browser_users(self) -> pl.DataFrame:
        return self.people("browser", max(100, int(400 * self.scale)), catalog.BROWSERS, catalog.BROWSER_WEIGHTS)

    @cached_property
    def sdk_customers(self) -> pl.DataFrame:
        """API customers: a key (raw `sk-` secret or a logged key id), servers in a cloud, a call rate."""
        n = max(8, int(20 * self.scale))
        secret = self._rng("sdk", "kind").random(n) < 0.5
        keys = np.where(secret, strings(self._rng("sdk", "secret"), n, 48, "sk-"), strings(self._rng("sdk", "keyid"), n, 24, "key_"))
        net = self._rng("sdk", "network").choice(CLOUDS, size=n, p=CLOUD_WEIGHTS)
        return pl.DataFrame({
            "key": keys,
            "net": net,
            "ip": ip_texts(self._rng("sdk", "ip"), net),
            "ip2": ip_texts(self._rng("sdk", "ip2"), net),
            "device": self._rng("sdk", "device").choice(len(catalog.SDKS), size=n, p=catalog.SDK_WEIGHTS),
            # Calls per hour: most integrations are modest, a few are busy.
            "rate": np.clip(np.exp(self._rng("sdk", "rate").normal(np.log(6.0), 1.0, size=n)), 1.0, 120.0),
            "embed_share": self._rng("sdk", "mix").beta(1.2, 3.0, size=n),
            "country": self._rng("sdk", "country").choice(COUNTRIES, size=n, p=COUNTRY_WEIGHTS),
        })

    @cached_property
    def corporate(self) -> tuple[list[str], pl.DataFrame]:
        """Initech: two NAT addresses and a staff of 100-300 with their own accounts."""
        rng = self._rng("corporate", "nat")
        nat = ipv4_text(addresses(rng, np.full(2, ASN_INDEX[64501]))).to_list()
        staff = int(self._rng("corporate", "size").integers(100, 301))
        people = self.people("corporate", staff, catalog.BROWSERS[:2] + catalog.BROWSERS[4:5], (0.6, 0.2, 0.2),
                             countries=np.full(staff, "US", dtype=object))
        return nat, people

    @cached_property
    def carrier(self) -> tuple[list[str], pl.DataFrame]:
        """A mobile carrier's CGNAT pool: six public addresses shared by a few hundred app users."""
        pool = ipv4_text(addresses(self._rng("cgnat", "pool"), np.full(6, ASN_INDEX[21928]))).to_list()
        n = int(self._rng("cgnat", "size").integers(250, 501))
        people = self.people("cgnat", n, catalog.MOBILE, (0.4, 0.3, 0.2, 0.1), countries=np.full(n, "US", dtype=object))
        return pool, people

    @cached_property
    def batch_customer(self) -> dict:
        rng = self._rng("batch")
        return {"key": str(strings(rng, 1, 48, "sk-")[0]), "ips": ipv4_text(addresses(rng, np.full(2, ASN_INDEX[16509]))).to_list()}

    @cached_property
    def crawler_ips(self) -> list[str]:
        return ipv4_text(addresses(self._rng("crawler"), np.full(24, ASN_INDEX[15169]))).to_list()

    @cached_property
    def travellers(self) -> list[dict]:
        """Two people who take their key with them: home, then abroad, then a hotel in a third country."""
        rng = self._rng("travellers")
        out = []
        for key in strings(rng, 2, 24, "key_"):
            countries = rng.choice(COUNTRIES, size=3, replace=False)
            nets = np.array([rng.choice(networks_of(c)) for c in countries])
            out.append({"key": str(key), "nets": nets, "ips": list(ip_texts(rng, nets)),
                        "device": int(rng.integers(0, len(catalog.BROWSERS)))})
        return out
