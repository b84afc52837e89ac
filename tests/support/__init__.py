"""Real local dependencies for the tests: redis-server, ports, processes."""
