"""Insights: where developer sentiment and delivery metrics meet — correlations and the bottleneck ranking."""
