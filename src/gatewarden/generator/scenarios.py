"""Every scenario of a generated day, registered in one place: name -> function(Day) -> frame."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from gatewarden.generator import attacks_bots, attacks_graphql, attacks_keys, benign_api, benign_web
from gatewarden.generator.day import Day

SCENARIOS: tuple[tuple[str, Callable[[Day], pl.DataFrame]], ...] = (
    ("benign_browser", benign_web.browsers),
    ("benign_sdk", benign_api.sdk),
    ("benign_corporate_nat", benign_web.corporate_nat),
    ("benign_cgnat", benign_web.carrier_cgnat),
    ("benign_batch_customer", benign_api.batch_customer),
    ("benign_search_crawler", benign_api.search_crawler),
    ("benign_traveller", benign_api.travellers),
    ("attack_leaked_token", attacks_keys.leaked_token),
    ("attack_token_rotation", attacks_keys.token_rotation),
    ("attack_quota_burst", attacks_keys.quota_burst),
    ("attack_expired_token", attacks_keys.expired_tokens),
    ("attack_dc_bot_farm", attacks_bots.bot_farm),
    ("attack_residential_scraping", attacks_bots.residential_scraping),
    ("attack_sequence_skipping", attacks_bots.sequence_skipping),
    ("attack_endpoint_probing", attacks_bots.endpoint_probing),
    ("attack_credential_stuffing", attacks_bots.credential_stuffing),
    ("attack_graphql_depth_bomb", attacks_graphql.depth_bombs),
    ("attack_graphql_alias_bomb", attacks_graphql.alias_bombs),
)
SCENARIO_NAMES = tuple(name for name, _ in SCENARIOS)
