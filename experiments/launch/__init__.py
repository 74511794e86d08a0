"""Running each job in a process of its own: the launcher, isolation, the job server and child, python=."""
