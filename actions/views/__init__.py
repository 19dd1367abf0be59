"""The actions app's pages, one module per area (``selfservice``: the pipeline run actions)."""
