"""Planning a sweep: composing and checking every job, rounds and their order, resolvers."""
