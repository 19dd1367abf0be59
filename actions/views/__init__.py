"""The actions app's pages, one module per area (``selfservice``: the pipeline run actions;
``thresholds``: the thresholds' list, form and backtest)."""
