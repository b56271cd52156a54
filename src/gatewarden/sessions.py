"""Sessions: whose requests belong together, and the readable name of a session.

`features.py` numbers each session base's sessions (a new one after 30 minutes of inactivity) and `win` carries
them as 64-bit numbers; a finding that names a session shows its key, rebuilt here from the same expression.
"""

from __future__ import annotations


def session_base_sql(session_id: str, token: str, fingerprint: str, client_ip: str) -> str:
    """Whose requests form sessions: the session cookie, else the token, else the fingerprint at one address."""
    return f"""CASE WHEN {session_id} IS NOT NULL THEN 's:' || {session_id}
             WHEN {token} IS NOT NULL THEN 't:' || {token}
             WHEN {fingerprint} IS NOT NULL THEN {fingerprint} || '@' || coalesce({client_ip}, '-')
             ELSE 'ip:' || coalesce({client_ip}, '-') END"""


def with_session_keys(rows: str) -> str:
    """The `win` rows of the query `rows` with `session_key`, the readable name of their session, e.g.
    `t:key_3f9a#2`, built again from `requests` for the few sessions a finding names (see `win.session`)."""
    base = session_base_sql("r.session_id", "w.token", "w.fingerprint", "w.client_ip")
    return f"""SELECT w.*, {base} || '#' || CAST(w.session_no AS VARCHAR) AS session_key
               FROM ({rows}) w JOIN requests r ON r.rowid = w.req_key"""
