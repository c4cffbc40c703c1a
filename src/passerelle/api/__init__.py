"""HTTP front doors: the legacy /client/api, health and metrics."""
