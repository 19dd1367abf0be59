"""The integrations' pages: source health (``sources``). The webhooks are ``integrations.webhooks``."""
