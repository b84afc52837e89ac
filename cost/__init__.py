"""The cost estimator: each stack's monthly cost from its stack file and cost/prices.yaml (python -m cost)."""
