"""HubSpot as the loader sees it: the protocol (bodies, answers), the failure table, the token, the transport."""
