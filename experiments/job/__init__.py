"""One job: its spec, the runner, the timing protocol, resources, collect modes, the rows it writes."""
