"""One-off probes behind statements in README's "Fidelity" section (no JSON; each prints)."""
