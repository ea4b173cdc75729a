"""The producer's side: reading NDJSON files and streams, normalizing records to HubSpot's shape, metering."""
