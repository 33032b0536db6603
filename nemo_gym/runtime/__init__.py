"""ng_run's runtime: Ray, the head server, the child-process supervisor and per-server environments."""
