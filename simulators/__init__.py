"""Stand-ins for the outside systems the service talks to, as real network servers."""
