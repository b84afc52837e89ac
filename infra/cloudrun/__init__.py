"""The Cloud Run target: the API and worker services/pools, Flower, the API rollout."""
