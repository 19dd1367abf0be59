"""e360: settings, URLs, the catalog of teams, people and services, base templates."""
