"""The actions app's pages, one module per page kind."""
