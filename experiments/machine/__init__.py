"""The machine: topology (and cpus=), hypervisor, pinning, environment, allocator, worker set-up."""
