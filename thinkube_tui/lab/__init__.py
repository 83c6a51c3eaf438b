"""The lab: a simulated Thinkube cluster on one machine (SSH nodes and a Kubernetes API)."""
