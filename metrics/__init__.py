"""Delivery data: ingestion, DORA definitions, rollups, delivery pages and the JSON API."""
