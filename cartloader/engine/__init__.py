"""The pipeline: chunker, rate-limited workers delivering batches, matching answers to records, the collector."""
